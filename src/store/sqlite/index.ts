// The embedded store: one SQLite file (better-sqlite3, WAL, synchronous=FULL). Each append is one
// BEGIN IMMEDIATE transaction: under the write lock it reads the batch's stream heads and recorded
// ids, lets the shared planner (../append-plan.ts) check and seal, inserts the planned rows and
// extends the persisted compact range, so integration happens at commit: position is the dense
// RFC 9162 leaf index and `integrate()` has nothing left to do.
import { resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import type { Observable } from 'rxjs';
import type { ProposedEvent } from '../../../events/envelope.js';
import { InputError, IntegrityError, UnavailableError } from '../../errors.js';
import { CompactRange, CompactRangeError } from '../../integrity/compact-range.js';
import type {
  AppendRequest,
  AppendResult,
  EventStore,
  ExpectedRevision,
  LoggedEvent,
  ReadAllOptions,
  ReadLogOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoredCheckpoint,
  SubscribeOptions,
  TreeState,
} from '../port.js';
import type { RecordedIdentity, StreamHead } from '../append-plan.js';
import type { PrepareOptions, PreparedRequest } from '../seal.js';
import { openLedgerDatabase, storeFailure } from './schema.js';
import { recordFromCanonical } from '../recorded.js';
import { EVENT_COLUMNS, RANGE_SQL, rangeRowAt, READ_STREAM_SQL, type RangeRowAt } from './range-read.js';
import { integerOption, limitOption, splitRange } from '../columns.js';

export interface SqliteStoreOptions {
  /** Database file; `:memory:` for a private in-memory ledger. */
  path: string;
  readonly?: boolean;
  /** How long a writer waits for another process's transaction before giving up. Default 10 s. */
  busyTimeoutMs?: number;
  /** Registry and default actor used to validate appends. */
  prepare?: PrepareOptions;
}

/** A row of the read statements, as an array (`.raw()`: no object with named keys per row). */
type EventRow = [position: number, leafHex: string, canonical: Buffer];


const SUBSCRIBE_PAGE = 512;
const DEFAULT_POLL_MS = 50;

// Appends made through any store object of this process on the same file wake its subscribers at
// once; appends from other processes are found by polling.
const localAppends = new Map<string, Set<() => void>>();

function notifyLocal(path: string): void {
  for (const wake of localAppends.get(path) ?? []) wake();
}

function listenLocal(path: string, wake: () => void): () => void {
  let listeners = localAppends.get(path);
  if (!listeners) localAppends.set(path, (listeners = new Set()));
  listeners.add(wake);
  return () => {
    listeners.delete(wake);
    if (listeners.size === 0) localAppends.delete(path);
  };
}


/** SQLite LIMIT: -1 means none. */
function limitOf(options: { limit?: number }): number {
  return limitOption(options.limit) ?? -1;
}

class SqliteStore implements EventStore {
  readonly kind = 'sqlite' as const;
  readonly displayUrl: string;
  private readonly path: string;
  private readonly readonly: boolean;
  private readonly busyTimeoutMs: number;
  private readonly prepareOptions: PrepareOptions;
  private connection: Connection | undefined;
  private closed = false;
  private readonly subscriptions = new Set<() => void>();

  constructor(options: SqliteStoreOptions) {
    this.path = options.path === ':memory:' ? options.path : resolve(options.path);
    this.displayUrl = `sqlite:${options.path}`;
    this.readonly = options.readonly ?? false;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
    this.prepareOptions = options.prepare ?? {};
  }

  /** Runs `work` on the open connection, opening it on first use, with driver errors made typed. */
  private run<T>(work: (c: Connection) => T): T {
    if (this.closed) throw new UnavailableError(`store ${this.displayUrl} is closed`);
    try {
      this.connection ??= new Connection(openLedgerDatabase({ path: this.path, readonly: this.readonly, busyTimeoutMs: this.busyTimeoutMs }));
      return work(this.connection);
    } catch (err) {
      throw storeFailure(err, this.path, this.busyTimeoutMs);
    }
  }

  async init(): Promise<void> {
    this.run(() => undefined);
  }

  async append(stream: string, events: ProposedEvent[], options: { expectedRevision?: ExpectedRevision } = {}): Promise<AppendResult> {
    return this.appendSync([{ stream, events, expectedRevision: options.expectedRevision }], await loadSealing());
  }

  async appendBatch(requests: AppendRequest[]): Promise<AppendResult> {
    return this.appendSync(requests, await loadSealing());
  }

  private appendSync(requests: AppendRequest[], sealing: Sealing): AppendResult {
    if (this.readonly) throw new UnavailableError(`store ${this.displayUrl} was opened read-only`);
    // Validation happens before the write lock is taken: a bad event never blocks other writers.
    const prepared = sealing.seal.preparedOnce(requests, this.prepareOptions);
    const result = this.run((c) => c.append(prepared, sealing.seal.nowIso(), sealing.plan));
    if (!result.duplicate) notifyLocal(this.path);
    return result;
  }

  async streamRevision(stream: string): Promise<number> {
    return this.run((c) => c.streamRevision(stream));
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const from = Math.max(0, integerOption(options.fromRevision, 'fromRevision', 0));
    const limit = limitOf(options);
    return this.run((c) => c.readStream.all(stream, from, limit).map(toRecorded));
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = integerOption(options.after, 'after', -1);
    const limit = limitOf(options);
    return this.run((c) => c.readAfter.all(after, limit).map(toRecorded));
  }

  subscribe(options: SubscribeOptions = {}): Observable<RecordedEvent> {
    const { Observable } = createRequire(import.meta.url)('rxjs') as typeof import('rxjs');
    return new Observable<RecordedEvent>((subscriber) => {
      let cursor = options.after ?? -1;
      const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      let immediate: NodeJS.Immediate | undefined;

      // Never re-entrant: drain only runs from a timer or setImmediate callback. Positions are
      // assigned under the write lock, so every position below the largest visible one is committed
      // and reading `position > cursor` in order can neither skip nor repeat an event.
      const drain = (): void => {
        timer = undefined;
        immediate = undefined;
        if (stopped) return;
        let page: RecordedEvent[];
        try {
          page = this.run((c) => c.readAfter.all(cursor, SUBSCRIBE_PAGE).map(toRecorded));
        } catch (err) {
          stop();
          subscriber.error(err);
          return;
        }
        for (const event of page) {
          if (stopped) return;
          cursor = event.position;
          subscriber.next(event);
        }
        if (stopped) return;
        // A full page means more is waiting: continue after yielding to the event loop.
        if (page.length === SUBSCRIBE_PAGE) immediate = setImmediate(drain);
        else timer = setTimeout(drain, pollMs);
      };
      const wake = (): void => {
        if (stopped || immediate) return;
        if (timer) clearTimeout(timer);
        timer = undefined;
        immediate = setImmediate(drain);
      };
      const unlisten = listenLocal(this.path, wake);
      const stop = (): void => {
        stopped = true;
        if (timer) clearTimeout(timer);
        if (immediate) clearImmediate(immediate);
        unlisten();
        this.subscriptions.delete(complete);
      };
      const complete = (): void => {
        stop();
        subscriber.complete();
      };
      this.subscriptions.add(complete);
      immediate = setImmediate(drain);
      return stop;
    });
  }

  async listStreams(): Promise<{ stream: string; revision: number }[]> {
    return this.run((c) => c.listStreams.all() as { stream: string; revision: number }[]);
  }

  /** Integration happens inside every append transaction, so there is never a backlog. */
  async integrate(): Promise<TreeState> {
    return this.treeState();
  }

  async treeState(): Promise<TreeState> {
    return this.run((c) => {
      const range = c.compactRange();
      return { size: range.size, range: range.hashes().map((h) => h.toString('hex')) };
    });
  }

  /** Integration happens inside every append transaction. */
  async unintegrated(): Promise<number> {
    return 0;
  }

  async readLog(options: ReadLogOptions = {}): Promise<LoggedEvent[]> {
    const from = Math.max(0, integerOption(options.fromIndex, 'fromIndex', 0));
    const limit = limitOf(options);
    return this.run((c) => readLogRows(c, from, limit));
  }

  /** The database file, which verification workers open read-only (src/store/sqlite/range-read.ts). */
  rangeReadPath(): string | undefined {
    return this.path === ':memory:' ? undefined : this.path;
  }

  async leafHashes(from: number, to: number): Promise<string[]> {
    return this.run((c) => {
      const size = c.readTree().size;
      if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from || to > size) {
        throw new InputError(`leaf range [${from}, ${to}) is outside the tree of size ${size}`, { index: to });
      }
      return (c.leafHashes.all(from, to) as { leaf_hash: Buffer }[]).map((r) => r.leaf_hash.toString('hex'));
    });
  }

  async addCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    this.run((c) => c.addCheckpoint.run(checkpoint.size, checkpoint.root, checkpoint.note, checkpoint.createdAt));
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    return this.run((c) => c.checkpoints.all() as StoredCheckpoint[]);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.run((c) => (c.getMeta.get(key) as { value: string } | undefined)?.value);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.run((c) => c.setMeta.run(key, value));
  }

  async getPosition(consumer: string): Promise<number | undefined> {
    return this.run((c) => (c.getPosition.get(consumer) as { position: number } | undefined)?.position);
  }

  async setPosition(consumer: string, position: number): Promise<void> {
    if (!Number.isSafeInteger(position) || position < -1) {
      throw new InputError(`position of consumer "${consumer}" must be an integer >= -1, got ${position}`, { field: 'position' });
    }
    this.run((c) => c.setPosition.run(consumer, position, new Date().toISOString()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const complete of [...this.subscriptions]) complete();
    this.closed = true;
    this.connection?.db.close();
    this.connection = undefined;
  }
}

