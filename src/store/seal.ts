// Shared by every adapter: validating proposed events before a transaction, and sealing them
// (revision, prevHash, canonical bytes, leaf hash) inside it — through the append planner
// (append-plan.ts). One code path, so every store produces byte-identical envelopes for the same input.
import { z } from 'zod';
import { Envelope, ProposedEvent, StreamName } from '../../events/envelope.js';
import { fastProposedEvent } from '../../events/proposed-check.js';
import { registry as defaultRegistry, type EventRegistry } from '../../events/index.js';
import { InputError } from '../errors.js';
import { canonicalize, CanonicalizationError } from '../integrity/canonical.js';
import { protoMember } from '../input/decode.js';
import { count, describeIssue, fieldPath, LIMITS, overLimit } from '../input/limits.js';
import { leafHashHex, sha256Hex } from '../integrity/hasher.js';
import { uuidv7 } from './event-id.js';
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
  /**
   * True when the ledger drew the id (UUIDv7) because the event named none: no earlier append can
   * have recorded it, so there is no retry to look up (the store's unique id index still refuses a
   * collision).
   */
  idGenerated?: boolean;
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
    let streamText: string | undefined;
    const events = request.events.map((raw, e) => {
      const at = options.describe ? options.describe(r, e) : `${where} event ${e + 1}`;
      // The hand-written check answers for the plain events writers send; zod decides (and words) the rest.
      let event = fastProposedEvent(raw);
      if (event === undefined) {
        // zod (and any assignment) would turn an own "__proto__" member into a prototype and drop it
        // (the hand-written check steps aside for such data, so it is refused here).
        const rawData = (raw as { data?: unknown } | null)?.data;
        if (rawData !== null && typeof rawData === 'object' && Object.prototype.hasOwnProperty.call(rawData, '__proto__')) {
          throw new InputError(`${at}: field data.__proto__: the member name "__proto__" is refused (docs/limits.md)`, { field: 'data.__proto__', stream: request.stream });
        }
        const parsed = ProposedEvent.safeParse(raw);
        if (!parsed.success) {
          const { field, message } = describeIssue(parsed.error.issues[0]!);
          throw new InputError(`${at}: field ${field || '(event)'}: ${message}`, { field: field || '(event)', stream: request.stream });
        }
        event = parsed.data;
      }
      // What is recorded is the data as its schema parsed it (defaults filled in), so parsing it again changes nothing.
      const { schemaVersion, data } = registry.validate(event.type, event.data, event.schemaVersion, at);
      const idGenerated = event.id === undefined;
      const id = event.id ?? uuidv7();
      if (!idGenerated) {
        if (seen.has(id)) throw new InputError(`${at}: event id ${id} appears twice in one append`, { eventId: id });
        seen.add(id);
      }
      const metadata = { ...event.metadata };
      if (metadata.actor === undefined && options.actor !== undefined) metadata.actor = options.actor;
      let canonicalData: string;
      try {
        canonicalData = canonicalize(data, DATA_DEPTH);
      } catch (err) {
        throw unrecordable(err, 'data', at, request.stream);
      }
      // The log verifier's rule, applied before writing: no "__proto__" member anywhere (in canonical
      // text a member name is always `"name":`, so one scan finds every candidate).
      const proto = canonicalData.includes('"__proto__":') ? protoMember(data) : undefined;
      if (proto !== undefined) {
        throw new InputError(`${at}: field ${fieldPath(proto, 'data')}: the member name "__proto__" is refused (docs/limits.md)`, { field: fieldPath(proto, 'data'), stream: request.stream });
      }
      // JCS of { stream, type, schemaVersion, data, metadata } with its members in JCS order, each
      // through the canonicalizer, which also refuses a lone surrogate in the stream name or the
      // metadata (the envelope carries them as text). Byte-identical to canonicalize(that object):
      // recorded digests must keep matching retries (test/store/seal.test.ts).
      const kept = digestTail;
      let tail: string;
      if (
        kept !== undefined && kept.actor === metadata.actor && kept.causationId === metadata.causationId && kept.correlationId === metadata.correlationId &&
        kept.recordedAt === metadata.recordedAt && kept.schemaVersion === schemaVersion && kept.stream === request.stream && kept.type === event.type
      ) {
        tail = kept.text;
      } else {
        let metadataText = '{';
        for (const key of METADATA_KEYS) {
          const value = metadata[key];
          if (value !== undefined) metadataText += `${metadataText.length === 1 ? '' : ','}"${key}":${canonicalMember(value, `metadata.${key}`, at, request.stream, MEMBER_TEXT[key])}`;
        }
        streamText ??= canonicalMember(request.stream, 'stream', at, request.stream);
        tail =
          `,"metadata":${metadataText}},"schemaVersion":${canonicalMember(schemaVersion, 'schemaVersion', at, request.stream, schemaVersionJcs)}` +
          `,"stream":${streamText},"type":${canonicalMember(event.type, 'type', at, request.stream, typeJcs)}}`;
        if (METADATA_KEYS.every((key) => isPrimitive(metadata[key]))) {
          digestTail = { ...pick(metadata), schemaVersion, stream: request.stream, type: event.type, text: tail };
        }
      }
      const contentDigest = sha256Hex(`{"data":${canonicalData}${tail}`);
      return { id, type: event.type, schemaVersion, data, metadata, contentDigest, canonicalData, idGenerated };
    });
    return { stream: request.stream, expectedRevision: expected.data as ExpectedRevision, events };
  });
}

