import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CompactRange, CompactRangeError, rootOfLeaves } from '../../src/integrity/compact-range.js';
import { leafHash, packHash, unpackHash } from '../../src/integrity/hasher.js';
import { consistencyProof } from '../../src/integrity/proof.js';
import { TreeConsistency } from '../../src/integrity/tree-consistency.js';
import { CONSISTENCY, LEAVES } from './rfc6962-vectors.js';

const randomLeaves = (n: number): Buffer[] => Array.from({ length: n }, () => leafHash(randomBytes(6)));

describe('consistency proofs from the growing tree (tree-consistency)', () => {
  it('gives the published RFC 6962 consistency proofs', () => {
    for (const { size1, size2, proof } of CONSISTENCY) {
      const range = CompactRange.empty();
      LEAVES.slice(0, size1).forEach((leaf) => range.appendPacked(packHash(leaf)));
      const fromTree = TreeConsistency.watch(range, size2)!;
      LEAVES.slice(size1, size2).forEach((leaf) => range.appendPacked(packHash(leaf)));
      assert.deepEqual(fromTree.proof(), proof, `${size1} → ${size2}`);
    }
  });

  it('builds the proof the stored leaves give, for every pair of sizes, along a chain of checkpoints', () => {
    const leaves = randomLeaves(300);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { minLength: 2, maxLength: 7 }), fc.boolean(), (sizes, buffers) => {
        sizes.sort((a, b) => a - b);
        const range = CompactRange.empty();
        let previous = 0;
        let fromTree: TreeConsistency | undefined;
        sizes.forEach((size, i) => {
          const last = i === sizes.length - 1;
          if (last && fromTree !== undefined) range.appendAll(leaves.slice(previous, size)); // the bulk path leaf by leaf while watching
          else {
            // Both single append forms capture the watched nodes.
            for (const leaf of leaves.slice(previous, size)) {
              if (buffers) range.append(leaf);
              else range.appendPacked(packHash(leaf));
            }
          }
          if (fromTree !== undefined) assert.deepEqual(fromTree.proof(), consistencyProof(previous, size, leaves), `${previous} → ${size}`);
          const next = sizes[i + 1];
          if (next !== undefined) {
            fromTree = TreeConsistency.watch(range, next);
            assert.ok(fromTree !== undefined);
            assert.equal(fromTree.proof() === undefined, next !== size, 'no proof before the tree reaches the second size');
          }
          previous = size;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('watches only perfect subtrees at or after the current size, and captures what the tree computes', () => {
    const leaves = randomLeaves(64);
    const range = CompactRange.empty();
    leaves.slice(0, 5).forEach((leaf) => range.append(leaf));
    assert.throws(() => range.watch([{ begin: 4, end: 6 }]), CompactRangeError, 'begins before the size');
    assert.throws(() => range.watch([{ begin: 6, end: 9 }]), CompactRangeError, 'not a power of two');
    assert.throws(() => range.watch([{ begin: 6, end: 10 }]), CompactRangeError, 'not aligned');
    const captured = range.watch([{ begin: 8, end: 16 }, { begin: 5, end: 6 }, { begin: 6, end: 8 }, { begin: 0, end: 0 }].slice(0, 3));
    leaves.slice(5, 16).forEach((leaf) => range.appendPacked(packHash(leaf)));
    assert.deepEqual(captured.map((hash) => unpackHash(hash!)), [rootOfLeaves(leaves.slice(8, 16)), leaves[5], rootOfLeaves(leaves.slice(6, 8))]);
    assert.deepEqual(range.root(), rootOfLeaves(leaves.slice(0, 16)), 'watching changes no root');
  });
});
