// The portable backup format, `runledger-backup` version 1 (docs/operations.md, "Backup format"):
// gzip of UTF-8 text, one JSON document per line —
//   line 1            header: format, version, origin, tree size, event and checkpoint counts, and
//                     (after a key rotation) the rotation statements of the key stream, oldest first
//   next K lines      {"checkpoint": {size, root, note, createdAt}}, oldest first
//   next N lines      each event's stored RFC 8785 bytes verbatim, in leaf order 0..N-1
//   last line         {"end": {"events": N, "sha256": hex of every byte before this line}}
// RFC 8785 output never contains a raw newline, so an event's bytes are exactly one line. The same
// file restores into any store; nothing in it is trusted: restore recomputes every leaf and root and
// checks them against the signed checkpoint notes.
import { z } from 'zod';

export const BACKUP_FORMAT = 'runledger-backup';
export const BACKUP_VERSION = 1;

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const BackupHeader = z
  .object({
    format: z.literal(BACKUP_FORMAT),
    version: z.literal(BACKUP_VERSION),
    createdAt: z.string().min(1),
    /** The store it was taken from (password removed), for the operator. */
    source: z.object({ kind: z.string().min(1), url: z.string() }).strict(),
    /** The ledger's checkpoint origin line; every checkpoint note must name it. */
    origin: z.string().min(1),
    /** Leaves in the backup: the integrated tree when the backup began. */
    treeSize: Count,
    checkpoints: Count,
    /**
     * The signed rotation statements of the `ledger.keys` stream inside the tree, oldest first;
     * absent when the key never rotated. Not trusted: restore checks them against the events.
     */
    keyRotations: z.array(z.string().min(1).max(16 * 1024)).max(10_000).optional(),
  })
  .strict();
export type BackupHeader = z.infer<typeof BackupHeader>;

export const CheckpointLine = z
  .object({
    checkpoint: z.object({ size: Count, root: Hex64, note: z.string().min(1), createdAt: z.string().min(1) }).strict(),
  })
  .strict();

export const EndLine = z.object({ end: z.object({ events: Count, sha256: Hex64 }).strict() }).strict();

/** gzip member magic (RFC 1952 §2.3.1). */
export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
