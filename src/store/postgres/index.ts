// The PostgreSQL store (node-postgres). Writers append concurrently, each in one transaction;
// positions are taken together with the transaction id (schema.ts, reserve_positions), and every
// reader of the global order — readAll, subscribers, the integrator — only sees rows whose
// transaction is older than the oldest one still running. So the global order has no holes that
// fill later: a transaction that took a lower position but commits last is waited for, never
// skipped. One integrator at a time (an advisory lock) gives committed events their dense
// RFC 9162 leaf index in that order and extends the persisted compact range.
import pg from 'pg';
import type { Observable } from 'rxjs';
import type { Envelope, ProposedEvent } from '../../../events/envelope.js';
import { ConcurrencyError, InputError, IntegrityError, UnavailableError } from '../../errors.js';
import { CompactRange } from '../../integrity/compact-range.js';
import { leafHash } from '../../integrity/hasher.js';
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
import { nowIso, prepareBatch, type PrepareOptions } from '../seal.js';
import { writeBatch } from './append.js';
import { parsePostgresUrl, sqlState, storeFailure, type PostgresSettings } from './connection.js';
import { ledgerSql, MIN_SERVER_VERSION, SCHEMA_VERSION, schemaStatements, type LedgerSql } from './schema.js';
import { subscription } from './subscription.js';
import { integerOption, limitOption, splitRange } from '../columns.js';

export { writeBatch } from './append.js';
export { ledgerSql, type LedgerSql } from './schema.js';
export { parsePostgresUrl } from './connection.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database?schema=runledger&pool=10` */
  url: string;
  /** Overrides the URL's `schema` parameter. */
  schema?: string;
  /** Overrides the URL's `pool` parameter: connections shared by appends and reads (subscribers have their own). */
  poolSize?: number;
  /** Registry and default actor used to validate appends. */
  prepare?: PrepareOptions;
  /** Consecutive failed reconnects before a subscription errors with UnavailableError. Default 8. */
  subscriberMaxFailures?: number;
  /** First reconnect delay of a subscription, doubling per failure up to 5 s. Default 100 ms. */
  subscriberBackoffMs?: number;
}

const DEFAULT_POLL_MS = 1_000;
const SUBSCRIBE_PAGE = 500;
const INTEGRATE_CHUNK = 4_096;
// A unique violation on the id can only come from a concurrent append of the same event: the
// retry then finds it recorded and answers as an idempotent duplicate (or IdempotencyError).
const APPEND_ATTEMPTS = 3;

/**
 * A page of events in position order, each marked `safe` when its transaction is older than every
 * transaction still running (docs/stores.md, "Ordering guarantee"). Because positions follow
 * transaction ids, the safe rows are a prefix of the page; callers keep only that prefix. The
 * page is cut in an inner query so PostgreSQL walks the index in order and stops at the limit
 * (a plain WHERE on tx_id makes the planner sort everything after the cursor, on every page).
 */
function safePageSql(columns: string, from: string, where: string, limit: string): string {
  return `SELECT ${columns.split(', ').map((c) => `page.${c}`).join(', ')}, page.tx_id < snap.xmin AS safe
            FROM (SELECT ${columns}, tx_id FROM ${from} WHERE ${where} ORDER BY position LIMIT ${limit}) AS page,
                 (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) AS snap
           ORDER BY page.position`;
}

/** The rows before the first unsafe one: everything after it must wait, or a reader could pass a gap. */
function safePrefix<T extends { safe: boolean }>(rows: T[]): T[] {
  const cut = rows.findIndex((row) => !row.safe);
  return cut < 0 ? rows : rows.slice(0, cut);
}

interface EventRow {
  position: string;
  leaf_index: string | null;
  leaf_hash: Buffer;
  canonical: Buffer;
}

const EVENT_COLUMNS = 'position, leaf_index, leaf_hash, canonical';

function toRecorded(row: EventRow): RecordedEvent {
  const position = Number(row.position);
  let envelope: Envelope;
  try {
    envelope = JSON.parse(row.canonical.toString('utf8')) as Envelope;
  } catch {
    throw new IntegrityError(`event at position ${position} is not valid JSON`, { index: position });
  }
  return {
    position,
    index: row.leaf_index === null ? null : Number(row.leaf_index),
    envelope,
    canonical: row.canonical,
    leafHash: row.leaf_hash.toString('hex'),
  };
}


/** SQL LIMIT: null means none. */
function limitOf(options: { limit?: number }): number | null {
  return limitOption(options.limit) ?? null;
}

export async function readSafePage(client: pg.ClientBase | pg.Pool, sql: LedgerSql, after: number, limit: number | null): Promise<RecordedEvent[]> {
  const result = await client.query<EventRow & { safe: boolean }>(safePageSql(EVENT_COLUMNS, sql.events, 'position > $1', '$2'), [after, limit]);
  return safePrefix(result.rows).map(toRecorded);
}

