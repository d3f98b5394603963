// The verifier's hot-path envelope check: the Envelope schema (events/envelope.ts) written out by
// hand for a value JSON.parse produced, without zod's generic machinery. It may only say "valid"
// when the schema would: a value it does not accept goes to Envelope.safeParse, whose verdict and
// message then decide. test/replay/envelope-check.test.ts holds it to that with fast-check.
import {
  EVENT_ID_PATTERN,
  EVENT_TYPE_PATTERN,
  HEX_HASH_PATTERN,
  isRealRecordedAt,
  STREAM_NAME_PATTERN,
  type Envelope,
} from '../../events/envelope.js';

const ENVELOPE_KEYS = 8;
const METADATA_KEYS = 4;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own enumerable keys, counted without allocating an array. Values come from JSON.parse: no inherited keys. */
function keyCount(o: Record<string, unknown>): number {
  let n = 0;
  for (const key in o) if (Object.prototype.hasOwnProperty.call(o, key)) n++;
  return n;
}

function boundedString(v: unknown, min: number, max: number): v is string {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}

function nullableString(v: unknown): boolean {
  return v === null || boundedString(v, 0, 200);
}

/** True only when `value` is an Envelope by the schema (strict objects, every field's rules). */
export function isEnvelope(value: unknown): value is Envelope {
  if (!isPlainObject(value) || keyCount(value) !== ENVELOPE_KEYS) return false;
  const { id, stream, revision, type, schemaVersion, data, metadata, prevHash } = value;
  return (
    typeof id === 'string' &&
    EVENT_ID_PATTERN.test(id) &&
    boundedString(stream, 1, 200) &&
    STREAM_NAME_PATTERN.test(stream) &&
    Number.isSafeInteger(revision) &&
    (revision as number) >= 0 &&
    boundedString(type, 1, 200) &&
    EVENT_TYPE_PATTERN.test(type) &&
    Number.isSafeInteger(schemaVersion) &&
    (schemaVersion as number) > 0 &&
    isPlainObject(data) &&
    (prevHash === null || (typeof prevHash === 'string' && HEX_HASH_PATTERN.test(prevHash))) &&
    isMetadata(metadata)
  );
}

function isMetadata(value: unknown): boolean {
  if (!isPlainObject(value) || keyCount(value) !== METADATA_KEYS) return false;
  const { recordedAt, actor, correlationId, causationId } = value;
  return (
    typeof recordedAt === 'string' &&
    isRealRecordedAt(recordedAt) &&
    boundedString(actor, 1, 200) &&
    // The key count is 4 and these are read by name: a missing one is undefined, which fails here.
    correlationId !== undefined &&
    causationId !== undefined &&
    nullableString(correlationId) &&
    nullableString(causationId)
  );
}
