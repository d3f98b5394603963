// Checkpoint files: deterministic bytes, SHA-256 digest, Ed25519 signature, content-addressed under
// `<home>/checkpoints/`, and verified (digest, then signature with a trusted key) on every load.
//
// File layout (docs/training.md "Checkpoint format"):
//   magic "RLCKPT01" (8 bytes) ‖ header length (uint32 LE) ‖ header (JCS, UTF-8) ‖ tensors
// where tensors are the float32 values of every header tensor, in header order, little-endian.
import { createPublicKey, KeyObject, verify } from 'node:crypto';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { replaceFileAtomically } from '../src/ledger/keys.js';
import { join } from 'node:path';
import { z } from 'zod';
import { IntegrityError } from '../src/errors.js';
import { canonicalBytes, canonicalize } from '../src/integrity/canonical.js';
import { sha256Hex } from '../src/integrity/hasher.js';
import { checkpointFileMessage, publicKeyObject, recordingSigner } from '../src/integrity/worker-signature.js';
import type { NamedValues } from './model.js';

const MAGIC = Buffer.from('RLCKPT01', 'ascii');
export const CHECKPOINT_DIR = 'checkpoints';

export const CheckpointHeader = z
  .object({
    format: z.literal('runledger.checkpoint'),
    version: z.literal(1),
    dtype: z.literal('float32'),
    byteOrder: z.literal('little'),
    /** Epochs and optimizer steps completed when the state was taken. */
    epoch: z.number().int().nonnegative(),
    step: z.number().int().nonnegative(),
    optimizer: z.enum(['sgd', 'adam']),
    tensors: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()) }).strict()),
  })
  .strict();
export type CheckpointHeader = z.infer<typeof CheckpointHeader>;

export interface CheckpointContent {
  epoch: number;
  step: number;
  optimizer: 'sgd' | 'adam';
  tensors: NamedValues[];
}

export interface SignedCheckpoint {
  digest: string;
  bytes: number;
  /** base64 Ed25519 signature over `checkpointFileMessage(digest)` (the .sig file's). */
  signature: string;
  /** base64 raw 32-byte Ed25519 public key. */
  publicKey: string;
  path: string;
}

/** The .sig file next to a checkpoint: JCS of this object. */
const SignatureFile = z
  .object({ algorithm: z.literal('Ed25519'), digest: z.string(), publicKey: z.string(), signature: z.string() })
  .strict();

export function encodeCheckpoint(content: CheckpointContent): Buffer {
  const header: CheckpointHeader = {
    format: 'runledger.checkpoint',
    version: 1,
    dtype: 'float32',
    byteOrder: 'little',
    epoch: content.epoch,
    step: content.step,
    optimizer: content.optimizer,
    tensors: content.tensors.map((t) => ({ name: t.name, shape: t.shape })),
  };
  const headerBytes = canonicalBytes(header);
  const total = content.tensors.reduce((n, t) => n + t.values.length, 0);
  const out = Buffer.alloc(MAGIC.length + 4 + headerBytes.length + total * 4);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(headerBytes.length, MAGIC.length);
  headerBytes.copy(out, MAGIC.length + 4);
  let offset = MAGIC.length + 4 + headerBytes.length;
  for (const t of content.tensors) {
    for (const value of t.values) offset = out.writeFloatLE(value, offset);
  }
  return out;
}

