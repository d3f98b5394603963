// The event envelope: the exact object whose RFC 8785 bytes are hashed into the ledger.
// Storage positions are deliberately absent; an outside verifier needs only these fields.
import { z } from 'zod';

export const HexHash = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');

/** Stream names: printable, no whitespace, at most 200 characters. */
export const StreamName = z
  .string()
  .min(1, 'stream name is empty')
  .max(200, 'stream name is longer than 200 characters')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^[^\s\u0000-\u001f]+$/, 'stream name contains whitespace or control characters');

/** Event types: dotted identifiers, e.g. `GovernancePlanApproved` or `custom.sample`. */
export const EventType = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$/, 'event type must be an identifier, optionally dotted');

export const JsonObject = z.record(z.string(), z.unknown());

/**
 * Event ids: the RFC 9562 §4 text form in lowercase only (the RFC outputs lowercase; one spelling per
 * id keeps the canonical bytes and idempotent retries unambiguous), version 1–8 with the RFC variant,
 * or the nil / max UUID (§5.9, §5.10).
 */
export const EventId = z
  .string()
  .regex(
    /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/,
    'must be a lowercase RFC 9562 UUID, e.g. 00000000-0000-4000-8000-000000000001',
  );

/**
 * `metadata.recordedAt`: RFC 3339 in UTC, exactly as Date.prototype.toISOString writes it — `Z` (never
 * `+00:00`), milliseconds, a real calendar date — so each instant has one spelling in the bytes.
 */
export const RecordedAt = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'must be an RFC 3339 UTC time with milliseconds and "Z", e.g. 2026-01-01T00:00:00.000Z')
  .refine((s) => {
    const t = Date.parse(s);
    return Number.isFinite(t) && new Date(t).toISOString() === s;
  }, 'is not a real date and time (month 01–12, a day of that month, hour 00–23, no leap second)');

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
