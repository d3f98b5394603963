// Embedded append, end to end (validate, canonicalize, hash, chain, integrate, durable commit),
// against raw better-sqlite3 inserts of the very same rows into the same table with the same
// pragmas and batch size. Goal (issue 13): at least 0.7 of the raw throughput (the brief asked for half).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ProposedEvent } from '../events/envelope.js';
import { guardedAppend, RunHeads } from '../src/governance/guarded-append.js';
import type { EventStore } from '../src/store/port.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { runStreamEvents } from './fixtures/projection-log.js';
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

/**
 * The governed path: a long-lived writer (its own RunHeads, as a worker or the HTTP API keeps)
 * appending the same events through the run-stream door (guardedAppend: read the run's head, check
 * the write rules, append pinned to the revision read) to approved runs, against the same events
 * appended to the store directly, interleaved batch by batch into two files. What it shows is the
 * door's own cost per event on top of the store's (docs/benchmarks.md, "SQLite append", round 4).
 */
async function doorRun(dir: string, run: number, proposed: ProposedEvent[]): Promise<Sample> {
  const open = async (name: string): Promise<EventStore> => {
    const store = createSqliteStore({ path: join(dir, `${name}-${run}.db`) });
    await store.init();
    return store;
  };
  const door = await open('door');
  const direct = await open('direct');
  for (let s = 0; s < STREAMS; s++) {
    await guardedAppend(door, [{ stream: `run-d${s}`, events: runStreamEvents({ runId: `d${s}` }).slice(0, 2) }], { allowGovernance: true });
  }
  const heads = new RunHeads();
  const sample: Sample = { ledgerMs: 0, rawMs: 0, ledgerCpuMs: 0, rawCpuMs: 0, memoryDelta: 0 };
  const timed = async (work: () => Promise<unknown>): Promise<[number, number]> => {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await work();
    const used = process.cpuUsage(cpu);
    return [Number(process.hrtime.bigint() - start) / 1e6, (used.user + used.system) / 1000];
  };
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let b = 0; b * BATCH_SIZE < proposed.length; b++) {
    const events = proposed.slice(b * BATCH_SIZE, (b + 1) * BATCH_SIZE);
    const round = Math.floor(b / STREAMS);
    const viaDoor = () => guardedAppend(door, [{ stream: `run-d${b % STREAMS}`, events, expectedRevision: 1 + round * BATCH_SIZE }], { heads });
    const viaStore = () => direct.append(`lab-d${b % STREAMS}`, events, { expectedRevision: round === 0 ? 'no_stream' : round * BATCH_SIZE - 1 });
    // Which side goes first alternates, so ordering effects cancel.
    const [first, second] = b % 2 === 0 ? [viaDoor, viaStore] : [viaStore, viaDoor];
    const [ms1, cpu1] = await timed(first);
    const [ms2, cpu2] = await timed(second);
    const [doorMs, doorCpu, storeMs, storeCpu] = b % 2 === 0 ? [ms1, cpu1, ms2, cpu2] : [ms2, cpu2, ms1, cpu1];
    sample.ledgerMs += doorMs;
    sample.ledgerCpuMs += doorCpu;
    sample.rawMs += storeMs;
    sample.rawCpuMs += storeCpu;
  }
  sample.memoryDelta = process.memoryUsage().heapUsed - heapBefore;
  await door.close();
  await direct.close();
  return sample;
}

/** Runs `measure` once untimed (JIT, page cache) and then `runs` times, in a scratch directory. */
async function samplesOf(prefix: string, runs: number, measure: (dir: string, run: number) => Promise<Sample>): Promise<Sample[]> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const samples: Sample[] = [];
  try {
    for (let r = -1; r < runs; r++) {
      const sample = await measure(dir, r + 1);
      if (r >= 0) samples.push(sample);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return samples;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const runs = options.runs ?? 5;
  const count = Math.max(BATCH_SIZE, Math.round((EVENTS_PER_RUN * (options.scale ?? 1)) / BATCH_SIZE) * BATCH_SIZE);
  const samples = await samplesOf('runledger-bench-append-', runs, (dir, r) => interleavedRun(dir, r, proposedEvents(count)));
  const door = await samplesOf('runledger-bench-door-', runs, (dir, r) => doorRun(dir, r, proposedEvents(count)));
  const doorWall = summarizeRuns(door.map((s) => s.ledgerMs));
  const storeWall = summarizeRuns(door.map((s) => s.rawMs));
  const doorCpu = summarizeRuns(door.map((s) => s.ledgerCpuMs));
  const storeCpu = summarizeRuns(door.map((s) => s.rawCpuMs));
  const doorMemory = door.map((s) => s.memoryDelta).sort((a, b) => a - b);
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
    {
      name: 'append.sqlite.door',
      unit: 'events',
      runs,
      wallMs: doorWall,
      throughputPerSec: count / (doorWall.p50 / 1000),
      memoryDeltaBytes: doorMemory[Math.floor(doorMemory.length / 2)]!,
      reference: { name: 'the same events appended to the store directly (no door), same batches', wallMs: storeWall, throughputPerSec: count / (storeWall.p50 / 1000) },
      // A diagnostic, no goal: the door's throughput as a share of the store's own.
      ratio: storeWall.p50 / doorWall.p50,
      environment: {
        ...benchEnvironment(),
        events: count,
        interleaved: 'batch by batch',
        batchSize: BATCH_SIZE,
        streams: STREAMS,
        writer: 'one long-lived writer (RunHeads), approved runs, exact expected revision',
        cpuMs: doorCpu,
        referenceCpuMs: storeCpu,
        cpuRatio: storeCpu.p50 / doorCpu.p50,
        cpuUsPerEvent: (doorCpu.p50 * 1000) / count,
        referenceCpuUsPerEvent: (storeCpu.p50 * 1000) / count,
      },
    },
  ];
}
