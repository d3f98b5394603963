// RFC 9162 §2.1.1 hashing with SHA-256: domain-separated leaf and interior-node hashes.
// Hot path (every append, every verified event, every tree node): one-shot crypto.hash avoids
// creating a Hash object per call, which costs more than hashing a 65-byte node.
import { createHash, hash } from 'node:crypto';

export const HASH_SIZE = 32;
const LEAF_PREFIX = Buffer.from([0x00]);

/** MTH of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

// Reused input of nodeHash: 0x01 ‖ left ‖ right. Safe because hashing is synchronous.
const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeInput[0] = 0x01;

// Reused input of leafHash for entries up to 64 KiB: 0x00 ‖ entry without allocating.
const LEAF_SCRATCH_MAX = 1 << 16;
const leafInput = Buffer.alloc(1 + LEAF_SCRATCH_MAX);
/**
 * leafInput[0, 1 + length) by entry length, made once per length up to LEAF_VIEW_MAX: no Buffer
 * object per leaf of event size, and at most 4,097 views kept (a longer entry's hashing dwarfs its view).
 */
const LEAF_VIEW_MAX = 4096;
const leafViews = new Array<Buffer | undefined>(LEAF_VIEW_MAX + 1);

/** leafInput holding 0x00 ‖ entry (entry.length <= LEAF_SCRATCH_MAX). */
function leafInputOf(entry: Uint8Array): Buffer {
  leafInput.set(entry, 1);
  const length = entry.length;
  if (length > LEAF_VIEW_MAX) return leafInput.subarray(0, 1 + length);
  return (leafViews[length] ??= leafInput.subarray(0, 1 + length));
}

/** SHA-256(0x00 ‖ entry). */
export function leafHash(entry: Uint8Array): Buffer {
  if (entry.length > LEAF_SCRATCH_MAX) return createHash('sha256').update(LEAF_PREFIX).update(entry).digest();
  return hash('sha256', leafInputOf(entry), 'buffer');
}

/**
 * leafHash as 64 lowercase hex characters. Hashing into a string skips allocating a Buffer (with
 * its own backing store) per leaf, which costs about as much as hashing a few hundred bytes.
 */
export function leafHashHex(entry: Uint8Array): string {
  if (entry.length > LEAF_SCRATCH_MAX) return createHash('sha256').update(LEAF_PREFIX).update(entry).digest('hex');
  return hash('sha256', leafInputOf(entry), 'hex');
}

/** leafHash packed (see PackedHash): the verifier's form, with no hex digits made per leaf. */
export function leafHashPacked(entry: Uint8Array): PackedHash {
  if (entry.length > LEAF_SCRATCH_MAX) return createHash('sha256').update(LEAF_PREFIX).update(entry).digest('binary');
  return hash('sha256', leafInputOf(entry), 'binary');
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return createHash('sha256').update(nodeInput.subarray(0, 1)).update(left).update(right).digest();
  }
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return hash('sha256', nodeInput, 'buffer');
}

export function sha256(bytes: Uint8Array | string): Buffer {
  return hash('sha256', bytes, 'buffer');
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return hash('sha256', bytes, 'hex');
}

/**
 * A 32-byte hash held as a 32-character latin1 string. Hashing into strings skips allocating a
 * Buffer (with its own backing store) per node, which halves the cost of building a tree.
 */
export type PackedHash = string;

export function packHash(hash: Uint8Array): PackedHash {
  const bytes = Buffer.isBuffer(hash) ? hash : Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength);
  return bytes.toString('latin1');
}

export function unpackHash(packed: PackedHash): Buffer {
  return Buffer.from(packed, 'latin1');
}

/** nodeHash over packed hashes; the right one may also be a Buffer (a leaf hash just appended). */
export function nodeHashPacked(left: PackedHash, right: PackedHash | Uint8Array): PackedHash {
  // Character by character: cheaper than Buffer#write's native call for 32 bytes.
  for (let k = 0; k < HASH_SIZE; k++) nodeInput[1 + k] = left.charCodeAt(k);
  if (typeof right === 'string') for (let k = 0; k < HASH_SIZE; k++) nodeInput[1 + HASH_SIZE + k] = right.charCodeAt(k);
  else nodeInput.set(right, 1 + HASH_SIZE);
  // 'binary' is Node's alias of latin1: one character per byte.
  return hash('sha256', nodeInput, 'binary');
}

const hexScratch = Buffer.alloc(HASH_SIZE);

/** A hash given as 64 hex characters, packed; undefined when it is not 64 hex characters. */
export function packHex(hex: string): PackedHash | undefined {
  // Hex decoding stops at the first character that is not hex (a regular expression costs more).
  if (hex.length !== 2 * HASH_SIZE || hexScratch.write(hex, 0, HASH_SIZE, 'hex') !== HASH_SIZE) return undefined;
  return hexScratch.toString('latin1');
}

