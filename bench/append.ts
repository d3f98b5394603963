// Embedded append, end to end (validate, canonicalize, hash, chain, integrate, durable commit),
// against raw better-sqlite3 inserts of the very same rows into the same table with the same
// pragmas and batch size. Goal (issue 13): at least 0.7 of the raw throughput (the brief asked for half).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ProposedEvent } from '../events/envelope.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';
import { proposedEvents } from './workload.js';

const BATCH_SIZE = 100;
const STREAMS = 10;
const EVENTS_PER_RUN = 20_000;


interface Row {
  position: number;
  id: string;
  stream: string;
  revision: number;
  type: string;
  recorded_at: string;
  content_digest: string;
  leaf_hash: Buffer;
  canonical: Buffer;
}

interface Sample {
  ledgerMs: number;
  rawMs: number;
  /** Process CPU time (user + system) of each side: load on a shared machine stretches wall time, not this. */
  ledgerCpuMs: number;
  rawCpuMs: number;
  memoryDelta: number;
}

/**
 * One run: the ledger and the raw reference advance batch by batch, alternately, so both meet the
 * same machine load at the same moments. The raw side inserts, into its own file with the same
 * schema and pragmas, exactly the rows the ledger has just written (read back outside the timer).
 */
async function interleavedRun(dir: string, run: number, proposed: ProposedEvent[]): Promise<Sample> {
  const ledgerPath = join(dir, `ledger-${run}.db`);
  const rawPath = join(dir, `raw-${run}.db`);
  for (const path of [ledgerPath, rawPath]) {
    const init = createSqliteStore({ path });
    await init.init();
    await init.close();
  }
  const store = createSqliteStore({ path: ledgerPath });
  await store.init();
  const written = new Database(ledgerPath, { readonly: true });
  const readBack = written.prepare(
    'SELECT position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical FROM events WHERE position >= ? ORDER BY position',
  );
  const raw = new Database(rawPath);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = FULL');
  const insert = raw.prepare(
    'INSERT INTO events (position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const rawBatch = raw.transaction((rows: Row[]) => {
    for (const r of rows) insert.run(r.position, r.id, r.stream, r.revision, r.type, r.recorded_at, r.content_digest, r.leaf_hash, r.canonical);
  });

  let ledgerNs = 0n;
  let rawNs = 0n;
  let ledgerCpuUs = 0;
  let rawCpuUs = 0;
  const cpuUs = (since: NodeJS.CpuUsage): number => {
    const used = process.cpuUsage(since);
    return used.user + used.system;
  };
  const appendLedger = async (b: number) => {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await store.append(`run-${b % STREAMS}`, proposed.slice(b * BATCH_SIZE, (b + 1) * BATCH_SIZE));
    ledgerNs += process.hrtime.bigint() - start;
    ledgerCpuUs += cpuUs(cpu);
  };
  const insertRaw = (rows: Row[]) => {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    rawBatch.immediate(rows);
    rawNs += process.hrtime.bigint() - start;
    rawCpuUs += cpuUs(cpu);
  };
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  // The raw side trails by one batch; which side goes first alternates, so ordering effects cancel.
  let pending: Row[] | undefined;
  for (let b = 0; b * BATCH_SIZE < proposed.length; b++) {
    if (b % 2 === 0 || !pending) {
      await appendLedger(b);
      if (pending) insertRaw(pending);
    } else {
      insertRaw(pending);
      await appendLedger(b);
    }
    pending = readBack.all(b * BATCH_SIZE) as Row[];
  }
  if (pending) insertRaw(pending);
  const memoryDelta = process.memoryUsage().heapUsed - heapBefore;
  await store.close();
  written.close();
  raw.close();
  rmSync(ledgerPath, { force: true });
  rmSync(rawPath, { force: true });
  return { ledgerMs: Number(ledgerNs) / 1e6, rawMs: Number(rawNs) / 1e6, ledgerCpuMs: ledgerCpuUs / 1000, rawCpuMs: rawCpuUs / 1000, memoryDelta };
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const runs = options.runs ?? 5;
  const count = Math.max(BATCH_SIZE, Math.round((EVENTS_PER_RUN * (options.scale ?? 1)) / BATCH_SIZE) * BATCH_SIZE);
  const dir = mkdtempSync(join(tmpdir(), 'runledger-bench-append-'));
  const samples: Sample[] = [];
  try {
    // One untimed warm-up run (JIT, page cache), then the measured runs.
    for (let r = -1; r < runs; r++) {
      const sample = await interleavedRun(dir, r + 1, proposedEvents(count));
      if (r >= 0) samples.push(sample);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ledgerMs = samples.map((s) => s.ledgerMs);
  const rawMs = samples.map((s) => s.rawMs);
  const memory = samples.map((s) => s.memoryDelta);
  const wallMs = summarizeRuns(ledgerMs);
  const rawWall = summarizeRuns(rawMs);
  const cpu = summarizeRuns(samples.map((s) => s.ledgerCpuMs));
  const rawCpu = summarizeRuns(samples.map((s) => s.rawCpuMs));
  return [
    {
      name: 'append.sqlite',
      unit: 'events',
      runs,
      wallMs,
      throughputPerSec: count / (wallMs.p50 / 1000),
      memoryDeltaBytes: [...memory].sort((a, b) => a - b)[Math.floor(memory.length / 2)]!,
      reference: { name: 'raw better-sqlite3 INSERT, same rows/pragmas/batches', wallMs: rawWall, throughputPerSec: count / (rawWall.p50 / 1000) },
      // Throughput ratio (ledger / raw): higher is better, at least 0.7 required (issue 13).
      ratio: rawWall.p50 / wallMs.p50,
      goal: 0.7,
      goalIs: 'min',
      environment: { ...benchEnvironment(), events: count, interleaved: 'batch by batch', batchSize: BATCH_SIZE, streams: STREAMS, synchronous: 'FULL', journalMode: 'WAL', cpuMs: cpu, referenceCpuMs: rawCpu, cpuRatio: rawCpu.p50 / cpu.p50 },
    },
  ];
}
