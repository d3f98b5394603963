// RFC 9162 §2.1.4.1 consistency proofs taken from the verifier's own tree as it grows, instead of
// a second compact range re-hashing every leaf between two checkpoints: each proof node is either
// one of the compact range's hashes at the first size, a perfect subtree the tree completes while
// growing to the second size, or (at the right edge) the fold of such subtrees.
import { CompactRange, isPerfectAt } from './compact-range.js';
import { nodeHashPacked, unpackHash, type PackedHash } from './hasher.js';
import { consistencyRanges } from './proof.js';

/** How one proof node is obtained: a range hash at size1, or the fold of watched subtrees (left to right). */
type NodeSource = { known: PackedHash } | { watched: number[] };

export class TreeConsistency {
  private constructor(
    readonly size2: number,
    private readonly range: CompactRange,
    private readonly sources: NodeSource[],
    private readonly captured: (PackedHash | undefined)[],
  ) {}

  /**
   * Watches `range` (now at size1) for the nodes of PROOF(size1, D[0:size2]); undefined when some
   * node cannot be taken from the tree (never for ranges from consistencyRanges, which are split at
   * powers of two: the caller then builds the proof from the leaves).
   */
  static watch(range: CompactRange, size2: number): TreeConsistency | undefined {
    const size1 = range.size;
    const sources: NodeSource[] = [];
    const nodes: { begin: number; end: number }[] = [];
    for (const { begin, end } of consistencyRanges(size1, size2)) {
      if (end <= size1) {
        const known = range.entry(begin, end);
        if (known === undefined) return undefined;
        sources.push({ known });
        continue;
      }
      if (begin < size1) return undefined;
      // MTH(D[begin:end]) splits at the largest power of two below its length (RFC 9162 §2.1.1):
      // perfect subtrees left to right, folded right to left once all are in.
      const watched: number[] = [];
      for (let at = begin; at < end; ) {
        let width = 1;
        while (width * 2 <= end - at) width *= 2;
        if (!isPerfectAt(at, width)) return undefined;
        watched.push(nodes.length);
        nodes.push({ begin: at, end: at + width });
        at += width;
      }
      sources.push({ watched });
    }
    return new TreeConsistency(size2, range, sources, range.watch(nodes));
  }

  /** The proof, once the tree has grown to size2; undefined before, or when a watched node was missed. */
  proof(): Buffer[] | undefined {
    if (this.range.size !== this.size2) return undefined;
    const proof: Buffer[] = [];
    for (const source of this.sources) {
      if ('known' in source) {
        proof.push(unpackHash(source.known));
        continue;
      }
      let hash = this.captured[source.watched[source.watched.length - 1]!];
      for (let k = source.watched.length - 2; k >= 0 && hash !== undefined; k--) {
        const left = this.captured[source.watched[k]!];
        hash = left === undefined ? undefined : nodeHashPacked(left, hash);
      }
      if (hash === undefined) return undefined;
      proof.push(unpackHash(hash));
    }
    return proof;
  }
}