/**
 * Node hashes of adjacent pairs of hashes stored back to back in a buffer from byte 1 (byte 0 is
 * scratch), as packed hashes. Each input 0x01 ‖ left ‖ right is hashed where it lies: the byte
 * before pair p is the last byte of pair p - 1, already hashed, so it takes the 0x01 prefix.
 * `inputs[p]` is the 65-byte view of pair p, made once per buffer: no allocation per node besides
 * the packed digest (the bulk path of tree building). Overwrites the buffer.
 */
export function nodeHashPairsInPlace(inputs: readonly Buffer[], pairs: number): PackedHash[] {
  const out = new Array<PackedHash>(pairs);
  for (let p = 0; p < pairs; p++) {
    const input = inputs[p]!;
    input[0] = 0x01;
    out[p] = hash('sha256', input, 'binary');
  }
  return out;
}

/** The 65-byte views `nodeHashPairsInPlace` hashes, for up to `pairs` pairs in `level`. */
export function pairInputs(level: Buffer, pairs: number): Buffer[] {
  return Array.from({ length: pairs }, (_, p) => level.subarray(p * 2 * HASH_SIZE, p * 2 * HASH_SIZE + 1 + 2 * HASH_SIZE));
}

/** Char codes of the lowercase hex digits, by value. */
const HEX_DIGIT = Buffer.from('0123456789abcdef', 'latin1');
/** By byte: the char codes of its two hex digits, high digit in the low 8 bits (one load per byte). */
const HEX_PAIR = new Uint16Array(256);
for (let c = 0; c < 256; c++) HEX_PAIR[c] = HEX_DIGIT[c >> 4]! | (HEX_DIGIT[c & 15]! << 8);

/**
 * A hash as the verifier carries it: packed (32 characters) or as 64 lowercase hex digits (what a
 * store records and what a worker thread hands back). The length tells which.
 */
export type HashText = string;

/** Whether `hex` is the 64 lowercase hex digits of `packed`, compared in place (no string made). */
export function hexSpellsPacked(hex: unknown, packed: PackedHash): boolean {
  if (typeof hex !== 'string' || hex.length !== 2 * HASH_SIZE || packed.length !== HASH_SIZE) return false;
  // Differences accumulated without a branch per digit (a mismatch is the rare case).
  let diff = 0;
  for (let k = 0; k < HASH_SIZE; k++) {
    const pair = HEX_PAIR[packed.charCodeAt(k)]!;
    // Each character against its digit: a character above 0xff must not pass for two digits.
    diff |= (hex.charCodeAt(2 * k) ^ (pair & 0xff)) | (hex.charCodeAt(2 * k + 1) ^ (pair >> 8));
  }
  return diff === 0;
}

/** Whether `hex` is the 64 lowercase hex digits of the 32 hash bytes at bytes[at], compared in place. */
export function hexSpellsBytes(hex: unknown, bytes: Uint8Array, at: number): boolean {
  if (typeof hex !== 'string' || hex.length !== 2 * HASH_SIZE || at + HASH_SIZE > bytes.length) return false;
  let diff = 0;
  for (let k = 0; k < HASH_SIZE; k++) {
    const pair = HEX_PAIR[bytes[at + k]!]!;
    diff |= (hex.charCodeAt(2 * k) ^ (pair & 0xff)) | (hex.charCodeAt(2 * k + 1) ^ (pair >> 8));
  }
  return diff === 0;
}

/** Whether the 64 bytes at bytes[at] are the hex digits of `hash` (a HashText), compared in place. */
export function bytesSpellHash(bytes: Uint8Array, at: number, hash: HashText): boolean {
  if (at + 2 * HASH_SIZE > bytes.length) return false;
  if (hash.length === 2 * HASH_SIZE) {
    for (let k = 0; k < 2 * HASH_SIZE; k++) if (bytes[at + k] !== hash.charCodeAt(k)) return false;
    return true;
  }
  if (hash.length !== HASH_SIZE) return false;
  let diff = 0;
  for (let k = 0; k < HASH_SIZE; k++) diff |= HEX_PAIR[hash.charCodeAt(k)]! ^ (bytes[at + 2 * k]! | (bytes[at + 2 * k + 1]! << 8));
  return diff === 0;
}

/** Whether two HashTexts name the same hash, whatever form each is in. */
export function sameHash(a: HashText, b: HashText): boolean {
  if (a.length === b.length) return a === b;
  return a.length === HASH_SIZE ? hexSpellsPacked(b, a) : hexSpellsPacked(a, b);
}

/** A HashText as 64 hex digits (messages, reports). */
export function hashHex(hash: HashText): string {
  return hash.length === HASH_SIZE ? Buffer.from(hash, 'latin1').toString('hex') : hash;
}

/** A HashText packed; undefined when it is neither form. */
export function hashPacked(hash: HashText): PackedHash | undefined {
  return hash.length === HASH_SIZE ? hash : packHex(hash);
}
