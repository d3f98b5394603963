// Streaming export and verify-bundle (issue 13: a 1 M-event bundle in bounded memory).
// `npm run bench -- bundle-scale [--scale X]` (not a default benchmark: GBs in the temp directory).
// For a run of 100 k and of 1 M events (× scale), generated genuinely (bench/ledger-generator.ts:
// an approved plan, the training stage, custom telemetry on the run stream, a signed checkpoint),
// the real CLI runs `export` and then `verify-bundle` as child processes; wall time and peak RSS
// (VmHWM) of each. Bounded means the peak at 1 M is about the peak at 100 k, not ten times it.
import { mkdtempSync, rmSync, statfsSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRun } from './ledger-generator.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';
import { CLI, runChild, type ChildRun } from './child.js';

/** Bundle bytes per event (canonical bytes + an inclusion proof of ~20 hashes in hex) plus the ledger row, rounded up. */
const DISK_PER_EVENT = 3_000;

interface Point {
  events: number;
  bundleBytes: number;
  exports: ChildRun[];
  verifies: ChildRun[];
}

async function measure(events: number, runs: number): Promise<Point> {
  const home = mkdtempSync(join(tmpdir(), 'runledger-bench-bundle-'));
  try {
    const start = performance.now();
    await generateRun(home, 'scale', events);
    process.stderr.write(`bench bundle-scale: generated a run of ${events} events in ${((performance.now() - start) / 1000).toFixed(0)} s\n`);
    const bundle = join(home, 'run.bundle');
    const point: Point = { events, bundleBytes: 0, exports: [], verifies: [] };
    for (let r = 0; r < runs; r++) {
      const exported = await runChild([CLI, '--home', home, 'export', 'scale', '--out', bundle, '--json']);
      point.bundleBytes = statSync(bundle).size;
      const verified = await runChild([CLI, '--home', home, 'verify-bundle', bundle, '--json']);
      const report = JSON.parse(verified.stdout) as { ok: boolean; events: number };
      if (!report.ok || report.events !== events) throw new Error(`bench bundle-scale: verify-bundle of ${events} events did not verify: ${verified.stdout}`);
      point.exports.push(exported);
      point.verifies.push(verified);
      process.stderr.write(
        `bench bundle-scale: ${events} events (${(point.bundleBytes / 2 ** 20).toFixed(0)} MiB bundle): export ${(exported.ms / 1000).toFixed(1)} s, peak RSS ${mib(exported.peakRssBytes)}; ` +
          `verify-bundle ${(verified.ms / 1000).toFixed(1)} s, peak RSS ${mib(verified.peakRssBytes)}; load ${loadavg()[0]!.toFixed(1)}\n`,
      );
    }
    return point;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

function mib(bytes: number | null): string {
  return bytes === null ? 'n/a' : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function peak(runs: readonly ChildRun[]): number | null {
  const peaks = runs.map((r) => r.peakRssBytes).filter((p): p is number => p !== null);
  return peaks.length === 0 ? null : Math.max(...peaks);
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const large = Math.max(10_000, Math.round(1_000_000 * (options.scale ?? 1)));
  const small = Math.round(large / 10);
  const runs = options.runs ?? 1;
  const free = statfsSync(tmpdir()).bavail * statfsSync(tmpdir()).bsize;
  if (free < large * DISK_PER_EVENT) throw new Error(`bench bundle-scale: ${large} events need about ${Math.ceil((large * DISK_PER_EVENT) / 2 ** 30)} GiB in ${tmpdir()}, only ${Math.floor(free / 2 ** 30)} GiB free`);
  const points = [await measure(small, runs), await measure(large, runs)];
  const [p1, p2] = points as [Point, Point];
  const env = benchEnvironment();
  const out: BenchResult[] = [];
  for (const [what, of] of [['export', (p: Point) => p.exports], ['verify-bundle', (p: Point) => p.verifies]] as const) {
    const wall = summarizeRuns(of(p2).map((r) => r.ms));
    const smallWall = summarizeRuns(of(p1).map((r) => r.ms));
    const peakLarge = peak(of(p2));
    const peakSmall = peak(of(p1));
    if (peakLarge === null || peakSmall === null) continue;
    out.push({
      name: `${what}-${large === 1_000_000 ? '1m' : large}-events.rss-growth`,
      unit: 'events',
      runs: of(p2).length,
      wallMs: wall,
      throughputPerSec: large / (wall.p50 / 1000),
      memoryDeltaBytes: peakLarge - peakSmall,
      reference: { name: `the same command on a run of ${small} events`, wallMs: smallWall, throughputPerSec: small / (smallWall.p50 / 1000) },
      // Peak RSS at N ÷ peak RSS at N/10: about 1 when the command streams, 10 when it holds the run.
      ratio: peakLarge / peakSmall,
      goal: 1.5,
      goalIs: 'max',
      environment: { ...env, events: large, cpuMs: of(p2).map((r) => r.cpuMs), smallCpuMs: of(p1).map((r) => r.cpuMs), bundleBytes: p2.bundleBytes, peakRssBytes: peakLarge, smallEvents: small, smallBundleBytes: p1.bundleBytes, smallPeakRssBytes: peakSmall, rssSampledEveryMs: 50 },
    });
  }
  return out;
}
