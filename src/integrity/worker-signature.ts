// Worker signatures: Ed25519 by a *worker* key, separate from the ledger key that signs checkpoint
// notes of the log. A run's approval names the worker keys it trusts (GovernancePlanApproved
// `workerKeys`); every training event of the run is signed by one of them. Two messages, each
// domain-separated from the other and from C2SP checkpoint notes (whose second line is a tree size):
//   v1  "runledger checkpoint v1\n" ‖ digest ‖ "\n"                                   the .sig file beside a model checkpoint file
//   v2  "runledger worker-event v2\n" ‖ type ‖ "\n" ‖ JCS(data without "signature") ‖ "\n"   a worker-signed event
// v2 binds every field the event claims (run, stage, epoch, step, digest, metrics, the key itself),
// so no field can be changed under a valid signature. docs/training.md "Signatures".
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { WORKER_KEY_PATTERN } from '../../events/training.js';
import { InputError } from '../errors.js';
import { canonicalize } from './canonical.js';
import { parseVerifierKey } from './note.js';

export const FILE_SIGNATURE_DOMAIN = 'runledger checkpoint v1';
export const EVENT_SIGNATURE_DOMAIN = 'runledger worker-event v2';

/** RFC 8410 §4: the SPKI DER of an Ed25519 public key is this prefix followed by the raw 32 bytes. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** v1: what the `.sig` file beside a checkpoint file signs — the file's SHA-256, nothing else. */
export function checkpointFileMessage(digest: string): Buffer {
  return Buffer.from(`${FILE_SIGNATURE_DOMAIN}\n${digest}\n`, 'utf8');
}

/** v2: what a worker-signed event's `signature` signs — its type and all of its data but the signature. */
export function workerEventMessage(type: string, data: Record<string, unknown>): Buffer {
  const { signature: _signature, ...claims } = data;
  return Buffer.from(`${EVENT_SIGNATURE_DOMAIN}\n${type}\n${canonicalize(claims)}\n`, 'utf8');
}

/** Standard base64 that re-encodes to exactly the same text (Buffer.from alone is lenient). */
function strictBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** The raw key of a recorded worker key, or undefined when it is not one. */
export function decodeWorkerKey(text: string): Buffer | undefined {
  if (!WORKER_KEY_PATTERN.test(text)) return undefined;
  const raw = strictBase64(text);
  return raw?.length === 32 ? raw : undefined;
}

/** The recorded form of a raw Ed25519 public key. */
export function encodeWorkerKey(raw: Buffer): string {
  if (raw.length !== 32) throw new InputError(`an Ed25519 public key is 32 bytes, got ${raw.length}`, { field: 'key' });
  return raw.toString('base64');
}

const keyObjects = new Map<string, KeyObject>();

/** A node:crypto key for a raw Ed25519 public key (memoized: replay verifies many events per key). */
export function publicKeyObject(raw: Buffer): KeyObject {
  const text = raw.toString('base64');
  let key = keyObjects.get(text);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
    if (keyObjects.size < 1024) keyObjects.set(text, key);
  }
  return key;
}

/** Whether `signature` (base64) is valid for `message` under `publicKey` (recorded form). */
export type WorkerSignatureCheck = (publicKey: string, message: Buffer, signature: string) => boolean;

/** Whether `signature` (base64) is a valid Ed25519 signature of `message` by `publicKey` (recorded form). */
export function verifyWorkerSignature(publicKey: string, message: Buffer, signature: string): boolean {
  const raw = decodeWorkerKey(publicKey);
  const sig = strictBase64(signature);
  if (raw === undefined || sig === undefined || sig.length !== 64) return false;
  try {
    return verify(null, message, publicKeyObject(raw), sig);
  } catch {
    return false;
  }
}

// What this process's own signers signed: signature (base64) → the signer's key (recorded form) and the
// SHA-256 of the message. Module-private and written only by a signer right after node:crypto signed
// with its private key, under the public key derived from that very key, so every entry is a true
// statement ("this signature is valid for that message under that key") whoever caused the signing.
// Nothing that reaches the door from outside (CLI append, HTTP, Kafka, another process or thread) can
// add one. Bounded (oldest first out): a miss only costs the full verification.
const signedHere = new Map<string, { publicKey: string; digest: Buffer }>();
const SIGNED_HERE_LIMIT = 4096;

function messageDigest(message: Buffer): Buffer {
  return createHash('sha256').update(message).digest();
}

/** The raw 32-byte Ed25519 public key of a private or public key object. */
export function rawPublicKey(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  // RFC 8410 §4: the last 32 bytes of an Ed25519 SPKI DER are the raw key.
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
}

/**
 * A signer for an Ed25519 private key that remembers what it signs (see `signedHere`): the worker's
 * signer, so the door of the same process can accept its signatures without verifying them again.
 */
export function recordingSigner(privateKey: KeyObject): CheckpointSigner {
  // Derived once, from the key itself: never from a claim.
  const raw = rawPublicKey(privateKey);
  const recorded = encodeWorkerKey(raw);
  return {
    sign: (message) => {
      const signature = sign(null, message, privateKey);
      if (signedHere.size >= SIGNED_HERE_LIMIT) signedHere.delete(signedHere.keys().next().value!);
      signedHere.set(signature.toString('base64'), { publicKey: recorded, digest: messageDigest(message) });
      return signature;
    },
    publicKey: Buffer.from(raw),
  };
}

/** Whether one of this process's recording signers made exactly this (key, message, signature). */
export function signedInProcess(publicKey: string, message: Buffer, signature: string): boolean {
  const entry = signedHere.get(signature);
  return entry !== undefined && entry.publicKey === publicKey && entry.digest.equals(messageDigest(message));
}

/** How a door knows a worker signature is valid: a signature this process made for exactly this message and key, or the full verification. */
export function acceptWorkerSignature(publicKey: string, message: Buffer, signature: string): boolean {
  return signedInProcess(publicKey, message, signature) || verifyWorkerSignature(publicKey, message, signature);
}

/** Signs with a private key object: what a worker holding its key does. */
export function signWith(privateKey: KeyObject, message: Buffer): Buffer {
  return sign(null, message, privateKey);
}

/**
 * A worker key given by a user (`--worker-key`): the recorded form (base64 of the raw 32 bytes) or a
 * C2SP verifier key (`runledger keys show --worker`). Returns the recorded form.
 */
export function parseWorkerKey(text: string, what = '--worker-key'): string {
  const trimmed = text.trim();
  if (decodeWorkerKey(trimmed)) return trimmed;
  if (trimmed.split('+').length >= 3 && !WORKER_KEY_PATTERN.test(trimmed)) {
    try {
      parseVerifierKey(trimmed);
    } catch (err) {
      throw new InputError(`${what}: ${(err as Error).message}`, { field: what });
    }
    const second = trimmed.indexOf('+', trimmed.indexOf('+') + 1);
    return encodeWorkerKey(Buffer.from(trimmed.slice(second + 1), 'base64').subarray(1));
  }
  throw new InputError(`${what} "${trimmed}" is neither a base64 Ed25519 public key (44 characters) nor a verifier key <name>+<id>+<key>`, { field: what });
}

/** Signs checkpoint messages; a worker key (src/ledger/worker-keys.ts) or a bare node:crypto KeyObject. */
export interface CheckpointSigner {
  sign(message: Buffer): Buffer;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Buffer;
}

/** Verifies checkpoint signatures with a key the caller trusts. */
export interface CheckpointVerifier {
  verify(message: Buffer, signature: Buffer): boolean;
}
