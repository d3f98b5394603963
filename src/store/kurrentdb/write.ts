// What one runledger append writes to KurrentDB, as one atomic multi-stream append. Pure.
// - each ledger stream's planned rows, at the exact revision the planner read (streamState = that
//   revision, or no_stream): the user's expectation (any, no_stream, stream_exists, n) was checked
//   by the planner against the heads it read, and the prevHash chain was fixed from those heads, so
//   the write must only land if they are still the heads. A concurrent writer makes it fail with a
//   wrong expected version, and the append re-reads and re-plans;
// - one id claim per event, in its own stream with no_stream: the id index KurrentDB lacks (it only
//   deduplicates ids within one stream, and only recently). A second event with a recorded id fails
//   the whole append, which then reads the claim and answers as the planner says (duplicate, or
//   IdempotencyError for other content). Claim records get fresh ids, so the server's own
//   idempotence can never turn that conflict into a silent success;
// - the names of new streams, into the stream registry (any), for listStreams.
import { randomUUID } from 'node:crypto';
import { NO_STREAM, type AppendStreamRequest, type EventData } from '@kurrent/kurrentdb-client';
import type { AppendPlan, StreamHead } from '../append-plan.js';
import type { SealedEvent } from '../seal.js';
import { CLAIM_TYPE, ledgerEventData, STREAM_TYPE } from './codec.js';
import type { LedgerStreams } from './streams.js';

export interface PlannedWrite {
  requests: AppendStreamRequest[];
  /** Per ledger stream with new rows: its first new revision and the rows, in revision order. */
  streams: { stream: string; firstRevision: number; rows: SealedEvent[] }[];
}

function json(type: string, data: Record<string, unknown>): EventData {
  return { id: randomUUID(), contentType: 'application/json', type, data, metadata: undefined };
}

/**
 * The append for a plan. Rows of one stream go in one request, in revision order, in the order
 * the streams first appear in the plan (a stream named twice in a batch is written once: its rows
 * are contiguous revisions either way).
 */
export function plannedWrite(plan: AppendPlan, heads: ReadonlyMap<string, StreamHead>, streams: LedgerStreams): PlannedWrite {
  const byStream = new Map<string, SealedEvent[]>();
  for (const row of plan.rows) {
    const rows = byStream.get(row.envelope.stream);
    if (rows) rows.push(row);
    else byStream.set(row.envelope.stream, [row]);
  }
  const requests: AppendStreamRequest[] = [];
  const written: PlannedWrite['streams'] = [];
  const created: string[] = [];
  for (const [stream, rows] of byStream) {
    const head = heads.get(stream);
    requests.push({
      streamName: streams.event(stream),
      events: rows.map(ledgerEventData),
      expectedState: head === undefined ? NO_STREAM : BigInt(head.revision),
    });
    written.push({ stream, firstRevision: rows[0]!.envelope.revision, rows });
    if (head === undefined) created.push(stream);
  }
  for (const row of plan.rows) {
    const { id, stream, revision } = row.envelope;
    requests.push({
      streamName: streams.claim(id),
      events: [json(CLAIM_TYPE, { stream, revision, contentDigest: row.contentDigest })],
      expectedState: NO_STREAM,
    });
  }
  if (created.length > 0) {
    requests.push({ streamName: streams.registry, events: created.map((value) => json(STREAM_TYPE, { value })), expectedState: 'any' });
  }
  return { requests, streams: written };
}
