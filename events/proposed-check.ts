// The append path's ProposedEvent check: the schema (envelope.ts) written out by hand, without zod's
// generic machinery, for the shape writers send — plain objects, no symbol keys. It only answers
// when the schema would accept, with the schema's output; anything else (including every input it
// refuses) is undefined, and then ProposedEvent.safeParse decides and words the error.
// test/events/proposed-check.test.ts holds it to that with fast-check.
import { EVENT_ID_PATTERN, EVENT_TYPE_PATTERN, isRealRecordedAt, RECORDED_AT_PATTERN, type ProposedEvent } from './envelope.js';

const EVENT_KEYS: ReadonlySet<string> = new Set(['id', 'type', 'schemaVersion', 'data', 'metadata']);
const METADATA_KEYS: ReadonlySet<string> = new Set(['recordedAt', 'actor', 'correlationId', 'causationId']);
const hasOwn = Object.prototype.hasOwnProperty;

function plainPrototype(v: object): boolean {
  const prototype = Object.getPrototypeOf(v) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** An object whose prototype is Object.prototype or null and whose enumerable keys (own and inherited) are all own and all in `allowed`. */
export function strictPlain(v: unknown, allowed: ReadonlySet<string>): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || !plainPrototype(v)) return false;
  for (const key in v) if (!allowed.has(key) || !hasOwn.call(v, key)) return false;
  return true;
}

function boundedString(v: unknown, min: number, max: number): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}

function optionalNullableString(v: unknown): boolean {
  return v === undefined || v === null || boundedString(v, 0, 200);
}

/**
 * `ProposedEvent.parse(raw)` when the schema accepts `raw` and `raw` has the plain shape this check
 * knows; undefined otherwise (the caller then asks zod). The output is the schema's: `data` a
 * shallow copy of its own enumerable members, `metadata` a copy of the members it names.
 */
export function fastProposedEvent(raw: unknown): ProposedEvent | undefined {
  if (!strictPlain(raw, EVENT_KEYS)) return undefined;
  // Each member is read once, like the schema reads it.
  const { id, type, schemaVersion, data, metadata } = raw;
  if (id !== undefined && !(typeof id === 'string' && EVENT_ID_PATTERN.test(id))) return undefined;
  if (!boundedString(type, 1, 200) || !EVENT_TYPE_PATTERN.test(type)) return undefined;
  if (schemaVersion !== undefined && !(typeof schemaVersion === 'number' && Number.isSafeInteger(schemaVersion) && schemaVersion > 0)) return undefined;
  // z.record(z.string(), z.unknown()): a plain object (zod's isPlainObject, which an own
  // "constructor" member can fool, so that is left to zod) whose keys are all strings. An own
  // "__proto__" member is left to zod too: its record assigns it, so it becomes a prototype and is
  // dropped, where a spread would keep it (the append path refuses it before either runs).
  if (typeof data !== 'object' || data === null || !plainPrototype(data) || hasOwn.call(data, 'constructor') || hasOwn.call(data, '__proto__')) return undefined;
  if (Object.getOwnPropertySymbols(data).length !== 0) return undefined;
  const event: ProposedEvent = { type, data: { ...(data as Record<string, unknown>) } };
  if (hasOwn.call(raw, 'id')) event.id = id as string | undefined;
  if (hasOwn.call(raw, 'schemaVersion')) event.schemaVersion = schemaVersion as number | undefined;
  if (metadata !== undefined) {
    if (!strictPlain(metadata, METADATA_KEYS)) return undefined;
    const { recordedAt, actor, correlationId, causationId } = metadata;
    if (recordedAt !== undefined && !(typeof recordedAt === 'string' && RECORDED_AT_PATTERN.test(recordedAt) && isRealRecordedAt(recordedAt))) return undefined;
    if (actor !== undefined && !boundedString(actor, 1, 200)) return undefined;
    if (!optionalNullableString(correlationId) || !optionalNullableString(causationId)) return undefined;
    const copy: NonNullable<ProposedEvent['metadata']> = {};
    if (recordedAt !== undefined) copy.recordedAt = recordedAt as string;
    if (actor !== undefined) copy.actor = actor;
    if (correlationId !== undefined) copy.correlationId = correlationId as string | null;
    if (causationId !== undefined) copy.causationId = causationId as string | null;
    event.metadata = copy;
  } else if (hasOwn.call(raw, 'metadata')) {
    event.metadata = undefined;
  }
  return event;
}
