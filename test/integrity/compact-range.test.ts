import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { MerkleTree } from 'merkletreejs';
import { CompactRange, CompactRangeError, rootOfLeaves } from '../../src/integrity/compact-range.js';
import { EMPTY_ROOT, leafHash, leafHashHex, nodeHash, packHash, packHex } from '../../src/integrity/hasher.js';
import { LEAVES, ROOTS, referenceRoot } from './rfc6962-vectors.js';

const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
const randomLeaves = (n: number): Buffer[] => Array.from({ length: n }, () => leafHash(randomBytes(8)));

// merkletreejs configured for RFC 6962: leaves are given already hashed (0x00 prefix), the
// concatenator adds the 0x01 node prefix, pairs are not sorted, and an odd last node is promoted
// unchanged (duplicateOdd: false). Bottom-up pairing with promotion builds the same tree as RFC
// 9162's "split at the largest power of two" recursion, so roots must agree for every size >= 1.
function merkletreejsRoot(leaves: Buffer[], options: { complete?: boolean } = {}): Buffer {
  const tree = new MerkleTree(leaves, sha256, {
    hashLeaves: false,
    sortPairs: false,
    sortLeaves: false,
    duplicateOdd: false,
    concatenator: (parts: Buffer[]) => Buffer.concat([Buffer.from([0x01]), ...parts]),
    ...options,
  });
  return tree.getRoot();
}

