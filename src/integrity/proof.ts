// RFC 9162 §2.1.3 inclusion and §2.1.4 consistency proofs: which subtrees a proof is made of,
// generating them from stored leaf hashes, and verifying them. Generation hashes every subtree
// from its leaves (the store keeps leaf hashes only), so one proof costs O(n) hashing at most.
import { z } from 'zod';
import { IntegrityError } from '../errors.js';
import { CompactRange } from './compact-range.js';
import { EMPTY_ROOT, HASH_SIZE, nodeHash, type PackedHash } from './hasher.js';

/** Leaves [begin, end) of the tree; its MTH is one element of a proof. */
export interface LeafRange {
  begin: number;
  end: number;
}

/** Leaf hashes by index: an array of all of them, or a reader of [from, to). */
export type LeafSource = readonly Buffer[] | ((from: number, to: number) => readonly Buffer[]);
export type AsyncLeafReader = (from: number, to: number) => Promise<readonly Buffer[]>;

export type ProofFailure =
  | 'bad-parameters'
  | 'hash-size'
  | 'proof-length'
  | 'root-mismatch'
  | 'leaf-count';

/** A proof that does not verify, or was asked for with impossible parameters. */
export class ProofError extends IntegrityError {
  constructor(
    message: string,
    readonly reason: ProofFailure,
  ) {
    super(message);
  }
}

const READ_CHUNK = 1 << 16;

function checkSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new ProofError(`${name} ${value} is not a non-negative integer`, 'bad-parameters');
}

/** The largest power of two strictly smaller than n (n >= 2): RFC 9162 §2.1.1's k. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 9162 §2.1.3.1 PATH(index, D[0:size]) as leaf ranges, in proof order (leaf level first). */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  checkSize('leaf index', index);
  checkSize('tree size', size);
  if (index >= size) throw new ProofError(`leaf index ${index} is outside a tree of size ${size}`, 'bad-parameters');
  const ranges: LeafRange[] = [];
  let begin = 0;
  let end = size;
  while (end - begin > 1) {
    const k = splitPoint(end - begin);
    if (index < begin + k) {
      ranges.push({ begin: begin + k, end });
      end = begin + k;
    } else {
      ranges.push({ begin, end: begin + k });
      begin += k;
    }
  }
  return ranges.reverse();
}

/** RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]) as leaf ranges, in proof order. Empty when size1 is 0 or size2. */
export function consistencyRanges(size1: number, size2: number): LeafRange[] {
  checkSize('first tree size', size1);
  checkSize('second tree size', size2);
  if (size1 > size2) throw new ProofError(`tree size ${size1} is larger than tree size ${size2}`, 'bad-parameters');
  if (size1 === 0 || size1 === size2) return [];
  const ranges: LeafRange[] = [];
  let begin = 0;
  let end = size2;
  // `whole` is SUBPROOF's b: true while D[0:size1] is still a complete subtree of the current range.
  let whole = true;
  while (size1 !== end) {
    const k = splitPoint(end - begin);
    if (size1 - begin <= k) {
      ranges.push({ begin: begin + k, end });
      end = begin + k;
    } else {
      ranges.push({ begin, end: begin + k });
      begin += k;
      whole = false;
    }
  }
  if (!whole) ranges.push({ begin, end });
  return ranges.reverse();
}

function rangeRoot(range: LeafRange, leaves: LeafSource): Buffer {
  const compact = CompactRange.empty();
  if (typeof leaves === 'function') {
    for (let from = range.begin; from < range.end; from += READ_CHUNK) {
      const to = Math.min(range.end, from + READ_CHUNK);
      const chunk = leaves(from, to);
      if (chunk.length !== to - from) throw new ProofError(`asked for leaves [${from}, ${to}) and got ${chunk.length}`, 'leaf-count');
      for (const leaf of chunk) compact.append(leaf);
    }
  } else {
    if (range.end > leaves.length) throw new ProofError(`the proof needs leaf ${range.end - 1} but only ${leaves.length} leaves were given`, 'leaf-count');
    for (let i = range.begin; i < range.end; i++) compact.append(leaves[i]!);
  }
  return compact.root();
}

async function rangeRootAsync(range: LeafRange, read: AsyncLeafReader): Promise<Buffer> {
  const compact = CompactRange.empty();
  for (let from = range.begin; from < range.end; from += READ_CHUNK) {
    const to = Math.min(range.end, from + READ_CHUNK);
    const chunk = await read(from, to);
    if (chunk.length !== to - from) throw new ProofError(`asked for leaves [${from}, ${to}) and got ${chunk.length}`, 'leaf-count');
    for (const leaf of chunk) compact.append(leaf);
  }
  return compact.root();
}

/** Inclusion proof of leaf `index` in the tree of the first `size` leaves. */
export function inclusionProof(index: number, size: number, leaves: LeafSource): Buffer[] {
  return inclusionRanges(index, size).map((range) => rangeRoot(range, leaves));
}

