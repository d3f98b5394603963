// The event envelope: the exact object whose RFC 8785 bytes are hashed into the ledger.
// Storage positions are deliberately absent; an outside verifier needs only these fields.
import { z } from 'zod';

// The patterns are exported so the verifier's hand-written envelope check (src/replay/envelope-check.ts)
// tests exactly what these schemas test.
export const HEX_HASH_PATTERN = /^[0-9a-f]{64}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
export const STREAM_NAME_PATTERN = /^[^\s\u0000-\u001f]+$/;
export const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$/;
export const EVENT_ID_PATTERN =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/;
export const RECORDED_AT_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A RECORDED_AT_PATTERN string names a real instant, i.e. Date.prototype.toISOString
 * spells it so: month 01–12, a day of that month (proleptic Gregorian leap years), hour 00–23,
 * minute and second 00–59. Arithmetic rather than a Date round trip: the verifier runs it per event
 * (test/events/envelope.test.ts holds it equal to the round trip).
 */
export function isRealRecordedAt(s: string): boolean {
  if (!RECORDED_AT_PATTERN.test(s)) return false;
  const digits = (from: number, to: number): number => Number(s.slice(from, to));
  const year = digits(0, 4);
  const month = digits(5, 7);
  const day = digits(8, 10);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return false;
  return digits(11, 13) <= 23 && digits(14, 16) <= 59 && digits(17, 19) <= 59;
}

export const HexHash = z.string().regex(HEX_HASH_PATTERN, 'expected 64 lowercase hex characters');

/** Stream names: printable, no whitespace, at most 200 characters. */
export const StreamName = z
  .string()
  .min(1, 'stream name is empty')
  .max(200, 'stream name is longer than 200 characters')
  .regex(STREAM_NAME_PATTERN, 'stream name contains whitespace or control characters');

/** Event types: dotted identifiers, e.g. `GovernancePlanApproved` or `custom.sample`. */
export const EventType = z
  .string()
  .min(1)
  .max(200)
  .regex(EVENT_TYPE_PATTERN, 'event type must be an identifier, optionally dotted');

export const JsonObject = z.record(z.string(), z.unknown());

/**
 * Event ids: the RFC 9562 §4 text form in lowercase only (the RFC outputs lowercase; one spelling per
 * id keeps the canonical bytes and idempotent retries unambiguous), version 1–8 with the RFC variant,
 * or the nil / max UUID (§5.9, §5.10).
 */
export const EventId = z
  .string()
  .regex(EVENT_ID_PATTERN, 'must be a lowercase RFC 9562 UUID, e.g. 00000000-0000-4000-8000-000000000001');

/**
 * `metadata.recordedAt`: RFC 3339 in UTC, exactly as Date.prototype.toISOString writes it — `Z` (never
 * `+00:00`), milliseconds, a real calendar date — so each instant has one spelling in the bytes.
 */
export const RecordedAt = z
  .string()
  .regex(RECORDED_AT_PATTERN, 'must be an RFC 3339 UTC time with milliseconds and "Z", e.g. 2026-01-01T00:00:00.000Z')
  .refine(isRealRecordedAt, 'is not a real date and time (month 01–12, a day of that month, hour 00–23, no leap second)');

export const EventMetadata = z
  .object({
    recordedAt: RecordedAt,
    actor: z.string().min(1).max(200),
    correlationId: z.string().max(200).nullable(),
    causationId: z.string().max(200).nullable(),
  })
  .strict();
export type EventMetadata = z.infer<typeof EventMetadata>;

export const Envelope = z
  .object({
    id: EventId,
    stream: StreamName,
    revision: z.number().int().nonnegative(),
    type: EventType,
    schemaVersion: z.number().int().positive(),
    data: JsonObject,
    metadata: EventMetadata,
    prevHash: HexHash.nullable(),
  })
  .strict();
export type Envelope = z.infer<typeof Envelope>;

/** What a writer proposes; the store fixes id (if absent), revision, recordedAt and prevHash. */
export const ProposedEvent = z
  .object({
    id: EventId.optional(),
    type: EventType,
    schemaVersion: z.number().int().positive().optional(),
    data: JsonObject,
    metadata: EventMetadata.partial().optional(),
  })
  .strict();
export type ProposedEvent = z.infer<typeof ProposedEvent>;
