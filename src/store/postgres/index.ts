// The PostgreSQL store (node-postgres). Writers append concurrently, each in one transaction;
// positions are taken together with the transaction id (schema.ts, reserve_positions), and every
// reader of the global order — readAll, subscribers, the integrator — only sees rows whose
// transaction is older than the oldest one still running. So the global order has no holes that
// fill later: a transaction that took a lower position but commits last is waited for, never
// skipped. One integrator at a time (an advisory lock) gives committed events their dense
// RFC 9162 leaf index in that order and extends the persisted compact range — without touching
// event rows: integrated events are those up to tree.last_position, and an event's leaf index is
// its position minus the positions missing below it (the gaps table).
import pg from 'pg';
import type { Observable } from 'rxjs';
import type { Envelope, ProposedEvent } from '../../../events/envelope.js';
import { ConcurrencyError, InputError, IntegrityError, UnavailableError } from '../../errors.js';
import { CompactRange } from '../../integrity/compact-range.js';
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
import { nowIso, preparedOnce, type PrepareOptions } from '../seal.js';
import { writeBatch } from './append.js';
import { parsePostgresUrl, sqlState, storeFailure, type PostgresSettings } from './connection.js';
import { ledgerSql, MIN_SERVER_VERSION, SCHEMA_VERSION, schemaStatements, type LedgerSql } from './schema.js';
import { subscription } from './subscription.js';
import { integerOption, limitOption, splitRange } from '../columns.js';
import { PositionWrites } from '../position-writes.js';

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
// READ COMMITTED whatever the server's default: the append reads heads after taking the stream
// locks and must see the previous holder's commit (docs/stores.md, "Appending").
const BEGIN = 'BEGIN ISOLATION LEVEL READ COMMITTED';
const SUBSCRIBE_PAGE = 500;
// 16,384 rather than 4,096: each chunk commits a tree row, whose WAL flush the integrator waits for (docs/benchmarks.md, "Round 5 (pg5)").
const INTEGRATE_CHUNK = 16_384;
// A unique violation on the id can only come from a concurrent append of the same event: the
// retry then finds it recorded and answers as an idempotent duplicate (or IdempotencyError).
const APPEND_ATTEMPTS = 3;

/**
 * The leaf index of event row `e`, null when it is beyond the tree: its position minus the
 * positions missing below it, from the last gap run under it (schema.ts, gaps). A gap run is rare,
 * so the lookup is one probe of a small index.
 */
function leafIndexSql(sql: LedgerSql, e: string): string {
  return `CASE WHEN ${e}.position <= (SELECT last_position FROM ${sql.tree}) THEN ${e}.position - coalesce(
            (SELECT g.missing_after FROM ${sql.gaps} AS g WHERE g.position < ${e}.position ORDER BY g.position DESC LIMIT 1), 0) END`;
}

/**
 * Integrated events in leaf order from leaf index $1, at most $2: the position of leaf $1 is $1 plus
 * the positions missing below it; from there every event up to tree.last_position is a leaf. Each
 * row's index is computed from its own position, so a row that appeared in a gap (written around
 * the sequencer) shows up as a repeated index rather than silently shifting the leaves after it.
 */
function logPageSql(sql: LedgerSql, columns: string): string {
  return `SELECT ${columns}, ${leafIndexSql(sql, 'e')} AS leaf_index
            FROM ${sql.events} AS e
           WHERE e.position >= $1::bigint + coalesce(
                   (SELECT g.missing_after FROM ${sql.gaps} AS g WHERE g.next_index <= $1::bigint ORDER BY g.next_index DESC LIMIT 1), 0)
             AND e.position <= (SELECT last_position FROM ${sql.tree})
           ORDER BY e.position LIMIT $2`;
}

/**
 * A page of events in position order, each marked `safe` when its transaction is older than every
 * transaction still running (docs/stores.md, "Ordering guarantee"). Because positions follow
 * transaction ids, the safe rows are a prefix of the page; callers keep only that prefix. The
 * page is cut in an inner query so PostgreSQL walks the index in order and stops at the limit
 * (a plain WHERE on tx_id makes the planner sort everything after the cursor, on every page).
 */
function safePageSql(sql: LedgerSql, columns: string, where: string, limit: string, withIndex: boolean): string {
  const index = withIndex ? `, ${leafIndexSql(sql, 'page')} AS leaf_index` : '';
  return `SELECT ${columns.split(', ').map((c) => `page.${c}`).join(', ')}${index}, page.tx_id < snap.xmin AS safe
            FROM (SELECT ${columns}, tx_id FROM ${sql.events} WHERE ${where} ORDER BY position LIMIT ${limit}) AS page,
                 (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) AS snap
           ORDER BY page.position`;
}

/**
 * The integrator's page: like safePageSql, but the server checks each row's leaf hash against its
 * stored bytes, RFC 9162 §2.1.1 SHA-256(0x00 ‖ canonical), so the bytes never cross the wire (~5 µs
 * per event of transfer, hex decoding and hashing in Node; docs/benchmarks.md, "Round 5").
 * `pg_catalog.` qualified: a function named sha256 earlier on the search_path cannot stand in for it.
 * The page starts after tree.last_position, read in the same transaction under the integrator's lease.
 */
