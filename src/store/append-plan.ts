// The one append algorithm every adapter runs (docs/stores.md, "One append planner"). An adapter
// opens its transaction, takes whatever lock makes its reads current (SQLite: the write lock;
// PostgreSQL: the batch's stream locks), reads what `appendReads` names — the heads of the batch's
// streams and which of its event ids are already recorded — and calls `planAppend`. The plan is the
// sealed rows to write, in order, and the streams' new heads; or a typed error, and then the adapter
// writes nothing. The adapter only gives the rows positions and writes them atomically. Pure: no
// I/O, no clock, no randomness — the same reads give the same bytes on every store.
import { ConcurrencyError, IdempotencyError, InputError } from '../errors.js';
import { ANY, NO_STREAM, STREAM_EXISTS, type AppendResult, type AppendedStream, type ExpectedRevision } from './port.js';
import { sealEvent, type PreparedRequest, type SealedEvent } from './seal.js';

/** The last event of an existing stream. A stream without events has no head. */
export interface StreamHead {
  revision: number;
  /** Leaf hash (hex) of that event: the next event's prevHash. */
  leafHash: string;
}

/** What an adapter knows of an event id already recorded. */
export interface RecordedIdentity {
  id: string;
  stream: string;
  revision: number;
  position: number;
  /** `PreparedEvent.contentDigest` of the recorded event: a retry must match it. */
  contentDigest: string;
}

/** What the adapter read inside its transaction, after its lock. */
export interface AppendReads {
  /** Heads of the batch's streams; a stream missing here has no events yet. */
  heads: ReadonlyMap<string, StreamHead>;
  /** The batch's event ids already recorded; ids missing here are new. */
  recorded: ReadonlyMap<string, RecordedIdentity>;
}

export interface AppendPlan {
  /** Events to write, in this order: the adapter gives `rows[k]` the k-th position it assigns, ascending. */
  rows: SealedEvent[];
  /** Heads of the streams the rows extend, after the batch. */
  heads: Map<string, StreamHead>;
  /** True when every request was an idempotent retry: nothing to write. */
  duplicate: boolean;
  /** The caller's answer, given the positions the adapter assigned to `rows` (same order). */
  result(positions: readonly number[]): AppendResult;
}

/**
 * What an adapter must read before planning: the batch's streams and the event ids its callers
 * named. An id the ledger generated for this append (`idGenerated`) cannot be an earlier append's,
 * so it is not looked up: an idempotent retry always names its ids.
 */
export function appendReads(requests: readonly PreparedRequest[]): { streams: string[]; ids: string[] } {
  const streams = new Set<string>();
  const ids: string[] = [];
  for (const request of requests) {
    streams.add(request.stream);
    for (const event of request.events) if (!event.idGenerated) ids.push(event.id);
  }
  return { streams: [...streams], ids };
}

/** Checks an expected revision against a stream's current revision (-1 = no stream). */
export function expectationHolds(expected: ExpectedRevision, current: number): boolean {
  switch (expected) {
    case ANY:
      return true;
    case NO_STREAM:
      return current === -1;
    case STREAM_EXISTS:
      return current >= 0;
    default:
      return current === expected;
  }
}

/**
 * Idempotent retry by event id: the recorded identities when every event of the request is already
 * recorded with the same content, undefined when none is. The same id with other content, or a
 * request mixing recorded and new events, is refused: a retry must repeat the original exactly.
 */
export function recordedRetry(request: PreparedRequest, recorded: ReadonlyMap<string, RecordedIdentity>): RecordedIdentity[] | undefined {
  // Nothing recorded (every id generated, or none named found): no event of the request is a retry.
  if (recorded.size === 0) return undefined;
  const rows: RecordedIdentity[] = [];
  let missing = 0;
  for (const event of request.events) {
    const row = recorded.get(event.id);
    if (!row) {
      missing += 1;
      continue;
    }
    if (row.contentDigest !== event.contentDigest) {
      throw new IdempotencyError(
        `event id ${event.id} was already recorded with different content (stream "${row.stream}", revision ${row.revision}); ` +
          'a retry must repeat the original event exactly',
        { eventId: event.id, stream: row.stream, revision: row.revision },
      );
    }
    rows.push(row);
  }
  if (rows.length === 0) return undefined;
  if (missing > 0) {
    throw new InputError(
      `append to stream "${request.stream}" mixes ${rows.length} already recorded event(s) (first: ${rows[0]!.id}) with ${missing} new one(s); ` +
        'retry the original request unchanged and append the new events separately',
      { stream: request.stream },
    );
  }
  return rows;
}

type Slot = { recorded: number } | { row: number };

/**
 * Plans a validated batch (from `prepareBatch`) against what the adapter read. Requests apply in
 * order, as if one after the other: a later request to the same stream sees the earlier one's
 * events. Throws ConcurrencyError, IdempotencyError or InputError; the batch is then not written.
 */
export function planAppend(requests: readonly PreparedRequest[], reads: AppendReads, recordedAt: string): AppendPlan {
  const heads = new Map<string, StreamHead>();
  const rows: SealedEvent[] = [];
  // Per request, per event: where its position comes from (a recorded row, or a planned one).
  const slots: Slot[] = [];
  const streams: AppendedStream[] = [];
  for (const request of requests) {
    const { stream } = request;
    const retry = recordedRetry(request, reads.recorded);
    if (retry) {
      for (const row of retry) slots.push({ recorded: row.position });
      streams.push({ stream, firstRevision: retry[0]!.revision, lastRevision: retry[retry.length - 1]!.revision });
      continue;
    }
    const head = heads.get(stream) ?? reads.heads.get(stream);
    const current = head?.revision ?? -1;
    if (!expectationHolds(request.expectedRevision, current)) throw new ConcurrencyError(stream, request.expectedRevision, current);
    let prevHash = head?.leafHash ?? null;
    let revision = current;
    for (const event of request.events) {
      revision += 1;
      const sealed = sealEvent(stream, revision, prevHash, event, recordedAt);
      slots.push({ row: rows.length });
      rows.push(sealed);
      prevHash = sealed.leafHash;
    }
    heads.set(stream, { revision, leafHash: prevHash! });
    streams.push({ stream, firstRevision: current + 1, lastRevision: revision });
  }
  return {
    rows,
    heads,
    duplicate: rows.length === 0,
    result(positions) {
      if (positions.length !== rows.length) throw new Error(`append plan has ${rows.length} rows but the adapter assigned ${positions.length} positions`);
      return { streams, positions: slots.map((s) => ('row' in s ? positions[s.row]! : s.recorded)), duplicate: rows.length === 0 };
    },
  };
}