describe('CompactRange', () => {
  it('appends packed leaf hashes (the verifier\'s form) exactly as Buffers, and refuses a packed hash of the wrong length', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 70 }), (entries) => {
        const buffers = CompactRange.empty();
        const packed = CompactRange.empty();
        for (const entry of entries) {
          buffers.append(leafHash(entry));
          packed.appendPacked(packHex(leafHashHex(entry))!);
        }
        assert.deepEqual(packed.root(), buffers.root());
        assert.deepEqual(packed.hashes(), buffers.hashes());
      }),
      { numRuns: 200 },
    );
    assert.throws(() => CompactRange.empty().appendPacked(packHash(Buffer.alloc(31))), CompactRangeError);
    assert.equal(packHex('ab'.repeat(31) + 'zz'), undefined);
    assert.equal(packHex('ab'.repeat(33)), undefined);
    assert.equal(packHex('AB'.repeat(32)), packHash(Buffer.alloc(32, 0xab)));
  });

  it('computes the published RFC 6962 roots of the reference tree for sizes 0 to 8', () => {
    for (let size = 0; size <= 8; size++) {
      assert.equal(rootOfLeaves(LEAVES.slice(0, size)).toString('hex'), ROOTS[size]!.toString('hex'), `size ${size}`);
    }
  });

  it('keeps one hash per set bit of the size, largest subtree first', () => {
    const range = CompactRange.empty();
    LEAVES.slice(0, 7).forEach((leaf) => range.append(leaf));
    const hashes = range.hashes();
    assert.equal(range.size, 7);
    assert.deepEqual(hashes, [ROOTS[4], nodeHash(LEAVES[4]!, LEAVES[5]!), LEAVES[6]]);
  });

  it('resumes from persisted state and reaches the same root as an uninterrupted build', () => {
    const leaves = randomLeaves(70);
    for (let split = 0; split <= leaves.length; split++) {
      const first = CompactRange.empty();
      leaves.slice(0, split).forEach((leaf) => first.append(leaf));
      const resumed = CompactRange.fromState(split, first.hashes());
      leaves.slice(split).forEach((leaf) => resumed.append(leaf));
      assert.deepEqual(resumed.root(), rootOfLeaves(leaves), `split at ${split}`);
    }
  });

  it('rejects persisted state whose hash count does not match the size', () => {
    const range = CompactRange.empty();
    LEAVES.slice(0, 6).forEach((leaf) => range.append(leaf));
    assert.throws(() => CompactRange.fromState(7, range.hashes()), CompactRangeError);
    assert.throws(() => CompactRange.fromState(6, [...range.hashes(), LEAVES[0]!]), CompactRangeError);
    assert.throws(() => CompactRange.fromState(-1, []), CompactRangeError);
    assert.throws(() => CompactRange.fromState(1, [Buffer.alloc(31)]), /31 bytes/);
  });

  it('rejects a leaf hash that is not 32 bytes', () => {
    assert.throws(() => CompactRange.empty().append(Buffer.alloc(33)), CompactRangeError);
  });

  it('returns the empty-tree root (SHA-256 of nothing) for size 0', () => {
    assert.deepEqual(CompactRange.empty().root(), EMPTY_ROOT);
    assert.deepEqual(CompactRange.fromState(0, []).root(), ROOTS[0]);
  });

  it('clones independently: appending to a clone leaves the original unchanged', () => {
    const range = CompactRange.empty();
    LEAVES.slice(0, 3).forEach((leaf) => range.append(leaf));
    const copy = range.clone();
    copy.append(LEAVES[3]!);
    assert.equal(range.size, 3);
    assert.deepEqual(range.root(), ROOTS[3]);
    assert.deepEqual(copy.root(), ROOTS[4]);
  });

  it('does not let callers corrupt its state through returned buffers', () => {
    const range = CompactRange.empty();
    range.append(LEAVES[0]!);
    range.hashes()[0]!.fill(0);
    range.root().fill(0);
    assert.deepEqual(range.root(), ROOTS[1]);
  });

  it('matches the recursive RFC 9162 definition for every size up to 300', () => {
    const leaves = randomLeaves(300);
    const range = CompactRange.empty();
    for (let size = 1; size <= leaves.length; size++) {
      range.append(leaves[size - 1]!);
      assert.deepEqual(range.root(), referenceRoot(leaves.slice(0, size), nodeHash, EMPTY_ROOT), `size ${size}`);
    }
  });

  describe('appendAll (leaves in bulk, folded 4096 at a time)', () => {
    const leaves = randomLeaves(3 * 4096 + 1234);
    const oneByOne = (count: number): CompactRange => {
      const range = CompactRange.empty();
      for (const leaf of leaves.slice(0, count)) range.append(leaf);
      return range;
    };

    it('reaches the state appending one by one reaches, from any starting size, across subtree boundaries', () => {
      for (const [start, end] of [[0, 4095], [0, 4096], [0, 4097], [0, 8192 + 5], [1, 3 * 4096 + 1234], [4095, 8193], [100, 2 * 4096], [4096, 3 * 4096 + 1]]) {
        const range = oneByOne(start!);
        range.appendAll(leaves.slice(start, end));
        const expected = oneByOne(end!);
        assert.equal(range.size, end);
        assert.deepEqual(range.hashes(), expected.hashes(), `${start}..${end}`);
        assert.deepEqual(range.root(), expected.root(), `${start}..${end}`);
      }
    });

    it('computes the root merkletreejs computes for a tree of several bulk subtrees', () => {
      assert.deepEqual(rootOfLeaves(leaves), merkletreejsRoot(leaves));
    });

    it('appends the leaves before a malformed one, then rejects it', () => {
      const range = CompactRange.empty();
      assert.throws(() => range.appendAll([...leaves.slice(0, 10), Buffer.alloc(31), leaves[11]!]), CompactRangeError);
      assert.equal(range.size, 10);
      assert.deepEqual(range.root(), oneByOne(10).root());
    });
  });

  describe('appendLeaves (an append\'s batch, hashed as aligned perfect subtrees)', () => {
    const leaves = randomLeaves(2 * 4096 + 700);

    it('reaches the state appending one by one reaches, for any sequence of batch sizes from any size', () => {
      fc.assert(
        fc.property(fc.nat({ max: 300 }), fc.array(fc.oneof(fc.nat({ max: 130 }), fc.constantFrom(1, 2, 64, 100, 4095, 4096, 4097)), { maxLength: 6 }), (start, batches) => {
          const batched = CompactRange.empty();
          const single = CompactRange.empty();
          for (const leaf of leaves.slice(0, start)) {
            batched.append(leaf);
            single.append(leaf);
          }
          let at = start;
          for (const size of batches) {
            const batch = leaves.slice(at, at + size);
            batched.appendLeaves(batch);
            for (const leaf of batch) single.append(leaf);
            at += batch.length;
            assert.equal(batched.size, single.size);
            assert.deepEqual(batched.hashes(), single.hashes(), `after ${at} leaves`);
          }
          assert.deepEqual(batched.root(), single.root());
        }),
        { numRuns: 200 },
      );
    });

    it('captures watched nodes as appendPacked does', () => {
      const batched = CompactRange.empty();
      const single = CompactRange.empty();
      const nodes = [{ begin: 0, end: 4 }, { begin: 8, end: 16 }, { begin: 0, end: 32 }];
      const captured = batched.watch(nodes);
      const expected = single.watch(nodes);
      batched.appendLeaves(leaves.slice(0, 40));
      for (const leaf of leaves.slice(0, 40)) single.append(leaf);
      assert.deepEqual(captured, expected);
      assert.ok(captured.every((hash) => hash !== undefined));
      assert.deepEqual(batched.hashes(), single.hashes());
    });

    it('refuses a leaf that is not 32 bytes and appends none of the batch', () => {
      const range = CompactRange.empty();
      range.appendLeaves(leaves.slice(0, 5));
      assert.throws(() => range.appendLeaves([leaves[5]!, Buffer.alloc(31), leaves[6]!]), CompactRangeError);
      assert.equal(range.size, 5);
      assert.deepEqual(range.root(), rootOfLeaves(leaves.slice(0, 5)));
    });
  });

  describe('cross-checked against merkletreejs (an independent implementation)', () => {
    it('agrees on the root of random trees of every shape', () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 257 }), (entries) => {
          const leaves = entries.map((e) => leafHash(e));
          assert.deepEqual(rootOfLeaves(leaves), merkletreejsRoot(leaves));
        }),
        { numRuns: 150 },
      );
    });

    it('agrees on the published reference roots for sizes 1 to 8', () => {
      for (let size = 1; size <= 8; size++) assert.deepEqual(merkletreejsRoot(LEAVES.slice(0, size)), ROOTS[size], `size ${size}`);
    });

    it('is not RFC 6962 with complete: true, which balances trees differently from size 5 on', () => {
      const leaves = LEAVES.slice(0, 5);
      assert.notDeepEqual(merkletreejsRoot(leaves, { complete: true }), ROOTS[5]);
      assert.deepEqual(merkletreejsRoot(leaves), ROOTS[5]);
    });

    it('cannot cross-check the empty tree: merkletreejs gives an empty root where RFC 9162 gives SHA-256 of nothing', () => {
      assert.equal(merkletreejsRoot([]).length, 0);
      assert.deepEqual(rootOfLeaves([]), ROOTS[0]);
    });
  });
});