/** Parses checkpoint bytes; any structural problem is an IntegrityError naming `file`. */
export function decodeCheckpoint(bytes: Buffer, file: string): CheckpointContent {
  const fail = (why: string): never => {
    throw new IntegrityError(`checkpoint ${file} is malformed: ${why}`, { file });
  };
  if (bytes.length < MAGIC.length + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) fail('bad magic');
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + headerLength > bytes.length) fail('header runs past the end of the file');
  let header: CheckpointHeader;
  try {
    const raw: unknown = JSON.parse(bytes.subarray(start, start + headerLength).toString('utf8'));
    header = CheckpointHeader.parse(raw);
    if (canonicalize(raw) !== bytes.subarray(start, start + headerLength).toString('utf8')) fail('header is not canonical JSON');
  } catch (err) {
    if (err instanceof IntegrityError) throw err;
    return fail(`bad header (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  let offset = start + headerLength;
  const tensors = header.tensors.map((t) => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (offset + count * 4 > bytes.length) fail(`tensor ${t.name} runs past the end of the file`);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++, offset += 4) values[i] = bytes.readFloatLE(offset);
    return { name: t.name, shape: t.shape, values };
  });
  if (offset !== bytes.length) fail(`${bytes.length - offset} trailing bytes`);
  return { epoch: header.epoch, step: header.step, optimizer: header.optimizer, tensors };
}

// The signer and verifier interfaces are the integrity layer's (src/integrity/worker-signature.ts).
export type { CheckpointSigner, CheckpointVerifier } from '../src/integrity/worker-signature.js';
import type { CheckpointSigner, CheckpointVerifier } from '../src/integrity/worker-signature.js';

export { rawPublicKey } from '../src/integrity/worker-signature.js';

export function asSigner(key: KeyObject | CheckpointSigner): CheckpointSigner {
  if (!(key instanceof KeyObject)) return key;
  // The worker's signer remembers what it signs, so this process's door need not verify it again.
  return recordingSigner(key);
}

/** A verifier for a raw 32-byte Ed25519 public key. */
export function publicKeyVerifier(raw: Buffer): CheckpointVerifier {
  return asVerifier(publicKeyObject(raw));
}

export function asVerifier(key: KeyObject | CheckpointVerifier): CheckpointVerifier {
  if (!(key instanceof KeyObject)) return key;
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return { verify: (message, signature) => signature.length === 64 && verify(null, message, publicKey, signature) };
}

export function checkpointPaths(home: string, digest: string): { ckpt: string; sig: string } {
  const dir = join(home, CHECKPOINT_DIR);
  return { ckpt: join(dir, `${digest}.ckpt`), sig: join(dir, `${digest}.sig`) };
}

/** Writes (atomically, by rename) and signs a checkpoint under `<home>/checkpoints/<digest>.ckpt`. */
export function writeCheckpoint(home: string, content: CheckpointContent, signingKey: KeyObject | CheckpointSigner): SignedCheckpoint {
  const signer = asSigner(signingKey);
  const bytes = encodeCheckpoint(content);
  const digest = sha256Hex(bytes);
  const signature = signer.sign(checkpointFileMessage(digest)).toString('base64');
  const publicKey = signer.publicKey.toString('base64');
  const { ckpt, sig } = checkpointPaths(home, digest);
  mkdirSync(join(home, CHECKPOINT_DIR), { recursive: true });
  writeAtomically(ckpt, bytes);
  writeAtomically(sig, canonicalBytes({ algorithm: 'Ed25519', digest, publicKey, signature }));
  return { digest, bytes: bytes.length, signature, publicKey, path: ckpt };
}

/**
 * Temp file, fsync, rename, fsync the directory: the file is on disk before the CheckpointWritten
 * event that names it can be committed, so a power loss never leaves a durable event pointing at a
 * file that is not there.
 */
function writeAtomically(path: string, bytes: Buffer): void {
  replaceFileAtomically(path, bytes, 0o644);
}

/**
 * Loads checkpoint `digest` from the home, verifying first that the file's SHA-256 is its name and
 * that its signature verifies with `trustedKey` (a key from the home, never the one in the .sig).
 */
export function loadCheckpoint(home: string, digest: string, trustedKey: KeyObject | CheckpointVerifier): CheckpointContent {
  const { ckpt, sig } = checkpointPaths(home, digest);
  if (!existsSync(ckpt)) throw new IntegrityError(`checkpoint ${ckpt} is missing`, { file: ckpt });
  const bytes = readFileSync(ckpt);
  const actual = sha256Hex(bytes);
  if (actual !== digest) {
    throw new IntegrityError(`checkpoint ${ckpt} was altered: its SHA-256 is ${actual}, expected ${digest}`, { file: ckpt });
  }
  if (!existsSync(sig)) throw new IntegrityError(`checkpoint ${ckpt} is unsigned: ${sig} is missing`, { file: sig });
  let signature: Buffer;
  try {
    const parsed = SignatureFile.parse(JSON.parse(readFileSync(sig, 'utf8')));
    if (parsed.digest !== digest) throw new Error(`it signs ${parsed.digest}`);
    signature = Buffer.from(parsed.signature, 'base64');
  } catch (err) {
    throw new IntegrityError(`checkpoint signature ${sig} is malformed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, {
      file: sig,
    });
  }
  if (!asVerifier(trustedKey).verify(checkpointFileMessage(digest), signature)) {
    throw new IntegrityError(`checkpoint ${ckpt} has an invalid signature (${sig}) for the trusted key`, { file: sig });
  }
  return decodeCheckpoint(bytes, ckpt);
}
