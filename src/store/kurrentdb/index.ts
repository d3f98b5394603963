// The KurrentDB store (@kurrent/kurrentdb-client). A ledger is a set of streams named
// `<ledger>:…` (streams.ts): its events in `<ledger>:s:<stream>`, one stream per event id as the id
// index, and the integrator's tree records, checkpoints, meta and consumer positions in streams of
// their own — nothing outside the database, so every reader sees the same ledger. Appends are one
// atomic multi-stream append each (KurrentDB 25.1+), planned by the shared append planner against
// the heads just read and written at exactly those revisions (write.ts). The integrator gives the
// ledger's events dense leaf indices in `$all` order and records them in the tree stream, fenced by
// that stream's expected revision (tree.ts). docs/stores.md, "KurrentDB", says what KurrentDB
// guarantees and what this adds.
import {
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  NO_STREAM,
  START,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type ReadStreamOptions as ClientReadStreamOptions,
} from '@kurrent/kurrentdb-client';
import type { Observable } from 'rxjs';
import type { ProposedEvent } from '../../../events/envelope.js';
import { ConcurrencyError, InputError, IntegrityError, LedgerError, UnavailableError } from '../../errors.js';
import { appendReads, planAppend, type AppendPlan, type RecordedIdentity, type StreamHead } from '../append-plan.js';
import { integerOption, limitOption } from '../columns.js';
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
import { PositionWrites } from '../position-writes.js';
import { nowIso, preparedOnce, type PreparedRequest, type PrepareOptions } from '../seal.js';
import {
  CHECKPOINT_TYPE,
  idClaim,
  META_TYPE,
  POSITION_TYPE,
  readFrom,
  recordedEvent,
  recordValue,
  storedCheckpoint,
  STREAM_TYPE,
  TREE_TYPE,
  type KurrentRecord,
} from './codec.js';
import { ledgerStreams, type LedgerStreams } from './streams.js';
import { liveSubscription, type LiveSource } from './subscription.js';
import { assignLeaves, decodeTreeRecord, planIntegration, TreeIndex } from './tree.js';
import { parseKurrentUrl, type KurrentSettings } from './url.js';
import { plannedWrite } from './write.js';

export { parseKurrentUrl } from './url.js';
export { ledgerStreams } from './streams.js';

/** The part of the client the adapter uses (a test can hand in another implementation). */
export type KurrentClient = Pick<KurrentDBClient, 'multiStreamAppend' | 'appendToStream' | 'readStream' | 'readAll' | 'subscribeToAll' | 'dispose'>;

export interface KurrentStoreOptions {
  /** `kurrentdb://[user:password@]host:port[?tls=false&ledger=name]` (url.ts). */
  url: string;
  /** Environment for credentials (KURRENTDB_USERNAME, KURRENTDB_PASSWORD). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** A client to use instead of one connected from the URL (tests). It is disposed on close. */
  client?: KurrentClient;
  /** Registry and default actor used to validate appends. */
  prepare?: PrepareOptions;
  /** Consecutive failed resubscriptions before a subscription errors with UnavailableError. Default 8. */
  subscriberMaxFailures?: number;
  /** First resubscribe delay, doubling per failure up to 5 s. Default 100 ms. */
  subscriberBackoffMs?: number;
  /** Attempts of one append against concurrent writers before it gives up. Default 100. */
  appendAttempts?: number;
}

const PAGE = 1_000;
const INTEGRATE_CHUNK = 4_096;
const DEFAULT_POLL_MS = 1_000;
const MIN_PROBE_MS = 200;
// How many reads one append issues at once (heads, id claims, read-back).
const READ_CONCURRENCY = 32;
const TRANSIENT = new Set(['unavailable', 'deadline-exceeded', 'timeout', 'not-leader', 'cancelled']);

function errorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** Typed errors pass through; the client's failures become the errors users see. */
export function kurrentFailure(err: unknown, settings: Pick<KurrentSettings, 'where' | 'credentials'>): Error {
  if (err instanceof LedgerError) return err;
  const type = errorType(err);
  const at = `KurrentDB at ${settings.where}`;
  if (type !== undefined && TRANSIENT.has(type)) return new UnavailableError(`${at} is unavailable: ${firstLine(err)}`);
  switch (type) {
    case 'access-denied':
      return new UnavailableError(
        settings.credentials === 'none'
          ? `${at} denied access without credentials: put user:password@ in the store URL or set KURRENTDB_USERNAME and KURRENTDB_PASSWORD`
          : `${at} denied access to the credentials from the ${settings.credentials === 'url' ? 'store URL' : 'environment'}: ${firstLine(err)}`,
      );
    case 'unsupported':
      return new UnavailableError(`${at} does not offer multi-stream append: runledger needs KurrentDB 25.1 or newer for atomic appends (${firstLine(err)})`);
    case 'transaction-max-size-exceeded':
    case 'maximum-append-size-exceeded':
      return new InputError(`the append is larger than ${at} accepts in one transaction: append fewer or smaller events at once (${firstLine(err)})`);
    case 'append-record-size-exceeded': {
      const { recordId, stream } = err as { recordId?: string; stream?: string };
      return new InputError(`event ${recordId ?? '?'} of KurrentDB stream "${stream ?? '?'}" is larger than ${at} accepts for one event`, { eventId: recordId });
    }
    case 'stream-deleted':
    case 'stream-tombstoned':
      return new IntegrityError(`a stream of this ledger was deleted in ${at}: ${firstLine(err)}; ledger streams must never be deleted or truncated`);
    case 'unknown':
      return new UnavailableError(`${at} failed: ${firstLine(err)}`);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/** Runs `work` over `items`, at most `limit` at once, keeping order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const k = next++;
      out[k] = await work(items[k]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class KurrentStore implements EventStore {
  readonly kind = 'kurrentdb' as const;
  readonly displayUrl: string;
  private readonly settings: KurrentSettings;
  private readonly streams: LedgerStreams;
  private readonly client: KurrentClient;
  private readonly prepareOptions: PrepareOptions;
  private readonly subscriberMaxFailures: number;
  private readonly subscriberBackoffMs: number;
  private readonly appendAttempts: number;
  private readonly subscriptions = new Set<() => void>();
  private readonly positionWrites = new PositionWrites();
  private tree = new TreeIndex();
  private treeReads: Promise<void> = Promise.resolve();
  private integrating: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(options: KurrentStoreOptions) {
    this.settings = parseKurrentUrl(options.url, options.env);
    this.displayUrl = this.settings.displayUrl;
    this.streams = ledgerStreams(this.settings.ledger);
    this.prepareOptions = options.prepare ?? {};
    this.subscriberMaxFailures = options.subscriberMaxFailures ?? 8;
    this.subscriberBackoffMs = options.subscriberBackoffMs ?? 100;
    this.appendAttempts = options.appendAttempts ?? 100;
    try {
      this.client = options.client ?? KurrentDBClient.connectionString(this.settings.connectionString);
    } catch (err) {
      throw new InputError(`store URL "${this.displayUrl}" is not a KurrentDB connection string: ${firstLine(err)}`, { field: 'store' });
    }
  }

  private failure(err: unknown): Error {
    return kurrentFailure(err, this.settings);
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new UnavailableError(`store ${this.displayUrl} is closed`);
    try {
      return await work();
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Records of a KurrentDB stream; a stream that does not exist has none. */
  private async records(stream: string, options: ClientReadStreamOptions): Promise<KurrentRecord[]> {
    const out: KurrentRecord[] = [];
    try {
      for await (const resolved of this.client.readStream(stream, options)) {
        if (resolved.event) out.push(resolved.event as unknown as KurrentRecord);
      }
    } catch (err) {
      if (errorType(err) === 'stream-not-found') return out;
      throw err;
    }
    return out;
  }

  private async lastRecord(stream: string): Promise<KurrentRecord | undefined> {
    const [last] = await this.records(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1, requiresLeader: true });
    return last;
  }

  /**
   * Ledger events with position > after in `$all` order, at most `limit`, checked: positions must
   * increase (codec.ts, positionNumber). Indices are not assigned here.
   */
  private async readAllPage(after: number, limit: number): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    if (limit <= 0) return out;
    let last = after;
    const read = this.client.readAll({
      fromPosition: after < 0 ? START : readFrom(after),
      direction: FORWARDS,
      filter: streamNameFilter({ prefixes: [this.streams.eventPrefix] }),
      maxCount: limit + 1,
      requiresLeader: true,
    });
    for await (const resolved of read) {
      if (!resolved.event) continue;
      const event = recordedEvent(resolved.event as unknown as KurrentRecord, this.streams, null);
      if (event.position <= after) continue;
      if (event.position <= last) {
        throw new IntegrityError(`$all handed out ${event.envelope.stream}@${event.envelope.revision} at position ${event.position} after position ${last}: positions do not increase`);
      }
      last = event.position;
      out.push(event);
      if (out.length === limit) break;
    }
    return out;
  }

  /** Reads tree records written since the last read (by any integrator); one read at a time. */
  private refreshTree(): Promise<TreeIndex> {
    const read = this.treeReads.then(async () => {
      const from = this.tree.revision + 1;
      const records = await this.records(this.streams.tree, { fromRevision: BigInt(from), direction: FORWARDS, requiresLeader: true });
      for (const record of records) {
        const where = `tree record ${record.revision} of "${this.streams.tree}"`;
        if (record.type !== TREE_TYPE || !record.isJson) throw new IntegrityError(`${where} is not a tree record`);
        this.tree.push(decodeTreeRecord(record.data, where), where);
      }
    });
    this.treeReads = read.catch(() => undefined);
    return read.then(() => this.tree);
  }

  private withIndex(events: RecordedEvent[], tree: TreeIndex): RecordedEvent[] {
    for (const event of events) event.index = tree.indexOf(event.position);
    return events;
  }

  async init(): Promise<void> {
    // Reachability and read access; nothing is written until the first append.
    await this.run(async () => {
      await this.lastRecord(this.streams.tree);
    });
  }

  async append(stream: string, events: ProposedEvent[], options: { expectedRevision?: ExpectedRevision } = {}): Promise<AppendResult> {
    return this.appendBatch([{ stream, events, expectedRevision: options.expectedRevision }]);
  }

  async appendBatch(requests: AppendRequest[]): Promise<AppendResult> {
    const prepared = preparedOnce(requests, this.prepareOptions);
    const recordedAt = nowIso();
    return this.run(async () => {
      // Claims are read only once an id may be recorded: after a conflict of any kind.
      let withClaims = false;
      for (let attempt = 1; attempt <= this.appendAttempts; attempt++) {
        if (attempt > 1) await pause(Math.random() * Math.min(50, 2 * attempt));
        const { plan, heads } = await this.plan(prepared, recordedAt, withClaims);
        if (plan === undefined) {
          withClaims = true;
          continue;
        }
        if (plan.duplicate) return plan.result([]);
        const write = plannedWrite(plan, heads, this.streams);
        try {
          await this.client.multiStreamAppend(write.requests);
        } catch (err) {
          if (errorType(err) === 'wrong-expected-version') {
            withClaims = true;
            continue;
          }
          throw err;
        }
        const positions = await this.readBack(plan, write.streams);
        if (positions) return plan.result(positions);
        // What is stored is not what was planned: the server took the write as a repeat of an
        // earlier one with the same ids. Plan again against what is recorded.
        withClaims = true;
      }
      throw new UnavailableError(
        `append to stream "${prepared[0]!.stream}" of KurrentDB at ${this.settings.where} lost to concurrent writers ${this.appendAttempts} times; nothing was appended`,
        { stream: prepared[0]!.stream },
      );
    });
  }

  /** Reads and plans; undefined plan: a ConcurrencyError that may be a retry, to plan again with claims. */
  private async plan(prepared: readonly PreparedRequest[], recordedAt: string, withClaims: boolean): Promise<{ plan?: AppendPlan; heads: Map<string, StreamHead> }> {
    const { streams, ids } = appendReads(prepared);
    const heads = new Map<string, StreamHead>();
    const recorded = new Map<string, RecordedIdentity>();
    await Promise.all([
      mapLimited(streams, READ_CONCURRENCY, async (stream) => {
        const last = await this.lastRecord(this.streams.event(stream));
        if (!last) return;
        const head = recordedEvent(last, this.streams, null);
        heads.set(stream, { revision: head.envelope.revision, leafHash: head.leafHash });
      }),
      withClaims
        ? mapLimited(ids, READ_CONCURRENCY, async (id) => {
            const identity = await this.recordedIdentity(id);
            if (identity) recorded.set(id, identity);
          })
        : Promise.resolve([]),
    ]);
    try {
      return { plan: planAppend(prepared, { heads, recorded }, recordedAt), heads };
    } catch (err) {
      if (!withClaims && err instanceof ConcurrencyError) return { heads };
      throw err;
    }
  }

  /** Where an event id was recorded, from its claim and the event itself. */
  private async recordedIdentity(id: string): Promise<RecordedIdentity | undefined> {
    const claimRecord = await this.lastRecord(this.streams.claim(id));
    if (!claimRecord) return undefined;
    const claim = idClaim(claimRecord);
    const [record] = await this.records(this.streams.event(claim.stream), { fromRevision: BigInt(claim.revision), maxCount: 1, requiresLeader: true });
    const event = record ? recordedEvent(record, this.streams, null) : undefined;
    if (!event || event.envelope.id !== id || event.envelope.revision !== claim.revision) {
      throw new IntegrityError(`event id ${id} is claimed by stream "${claim.stream}" revision ${claim.revision}, but that event is not there`, {
        eventId: id,
        stream: claim.stream,
        revision: claim.revision,
      });
    }
    return { id, stream: claim.stream, revision: claim.revision, position: event.position, contentDigest: claim.contentDigest };
  }

  /** Positions of the rows just written, in plan order; undefined when the stored bytes differ. */
  private async readBack(plan: AppendPlan, written: { stream: string; firstRevision: number; rows: { canonical: Buffer }[] }[]): Promise<number[] | undefined> {
    const positionOf = new Map<Buffer, number>();
    const pages = await mapLimited(written, READ_CONCURRENCY, (w) =>
      this.records(this.streams.event(w.stream), { fromRevision: BigInt(w.firstRevision), maxCount: w.rows.length, requiresLeader: true }),
    );
    for (const [k, w] of written.entries()) {
      const page = pages[k]!;
      if (page.length !== w.rows.length) return undefined;
      for (const [j, row] of w.rows.entries()) {
        const event = recordedEvent(page[j]!, this.streams, null);
        if (!event.canonical.equals(row.canonical)) return undefined;
        positionOf.set(row.canonical, event.position);
      }
    }
    return plan.rows.map((row) => positionOf.get(row.canonical)!);
  }

  async streamRevision(stream: string): Promise<number> {
    return this.run(async () => {
      const last = await this.lastRecord(this.streams.event(stream));
      return last ? Number(last.revision) : -1;
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const from = Math.max(0, integerOption(options.fromRevision, 'fromRevision', 0));
    const limit = limitOption(options.limit);
    if (limit === 0) return [];
    return this.run(async () => {
      const records = await this.records(this.streams.event(stream), {
        fromRevision: BigInt(from),
        direction: FORWARDS,
        ...(limit !== undefined ? { maxCount: limit } : {}),
      });
      const events = records.map((r) => recordedEvent(r, this.streams, null));
      return this.withIndex(events, await this.refreshTree());
    });
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = integerOption(options.after, 'after', -1);
    const limit = limitOption(options.limit) ?? Number.POSITIVE_INFINITY;
    return this.run(async () => {
      const out: RecordedEvent[] = [];
      for (let cursor = after; out.length < limit; ) {
        // Until an empty page, not a short one: a filtered read may return fewer than asked.
        const page = await this.readAllPage(cursor, Math.min(PAGE, limit - out.length));
        if (page.length === 0) break;
        out.push(...page);
        cursor = page.at(-1)!.position;
      }
      return this.withIndex(out, await this.refreshTree());
    });
  }

  subscribe(options: SubscribeOptions = {}): Observable<RecordedEvent> {
    const after = integerOption(options.after, 'after', -1);
    const pollMs = integerOption(options.pollMs, 'pollMs', DEFAULT_POLL_MS);
    const source: LiveSource = {
      where: this.settings.where,
      readPage: async (from, limit) => this.withIndex(await this.readAllPage(from, limit), await this.refreshTree()),
      open: (from, handlers) => {
        const live = this.client.subscribeToAll({
          fromPosition: from < 0 ? START : readFrom(from),
          filter: streamNameFilter({ prefixes: [this.streams.eventPrefix] }),
        });
        live.on('data', (resolved: AllStreamResolvedEvent) => {
          if (!resolved.event) return;
          try {
            const event = recordedEvent(resolved.event as unknown as KurrentRecord, this.streams, null);
            event.index = this.tree.indexOf(event.position);
            handlers.event(event);
          } catch (err) {
            handlers.error(err);
          }
        });
        live.on('caughtUp', () => handlers.caughtUp());
        live.on('error', (err: Error) => handlers.error(err));
        live.on('end', () => handlers.end());
        return { close: () => live.unsubscribe() };
      },
      transient: (err) => err instanceof UnavailableError || TRANSIENT.has(errorType(err) ?? ''),
      failure: (err) => this.failure(err),
    };
    return liveSubscription(
      source,
      {
        after,
        probeMs: Math.max(MIN_PROBE_MS, pollMs),
        pageSize: PAGE,
        maxFailures: this.subscriberMaxFailures,
        backoffMs: this.subscriberBackoffMs,
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
      const names = new Set((await this.records(this.streams.registry, { direction: FORWARDS })).map((r) => recordValue(r, STREAM_TYPE, 'string')));
      const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const revisions = await mapLimited(sorted, READ_CONCURRENCY, async (stream) => {
        const last = await this.lastRecord(this.streams.event(stream));
        return { stream, revision: last ? Number(last.revision) : -1 };
      });
      return revisions.filter((s) => s.revision >= 0);
    });
  }

  /**
   * The integrator: reads the ledger's events after the tree's last position in `$all` order and
   * appends a tree record extending the tree, with the tree stream's revision as the expected one
   * (the fence). A concurrent integrator's record makes that append fail; this one then reads the
   * record and goes on from there, so two integrators never fork the tree.
   */
  async integrate(): Promise<TreeState> {
    const run = this.integrating.then(() => this.run(() => this.integrateAll()));
    this.integrating = run.catch(() => undefined);
    return run;
  }

  private async integrateAll(): Promise<TreeState> {
    for (let conflicts = 0; ; ) {
      const tree = await this.refreshTree();
      const pending = await this.readAllPage(tree.lastPosition, INTEGRATE_CHUNK);
      if (pending.length === 0) return tree.state();
      const record = planIntegration(tree, pending);
      try {
        await this.client.appendToStream(this.streams.tree, jsonEvent({ type: TREE_TYPE, data: { ...record } }), {
          streamState: tree.revision < 0 ? NO_STREAM : BigInt(tree.revision),
          requiresLeader: true,
        });
      } catch (err) {
        if (errorType(err) === 'wrong-expected-version' && ++conflicts < this.appendAttempts) continue;
        throw err;
      }
    }
  }

  async treeState(): Promise<TreeState> {
    return this.run(async () => (await this.refreshTree()).state());
  }

  async unintegrated(): Promise<number> {
    return this.run(async () => {
      const tree = await this.refreshTree();
      let count = 0;
      for (let cursor = tree.lastPosition; ; ) {
        const page = await this.readAllPage(cursor, PAGE);
        if (page.length === 0) return count;
        count += page.length;
        cursor = page.at(-1)!.position;
      }
    });
  }

  async readLog(options: ReadLogOptions = {}): Promise<LoggedEvent[]> {
    const from = Math.max(0, integerOption(options.fromIndex, 'fromIndex', 0));
    const limit = limitOption(options.limit) ?? Number.POSITIVE_INFINITY;
    return this.run(async () => {
      const tree = await this.refreshTree();
      const count = Math.min(limit, tree.size - from);
      const out: LoggedEvent[] = [];
      // From the leaf before `from`: an event `$all` has between two leaves is then seen, not skipped.
      let after = from === 0 ? -1 : tree.positionOf(from - 1);
      while (out.length < count) {
        const page = await this.readAllPage(after, Math.min(PAGE, count - out.length));
        const index = from + out.length;
        if (page.length === 0) {
          throw new IntegrityError(
            `leaf ${index} (the event at $all position ${tree.positionOf(index)} by the tree stream) is missing from $all: a ledger stream was deleted, truncated or scavenged`,
            { index },
          );
        }
        out.push(...(assignLeaves(tree, index, page) as LoggedEvent[]));
        after = page.at(-1)!.position;
      }
      return out;
    });
  }

  async leafHashes(from: number, to: number): Promise<string[]> {
    const { size } = await this.treeState();
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from || to > size) {
      throw new InputError(`leaf range [${from}, ${to}) is outside the tree of size ${size}`, { index: to });
    }
    return (await this.readLog({ fromIndex: from, limit: to - from })).map((e) => e.leafHash);
  }

  async addCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    const { size, root, note, createdAt } = checkpoint;
    await this.run(() => this.client.appendToStream(this.streams.checkpoints, jsonEvent({ type: CHECKPOINT_TYPE, data: { size, root, note, createdAt } })));
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    return this.run(async () => (await this.records(this.streams.checkpoints, { direction: FORWARDS, requiresLeader: true })).map(storedCheckpoint));
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.run(async () => {
      const last = await this.lastRecord(this.streams.meta(key));
      return last ? recordValue(last, META_TYPE, 'string') : undefined;
    });
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.run(() => this.client.appendToStream(this.streams.meta(key), jsonEvent({ type: META_TYPE, data: { value } })));
  }

  async getPosition(consumer: string): Promise<number | undefined> {
    await this.positionWrites.settled(consumer);
    return this.run(async () => {
      const last = await this.lastRecord(this.streams.position(consumer));
      return last ? recordValue(last, POSITION_TYPE, 'number') : undefined;
    });
  }

  async setPosition(consumer: string, position: number): Promise<void> {
    await this.positionWrites.write(consumer, position, () =>
      this.run(() => this.client.appendToStream(this.streams.position(consumer), jsonEvent({ type: POSITION_TYPE, data: { value: position } }))),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const complete of [...this.subscriptions]) complete();
    await this.positionWrites.drain();
    this.closed = true;
    await this.client.dispose().catch(() => undefined);
  }
}

/** Called by src/store/open.ts for `kurrentdb://` and `esdb://` URLs. */
export function createKurrentStore(options: KurrentStoreOptions): EventStore {
  return new KurrentStore(options);
}