function integratePageSql(sql: LedgerSql): string {
  return `SELECT page.position, page.leaf_hash,
                 pg_catalog.sha256('\\x00'::bytea OPERATOR(pg_catalog.||) page.canonical) OPERATOR(pg_catalog.=) page.leaf_hash AS intact,
                 page.tx_id < snap.xmin AS safe
            FROM (SELECT position, leaf_hash, canonical, tx_id FROM ${sql.events}
                   WHERE position > (SELECT last_position FROM ${sql.tree}) ORDER BY position LIMIT ${INTEGRATE_CHUNK}) AS page,
                 (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) AS snap
           ORDER BY page.position`;
}

/**
 * Tripwire for the ordering rule: a position the integrator recorded as empty must stay empty. An
 * event there was written around the sequencer (it became visible after a higher position was
 * integrated); integrating on would give the leaves after it indices they do not have.
 */
function eventInGapSql(sql: LedgerSql): string {
  return `SELECT e.position FROM ${sql.gaps} AS g
            CROSS JOIN LATERAL (SELECT position FROM ${sql.events} WHERE position >= g.position AND position < g.position + g.length LIMIT 1) AS e
           LIMIT 1`;
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

const EVENT_COLUMNS = 'position, leaf_hash, canonical';

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
  const result = await client.query<EventRow & { safe: boolean }>(safePageSql(sql, EVENT_COLUMNS, 'position > $1', '$2', true), [after, limit]);
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
  private readonly positionWrites = new PositionWrites();
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
      // Queries issued without awaiting the previous one go out together: an append's COMMIT rides
      // behind its insert (append.ts). Queries awaited one by one behave as without it.
      pipeline: true,
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
    return this.session(async (client) => {
      await client.query(BEGIN);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    });
  }

  /**
   * `work` on one pooled connection, which begins and commits its own transaction; on failure it is
   * rolled back, and a connection in doubt is discarded, not reused.
   */
  private async session<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.run(async () => {
      const client = await this.pool.connect();
      // A checked-out connection that dies (server killed, pg_terminate_backend) also emits 'error';
      // the pool listens only while it is idle, and an unheard 'error' would crash the process. The
      // failed query rejects as well, so the caller sees the failure.
      const ignore = (): void => undefined;
      client.on('error', ignore);
      let broken = false;
      try {
        return await work(client);
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.off('error', ignore);
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
      for (const statement of schemaStatements(this.sql)) {
        try {
          await client.query(statement);
        } catch (err) {
          // An upgrade that refuses what it cannot convert (schema.ts): the stored rows break the ledger's rules.
          if (sqlState(err) === 'P0001' && /^cannot upgrade ledger schema/.test((err as Error).message)) throw new IntegrityError((err as Error).message);
          throw err;
        }
      }
    });
  }

  async append(stream: string, events: ProposedEvent[], options: { expectedRevision?: ExpectedRevision } = {}): Promise<AppendResult> {
    return this.appendBatch([{ stream, events, expectedRevision: options.expectedRevision }]);
  }

  async appendBatch(requests: AppendRequest[]): Promise<AppendResult> {
    // Validation before any connection is taken: a bad event never holds a lock.
    const prepared = preparedOnce(requests, this.prepareOptions);
    const recordedAt = nowIso();
    for (let attempt = 1; ; attempt++) {
      try {
        // Two round trips: BEGIN travels with the first statement, COMMIT is pipelined behind the second.
        return await this.session((client) => writeBatch(client, this.sql, prepared, recordedAt, { begin: BEGIN, commit: true }));
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
        `SELECT ${EVENT_COLUMNS}, ${leafIndexSql(this.sql, 'e')} AS leaf_index
           FROM ${this.sql.events} AS e WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
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
    for (let first = true; ; first = false) {
      const { state, more } = await this.session(async (client) => {
        // Two round trips per chunk (was seven): BEGIN, the lease, the tree row, on the first chunk the
        // gap tripwire, and the page travel as one simple-query message — each statement after the
        // lock gets a fresh READ COMMITTED snapshot, so all of them see the previous holder's commit;
        // the tree's update and COMMIT as another. The lease alone guards the tree row. No row lock:
        // that would give this transaction an id before it reads, and a running id holds back every
        // subscriber (the ordering rule).
        const answers = (await client.query(
          [
            BEGIN,
            `SELECT pg_advisory_xact_lock(${this.sql.integratorLock})`,
            `SELECT size, range, last_position, (SELECT missing_after FROM ${this.sql.gaps} ORDER BY position DESC LIMIT 1) AS missing FROM ${this.sql.tree}`,
            ...(first ? [eventInGapSql(this.sql)] : []),
            integratePageSql(this.sql),
          ].join(';\n'),
        )) as unknown as pg.QueryResult[];
        const row = answers[2]!.rows[0] as { size: string; range: Buffer; last_position: string; missing: string | null };
        const size = Number(row.size);
        let lastPosition = Number(row.last_position);
        let missing = Number(row.missing ?? 0);
        if (lastPosition + 1 - missing !== size) {
          throw new IntegrityError(
            `ledger schema "${this.settings.schema}" is inconsistent: tree size ${size}, but positions up to ${lastPosition} less ${missing} recorded gaps hold ${lastPosition + 1 - missing} leaves`,
            { index: size },
          );
        }
        const inGap = first ? (answers[3]!.rows[0] as { position: string } | undefined)?.position : undefined;
        if (inGap !== undefined) {
          throw new IntegrityError(`event at position ${inGap} became visible after higher positions were integrated: a writer bypassed the sequencer`);
        }
        const range = CompactRange.fromState(size, splitRange(row.range));
        const pending = safePrefix(answers.at(-1)!.rows as { position: string; leaf_hash: Buffer; intact: boolean | null; safe: boolean }[]);
        if (pending.length === 0) {
          await client.query('COMMIT');
          return { state: rangeState(range), more: false };
        }
        const gaps: number[][] = [];
        for (const event of pending) {
          const position = Number(event.position);
          // Positions below a safe row that hold no event were drawn by appends that rolled back:
          // they stay empty for good (docs/stores.md, "Ordering guarantee").
          if (position > lastPosition + 1) {
            missing += position - lastPosition - 1;
            gaps.push([lastPosition + 1, position - lastPosition - 1, missing, range.size]);
          }
          // The tree commits to the stored bytes, never to a stored hash that could disagree with them:
          // the server hashed them (integratePageSql); null (no bytes) fails like a mismatch.
          if (event.intact !== true) {
            throw new IntegrityError(`event at position ${position} has a leaf hash that does not match its bytes`, { index: range.size });
          }
          range.append(event.leaf_hash);
          lastPosition = position;
        }
        // Every value here is an integer or hex digits this code made, so literals are safe.
        const column = (k: number): string => `'{${gaps.map((g) => g[k]).join(',')}}'::bigint[]`;
        await client.query(
          [
            ...(gaps.length > 0
              ? [`INSERT INTO ${this.sql.gaps} (position, length, missing_after, next_index) SELECT * FROM unnest(${column(0)}, ${column(1)}, ${column(2)}, ${column(3)})`]
              : []),
            `UPDATE ${this.sql.tree} SET size = ${range.size}, range = decode('${Buffer.concat(range.hashes()).toString('hex')}', 'hex'), last_position = ${lastPosition}`,
            'COMMIT',
          ].join(';\n'),
        );
        return { state: rangeState(range), more: pending.length === INTEGRATE_CHUNK };
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
      const result = await this.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${this.sql.events} WHERE position > (SELECT last_position FROM ${this.sql.tree})`,
      );
      return Number(result.rows[0]!.n);
    });
  }

  async readLog(options: ReadLogOptions = {}): Promise<LoggedEvent[]> {
    const from = Math.max(0, integerOption(options.fromIndex, 'fromIndex', 0));
    const limit = limitOf(options);
    return this.run(async () => {
      const result = await this.pool.query<EventRow>(logPageSql(this.sql, EVENT_COLUMNS), [from, limit]);
      return result.rows.map(toRecorded) as LoggedEvent[];
    });
  }

  async leafHashes(from: number, to: number): Promise<string[]> {
    const { size } = await this.treeState();
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from || to > size) {
      throw new InputError(`leaf range [${from}, ${to}) is outside the tree of size ${size}`, { index: to });
    }
    return this.run(async () => {
      const result = await this.pool.query<{ leaf_hash: Buffer; leaf_index: string }>(logPageSql(this.sql, 'leaf_hash'), [from, to - from]);
      result.rows.forEach((row, k) => {
        if (Number(row.leaf_index) !== from + k) {
          throw new IntegrityError(`leaf ${from + k} of ledger schema "${this.settings.schema}" is missing or repeated (found leaf index ${row.leaf_index})`, {
            index: from + k,
          });
        }
      });
      if (result.rows.length !== to - from) {
        throw new IntegrityError(`ledger schema "${this.settings.schema}" holds ${result.rows.length} of the leaves [${from}, ${to}) its tree claims`, { index: to });
      }
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
    await this.positionWrites.settled(consumer);
    return this.run(async () => {
      const result = await this.pool.query<{ position: string }>(`SELECT position FROM ${this.sql.positions} WHERE consumer = $1`, [consumer]);
      const row = result.rows[0];
      return row ? Number(row.position) : undefined;
    });
  }

  async setPosition(consumer: string, position: number): Promise<void> {
    await this.positionWrites.write(consumer, position, () =>
      this.run(() =>
        this.pool.query(
          `INSERT INTO ${this.sql.positions} (consumer, position, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (consumer) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
          [consumer, position],
        ),
      ),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const complete of [...this.subscriptions]) complete();
    await this.positionWrites.drain();
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
