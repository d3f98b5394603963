// Embedded append, end to end (validate, canonicalize, hash, chain, integrate, durable commit),
// against raw better-sqlite3 inserts of the very same rows into the same table with the same
// pragmas and batch size. Goal (BRIEF.md): at least half the raw throughput.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ProposedEvent } from '../events/envelope.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';

const BATCH_SIZE = 100;
const STREAMS = 10;
const EVENTS_PER_RUN = 20_000;

/** A telemetry-like event: a few numbers and strings, the typical shape a training run records. */
function proposedEvents(count: number): ProposedEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    type: 'custom.bench.sample',
    data: { step: i, epoch: Math.floor(i / 500), loss: 1 / (i + 1), accuracy: (i % 1000) / 1000, phase: i % 2 ? 'train' : 'eval' },
    metadata: { actor: 'bench', correlationId: 'bench-run' },
  }));
}

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

async function ledgerRun(path: string, proposed: ProposedEvent[]): Promise<{ ms: number; memoryDelta: number }> {
  const store = createSqliteStore({ path });
  await store.init();
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let at = 0, b = 0; at < proposed.length; at += BATCH_SIZE, b++) {
    await store.append(`run-${b % STREAMS}`, proposed.slice(at, at + BATCH_SIZE));
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const memoryDelta = process.memoryUsage().heapUsed - heapBefore;
  await store.close();
  return { ms, memoryDelta };
}

/** The rows the ledger wrote, read back so the reference inserts byte-identical content. */
function storedRows(path: string): Row[] {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare('SELECT position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical FROM events ORDER BY position').all() as Row[];
  db.close();
  return rows;
}

/** Raw reference: the same table (created by the store's own schema), pragmas, batch size and rows. */
async function rawRun(path: string, rows: Row[]): Promise<number> {
  const init = createSqliteStore({ path });
  await init.init();
  await init.close();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const insert = db.prepare(
    'INSERT INTO events (position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const batch = db.transaction((slice: Row[]) => {
    for (const r of slice) insert.run(r.position, r.id, r.stream, r.revision, r.type, r.recorded_at, r.content_digest, r.leaf_hash, r.canonical);
  });
  const start = process.hrtime.bigint();
  for (let at = 0; at < rows.length; at += BATCH_SIZE) batch.immediate(rows.slice(at, at + BATCH_SIZE));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  db.close();
  return ms;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const runs = options.runs ?? 5;
  const count = Math.max(BATCH_SIZE, Math.round((EVENTS_PER_RUN * (options.scale ?? 1)) / BATCH_SIZE) * BATCH_SIZE);
  const dir = mkdtempSync(join(tmpdir(), 'runledger-bench-append-'));
  const ledgerMs: number[] = [];
  const rawMs: number[] = [];
  const memory: number[] = [];
  try {
    // One untimed warm-up of each path (JIT, page cache), then alternate so drift hits both alike.
    for (let r = -1; r < runs; r++) {
      const proposed = proposedEvents(count);
      const ledgerPath = join(dir, `ledger-${r + 1}.db`);
      const rawPath = join(dir, `raw-${r + 1}.db`);
      const ledger = await ledgerRun(ledgerPath, proposed);
      const rows = storedRows(ledgerPath);
      const raw = await rawRun(rawPath, rows);
      if (r >= 0) {
        ledgerMs.push(ledger.ms);
        rawMs.push(raw);
        memory.push(ledger.memoryDelta);
      }
      rmSync(ledgerPath, { force: true });
      rmSync(rawPath, { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const wallMs = summarizeRuns(ledgerMs);
  const rawWall = summarizeRuns(rawMs);
  return [
    {
      name: 'append.sqlite',
      unit: 'events',
      runs,
      wallMs,
      throughputPerSec: count / (wallMs.p50 / 1000),
      memoryDeltaBytes: [...memory].sort((a, b) => a - b)[Math.floor(memory.length / 2)]!,
      reference: { name: 'raw better-sqlite3 INSERT, same rows/pragmas/batches', wallMs: rawWall, throughputPerSec: count / (rawWall.p50 / 1000) },
      // Throughput ratio (ledger / raw): higher is better, at least 0.5 required.
      ratio: rawWall.p50 / wallMs.p50,
      goal: 0.5,
      goalIs: 'min',
      environment: { ...benchEnvironment(), events: count, batchSize: BATCH_SIZE, streams: STREAMS, synchronous: 'FULL', journalMode: 'WAL' },
    },
  ];
}
