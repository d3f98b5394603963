// The store port: one interface every adapter (sqlite, postgres, kurrentdb) implements.
// Adapters validate with `prepareBatch` (seal.ts) and run the one append algorithm, `planAppend`
// (append-plan.ts), inside their append transaction, so the per-stream prevHash chain is fixed at
// append time; they integrate committed events into the RFC 9162 tree in commit order.
//
// Two coordinates, kept apart by name (docs/stores.md, "The store port"):
// - a *position* is the store's order, the cursor of readAll and subscribe (`after`). Increasing,
//   opaque: compare positions and hand them back; never count with them — server stores leave gaps,
//   and positions are not leaf indices (on SQLite they happen to be equal).
// - a *leaf index* is an event's dense RFC 9162 index, 0..size-1, assigned by integration: readLog
//   (`fromIndex`), leafHashes, treeState and checkpoints speak only leaf indices.
import type { Observable } from 'rxjs';
import type { Envelope, ProposedEvent } from '../../events/envelope.js';

export const ANY = 'any';
export const NO_STREAM = 'no_stream';
export const STREAM_EXISTS = 'stream_exists';
export type ExpectedRevision = typeof ANY | typeof NO_STREAM | typeof STREAM_EXISTS | number;

export interface AppendRequest {
  stream: string;
  events: ProposedEvent[];
  expectedRevision?: ExpectedRevision;
}

export interface AppendedStream {
  stream: string;
  /** Revision of the first event of this request's batch (existing one when it was a retry). */
  firstRevision: number;
  lastRevision: number;
}

export interface AppendResult {
  streams: AppendedStream[];
  /** Store positions of the events, in request order. */
  positions: number[];
  /** True when every event was already recorded with identical content (idempotent retry). */
  duplicate: boolean;
}

export interface RecordedEvent {
  /** Store order, the cursor of readAll and subscribe: increasing, opaque, possibly with gaps. */
  position: number;
  /** Dense RFC 9162 leaf index, null until integrated. */
  index: number | null;
  envelope: Envelope;
  /** The RFC 8785 bytes exactly as stored (the leaf's entry). */
  canonical: Buffer;
  /** Leaf hash (hex) as recorded at append. Verification recomputes it and never trusts this. */
  leafHash: string;
}

/** An integrated event, as readLog hands it out: its leaf index is known. */
export interface LoggedEvent extends RecordedEvent {
  index: number;
}

/** Persisted O(log n) state of the tree: the compact range [0, size) as hex hashes, left to right. */
export interface TreeState {
  size: number;
  range: string[];
}

export interface StoredCheckpoint {
  size: number;
  /** Root hash, hex. */
  root: string;
  /** The full C2SP signed note text. */
  note: string;
  createdAt: string;
}

/** readAll: events after a position, in store order. */
export interface ReadAllOptions {
  /** Exclusive lower bound on position, as subscribe's `after`. Default -1: from the beginning. */
  after?: number;
  limit?: number;
}

/** readStream: one stream's events in revision order. */
export interface ReadStreamOptions {
  /** First revision (inclusive). Default 0. */
  fromRevision?: number;
  limit?: number;
}

/** readLog: integrated events in leaf order. */
export interface ReadLogOptions {
  /** First leaf index (inclusive). Default 0. */
  fromIndex?: number;
  limit?: number;
}

export interface SubscribeOptions {
  /** Deliver events with position > after. Default -1: from the beginning. */
  after?: number;
  /** Poll interval for stores without push notifications, ms. */
  pollMs?: number;
}

export interface EventStore {
  readonly kind: 'sqlite' | 'postgres' | 'kurrentdb';
  /** The store URL with any password removed. */
  readonly displayUrl: string;

  /** Creates the schema; idempotent. */
  init(): Promise<void>;

  append(stream: string, events: ProposedEvent[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult>;
  /** Atomic across streams: either every request is recorded or none is. */
  appendBatch(requests: AppendRequest[]): Promise<AppendResult>;

  /** Current revision of a stream, -1 when it does not exist. */
  streamRevision(stream: string): Promise<number>;
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Catches up from `after`, then goes live. Completes only on unsubscribe; errors on store failure. */
  subscribe(options?: SubscribeOptions): Observable<RecordedEvent>;
  listStreams(): Promise<{ stream: string; revision: number }[]>;

  /** Assigns dense leaf indices to committed, unintegrated events in commit order and extends the tree. */
  integrate(): Promise<TreeState>;
  treeState(): Promise<TreeState>;
  /** Events committed but not yet integrated (always 0 on a store that integrates at commit). */
  unintegrated(): Promise<number>;
  /** Integrated events in leaf order. */
  readLog(options?: ReadLogOptions): Promise<LoggedEvent[]>;
  /**
   * A file other threads may open read-only to read ranges of the log themselves (the embedded
   * store's SQLite file; parallel verification), or undefined. Absent on stores without one.
   */
  rangeReadPath?(): string | undefined;
  /** Stored leaf hashes (hex) for leaf indices [from, to). For proof generation only. */
  leafHashes(from: number, to: number): Promise<string[]>;

  addCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  /** All checkpoints, oldest first. */
  checkpoints(): Promise<StoredCheckpoint[]>;

  /** Small key/value settings kept with the ledger (origin, ledger id). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  /** Named consumer positions (projections, relays), stored in the ledger database. */
  getPosition(consumer: string): Promise<number | undefined>;
  setPosition(consumer: string, position: number): Promise<void>;

  close(): Promise<void>;
}