type AppendPlanner = typeof import('../append-plan.js');
interface Sealing {
  seal: typeof import('../seal.js');
  plan: AppendPlanner;
}
let sealing: Promise<Sealing> | undefined;

// Sealing validates against the schema of every event type (zod): it loads on the first append, so
// commands that only read (events, verify) start without it (docs/benchmarks.md, "CLI start-up").
function loadSealing(): Promise<Sealing> {
  return (sealing ??= Promise.all([import('../seal.js'), import('../append-plan.js')]).then(([seal, plan]) => ({ seal, plan })));
}

function toRecorded(row: unknown): LoggedEvent {
  const [position, leafHex, canonical] = row as EventRow;
  return recordFromCanonical(position, position, canonical, leafHex);
}

/** Rows a range block read holds at most (SQLite caps a value at 1e9 bytes). */
const BLOCK_ROWS = 5_000;

/**
 * The log from leaf index `from`, `limit` rows (-1: all). Read in blocks (one buffer a range, as
 * the verification workers read: range-read.ts) while each row's header parses and its position is
 * the next index; from the first row that is not (a gap, a column that is not a BLOB, a block SQLite
 * cannot build, the end), the rest is the row-by-row read, so the result is the same either way.
 */
function readLogRows(c: Connection, from: number, limit: number): LoggedEvent[] {
  const events: LoggedEvent[] = [];
  const want = limit < 0 ? Infinity : limit;
  for (;;) {
    const start = from + events.length;
    const count = Math.min(BLOCK_ROWS, want - events.length);
    if (count === 0) return events;
    if (blockRecords(c, start, count, events) < count) break;
  }
  // Leaf index = position, so the log from index i is the events after position i - 1.
  const rest = c.readAfter.all(from + events.length - 1, limit < 0 ? -1 : limit - events.length);
  for (const row of rest) events.push(toRecorded(row));
  return events;
}

