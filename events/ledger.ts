// ledger events: facts about the ledger itself rather than a run. Recorded only by
// `runledger keys rotate`, on the stream `ledger.keys` (KEY_STREAM); verification re-checks every one
// (src/replay/key-history.ts), so an event of this type written by any other means fails `verify`.
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';

/** The stream every key rotation is recorded on, in rotation order. */
export const KEY_STREAM = 'ledger.keys';

/** A C2SP signed-note verifier key: `<name>+<8 hex key ID>+<base64 key>`. */
const VerifierKeyText = z.string().min(1).max(600).regex(/^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+={0,2}$/, 'expected a signed-note verifier key <name>+<key id>+<base64 key>');

export const LedgerKeyRotatedData = z
  .object({
    /** The key retired by this rotation: valid up to and including the transition checkpoint. */
    previousKey: VerifierKeyText,
    /** The key that signs from the transition checkpoint on. */
    key: VerifierKeyText,
    /**
     * The rotation statement (docs/integrity.md, "Key rotation"): a signed note naming the origin and
     * both keys, signed by both — so an auditor holding either key can check it.
     */
    statement: z.string().min(1).max(4000),
  })
  .strict();
export type LedgerKeyRotatedData = z.infer<typeof LedgerKeyRotatedData>;

export const ledgerEvents: EventDefinition[] = [
  defineEvent('LedgerKeyRotated', 1, LedgerKeyRotatedData, 'The ledger signing key was rotated: the old and new verifier keys and the rotation statement both signed (written only by `runledger keys rotate`).'),
];

export const LEDGER_TYPES = ['LedgerKeyRotated'] as const;
