// Scale: `runledger verify` of a 10 M-event ledger (issue 13: under 60 s on 2 cores, memory
// O(streams) + O(log n)). `npm run bench -- scale [--scale X]` (not a default benchmark: it writes
// several GB to the temp directory and runs for many minutes). The ledger is generated genuinely
// (bench/ledger-generator.ts: the store's own append in large batches, signed checkpoints every
// 1 M events) over 10,000 streams; at N/10 events and again at N, the real CLI verifies it as a
// child process, `--workers 1` and `--workers 2` interleaved, and its peak RSS is read from
// /proc/PID/status (VmHWM). Both points have every stream, so a bounded verifier shows the same
// peak at N/10 and at N. A plain read of the same rows (better-sqlite3, pages of 5,000) is
// measured alongside, in a child process too, as the floor of what any verifier must do.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLedger, storePath } from './ledger-generator.js';
import { CLI, runChild, type ChildRun } from './child.js';
import { benchEnvironment, PARALLEL_SPEEDUP_GOAL, throughputResult, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';

const FULL = 10_000_000;
const BUDGET_MS = 60_000;
const STREAMS = 10_000;
/** Events per stream per transaction: N/10 ≥ 1 M events gives every stream its first events. */
const PER_REQUEST = 100;
/** Bytes per event on disk (row, canonical bytes, both unique indexes, WAL slack), rounded up. */
const DISK_PER_EVENT = 1_100;

/** The floor: read every row's position, leaf hash and canonical bytes in pages, in a fresh process like the CLI. */
const PLAIN_READ = `
const Database = require(${JSON.stringify(require_('better-sqlite3'))});
const db = new Database(process.argv[1], { readonly: true });
const page = db.prepare('SELECT position, leaf_hash, canonical FROM events WHERE position > ? ORDER BY position LIMIT 5000');
let sink = 0, n = 0;
for (let after = -1; ; ) {
  const rows = page.all(after);
  if (rows.length === 0) break;
  for (const row of rows) sink ^= row.canonical[0] ^ row.leaf_hash[0];
  n += rows.length;
  after = rows[rows.length - 1].position;
}
process.stdout.write(JSON.stringify({ events: n, sink }));
`;

function require_(name: string): string {
  return createRequire(import.meta.url).resolve(name);
}

interface Point {
  events: number;
  generateMs: number;
  verify: Record<1 | 2, ChildRun[]>;
  read: ChildRun[];
}

async function measurePoint(home: string, events: number, runs: number, generateMs: number): Promise<Point> {
  const point: Point = { events, generateMs, verify: { 1: [], 2: [] }, read: [] };
  for (let r = 0; r < runs; r++) {
    for (const workers of [1, 2] as const) {
      // --parallel-from 0: the two-worker figure is of two workers at every size (--scale 0.01's 10 k point is below the default).
      const run = await runChild([CLI, '--home', home, 'verify', '--json', '--workers', String(workers), '--parallel-from', '0']);
      const report = JSON.parse(run.stdout) as { ok: boolean; events: number; anchored: boolean; streams: number; checkpoints: number; workers: { used: number } };
      if (!report.ok || report.events !== events || !report.anchored || report.streams !== Math.min(STREAMS, events / PER_REQUEST)) {
        throw new Error(`bench scale: verify --workers ${workers} of ${events} events did not verify the whole anchored ledger: ${run.stdout}`);
      }
      if (report.workers.used !== workers) throw new Error(`bench scale: verify --workers ${workers} of ${events} events checked them on ${report.workers.used} thread(s): ${JSON.stringify(report.workers)}`);
      point.verify[workers].push(run);
      process.stderr.write(`bench scale: ${events} events, --workers ${workers}: ${(run.ms / 1000).toFixed(1)} s (CPU ${cpuSeconds(run)}), peak RSS ${mib(run.peakRssBytes)}, load ${loadavg()[0]!.toFixed(1)}\n`);
    }
    const read = await runChild(['-e', PLAIN_READ, storePath(home)]);
    if ((JSON.parse(read.stdout) as { events: number }).events !== events) throw new Error(`bench scale: the plain read did not read ${events} rows`);
    point.read.push(read);
  }
  return point;
}

function cpuSeconds(run: ChildRun): string {
  return run.cpuMs === null ? 'n/a' : `${(run.cpuMs / 1000).toFixed(1)} s`;
}

function mib(bytes: number | null): string {
  return bytes === null ? 'n/a' : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function peakOf(runs: readonly ChildRun[]): number | null {
  const peaks = runs.map((r) => r.peakRssBytes).filter((p): p is number => p !== null);
  return peaks.length === 0 ? null : Math.max(...peaks);
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const total = Math.max(100_000, Math.round(FULL * (options.scale ?? 1)));
  const runs = options.runs ?? 1;
  const dir = tmpdir();
  const free = statfsSync(dir).bavail * statfsSync(dir).bsize;
  if (free < total * DISK_PER_EVENT) {
    throw new Error(`bench scale: ${total} events need about ${Math.ceil((total * DISK_PER_EVENT) / 2 ** 30)} GiB in ${dir}, only ${Math.floor(free / 2 ** 30)} GiB free`);
  }
  const home = mkdtempSync(join(dir, 'runledger-bench-scale-'));
  const small = Math.round(total / 10 / 10_000) * 10_000;
  const points: Point[] = [];
  try {
    let generated = 0;
    let generateMs = 0;
    for (const events of [small, total]) {
      const start = performance.now();
      const outcome = await generateLedger(home, events, {
        streams: STREAMS,
        perRequest: PER_REQUEST,
        onProgress: (n) => {
          if (n % 1_000_000 === 0) process.stderr.write(`bench scale: generated ${n} events, ${((generateMs + performance.now() - start) / 1000).toFixed(0)} s\n`);
        },
      });
      generateMs += performance.now() - start;
      generated = outcome.events;
      points.push(await measurePoint(home, generated, runs, generateMs));
    }
    return results(points, total);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function results(points: readonly Point[], total: number): BenchResult[] {
  const [small, full] = points as [Point, Point];
  const label = total === FULL ? '10m' : `${total}`;
  const env = benchEnvironment();
  const shared = { streams: STREAMS, checkpointEvery: 1_000_000, batchEvents: 10_000, rssSampledEveryMs: 50 };
  const out: BenchResult[] = [];
  for (const workers of [1, 2] as const) {
    const wall = summarizeRuns(full.verify[workers].map((r) => r.ms));
    const readWall = summarizeRuns(full.read.map((r) => r.ms));
    const peakFull = peakOf(full.verify[workers]);
    const peakSmall = peakOf(small.verify[workers]);
    out.push({
      name: `verify-${label}-events.workers-${workers}`,
      unit: 'events',
      runs: full.verify[workers].length,
      wallMs: wall,
      throughputPerSec: total / (wall.p50 / 1000),
      memoryDeltaBytes: peakFull !== null && peakSmall !== null ? peakFull - peakSmall : 0,
      // The goal is a fixed budget, not a same-run measurement: the ratio is wall time ÷ 60 s.
      reference: { name: 'the 60 s budget of issue 13 (fixed, not measured)', wallMs: summarizeRuns([BUDGET_MS]), throughputPerSec: total / (BUDGET_MS / 1000) },
      ratio: wall.p50 / BUDGET_MS,
      goal: 1,
      goalIs: 'max',
      environment: {
        ...env,
        ...shared,
        events: total,
        workers,
        cli: 'runledger verify --json --workers N, a child process per run',
        peakRssBytes: peakFull,
        // CPU of the child (all threads), sampled every 50 ms: what machine load does not inflate.
        cpuMs: full.verify[workers].map((r) => r.cpuMs),
        [`peakRssBytesAt${small.events}`]: peakSmall,
        // Bounded memory: the peak at N over the peak at N/10, the same 10,000 streams at both.
        rssGrowth: peakFull !== null && peakSmall !== null ? peakFull / peakSmall : null,
        smallPoint: { events: small.events, wallMs: summarizeRuns(small.verify[workers].map((r) => r.ms)) },
        plainReadMs: readWall,
        plainReadPeakRssBytes: peakOf(full.read),
        ratioToPlainRead: readWall.p50 / wall.p50,
      },
    });
  }
  for (const workers of [1, 2] as const) {
    const peakFull = peakOf(full.verify[workers]);
    const peakSmall = peakOf(small.verify[workers]);
    if (peakFull === null || peakSmall === null) continue;
    const wall = summarizeRuns(full.verify[workers].map((r) => r.ms));
    out.push({
      name: `verify-${label}-events.rss-growth.workers-${workers}`,
      unit: 'events',
      runs: full.verify[workers].length,
      wallMs: wall,
      throughputPerSec: total / (wall.p50 / 1000),
      memoryDeltaBytes: peakFull - peakSmall,
      reference: { name: `the same verify at ${small.events} events (same 10,000 streams)`, wallMs: summarizeRuns(small.verify[workers].map((r) => r.ms)), throughputPerSec: small.events / (summarizeRuns(small.verify[workers].map((r) => r.ms)).p50 / 1000) },
      // Peak RSS at N ÷ peak RSS at N/10: 1 when memory does not grow with the log; 10 if it grew linearly.
      ratio: peakFull / peakSmall,
      goal: 1.25,
      goalIs: 'max',
      environment: { ...env, ...shared, events: total, workers, peakRssBytes: peakFull, smallEvents: small.events, smallPeakRssBytes: peakSmall },
    });
  }
  // The parallel goal (issue 13): --workers 2 against one worker on the same ledger, same run.
  out.push(
    throughputResult(
      `verify-${label}-events.parallel`,
      total,
      full.verify[2].map((r) => r.ms),
      { name: 'the same runledger verify with --workers 1, same ledger, same run', samplesMs: full.verify[1].map((r) => r.ms) },
      { ...env, ...shared, events: total, cpuMsWorkers1: full.verify[1].map((r) => r.cpuMs), cpuMsWorkers2: full.verify[2].map((r) => r.cpuMs) },
      { goal: PARALLEL_SPEEDUP_GOAL },
    ),
  );
  const genWall = summarizeRuns([full.generateMs]);
  out.push({
    name: `generate-${label}-events`,
    unit: 'events',
    runs: 1,
    wallMs: genWall,
    throughputPerSec: total / (full.generateMs / 1000),
    memoryDeltaBytes: 0,
    environment: { ...env, ...shared, events: total, note: 'the store\'s own appendBatch, 100 streams × 100 events per transaction, exact expected revisions, a signed checkpoint every 1 M events' },
  });
  return out;
}