/**
 * Batches `prepareFrozenBatch` made, with what shaped them (the registry that parsed the data, the
 * default actor) and the events they were prepared from. Module-private: nothing outside this file
 * can add to it, so membership proves the batch is prepareBatch's own output, frozen before anyone
 * else held it.
 */
const frozenBatches = new WeakMap<readonly PreparedRequest[], PreparedFrom>();
/** Request lists `trustedRequests` handed out, each with the frozen batch it stands for. */
const trusted = new WeakMap<readonly AppendRequest[], { batch: readonly PreparedRequest[]; from: PreparedFrom }>();

interface PreparedFrom {
  registry: EventRegistry;
  actor: string | undefined;
  events: readonly AppendRequest['events'][];
}

/**
 * prepareBatch, its output frozen: the batch array, every request and its events array, every event
 * and its metadata. What a store writes from a prepared event — id, type, schemaVersion, metadata,
 * the data's JCS text (computed during the check) and the content digest — is then frozen text and
 * numbers, so nothing a writer can reach changes what is recorded. `data` itself (prepareBatch's
 * copy) is left unfrozen: no byte is written from it (freezing it cost 1.5 µs per event on the door
 * path), only the checker's own rules read it, on the same tick. For a writer that checks a batch
 * before appending it (the run-stream door): see `trustedRequests`.
 */
export function prepareFrozenBatch(requests: AppendRequest[], options: PrepareOptions = {}): readonly PreparedRequest[] {
  const batch = prepareBatch(requests, options);
  for (const request of batch) {
    for (const event of request.events) {
      Object.freeze(event.metadata);
      Object.freeze(event);
    }
    Object.freeze(request.events);
    Object.freeze(request);
  }
  frozenBatches.set(Object.freeze(batch), { registry: options.registry ?? defaultRegistry, actor: options.actor, events: requests.map((r) => r.events) });
  return batch;
}

/**
 * The requests to hand a store for a frozen batch, each with the expected revision given for it
 * (`undefined`: the batch's own): a frozen list of the events the batch was prepared from, which the
 * stores recognize (`preparedOnce`) and append once, as the batch, without preparing it again. A
 * wrapper that copies the list (and so loses the recognition) or a second append of the same list:
 * the store checks those events in full, as it checks any request. A batch that is not
 * `prepareFrozenBatch`'s, or a revision that is not one: the list is not trusted, and its events
 * are what the batch claims (without its texts and digests), checked in full.
 */
export function trustedRequests(batch: readonly PreparedRequest[], expected: readonly (ExpectedRevision | undefined)[]): AppendRequest[] {
  const from = frozenBatches.get(batch);
  const pinned = batch.map((request, r) => Object.freeze({ ...request, expectedRevision: expected[r] ?? request.expectedRevision }));
  const requests: AppendRequest[] = Object.freeze(
    pinned.map(({ stream, expectedRevision, events }, r) => Object.freeze({ stream, expectedRevision, events: from?.events[r] ?? events.map(proposedOf) })),
  ) as AppendRequest[];
  if (from !== undefined && pinned.every((request) => Expected.safeParse(request.expectedRevision).success)) {
    trusted.set(requests, { batch: Object.freeze(pinned), from });
  }
  return requests;
}