/** Consistency proof from the tree of `size1` leaves to the tree of `size2` leaves. */
export function consistencyProof(size1: number, size2: number, leaves: LeafSource): Buffer[] {
  return consistencyRanges(size1, size2).map((range) => rangeRoot(range, leaves));
}

/** inclusionProof over an asynchronous reader (a store), reading at most 65536 leaves at a time. */
export async function inclusionProofAsync(index: number, size: number, read: AsyncLeafReader): Promise<Buffer[]> {
  const proof: Buffer[] = [];
  for (const range of inclusionRanges(index, size)) proof.push(await rangeRootAsync(range, read));
  return proof;
}

/** consistencyProof over an asynchronous reader (a store), reading at most 65536 leaves at a time. */
export async function consistencyProofAsync(size1: number, size2: number, read: AsyncLeafReader): Promise<Buffer[]> {
  const proof: Buffer[] = [];
  for (const range of consistencyRanges(size1, size2)) proof.push(await rangeRootAsync(range, read));
  return proof;
}

/**
 * Builds the consistency proof from size1 to size2 while the leaves between them stream past,
 * in O(log² n) memory: every proof node left of size1 is a node of the compact range [0, size1),
 * every node right of it is a subtree of [size1, size2).
 */
export class ConsistencyProofBuilder {
  private readonly ranges: LeafRange[];
  private readonly known = new Map<number, { end: number; hash: Buffer }>();
  private readonly pending: { range: LeafRange; compact: CompactRange; slot: number }[] = [];
  private readonly hashes: (Buffer | undefined)[];
  private next: number;
  private cursor = 0;

  constructor(
    start: CompactRange,
    readonly size2: number,
  ) {
    const size1 = start.size;
    this.ranges = consistencyRanges(size1, size2);
    this.hashes = new Array<Buffer | undefined>(this.ranges.length);
    this.next = size1;
    // The compact range's hashes are the perfect subtrees of [0, size1), largest first.
    let begin = 0;
    let remaining = size1;
    for (const hash of start.hashes()) {
      let width = 1;
      while (width * 2 <= remaining) width *= 2;
      this.known.set(begin, { end: begin + width, hash });
      begin += width;
      remaining -= width;
    }
    this.ranges.forEach((range, slot) => {
      if (range.end <= size1) {
        const node = this.known.get(range.begin);
        this.hashes[slot] = node !== undefined && node.end === range.end ? node.hash : undefined;
      } else {
        this.pending.push({ range, compact: CompactRange.empty(), slot });
      }
    });
    this.pending.sort((a, b) => a.range.begin - b.range.begin);
  }

  /** Next leaf, index = previous size. Leaves beyond size2 are ignored. */
  append(leafHash: Buffer): void {
    const target = this.targetOfNext();
    if (target === undefined) return;
    target.compact.append(leafHash);
    this.settle(target);
  }

  /** `append` for a packed leaf hash (hasher.ts `PackedHash`). */
  appendPacked(leaf: PackedHash): void {
    const target = this.targetOfNext();
    if (target === undefined) return;
    target.compact.appendPacked(leaf);
    this.settle(target);
  }

  /** Counts the next leaf; the pending range it belongs to, if any. */
  private targetOfNext(): { range: LeafRange; compact: CompactRange; slot: number } | undefined {
    const index = this.next++;
    const target = this.pending[this.cursor];
    return target === undefined || index < target.range.begin ? undefined : target;
  }

  /** Records a pending range's hash once its last leaf is in. */
  private settle(target: { range: LeafRange; compact: CompactRange; slot: number }): void {
    if (this.next === target.range.end) {
      this.hashes[target.slot] = target.compact.root();
      this.cursor++;
    }
  }

  get complete(): boolean {
    return this.next >= this.size2;
  }

  proof(): Buffer[] {
    if (!this.complete) throw new ProofError(`consistency proof to size ${this.size2} needs ${this.size2 - this.next} more leaves`, 'leaf-count');
    return this.hashes.map((hash, i) => {
      if (hash === undefined) throw new ProofError(`consistency proof node ${i} could not be derived`, 'leaf-count');
      return hash;
    });
  }
}

function checkHash(name: string, hash: Uint8Array): void {
  if (hash.length !== HASH_SIZE) throw new ProofError(`${name} is ${hash.length} bytes, expected ${HASH_SIZE}`, 'hash-size');
}

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to. Sizes are safe integers, so no 32-bit shifts. */
export function rootFromInclusionProof(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  checkSize('leaf index', index);
  checkSize('tree size', size);
  if (index >= size) throw new ProofError(`leaf index ${index} is outside a tree of size ${size}`, 'bad-parameters');
  checkHash('leaf hash', leafHash);
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const [i, p] of proof.entries()) {
    checkHash(`proof element ${i}`, p);
    if (sn === 0) throw new ProofError(`inclusion proof has ${proof.length} elements, more than a tree of size ${size} needs`, 'proof-length');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new ProofError(`inclusion proof has ${proof.length} elements, fewer than a tree of size ${size} needs`, 'proof-length');
  return r;
}

