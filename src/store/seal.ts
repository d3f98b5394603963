// Shared by every adapter: validating proposed events before a transaction, and sealing them
// (revision, prevHash, canonical bytes, leaf hash) inside it. One code path, so every store
// produces byte-identical envelopes for the same input.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { Envelope, ProposedEvent, StreamName } from '../../events/envelope.js';
import { registry as defaultRegistry, type EventRegistry } from '../../events/index.js';
import { IdempotencyError, InputError } from '../errors.js';
import { canonicalize, CanonicalizationError, CanonicalText } from '../integrity/canonical.js';
import { count, describeIssue, fieldPath, LIMITS, overLimit } from '../input/limits.js';
import { leafHash, sha256Hex } from '../integrity/hasher.js';
import { ANY, NO_STREAM, STREAM_EXISTS, type AppendRequest, type ExpectedRevision } from './port.js';

export interface PreparedEvent {
  id: string;
  type: string;
  schemaVersion: number;
  data: Record<string, unknown>;
  metadata: Partial<Envelope['metadata']>;
  /** SHA-256 of the event as it will be recorded (normalized data): an idempotent retry must match it exactly. */
  contentDigest: string;
  /** JCS text of `data`, computed once during validation and spliced into the digest and the envelope. */
  canonicalData?: string;
}

export interface PreparedRequest {
  stream: string;
  expectedRevision: ExpectedRevision;
  events: PreparedEvent[];
}

export interface SealedEvent {
  envelope: Envelope;
  canonical: Buffer;
  /** The leaf hash as bytes and as hex. */
  leaf: Buffer;
  leafHash: string;
  contentDigest: string;
}

const Expected = z.union([z.literal(ANY), z.literal(NO_STREAM), z.literal(STREAM_EXISTS), z.number().int().min(-1)]);

export interface PrepareOptions {
  registry?: EventRegistry;
  /** Default actor for events whose metadata names none. */
  actor?: string;
  /** How errors name an event, e.g. `line 17` for NDJSON input. Default: `request R event E`. */
  describe?: (request: number, event: number) => string;
}

/** Validates a batch before any write: every problem is an InputError naming the request and event. */
export function prepareBatch(requests: AppendRequest[], options: PrepareOptions = {}): PreparedRequest[] {
  const registry = options.registry ?? defaultRegistry;
  const seen = new Set<string>();
  const events = requests.reduce((n, request) => n + (Array.isArray(request.events) ? request.events.length : 0), 0);
  if (events > LIMITS.eventsPerAppend) {
    throw overLimit('append', 'one append of', count(events, 'events'), count(LIMITS.eventsPerAppend, 'events'), { field: 'events' });
  }
  return requests.map((request, r) => {
    const where = options.describe ? options.describe(r, 0) : requests.length > 1 ? `request ${r + 1}` : 'request';
    const stream = StreamName.safeParse(request.stream);
    if (!stream.success) throw new InputError(`${where}: ${stream.error.issues[0]!.message}`, { field: 'stream' });
    const expected = Expected.safeParse(request.expectedRevision ?? ANY);
    if (!expected.success) {
      throw new InputError(`${where}: expectedRevision must be "any", "no_stream", "stream_exists" or a revision number`, {
        field: 'expectedRevision',
        stream: request.stream,
      });
    }
    if (request.events.length === 0) throw new InputError(`${where}: no events to append`, { stream: request.stream });
    const events = request.events.map((raw, e) => {
      const at = options.describe ? options.describe(r, e) : `${where} event ${e + 1}`;
      const parsed = ProposedEvent.safeParse(raw);
      if (!parsed.success) {
        const { field, message } = describeIssue(parsed.error.issues[0]!);
        throw new InputError(`${at}: field ${field || '(event)'}: ${message}`, { field: field || '(event)', stream: request.stream });
      }
      const event = parsed.data;
      // What is recorded is the data as its schema parsed it (defaults filled in), so parsing it again changes nothing.
      const { schemaVersion, data } = registry.validate(event.type, event.data, event.schemaVersion, at);
      const id = event.id ?? randomUUID();
      if (seen.has(id)) throw new InputError(`${at}: event id ${id} appears twice in one append`, { eventId: id });
      seen.add(id);
      const metadata = { ...event.metadata };
      if (metadata.actor === undefined && options.actor !== undefined) metadata.actor = options.actor;
      let canonicalData: string;
      let digested: string;
      try {
        canonicalData = canonicalize(data, { maxDepth: LIMITS.depth });
      } catch (err) {
        throw unrecordable(err, 'data', at, request.stream);
      }
      try {
        // Also refuses a lone surrogate in the stream name or the metadata, which the envelope carries as text.
        digested = canonicalize({ stream: request.stream, type: event.type, schemaVersion, data: new CanonicalText(canonicalData), metadata });
      } catch (err) {
        throw unrecordable(err, '', at, request.stream);
      }
      const contentDigest = sha256Hex(digested);
      return { id, type: event.type, schemaVersion, data, metadata, contentDigest, canonicalData };
    });
    return { stream: request.stream, expectedRevision: expected.data as ExpectedRevision, events };
  });
}