/** Whether `batch` is `prepareFrozenBatch`'s own output: frozen before anyone else held it, so it is what was checked. */
export function isFrozenBatch(batch: readonly PreparedRequest[]): boolean {
  return frozenBatches.has(batch);
}

/** A prepared event as the event it claims to be: what a store checks of a batch it cannot trust. */
function proposedOf({ id, type, schemaVersion, data, metadata }: PreparedEvent): AppendRequest['events'][number] {
  return { id, type, schemaVersion, data, metadata };
}

/**
 * What every store's append validates with: the frozen batch behind a list `trustedRequests` made,
 * once, when it was prepared with the store's own registry and default actor; otherwise prepareBatch.
 */
export function preparedOnce(requests: AppendRequest[], options: PrepareOptions = {}): readonly PreparedRequest[] {
  const known = trusted.get(requests);
  if (known === undefined) return prepareBatch(requests, options);
  trusted.delete(requests);
  if (known.from.registry !== (options.registry ?? defaultRegistry) || known.from.actor !== options.actor) return prepareBatch(requests, options);
  return known.batch;
}

/** An event's data may nest LIMITS.depth levels (docs/limits.md). */
const DATA_DEPTH = { maxDepth: LIMITS.depth } as const;

/** Metadata members in JCS order (RFC 8785 §3.2.3: UTF-16 code units; EventMetadata is strict). */
const METADATA_KEYS = ['actor', 'causationId', 'correlationId', 'recordedAt'] as const;

/** The JCS text of one member's value (through `text`, which may keep the last one); a refusal names the member (`field`) and the event. */
function canonicalMember(value: unknown, field: string, at: string, stream: string, text: (value: unknown) => string = canonicalize): string {
  try {
    return text(value);
  } catch (err) {
    throw unrecordable(err, field, at, stream);
  }
}

/** A canonicalization refusal as the InputError that names the event and the field (`root` prefixes its path). */
function unrecordable(err: unknown, root: string, at: string, stream: string): unknown {
  if (!(err instanceof CanonicalizationError)) return err;
  const field = fieldPath(err.steps, root);
  return new InputError(`${at}: field ${field} cannot be recorded as RFC 8785 JSON: ${err.reason} (docs/limits.md)`, { field, stream });
}

/**
 * Fixes an event's place in its stream and computes its bytes and leaf hash. Pure. The bytes are
 * RFC 8785 of the envelope: its members in JCS order (§3.2.3, fixed because the envelope schema is
 * strict), each value written by the one canonicalizer, so every rule it enforces holds for every
 * member, and the data's JCS text, computed once during validation, spliced in verbatim.
 * test/store/seal.test.ts checks the text equals canonicalize(envelope) for arbitrary members.
 * (`revision` is the planner's own non-negative integer, whose JCS text is its decimal digits.)
 */
export function sealEvent(
  stream: string,
  revision: number,
  prevHash: string | null,
  event: PreparedEvent,
  recordedAt: string,
): SealedEvent {
  const metadata = {
    recordedAt: event.metadata.recordedAt ?? recordedAt,
    actor: event.metadata.actor ?? 'unknown',
    correlationId: event.metadata.correlationId ?? null,
    causationId: event.metadata.causationId ?? null,
  };
  const envelope: Envelope = { id: event.id, stream, revision, type: event.type, schemaVersion: event.schemaVersion, data: event.data, metadata, prevHash };
  const text =
    `{"data":${event.canonicalData ?? canonicalize(event.data)},"id":${canonicalize(event.id)}${metadataMember(metadata)}` +
    `,"prevHash":${canonicalize(prevHash)},"revision":${revision}${envelopeTail(event.schemaVersion, stream, event.type)}`;
  const canonical = Buffer.from(text, 'utf8');
  // Hashed into hex, then decoded into a pooled Buffer: no backing store of its own per leaf (docs/benchmarks.md, "SQLite append").
  const leafHex = leafHashHex(canonical);
  return { envelope, canonical, leaf: Buffer.from(leafHex, 'hex'), leafHash: leafHex, contentDigest: event.contentDigest };
}