/** Appends the rows at positions start, start + 1, … of the block of [start, start + count) to `events`, up to the first that is not; how many. */
function blockRecords(c: Connection, start: number, count: number, events: LoggedEvent[]): number {
  let block: Buffer | null;
  try {
    block = c.readRange.get(start, start + count) as Buffer | null;
  } catch {
    return 0; // too big for one value, say: the row read has it
  }
  if (block === null) return 0;
  const row = BLOCK_ROW;
  let at = 0;
  let k = 0;
  for (; k < count && rangeRowAt(block, at, row) && row.position === start + k; k++) {
    const canonical = block.subarray(row.canonical, row.canonical + row.canonicalLength);
    events.push(recordFromCanonical(row.position, row.position, canonical, block.toString('hex', row.hash, row.canonical)));
    at = row.canonical + row.canonicalLength;
  }
  return k;
}

const BLOCK_ROW: RangeRowAt = { position: 0, hash: 0, hashLength: 0, canonical: 0, canonicalLength: 0 };

/** An open database with its statements prepared once: the append hot path never re-parses SQL. */
class Connection {
  readonly readAfter: Database.Statement;
  readonly readRange: Database.Statement;
  readonly readStream: Database.Statement;
  readonly leafHashes: Database.Statement;
  readonly listStreams: Database.Statement;
  readonly addCheckpoint: Database.Statement;
  readonly checkpoints: Database.Statement;
  readonly getMeta: Database.Statement;
  readonly setMeta: Database.Statement;
  readonly getPosition: Database.Statement;
  readonly setPosition: Database.Statement;
  private readonly selectTree: Database.Statement;
  private readonly selectHead: Database.Statement;
  private readonly selectById: Database.Statement;
  private readonly insertEvent: Database.Statement;
  private readonly updateTree: Database.Statement;
  private readonly appendTx: (requests: readonly PreparedRequest[], recordedAt: string, plan: AppendPlanner) => AppendResult;

