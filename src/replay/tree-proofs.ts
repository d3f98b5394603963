// Inclusion proofs for many leaves of one tree, as replay needs them: every event of a run, or —
// on the dashboard — every event of every run under the same checkpoint. The store's leaf hashes
// are read once (32 bytes per leaf, in pages) and subtree roots follow the MTH recursion (RFC 9162
// §2.1.1) with memoization, so all proofs together cost O(n) hashing instead of O(n) each.
import { nodeHash } from '../integrity/hasher.js';
import { inclusionRanges } from '../integrity/proof.js';
import type { EventStore } from '../store/port.js';

const LEAF_PAGE = 65_536;
/** Subtrees at most this wide are hashed directly instead of memoized (bounds the memo to ~2n/32 entries). */
const MEMO_MIN_WIDTH = 32;

export class TreeProofs {
  private readonly memo = new Map<string, Buffer>();

  private constructor(
    /** Leaf hashes, 32 bytes each; a leaf the store did not return stays zero, so its proofs fail against the signed root. */
    private readonly leaves: Buffer,
    readonly size: number,
  ) {}

  /** Reads the stored leaf hashes of [0, size). Store failures propagate (unavailable is not a failed proof). */
  static async read(store: EventStore, size: number): Promise<TreeProofs> {
    const leaves = Buffer.alloc(size * 32);
    for (let from = 0; from < size; from += LEAF_PAGE) {
      const page = await store.leafHashes(from, Math.min(size, from + LEAF_PAGE));
      page.forEach((hex, i) => leaves.write(hex, (from + i) * 32, 32, 'hex'));
    }
    return new TreeProofs(leaves, size);
  }

  /** RFC 9162 §2.1.3.1 PATH(index, D[0:size]). */
  proof(index: number): Buffer[] {
    return inclusionRanges(index, this.size).map((r) => this.root(r.begin, r.end));
  }

  private root(begin: number, end: number): Buffer {
    if (end - begin === 1) return this.leaves.subarray(begin * 32, begin * 32 + 32);
    const key = `${begin}:${end}`;
    const known = this.memo.get(key);
    if (known) return known;
    let k = 1;
    while (k * 2 < end - begin) k *= 2;
    const root = nodeHash(this.root(begin, begin + k), this.root(begin + k, end));
    if (end - begin > MEMO_MIN_WIDTH) this.memo.set(key, root);
    return root;
  }
}
