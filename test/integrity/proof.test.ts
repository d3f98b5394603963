import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { CompactRange, rootOfLeaves } from '../../src/integrity/compact-range.js';
import { leafHash, packHash } from '../../src/integrity/hasher.js';
import {
  ConsistencyProofBuilder,
  consistencyProof,
  consistencyProofAsync,
  consistencyProofJson,
  consistencyRanges,
  inclusionProof,
  inclusionProofAsync,
  inclusionProofJson,
  inclusionRanges,
  ProofError,
  ProofJson,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
  verifyProofJson,
} from '../../src/integrity/proof.js';
import { CONSISTENCY, INCLUSION, LEAVES, ROOTS } from './rfc6962-vectors.js';

const SOME_HASH = Buffer.from('abacaba000000000000000000000000000000000000000000060061e00123456', 'hex');
const flip = (hash: Buffer, bit = 3): Buffer => {
  const copy = Buffer.from(hash);
  copy[0]! ^= 1 << bit;
  return copy;
};
const fails = (fn: () => void): boolean => {
  try {
    fn();
    return false;
  } catch (err) {
    if (err instanceof ProofError) return true;
    throw err;
  }
};
const randomLeaves = (n: number): Buffer[] => Array.from({ length: n }, () => leafHash(randomBytes(6)));