class PostgresStore implements EventStore {
  readonly kind = 'postgres' as const;
  readonly displayUrl: string;
  private readonly settings: PostgresSettings;
  private readonly sql: LedgerSql;
  private readonly pool: pg.Pool;
  private readonly prepareOptions: PrepareOptions;
  private readonly subscriberMaxFailures: number;
  private readonly subscriberBackoffMs: number;
  private readonly subscriptions = new Set<() => void>();
  private readonly positionWrites = new Map<string, Promise<void>>();
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    this.settings = parsePostgresUrl(options.url, { schema: options.schema, poolSize: options.poolSize });
    this.displayUrl = this.settings.displayUrl;
    this.sql = ledgerSql(this.settings.schema);
    this.prepareOptions = options.prepare ?? {};
    this.subscriberMaxFailures = options.subscriberMaxFailures ?? 8;
    this.subscriberBackoffMs = options.subscriberBackoffMs ?? 100;
    this.pool = new pg.Pool({
      connectionString: this.settings.connectionString,
      max: this.settings.poolSize,
      application_name: 'runledger',
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 10_000,
    });
    // An idle pooled connection that dies (server restart, pg_terminate_backend) is dropped by the
    // pool; without a listener the 'error' event would crash the process.
    this.pool.on('error', () => undefined);
  }

  /** Runs `work` with driver failures turned into typed errors. */
  private async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new UnavailableError(`store ${this.displayUrl} is closed`);
    try {
      return await work();
    } catch (err) {
      throw storeFailure(err, this.settings);
    }
  }

  /** One transaction on one pooled connection; a connection in doubt is discarded, not reused. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.run(async () => {
      const client = await this.pool.connect();
      let broken = false;
      try {
        // READ COMMITTED whatever the server's default: the append reads heads after taking the
        // stream locks and must see the previous holder's commit (docs/stores.md, "Appending").
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    });
  }

  async init(): Promise<void> {
    await this.run(async () => {
      const version = await this.pool.query<{ v: string }>('SHOW server_version_num');
      if (Number(version.rows[0]!.v) < MIN_SERVER_VERSION) {
        throw new UnavailableError(`PostgreSQL at ${this.settings.where} is older than 13; runledger needs 13 or newer (xid8 snapshots)`);
      }
      // Fast path for every later open: the schema exists at this version, nothing to do.
      const current = await this.pool.query<{ ok: boolean }>(
        `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS ok`,
        [this.sql.meta, this.sql.events],
      );
      if (current.rows[0]!.ok) {
        const stored = await this.pool.query<{ value: string }>(`SELECT value FROM ${this.sql.meta} WHERE key = 'schema_version'`);
        if (stored.rows[0]?.value === SCHEMA_VERSION) return;
      }
    });
    await this.transaction(async (client) => {
      // Concurrent `init` from several processes: CREATE ... IF NOT EXISTS is not race-free in PostgreSQL.
      await client.query(`SELECT pg_advisory_xact_lock(${this.sql.initLock})`);
      for (const statement of schemaStatements(this.sql)) await client.query(statement);
    });
  }

  async append(stream: string, events: ProposedEvent[], options: { expectedRevision?: ExpectedRevision } = {}): Promise<AppendResult> {
    return this.appendBatch([{ stream, events, expectedRevision: options.expectedRevision }]);
  }

  async appendBatch(requests: AppendRequest[]): Promise<AppendResult> {
    // Validation before any connection is taken: a bad event never holds a lock.
    const prepared = prepareBatch(requests, this.prepareOptions);
    const recordedAt = nowIso();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction((client) => writeBatch(client, this.sql, prepared, recordedAt));
      } catch (err) {
        const state = sqlState(err);
        const constraint = (err as { constraint?: string }).constraint;
        // 40P01/40001: deadlock or serialization failure; the retry starts from scratch.
        const retryable = (state === '23505' && constraint === 'events_id_key') || state === '40P01' || state === '40001';
        if (retryable && attempt < APPEND_ATTEMPTS) continue;
        if (state === '23505' && constraint === 'events_stream_revision_key') {
          // Defence in depth: the stream lock makes this unreachable for writers using this code.
          const stream = (err as { detail?: string }).detail?.match(/\(stream, revision\)=\((.*), \d+\)/)?.[1] ?? prepared[0]!.stream;
          throw new ConcurrencyError(stream, prepared.find((r) => r.stream === stream)?.expectedRevision ?? 'any', await this.streamRevision(stream));
        }
        throw storeFailure(err, this.settings);
      }
    }
  }

  async streamRevision(stream: string): Promise<number> {
    return this.run(async () => {
      const result = await this.pool.query<{ revision: string }>(`SELECT revision FROM ${this.sql.streams} WHERE stream = $1`, [stream]);
      const row = result.rows[0];
      return row ? Number(row.revision) : -1;
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const from = Math.max(0, integerOption(options.fromRevision, 'fromRevision', 0));
    const limit = limitOf(options);
    return this.run(async () => {
      const result = await this.pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM ${this.sql.events} WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
        [stream, from, limit],
      );
      return result.rows.map(toRecorded);
    });
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = integerOption(options.after, 'after', -1);
    const limit = limitOf(options);
    return this.run(() => readSafePage(this.pool, this.sql, after, limit));
  }

  subscribe(options: SubscribeOptions = {}): Observable<RecordedEvent> {
    const after = integerOption(options.after, 'after', -1);
    const pollMs = integerOption(options.pollMs, 'pollMs', DEFAULT_POLL_MS);
    return subscription(
      this.settings,
      this.sql,
      {
        after,
        pollMs,
        maxFailures: this.subscriberMaxFailures,
        backoffMs: this.subscriberBackoffMs,
        pageSize: SUBSCRIBE_PAGE,
        readPage: (client, from, limit) => readSafePage(client, this.sql, from, limit),
        readPooled: (from, limit) => this.run(() => readSafePage(this.pool, this.sql, from, limit)),
      },
      (complete) => {
        if (this.closed) {
          queueMicrotask(complete);
          return () => undefined;
        }
        this.subscriptions.add(complete);
        return () => this.subscriptions.delete(complete);
      },
    );
  }

  async listStreams(): Promise<{ stream: string; revision: number }[]> {
    return this.run(async () => {
      // COLLATE "C": byte order, the same order the embedded store lists streams in.
      const result = await this.pool.query<{ stream: string; revision: string }>(
        `SELECT stream, revision FROM ${this.sql.streams} WHERE revision >= 0 ORDER BY stream COLLATE "C"`,
      );
      return result.rows.map((r) => ({ stream: r.stream, revision: Number(r.revision) }));
    });
  }

  /**
   * The integrator. The transaction-scoped advisory lock is the lease: a second integrator waits
   * for it and then continues from the first one's committed state, so two never fork the tree;
   * a crashed integrator's transaction rolls back and its lock dies with its connection.
   */
  async integrate(): Promise<TreeState> {
    for (;;) {
      const { state, more } = await this.transaction(async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock(${this.sql.integratorLock})`);
        // The lease alone guards the tree row. No row lock: that would give this transaction an id
        // before it reads, and a running id holds back every subscriber (the ordering rule).
        const tree = await client.query<{ size: string; range: Buffer }>(`SELECT size, range FROM ${this.sql.tree}`);
        const size = Number(tree.rows[0]!.size);
        const range = CompactRange.fromState(size, splitRange(tree.rows[0]!.range));
        const page = await client.query<{ position: string; leaf_hash: Buffer; canonical: Buffer; safe: boolean }>(
          safePageSql('position, leaf_hash, canonical', this.sql.events, 'leaf_index IS NULL', String(INTEGRATE_CHUNK)),
        );
        const pending = { rows: safePrefix(page.rows) };
        if (pending.rows.length === 0) return { state: rangeState(range), more: false };
        if (size > 0) {
          // Tripwire for the ordering rule: integration order must be position order, always.
          const last = await client.query<{ position: string }>(`SELECT position FROM ${this.sql.events} WHERE leaf_index = $1`, [size - 1]);
          const lastPosition = Number(last.rows[0]?.position ?? -1);
          const first = Number(pending.rows[0]!.position);
          if (first < lastPosition) {
            throw new IntegrityError(
              `event at position ${first} became visible after position ${lastPosition} was integrated: a writer bypassed the sequencer`,
              { index: size },
            );
          }
        }
        const positions: number[] = [];
        const indices: number[] = [];
        for (const row of pending.rows) {
          // The tree commits to the stored bytes, never to a stored hash that could disagree with them.
          const leaf = leafHash(row.canonical);
          if (!leaf.equals(row.leaf_hash)) {
            throw new IntegrityError(`event at position ${row.position} has a leaf hash that does not match its bytes`, {
              index: range.size,
            });
          }
          positions.push(Number(row.position));
          indices.push(range.size);
          range.append(leaf);
        }
        await client.query(
          `UPDATE ${this.sql.events} AS e SET leaf_index = v.leaf_index
             FROM unnest($1::bigint[], $2::bigint[]) AS v(position, leaf_index) WHERE e.position = v.position`,
          [positions, indices],
        );
        await client.query(`UPDATE ${this.sql.tree} SET size = $1, range = $2`, [range.size, Buffer.concat(range.hashes())]);
        return { state: rangeState(range), more: pending.rows.length === INTEGRATE_CHUNK };
      });
      if (!more) return state;
    }
  }

  async treeState(): Promise<TreeState> {
    return this.run(async () => {
      const tree = await this.pool.query<{ size: string; range: Buffer }>(`SELECT size, range FROM ${this.sql.tree}`);
      return { size: Number(tree.rows[0]!.size), range: splitRange(tree.rows[0]!.range).map((h) => h.toString('hex')) };
    });
  }

  async unintegrated(): Promise<number> {
    return this.run(async () => {
      const result = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.sql.events} WHERE leaf_index IS NULL`);
      return Number(result.rows[0]!.n);
    });
  }

  async readLog(options: ReadLogOptions = {}): Promise<LoggedEvent[]> {
    const from = Math.max(0, integerOption(options.fromIndex, 'fromIndex', 0));
    const limit = limitOf(options);
    return this.run(async () => {
      const result = await this.pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM ${this.sql.events} WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2`,
        [from, limit],
      );
      return result.rows.map(toRecorded) as LoggedEvent[];
    });
  }

  async leafHashes(from: number, to: number): Promise<string[]> {
    const { size } = await this.treeState();
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from || to > size) {
      throw new InputError(`leaf range [${from}, ${to}) is outside the tree of size ${size}`, { index: to });
    }
    return this.run(async () => {
      const result = await this.pool.query<{ leaf_hash: Buffer }>(
        `SELECT leaf_hash FROM ${this.sql.events} WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index`,
        [from, to],
      );
      return result.rows.map((r) => r.leaf_hash.toString('hex'));
    });
  }

  async addCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    await this.run(() =>
      this.pool.query(`INSERT INTO ${this.sql.checkpoints} (size, root, note, created_at) VALUES ($1, $2, $3, $4)`, [
        checkpoint.size,
        checkpoint.root,
        checkpoint.note,
        checkpoint.createdAt,
      ]),
    );
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    return this.run(async () => {
      const result = await this.pool.query<{ size: string; root: string; note: string; createdAt: string }>(
        `SELECT size, root, note, created_at AS "createdAt" FROM ${this.sql.checkpoints} ORDER BY seq`,
      );
      return result.rows.map((r) => ({ ...r, size: Number(r.size) }));
    });
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.run(async () => {
      const result = await this.pool.query<{ value: string }>(`SELECT value FROM ${this.sql.meta} WHERE key = $1`, [key]);
      return result.rows[0]?.value;
    });
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.run(() =>
      this.pool.query(`INSERT INTO ${this.sql.meta} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [
        key,
        value,
      ]),
    );
  }

  async getPosition(consumer: string): Promise<number | undefined> {
    // Read-your-writes within this process: a position set before is visible here.
    await this.positionWrites.get(consumer)?.catch(() => undefined);
    return this.run(async () => {
      const result = await this.pool.query<{ position: string }>(`SELECT position FROM ${this.sql.positions} WHERE consumer = $1`, [consumer]);
      const row = result.rows[0];
      return row ? Number(row.position) : undefined;
    });
  }

  async setPosition(consumer: string, position: number): Promise<void> {
    if (!Number.isSafeInteger(position) || position < -1) {
      throw new InputError(`position of consumer "${consumer}" must be an integer >= -1, got ${position}`, { field: 'position' });
    }
    // One consumer's writes are applied in call order: on a pool, two in flight could otherwise
    // commit out of order and leave an older position stored (a relay would then redeliver).
    const previous = this.positionWrites.get(consumer) ?? Promise.resolve();
    const write = previous
      .catch(() => undefined)
      .then(() =>
        this.run(() =>
          this.pool.query(
            `INSERT INTO ${this.sql.positions} (consumer, position, updated_at) VALUES ($1, $2, now())
             ON CONFLICT (consumer) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
            [consumer, position],
          ),
        ),
      )
      .then(() => undefined);
    this.positionWrites.set(consumer, write);
    try {
      await write;
    } finally {
      if (this.positionWrites.get(consumer) === write) this.positionWrites.delete(consumer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const complete of [...this.subscriptions]) complete();
    // Position writes already issued (often fire-and-forget from a subscriber) still land.
    await Promise.allSettled([...this.positionWrites.values()]);
    this.closed = true;
    await this.pool.end();
  }
}

function rangeState(range: CompactRange): TreeState {
  return { size: range.size, range: range.hashes().map((h) => h.toString('hex')) };
}

/** Called by src/store/open.ts for `postgres://` and `postgresql://` URLs. */
export function createPostgresStore(options: PostgresStoreOptions): EventStore {
  return new PostgresStore(options);
}