/** RFC 9162 §2.1.3.2. Throws ProofError saying why the proof fails. */
export function verifyInclusion(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  checkHash('root', root);
  const computed = rootFromInclusionProof(index, size, leafHash, proof);
  if (!computed.equals(root)) {
    throw new ProofError(`inclusion proof of leaf ${index} leads to root ${computed.toString('hex')}, not ${Buffer.from(root).toString('hex')}`, 'root-mismatch');
  }
}

/**
 * RFC 9162 §2.1.4.2. Equal sizes need equal roots and an empty proof; size1 = 0 needs the empty
 * tree's root and an empty proof (stricter than the RFC, which leaves m = 0 undefined).
 */
export function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): void {
  checkSize('first tree size', size1);
  checkSize('second tree size', size2);
  if (size1 > size2) throw new ProofError(`tree size ${size1} is larger than tree size ${size2}`, 'bad-parameters');
  checkHash('first root', root1);
  checkHash('second root', root2);
  proof.forEach((p, i) => checkHash(`proof element ${i}`, p));
  if (size1 === 0 || size1 === size2) {
    if (proof.length !== 0) throw new ProofError(`consistency proof from size ${size1} to ${size2} must be empty, it has ${proof.length} elements`, 'proof-length');
    const expected = size1 === 0 ? EMPTY_ROOT : root2;
    if (!Buffer.from(root1).equals(expected)) {
      throw new ProofError(
        size1 === 0 ? 'the root of a tree of size 0 must be the hash of the empty string' : `two roots of the same tree size ${size1} differ`,
        'root-mismatch',
      );
    }
    return;
  }
  if (proof.length === 0) throw new ProofError(`consistency proof from size ${size1} to ${size2} is empty`, 'proof-length');
  // Step 2: when size1 is a power of two, the old root is itself the first node of the path.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr = fr;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw new ProofError(`consistency proof from size ${size1} to ${size2} has more elements than it needs`, 'proof-length');
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new ProofError(`consistency proof from size ${size1} to ${size2} has fewer elements than it needs`, 'proof-length');
  if (!fr.equals(root1)) throw new ProofError(`consistency proof does not lead to the root of tree size ${size1}`, 'root-mismatch');
  if (!sr.equals(root2)) throw new ProofError(`consistency proof does not lead to the root of tree size ${size2}`, 'root-mismatch');
}

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}

// Printable, exportable proofs: hashes in lowercase hex.
const Hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const Size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const InclusionProofJson = z
  .object({ type: z.literal('inclusion'), index: Size, size: Size, leafHash: Hex32, root: Hex32, proof: z.array(Hex32) })
  .strict();
export type InclusionProofJson = z.infer<typeof InclusionProofJson>;

export const ConsistencyProofJson = z
  .object({ type: z.literal('consistency'), from: Size, to: Size, fromRoot: Hex32, toRoot: Hex32, proof: z.array(Hex32) })
  .strict();
export type ConsistencyProofJson = z.infer<typeof ConsistencyProofJson>;

export const ProofJson = z.discriminatedUnion('type', [InclusionProofJson, ConsistencyProofJson]);
export type ProofJson = z.infer<typeof ProofJson>;

export function inclusionProofJson(index: number, size: number, leafHash: Buffer, root: Buffer, proof: readonly Buffer[]): InclusionProofJson {
  return { type: 'inclusion', index, size, leafHash: leafHash.toString('hex'), root: root.toString('hex'), proof: proof.map((p) => p.toString('hex')) };
}

export function consistencyProofJson(from: number, to: number, fromRoot: Buffer, toRoot: Buffer, proof: readonly Buffer[]): ConsistencyProofJson {
  return { type: 'consistency', from, to, fromRoot: fromRoot.toString('hex'), toRoot: toRoot.toString('hex'), proof: proof.map((p) => p.toString('hex')) };
}

/** Verifies an exported proof (already validated against ProofJson). Throws ProofError. */
export function verifyProofJson(proof: ProofJson): void {
  const hashes = proof.proof.map((p) => Buffer.from(p, 'hex'));
  if (proof.type === 'inclusion') {
    verifyInclusion(proof.index, proof.size, Buffer.from(proof.leafHash, 'hex'), hashes, Buffer.from(proof.root, 'hex'));
  } else {
    verifyConsistency(proof.from, proof.to, Buffer.from(proof.fromRoot, 'hex'), Buffer.from(proof.toRoot, 'hex'), hashes);
  }
}