/** A canonicalization refusal as the InputError that names the event and the field (`root` prefixes its path). */
function unrecordable(err: unknown, root: string, at: string, stream: string): unknown {
  if (!(err instanceof CanonicalizationError)) return err;
  const field = fieldPath(err.steps, root);
  return new InputError(`${at}: field ${field} cannot be recorded as RFC 8785 JSON: ${err.reason} (docs/limits.md)`, { field, stream });
}

/** Fixes an event's place in its stream and computes its bytes and leaf hash. Pure. */
export function sealEvent(
  stream: string,
  revision: number,
  prevHash: string | null,
  event: PreparedEvent,
  recordedAt: string,
): SealedEvent {
  const envelope: Envelope = {
    id: event.id,
    stream,
    revision,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: event.data,
    metadata: {
      recordedAt: event.metadata.recordedAt ?? recordedAt,
      actor: event.metadata.actor ?? 'unknown',
      correlationId: event.metadata.correlationId ?? null,
      causationId: event.metadata.causationId ?? null,
    },
    prevHash,
  };
  const canonical = Buffer.from(envelopeText(envelope, event.canonicalData ?? canonicalize(event.data)), 'utf8');
  const leaf = leafHash(canonical);
  return { envelope, canonical, leaf, leafHash: leaf.toString('hex'), contentDigest: event.contentDigest };
}

/**
 * RFC 8785 text of an envelope, written directly: its members are fixed, so their order is known
 * (§3.2.3: data, id, metadata, prevHash, revision, schemaVersion, stream, type; metadata: actor,
 * causationId, correlationId, recordedAt) and every string is serialised by JSON.stringify, which is
 * §3.2.2.2's form. Equal to canonicalize(envelope) — a property test holds it to that.
 */
export function envelopeText(envelope: Envelope, canonicalData: string): string {
  const m = envelope.metadata;
  const str = JSON.stringify;
  return (
    `{"data":${canonicalData},"id":${str(envelope.id)},` +
    `"metadata":{"actor":${str(m.actor)},"causationId":${m.causationId === null ? 'null' : str(m.causationId)},` +
    `"correlationId":${m.correlationId === null ? 'null' : str(m.correlationId)},"recordedAt":${str(m.recordedAt)}},` +
    `"prevHash":${envelope.prevHash === null ? 'null' : str(envelope.prevHash)},"revision":${envelope.revision},` +
    `"schemaVersion":${envelope.schemaVersion},"stream":${str(envelope.stream)},"type":${str(envelope.type)}}`
  );
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

/** RFC 3339 UTC timestamp with millisecond precision, the form `metadata.recordedAt` uses. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** What an adapter knows of an event id already recorded. */
export interface RecordedIdentity {
  id: string;
  stream: string;
  revision: number;
  content_digest: string;
}

/**
 * Idempotent retry by event id: the recorded rows when every event of the request is already
 * recorded with the same content, undefined when none is. The same id with other content, or a
 * request mixing recorded and new events, is refused: a retry must repeat the original exactly.
 */
export function recordedRetry<R extends RecordedIdentity>(request: PreparedRequest, lookup: (id: string) => R | undefined): R[] | undefined {
  const rows: R[] = [];
  let missing = 0;
  for (const event of request.events) {
    const row = lookup(event.id);
    if (!row) {
      missing += 1;
      continue;
    }
    if (row.content_digest !== event.contentDigest) {
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
