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

export const EventMetadata = z
  .object({
    recordedAt: z.iso.datetime({ offset: false }),
    actor: z.string().min(1).max(200),
    correlationId: z.string().max(200).nullable(),
    causationId: z.string().max(200).nullable(),
  })
  .strict();
export type EventMetadata = z.infer<typeof EventMetadata>;

export const Envelope = z
  .object({
    id: z.uuid(),
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
    id: z.uuid().optional(),
    type: EventType,
    schemaVersion: z.number().int().positive().optional(),
    data: JsonObject,
    metadata: EventMetadata.partial().optional(),
  })
  .strict();
export type ProposedEvent = z.infer<typeof ProposedEvent>;