describe('RFC 9162 proofs', () => {
  describe('known-answer vectors (transparency-dev/merkle proof/verify_test.go)', () => {
    for (const { index, size, proof } of INCLUSION) {
      it(`generates and verifies the published inclusion proof of leaf ${index} in a tree of size ${size}`, () => {
        assert.deepEqual(inclusionProof(index, size, LEAVES), proof);
        verifyInclusion(index, size, LEAVES[index]!, proof, ROOTS[size]!);
        assert.deepEqual(rootFromInclusionProof(index, size, LEAVES[index]!, proof), ROOTS[size]);
      });
    }

    for (const { size1, size2, proof } of CONSISTENCY) {
      it(`generates and verifies the published consistency proof from size ${size1} to ${size2}`, () => {
        assert.deepEqual(consistencyProof(size1, size2, LEAVES), proof);
        verifyConsistency(size1, size2, ROOTS[size1]!, ROOTS[size2]!, proof);
      });
    }

    // Mirrors corruptInclusionProof in transparency-dev/merkle: every probe must be rejected.
    for (const { index, size, proof } of INCLUSION.filter((v) => v.size > 1)) {
      it(`rejects every corruption of the inclusion proof of leaf ${index} in size ${size}`, () => {
        const root = ROOTS[size]!;
        const leaf = LEAVES[index]!;
        const probes: [string, () => void][] = [
          ['index - 1', () => verifyInclusion(index - 1, size, leaf, proof, root)],
          ['index + 1', () => verifyInclusion(index + 1, size, leaf, proof, root)],
          ['index ^ 2', () => verifyInclusion(index ^ 2, size, leaf, proof, root)],
          ['size * 2', () => verifyInclusion(index, size * 2, leaf, proof, root)],
          ['size / 2', () => verifyInclusion(index, Math.floor(size / 2), leaf, proof, root)],
          ['wrong leaf', () => verifyInclusion(index, size, SOME_HASH, proof, root)],
          ['empty root', () => verifyInclusion(index, size, leaf, proof, ROOTS[0]!)],
          ['random root', () => verifyInclusion(index, size, leaf, proof, SOME_HASH)],
          ['trailing garbage', () => verifyInclusion(index, size, leaf, [...proof, Buffer.alloc(0)], root)],
          ['trailing root', () => verifyInclusion(index, size, leaf, [...proof, root], root)],
          ['preceding garbage', () => verifyInclusion(index, size, leaf, [Buffer.alloc(0), ...proof], root)],
          ['preceding root', () => verifyInclusion(index, size, leaf, [root, ...proof], root)],
          ['removed component', () => verifyInclusion(index, size, leaf, proof.slice(0, -1), root)],
          ['inserted component', () => verifyInclusion(index, size, leaf, [proof[0]!, SOME_HASH, ...proof.slice(1)], root)],
          ...proof.map((_, i): [string, () => void] => [`modified proof[${i}]`, () => verifyInclusion(index, size, leaf, proof.map((p, j) => (j === i ? flip(p) : p)), root)]),
        ];
        const accepted = probes.filter(([, probe]) => !fails(probe)).map(([name]) => name);
        assert.deepEqual(accepted, []);
      });
    }

    for (const { size1, size2, proof } of CONSISTENCY.filter((v) => v.proof.length > 0)) {
      it(`rejects every corruption of the consistency proof from size ${size1} to ${size2}`, () => {
        const root1 = ROOTS[size1]!;
        const root2 = ROOTS[size2]!;
        const probes: [string, () => void][] = [
          ['size1 - 1', () => verifyConsistency(size1 - 1, size2, root1, root2, proof)],
          ['size1 + 1', () => verifyConsistency(size1 + 1, size2, root1, root2, proof)],
          ['size1 ^ 2', () => verifyConsistency(size1 ^ 2, size2, root1, root2, proof)],
          ['size2 * 2', () => verifyConsistency(size1, size2 * 2, root1, root2, proof)],
          ['size2 / 2', () => verifyConsistency(size1, Math.floor(size2 / 2), root1, root2, proof)],
          ['wrong root1', () => verifyConsistency(size1, size2, SOME_HASH, root2, proof)],
          ['wrong root2', () => verifyConsistency(size1, size2, root1, SOME_HASH, proof)],
          ['swapped roots', () => verifyConsistency(size1, size2, root2, root1, proof)],
          ['empty proof', () => verifyConsistency(size1, size2, root1, root2, [])],
          ['trailing garbage', () => verifyConsistency(size1, size2, root1, root2, [...proof, Buffer.alloc(0)])],
          ['trailing root1', () => verifyConsistency(size1, size2, root1, root2, [...proof, root1])],
          ['trailing root2', () => verifyConsistency(size1, size2, root1, root2, [...proof, root2])],
          ['preceding garbage', () => verifyConsistency(size1, size2, root1, root2, [Buffer.alloc(0), ...proof])],
          ['preceding root1', () => verifyConsistency(size1, size2, root1, root2, [root1, ...proof])],
          ['preceding root2', () => verifyConsistency(size1, size2, root1, root2, [root2, ...proof])],
          ['preceding proof[0]', () => verifyConsistency(size1, size2, root1, root2, [proof[0]!, ...proof])],
          ['truncated proof', () => verifyConsistency(size1, size2, root1, root2, proof.slice(0, -1))],
          ...proof.map((_, i): [string, () => void] => [`modified proof[${i}]`, () => verifyConsistency(size1, size2, root1, root2, proof.map((p, j) => (j === i ? flip(p, 4) : p)))]),
        ];
        const accepted = probes.filter(([, probe]) => !fails(probe)).map(([name]) => name);
        assert.deepEqual(accepted, []);
      });
    }
  });

  describe('proof shapes', () => {
    it('follows RFC 9162 §2.1.4 for the 3 -> 7 example: c, d, g, then the rehashed l = MTH(D[4:7])', () => {
      assert.deepEqual(consistencyRanges(3, 7), [
        { begin: 2, end: 3 },
        { begin: 3, end: 4 },
        { begin: 0, end: 2 },
        { begin: 4, end: 7 },
      ]);
    });

    it('lists the inclusion path from the leaf level up', () => {
      assert.deepEqual(inclusionRanges(6, 7), [
        { begin: 4, end: 6 },
        { begin: 0, end: 4 },
      ]);
    });

    it('gives empty consistency proofs from size 0 and between equal sizes', () => {
      assert.deepEqual(consistencyRanges(0, 5), []);
      assert.deepEqual(consistencyRanges(5, 5), []);
    });

    it('refuses impossible parameters with a reason', () => {
      assert.throws(() => inclusionRanges(7, 7), (err: unknown) => err instanceof ProofError && err.reason === 'bad-parameters');
      assert.throws(() => inclusionRanges(0, 0), ProofError);
      assert.throws(() => consistencyRanges(9, 8), /larger than tree size 8/);
      assert.throws(() => inclusionProof(3, 9, LEAVES), (err: unknown) => err instanceof ProofError && err.reason === 'leaf-count');
    });
  });

  describe('edge cases of verification', () => {
    it('accepts an empty proof for a single-leaf tree whose root is the leaf', () => {
      verifyInclusion(0, 1, LEAVES[3]!, [], LEAVES[3]!);
      assert.ok(fails(() => verifyInclusion(0, 1, LEAVES[3]!, [], LEAVES[4]!)));
    });

    it('requires equal roots and an empty proof for equal sizes', () => {
      verifyConsistency(4, 4, ROOTS[4]!, ROOTS[4]!, []);
      assert.ok(fails(() => verifyConsistency(4, 4, ROOTS[4]!, ROOTS[5]!, [])));
      assert.ok(fails(() => verifyConsistency(4, 4, ROOTS[4]!, ROOTS[4]!, [ROOTS[0]!])));
    });

    it('requires the empty-tree root for size 0 (stricter than the RFC, which leaves it undefined)', () => {
      verifyConsistency(0, 8, ROOTS[0]!, ROOTS[8]!, []);
      assert.ok(fails(() => verifyConsistency(0, 8, ROOTS[1]!, ROOTS[8]!, [])));
    });

    it('rejects time travel to a smaller tree', () => {
      assert.throws(() => verifyConsistency(2, 1, ROOTS[2]!, ROOTS[1]!, []), (err: unknown) => err instanceof ProofError && err.reason === 'bad-parameters');
    });

    it('rejects hashes of the wrong length', () => {
      assert.throws(() => verifyInclusion(0, 1, Buffer.alloc(31), [], Buffer.alloc(31)), (err: unknown) => err instanceof ProofError && err.reason === 'hash-size');
    });
  });

  describe('properties over random trees', () => {
    const tree = fc.integer({ min: 1, max: 160 }).chain((size) => fc.record({ size: fc.constant(size), index: fc.integer({ min: 0, max: size - 1 }), other: fc.integer({ min: 0, max: size - 1 }) }));

    it('every generated inclusion proof verifies, and every mutation of it fails', () => {
      const leaves = randomLeaves(161);
      const roots = leaves.map((_, n) => rootOfLeaves(leaves.slice(0, n)));
      roots.push(rootOfLeaves(leaves));
      fc.assert(
        fc.property(tree, fc.nat(), fc.integer({ min: 0, max: 7 }), ({ size, index, other }, pick, bit) => {
          const proof = inclusionProof(index, size, leaves);
          const root = roots[size]!;
          verifyInclusion(index, size, leaves[index]!, proof, root);
          if (proof.length > 0) {
            const at = pick % proof.length;
            const flipped = proof.map((p, i) => (i === at ? flip(p, bit) : p));
            assert.ok(fails(() => verifyInclusion(index, size, leaves[index]!, flipped, root)), 'flipped bit');
            assert.ok(fails(() => verifyInclusion(index, size, leaves[index]!, proof.filter((_, i) => i !== at), root)), 'dropped element');
          }
          assert.ok(fails(() => verifyInclusion(index, size, leaves[index]!, [...proof, leaves[0]!], root)), 'added element');
          if (other !== index) assert.ok(fails(() => verifyInclusion(other, size, leaves[index]!, proof, root)), 'wrong index');
          assert.ok(fails(() => verifyInclusion(index, size, leaves[index === 0 ? 1 : 0]!, proof, root)), 'wrong leaf');
          // A wrong size is checked against the root of a tree of that size, as a verifier would have it.
          const otherSize = ((size + 1 + (pick % 159)) % 160) + 1;
          if (otherSize !== size && index < otherSize) {
            assert.ok(fails(() => verifyInclusion(index, otherSize, leaves[index]!, proof, roots[otherSize]!)), `wrong size ${otherSize}`);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('every generated consistency proof verifies, and every mutation of it fails', () => {
      const leaves = randomLeaves(160);
      const roots = leaves.map((_, n) => rootOfLeaves(leaves.slice(0, n)));
      roots.push(rootOfLeaves(leaves));
      const sizes = fc.integer({ min: 1, max: 160 }).chain((size2) => fc.record({ size1: fc.integer({ min: 0, max: size2 }), size2: fc.constant(size2) }));
      fc.assert(
        fc.property(sizes, fc.nat(), fc.integer({ min: 0, max: 7 }), ({ size1, size2 }, pick, bit) => {
          const proof = consistencyProof(size1, size2, leaves);
          const [root1, root2] = [roots[size1]!, roots[size2]!];
          verifyConsistency(size1, size2, root1, root2, proof);
          if (proof.length > 0) {
            const at = pick % proof.length;
            assert.ok(fails(() => verifyConsistency(size1, size2, root1, root2, proof.map((p, i) => (i === at ? flip(p, bit) : p)))), 'flipped bit');
            assert.ok(fails(() => verifyConsistency(size1, size2, root1, root2, proof.filter((_, i) => i !== at))), 'dropped element');
          }
          assert.ok(fails(() => verifyConsistency(size1, size2, root1, root2, [...proof, leaves[0]!])), 'added element');
          const other1 = pick % (size2 + 1);
          // An empty proof legitimately proves 0 -> size2 and size2 -> size2: those are not mutations.
          const stillValid = other1 === size1 || other1 === 0 || (proof.length === 0 && other1 === size2);
          if (!stillValid) assert.ok(fails(() => verifyConsistency(other1, size2, roots[other1]!, root2, proof)), `wrong size1 ${other1}`);
          const other2 = size1 + (pick % (161 - size1));
          if (other2 !== size2 && size1 !== 0) assert.ok(fails(() => verifyConsistency(size1, other2, root1, roots[other2]!, proof)), `wrong size2 ${other2}`);
          if (size1 !== size2 && size1 !== 0) assert.ok(fails(() => verifyConsistency(size1, size2, root1, roots[size2 - 1]!, proof)), 'wrong root2');
        }),
        { numRuns: 300 },
      );
    });

    it('builds the same consistency proof while streaming as from the stored leaves', () => {
      const leaves = randomLeaves(140);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 140 }).chain((size2) => fc.tuple(fc.integer({ min: 0, max: size2 }), fc.constant(size2))), ([size1, size2]) => {
          const start = CompactRange.empty();
          leaves.slice(0, size1).forEach((leaf) => start.append(leaf));
          const builder = new ConsistencyProofBuilder(start, size2);
          leaves.slice(size1, size2).forEach((leaf) => builder.append(leaf));
          assert.deepEqual(builder.proof(), consistencyProof(size1, size2, leaves));
          // The verifier's form: packed leaf hashes, same proof.
          const packed = new ConsistencyProofBuilder(start.clone(), size2);
          leaves.slice(size1, size2).forEach((leaf) => packed.appendPacked(packHash(leaf)));
          assert.deepEqual(packed.proof(), consistencyProof(size1, size2, leaves));
        }),
        { numRuns: 200 },
      );
    });

    it('refuses to hand out a streamed proof before all its leaves arrived', () => {
      const start = CompactRange.empty();
      start.append(LEAVES[0]!);
      const builder = new ConsistencyProofBuilder(start, 4);
      builder.append(LEAVES[1]!);
      assert.throws(() => builder.proof(), (err: unknown) => err instanceof ProofError && err.reason === 'leaf-count');
    });
  });

  describe('generation from a reader', () => {
    it('reads through a synchronous reader and an asynchronous store reader alike', async () => {
      const leaves = randomLeaves(300);
      const reads: [number, number][] = [];
      const reader = (from: number, to: number): Buffer[] => {
        reads.push([from, to]);
        return leaves.slice(from, to);
      };
      assert.deepEqual(inclusionProof(123, 300, reader), inclusionProof(123, 300, leaves));
      assert.ok(reads.every(([from, to]) => to > from && to <= 300));
      assert.deepEqual(consistencyProof(77, 300, reader), consistencyProof(77, 300, leaves));
      const read = async (from: number, to: number): Promise<Buffer[]> => leaves.slice(from, to);
      assert.deepEqual(await inclusionProofAsync(299, 300, read), inclusionProof(299, 300, leaves));
      assert.deepEqual(await consistencyProofAsync(77, 300, read), consistencyProof(77, 300, leaves));
    });

    it('reports a reader that returns the wrong number of leaves', async () => {
      await assert.rejects(() => inclusionProofAsync(0, 8, async () => LEAVES.slice(0, 2)), (err: unknown) => err instanceof ProofError && err.reason === 'leaf-count');
    });
  });

  describe('JSON export', () => {
    it('round-trips an inclusion proof through its JSON form and verifies it', () => {
      const { index, size, proof } = INCLUSION[2]!;
      const json = inclusionProofJson(index, size, LEAVES[index]!, ROOTS[size]!, proof);
      assert.deepEqual(Object.keys(json), ['type', 'index', 'size', 'leafHash', 'root', 'proof']);
      const parsed = ProofJson.parse(JSON.parse(JSON.stringify(json)));
      verifyProofJson(parsed);
      assert.ok(fails(() => verifyProofJson({ ...json, index: index + 1 })));
    });

    it('round-trips a consistency proof through its JSON form and verifies it', () => {
      const { size1, size2, proof } = CONSISTENCY[2]!;
      const json = consistencyProofJson(size1, size2, ROOTS[size1]!, ROOTS[size2]!, proof);
      assert.deepEqual(json, { type: 'consistency', from: 6, to: 8, fromRoot: ROOTS[6]!.toString('hex'), toRoot: ROOTS[8]!.toString('hex'), proof: proof.map((p) => p.toString('hex')) });
      verifyProofJson(ProofJson.parse(json));
      assert.ok(fails(() => verifyProofJson({ ...json, toRoot: ROOTS[7]!.toString('hex') })));
    });

    it('rejects malformed proof JSON before verifying anything', () => {
      assert.equal(ProofJson.safeParse({ type: 'inclusion', index: 0, size: 1, leafHash: 'AB', root: ROOTS[1]!.toString('hex'), proof: [] }).success, false);
      assert.equal(ProofJson.safeParse({ type: 'audit', from: 0 }).success, false);
    });
  });
});