  constructor(readonly db: Database.Database) {
    const columns = EVENT_COLUMNS;
    this.readAfter = db.prepare(`SELECT ${columns} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw();
    this.readRange = db.prepare(RANGE_SQL).pluck();
    this.readStream = db.prepare(READ_STREAM_SQL).raw();
    this.leafHashes = db.prepare('SELECT leaf_hash FROM events WHERE position >= ? AND position < ? ORDER BY position');
    this.listStreams = db.prepare('SELECT stream, max(revision) AS revision FROM events GROUP BY stream ORDER BY stream');
    this.checkpoints = db.prepare('SELECT size, root, note, created_at AS createdAt FROM checkpoints ORDER BY seq');
    this.getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.getPosition = db.prepare('SELECT position FROM positions WHERE consumer = ?');
    this.selectTree = db.prepare('SELECT size, range FROM tree WHERE singleton = 0');
    this.selectHead = db.prepare('SELECT revision, leaf_hash FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1');
    this.selectById = db.prepare('SELECT id, position, stream, revision, content_digest AS contentDigest FROM events WHERE id = ?');
    this.addCheckpoint = db.prepare('INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)');
    this.setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.setPosition = db.prepare(
      'INSERT INTO positions (consumer, position, updated_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at',
    );
    this.insertEvent = db.prepare(
      'INSERT INTO events (position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.updateTree = db.prepare('UPDATE tree SET size = ?, range = ? WHERE singleton = 0');
    const tx = db.transaction((requests: readonly PreparedRequest[], recordedAt: string, plan: AppendPlanner) => this.appendInTransaction(requests, recordedAt, plan));
    // BEGIN IMMEDIATE takes the write lock up front, so the reads below (heads, tree) cannot go stale.
    this.appendTx = (requests, recordedAt, plan) => tx.immediate(requests, recordedAt, plan);
  }

  readTree(): { size: number; range: Buffer } {
    return this.selectTree.get() as { size: number; range: Buffer };
  }

  /** The persisted tree state; a row that cannot be a compact range is damage, not a bug. */
  compactRange(tree = this.readTree()): CompactRange {
    try {
      return CompactRange.fromState(tree.size, splitRange(tree.range));
    } catch (err) {
      if (err instanceof CompactRangeError) throw new IntegrityError(`ledger database ${this.db.name} has an invalid tree state: ${err.message}`);
      throw err;
    }
  }

  streamRevision(stream: string): number {
    return (this.selectHead.get(stream) as { revision: number } | undefined)?.revision ?? -1;
  }

  append(requests: readonly PreparedRequest[], recordedAt: string, plan: AppendPlanner): AppendResult {
    return this.appendTx(requests, recordedAt, plan);
  }

  private appendInTransaction(requests: readonly PreparedRequest[], recordedAt: string, planner: AppendPlanner): AppendResult {
    // The write lock is held (BEGIN IMMEDIATE), so these reads stay current until commit.
    const { streams, ids } = planner.appendReads(requests);
    const heads = new Map<string, StreamHead>();
    for (const stream of streams) {
      const head = this.selectHead.get(stream) as { revision: number; leaf_hash: Buffer } | undefined;
      if (head) heads.set(stream, { revision: head.revision, leafHash: head.leaf_hash.toString('hex') });
    }
    const recorded = new Map<string, RecordedIdentity>();
    for (const id of ids) {
      const row = this.selectById.get(id) as RecordedIdentity | undefined;
      if (row) recorded.set(id, row);
    }
    const plan = planner.planAppend(requests, { heads, recorded }, recordedAt);
    if (plan.rows.length === 0) return plan.result([]);

    const tree = this.readTree();
    const range = this.compactRange(tree);
    const positions: number[] = [];
    let position = tree.size;
    for (const row of plan.rows) {
      const e = row.envelope;
      try {
        this.insertEvent.run(position, e.id, e.stream, e.revision, e.type, e.metadata.recordedAt, row.contentDigest, row.leaf, row.canonical);
      } catch (err) {
        // The heads and the named ids were read under the write lock, so only a generated id that a
        // row not written by this ledger already holds (or a damaged index) can collide here.
        if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw new IntegrityError(`ledger database ${this.db.name} already holds an event with id ${e.id} or stream "${e.stream}" revision ${e.revision}, which its own reads did not show: ${(err as Error).message}`);
        }
        throw err;
      }
      positions.push(position);
      position += 1;
    }
    // RFC 9162 §2.1: leaf index = position, extended in commit order within the same transaction.
    range.appendLeaves(plan.rows.map((row) => row.leaf));
    this.updateTree.run(range.size, Buffer.concat(range.hashes()));
    return plan.result(positions);
  }
}

export function createSqliteStore(options: SqliteStoreOptions): EventStore {
  return new SqliteStore(options);
}
