// The compact range [0, size) of an RFC 9162 tree: one hash per set bit of `size`, the roots of
// the perfect subtrees the range decomposes into, largest (leftmost) first. This is the O(log n)
// state a log persists so it can extend the tree and compute its root without rereading leaves
// (the design of transparency-dev/merkle's `compact` package, restricted to ranges starting at 0).
import { EMPTY_ROOT, HASH_SIZE, nodeHashPacked, nodeHashPairsInPlace, packHash, pairInputs, unpackHash, type PackedHash } from './hasher.js';

export class CompactRangeError extends Error {}

/** Leaves arriving in bulk are folded in perfect subtrees of 2^BULK_HEIGHT leaves, level by level. */
const BULK_HEIGHT = 12;
const BULK_LEAVES = 2 ** BULK_HEIGHT;

/** The scratch buffer of one bulk append: leaf hashes from byte 1, and its pair views. */
interface BulkScratch {
  bytes: Buffer;
  inputs: Buffer[];
}

/** Root of the perfect subtree over `width` (a power of two, > 1) leaf hashes in the scratch buffer. */
function perfectSubtreeRoot({ bytes: scratch, inputs }: BulkScratch, width: number): PackedHash {
  for (;;) {
    const level = nodeHashPairsInPlace(inputs, width / 2);
    width /= 2;
    if (width === 1) return level[0]!;
    // One copy per level instead of one per node: the next level's hashes, back to back.
    scratch.write(level.join(''), 1, 'latin1');
  }
}

function checkLeaf(leafHash: Uint8Array): void {
  if (leafHash.length !== HASH_SIZE) throw new CompactRangeError(`leaf hash is ${leafHash.length} bytes, expected ${HASH_SIZE}`);
}

/** Number of set bits of a non-negative safe integer (sizes may exceed 2^32). */
function popcount(n: number): number {
  let count = 0;
  while (n > 0) {
    count += n % 2;
    n = Math.floor(n / 2);
  }
  return count;
}

export class CompactRange {
  // Hashes are kept packed (latin1 strings): immutable, cheap to copy, no Buffer per node.
  private constructor(
    private count: number,
    private readonly stack: PackedHash[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** Restores persisted state; rejects a hash list that cannot belong to a range of `size` leaves. */
  static fromState(size: number, hashes: Buffer[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0) throw new CompactRangeError(`tree size ${size} is not a non-negative integer`);
    const expected = popcount(size);
    if (hashes.length !== expected) {
      throw new CompactRangeError(`a compact range of size ${size} has ${expected} hashes, got ${hashes.length}`);
    }
    hashes.forEach((hash, i) => {
      if (hash.length !== HASH_SIZE) throw new CompactRangeError(`compact range hash ${i} is ${hash.length} bytes, expected ${HASH_SIZE}`);
    });
    return new CompactRange(size, hashes.map(packHash));
  }

  get size(): number {
    return this.count;
  }

  /** Adds leaf `size`. Each trailing 1 bit of the old size is a perfect subtree the new leaf completes. */
  append(leafHash: Buffer): void {
    checkLeaf(leafHash);
    // RFC 9162 §2.1.1: a completed pair of equal-height subtrees becomes one node, left ‖ right.
    if (this.count % 2 === 0) this.stack.push(packHash(leafHash));
    else this.carry(nodeHashPacked(this.stack.pop()!, leafHash));
    this.count += 1;
  }

  /** `append` for a packed leaf hash (the verifier's form: no Buffer per leaf). */
  appendPacked(leaf: PackedHash): void {
    if (leaf.length !== HASH_SIZE) throw new CompactRangeError(`packed leaf hash is ${leaf.length} characters, expected ${HASH_SIZE}`);
    if (this.count % 2 === 0) this.stack.push(leaf);
    else this.carry(nodeHashPacked(this.stack.pop()!, leaf));
    this.count += 1;
  }

  /** Pushes `hash`, the node over the last leaf and its left sibling, merging up the remaining trailing 1 bits of the size. */
  private carry(hash: PackedHash): void {
    let n = (this.count - 1) / 2;
    while (n % 2 === 1) {
      hash = nodeHashPacked(this.stack.pop()!, hash);
      n = (n - 1) / 2;
    }
    this.stack.push(hash);
  }

  /**
   * Appends leaves in order, as `append` would, but hashes each aligned run of 2^12 leaves as one
   * perfect subtree in a reused scratch buffer (no Buffer per node). Memory stays O(log n) plus
   * the fixed scratch (128 KiB).
   */
  appendAll(leaves: Iterable<Buffer>): void {
    let scratch: BulkScratch | undefined;
    let filled = 0;
    const flushSingly = (): void => {
      for (let i = 0; i < filled; i++) this.append(scratch!.bytes.subarray(1 + i * HASH_SIZE, 1 + (i + 1) * HASH_SIZE));
      filled = 0;
    };
    for (const leaf of leaves) {
      // A perfect subtree can only start at a multiple of its width (RFC 9162 §2.1.1 split points).
      if (filled === 0 && this.count % BULK_LEAVES !== 0) {
        this.append(leaf);
        continue;
      }
      if (leaf.length !== HASH_SIZE) {
        flushSingly(); // the leaves before the bad one are appended, as with `append`
        checkLeaf(leaf);
      }
      if (scratch === undefined) {
        const bytes = Buffer.allocUnsafe(1 + BULK_LEAVES * HASH_SIZE);
        scratch = { bytes, inputs: pairInputs(bytes, BULK_LEAVES / 2) };
      }
      scratch.bytes.set(leaf, 1 + filled * HASH_SIZE);
      if (++filled === BULK_LEAVES) {
        this.pushSubtree(perfectSubtreeRoot(scratch, BULK_LEAVES), BULK_LEAVES);
        filled = 0;
      }
    }
    flushSingly();
  }

  /** Adds the root of a perfect subtree of `width` leaves; `size` must be a multiple of `width`. */
  private pushSubtree(root: PackedHash, width: number): void {
    let hash = root;
    let n = this.count / width;
    while (n % 2 === 1) {
      hash = nodeHashPacked(this.stack.pop()!, hash);
      n = (n - 1) / 2;
    }
    this.stack.push(hash);
    this.count += width;
  }

  /** The persisted state, left to right (largest subtree first). */
  hashes(): Buffer[] {
    return this.stack.map(unpackHash);
  }

  /** RFC 9162 §2.1.1 MTH of [0, size): fold the subtree roots right to left. */
  root(): Buffer {
    const last = this.stack.length - 1;
    if (last < 0) return Buffer.from(EMPTY_ROOT);
    let root = this.stack[last]!;
    for (let i = last - 1; i >= 0; i--) root = nodeHashPacked(this.stack[i]!, root);
    return unpackHash(root);
  }

  clone(): CompactRange {
    return new CompactRange(this.count, this.stack.slice());
  }
}

/** MTH of a sequence of leaf hashes, streamed: O(log n) memory whatever the length. */
export function rootOfLeaves(leaves: Iterable<Buffer>): Buffer {
  const range = CompactRange.empty();
  range.appendAll(leaves);
  return range.root();
}