/**
 * canonicalize for a member whose value usually repeats from one event to the next (a batch's
 * stream, type, actor, recordedAt): the text of the last value is kept. canonicalize is a pure
 * function of the value, so an equal string, number or null gives the same text (an object is
 * written again every time); a value it refuses is never kept, so it is refused every time.
 */
function lastTextOf(): (value: unknown) => string {
  let last: unknown = undefined;
  let text = '';
  return (value) => {
    if (value !== last || text === '' || (typeof value === 'object' && value !== null)) {
      text = canonicalize(value);
      last = value;
    }
    return text;
  };
}
/** Whether `===` on the value means equal JCS text (an object may change under the same identity). */
function isPrimitive(value: unknown): boolean {
  return typeof value !== 'object' || value === null;
}

function pick(metadata: Partial<Envelope['metadata']>): Record<(typeof METADATA_KEYS)[number], unknown> {
  return { actor: metadata.actor, causationId: metadata.causationId, correlationId: metadata.correlationId, recordedAt: metadata.recordedAt };
}

// The envelope's and the content digest's texts around their per-event members (data, id, prevHash,
// revision) repeat from event to event (one batch: one stream, type, actor, recordedAt): the last
// one is kept with the values it was written from, and reused while every value is `===` to them.
// Only texts of primitive values are kept, and only after they were written without a refusal, so
// a reused text is the text writing those values again gives (test/store/seal.test.ts).
let digestTail: (Record<(typeof METADATA_KEYS)[number], unknown> & { schemaVersion: number; stream: string; type: string; text: string }) | undefined;
let lastMetadataMember: (Envelope['metadata'] & { text: string }) | undefined;
let lastEnvelopeTail: { schemaVersion: number; stream: string; type: string; text: string } | undefined;

/** `,"metadata":{…}` of a sealed envelope (all four members, in JCS order). */
function metadataMember(metadata: Envelope['metadata']): string {
  const kept = lastMetadataMember;
  if (
    kept !== undefined && kept.actor === metadata.actor && kept.causationId === metadata.causationId &&
    kept.correlationId === metadata.correlationId && kept.recordedAt === metadata.recordedAt
  ) {
    return kept.text;
  }
  const text =
    `,"metadata":{"actor":${actorJcs(metadata.actor)},"causationId":${causationJcs(metadata.causationId)}` +
    `,"correlationId":${correlationJcs(metadata.correlationId)},"recordedAt":${recordedAtJcs(metadata.recordedAt)}}`;
  if (isPrimitive(metadata.actor) && isPrimitive(metadata.causationId) && isPrimitive(metadata.correlationId) && isPrimitive(metadata.recordedAt)) {
    lastMetadataMember = { ...metadata, text };
  }
  return text;
}

/** `,"schemaVersion":…,"stream":…,"type":…}`: the envelope's last members and its closing brace. */
function envelopeTail(schemaVersion: number, stream: string, type: string): string {
  const kept = lastEnvelopeTail;
  if (kept !== undefined && kept.schemaVersion === schemaVersion && kept.stream === stream && kept.type === type) return kept.text;
  const text = `,"schemaVersion":${schemaVersionJcs(schemaVersion)},"stream":${streamJcs(stream)},"type":${typeJcs(type)}}`;
  if (isPrimitive(schemaVersion) && isPrimitive(stream) && isPrimitive(type)) lastEnvelopeTail = { schemaVersion, stream, type, text };
  return text;
}

const actorJcs = lastTextOf();
const causationJcs = lastTextOf();
const correlationJcs = lastTextOf();
const recordedAtJcs = lastTextOf();
const schemaVersionJcs = lastTextOf();
const streamJcs = lastTextOf();
const typeJcs = lastTextOf();
const MEMBER_TEXT = { actor: actorJcs, causationId: causationJcs, correlationId: correlationJcs, recordedAt: recordedAtJcs } as const;

/** RFC 3339 UTC timestamp with millisecond precision, the form `metadata.recordedAt` uses. */
export function nowIso(): string {
  return new Date().toISOString();
}
