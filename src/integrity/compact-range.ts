// The compact range [0, size) of an RFC 9162 tree: one hash per set bit of `size`, the roots of
// the perfect subtrees the range decomposes into, largest (leftmost) first. This is the O(log n)
// state a log persists so it can extend the tree and compute its root without rereading leaves
// (the design of transparency-dev/merkle's `compact` package, restricted to ranges starting at 0).
import { EMPTY_ROOT, HASH_SIZE, nodeHashPacked, packHash, unpackHash, type PackedHash } from './hasher.js';

export class CompactRangeError extends Error {}

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
    if (leafHash.length !== HASH_SIZE) throw new CompactRangeError(`leaf hash is ${leafHash.length} bytes, expected ${HASH_SIZE}`);
    let n = this.count;
    if (n % 2 === 0) {
      this.stack.push(packHash(leafHash));
    } else {
      // RFC 9162 §2.1.1: a completed pair of equal-height subtrees becomes one node, left ‖ right.
      let hash = nodeHashPacked(this.stack.pop()!, leafHash);
      n = (n - 1) / 2;
      while (n % 2 === 1) {
        hash = nodeHashPacked(this.stack.pop()!, hash);
        n = (n - 1) / 2;
      }
      this.stack.push(hash);
    }
    this.count += 1;
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
  for (const leaf of leaves) range.append(leaf);
  return range.root();
}
