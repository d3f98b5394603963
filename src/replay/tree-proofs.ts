// Inclusion proofs for many leaves of one tree, as replay needs them: every event of a run, or —
// on the dashboard — every event of every run under the same checkpoint. The store's leaf hashes
// are read once (in pages) and every perfect subtree is hashed once, so all proofs together cost
// O(n) hashing instead of O(n) each, and one proof is then O(log n) lookups.
import { HASH_SIZE, nodeHash } from '../integrity/hasher.js';
import { inclusionRanges } from '../integrity/proof.js';
import type { EventStore } from '../store/port.js';

const LEAF_PAGE = 65_536;

export class TreeProofs {
  /** Roots of subtrees that reach `size` without being perfect: O(log n) of them. */
  private readonly edges = new Map<string, Buffer>();

  private constructor(
    /** levels[h]: the perfect, aligned subtrees of 2^h leaves, 32 bytes each; levels[0] are the leaf hashes. */
    private readonly levels: Buffer[],
    readonly size: number,
  ) {}

  /**
   * Reads the stored leaf hashes of [0, size) and hashes every perfect subtree once (n - 1 node
   * hashes, 64 bytes of memory per leaf). A leaf the store did not return stays zero, so proofs
   * through it fail against the signed root. Store failures propagate: unavailable is not a failed proof.
   */
  static async read(store: EventStore, size: number): Promise<TreeProofs> {
    const leaves = Buffer.alloc(size * HASH_SIZE);
    for (let from = 0; from < size; from += LEAF_PAGE) {
      const page = await store.leafHashes(from, Math.min(size, from + LEAF_PAGE));
      page.forEach((hex, i) => leaves.write(hex, (from + i) * HASH_SIZE, HASH_SIZE, 'hex'));
    }
    const levels = [leaves];
    for (let below = leaves; below.length >= 2 * HASH_SIZE; ) {
      const count = Math.floor(below.length / (2 * HASH_SIZE));
      const level = Buffer.alloc(count * HASH_SIZE);
      for (let i = 0; i < count; i++) level.set(nodeHash(at(below, 2 * i), at(below, 2 * i + 1)), i * HASH_SIZE);
      levels.push(level);
      below = level;
    }
    return new TreeProofs(levels, size);
  }

  /** RFC 9162 §2.1.3.1 PATH(index, D[0:size]). */
  proof(index: number): Buffer[] {
    return inclusionRanges(index, this.size).map((r) => this.root(r.begin, r.end));
  }

  /** MTH(D[begin:end]) for a range of the RFC 9162 §2.1.1 recursion over [0, size). */
  private root(begin: number, end: number): Buffer {
    const width = end - begin;
    // The recursion only yields aligned ranges; a power-of-two width is therefore a stored node.
    const height = Math.log2(width);
    if (Number.isInteger(height) && begin % width === 0) return at(this.levels[height]!, begin / width);
    const key = `${begin}:${end}`;
    let root = this.edges.get(key);
    if (root === undefined) {
      let k = 1;
      while (k * 2 < width) k *= 2;
      root = nodeHash(this.root(begin, begin + k), this.root(begin + k, end));
      this.edges.set(key, root);
    }
    return root;
  }
}

function at(level: Buffer, i: number): Buffer {
  return level.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
}
