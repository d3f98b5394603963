// The proof sources of replay, export and the dashboard: their proofs are RFC 9162's, for every leaf
// of every tree size, read from a real store; the bounded source's are the whole table's, exactly.
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeHash } from '../../src/integrity/hasher.js';
import { inclusionProof, verifyInclusion } from '../../src/integrity/proof.js';
import { BoundedTreeProofs, TreeProofs } from '../../src/replay/tree-proofs.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';

describe('replay/tree-proofs', () => {
  let dir: string;
  let store: EventStore;
  let leaves: Buffer[];
  const N = 37;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rl-tree-proofs-'));
    store = await openStore(`sqlite:${join(dir, 'ledger.db')}`);
    await store.init();
    await store.append('s', Array.from({ length: N }, (_, i) => ({ type: 'custom.sample', data: { i } })));
    leaves = (await store.leafHashes(0, N)).map((h) => Buffer.from(h, 'hex'));
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the RFC 9162 inclusion proof of every leaf in every tree size', async () => {
    for (let size = 1; size <= N; size++) {
      const proofs = await TreeProofs.read(store, size);
      for (let index = 0; index < size; index++) assert.deepEqual(proofs.proof(index), inclusionProof(index, size, leaves), `leaf ${index} of ${size}`);
    }
  });

  it('reads each stored leaf hash once, however many proofs it serves', async () => {
    let read = 0;
    const counting = { leafHashes: async (from: number, to: number) => ((read += to - from), store.leafHashes(from, to)) } as EventStore;
    const proofs = await TreeProofs.read(counting, N);
    for (let index = 0; index < N; index++) proofs.proof(index);
    assert.equal(read, N);
  });

  it('yields proofs that fail against the signed root when the store returns fewer leaf hashes than asked', async () => {
    const short = { leafHashes: async (from: number, to: number) => (await store.leafHashes(from, to)).slice(0, -1) } as EventStore;
    const proofs = await TreeProofs.read(short, N);
    assert.notDeepEqual(proofs.proof(0), inclusionProof(0, N, leaves));
    verifyInclusion(0, N, leaves[0]!, inclusionProof(0, N, leaves), rootOf(leaves));
    assert.throws(() => verifyInclusion(0, N, leaves[0]!, proofs.proof(0), rootOf(leaves)), /leads to root/);
  });

  it('bounded: gives the RFC 9162 inclusion proof of every leaf in every tree size, with chunks of 1 to 8 leaves', async () => {
    for (const height of [0, 1, 2, 3]) {
      for (let size = 1; size <= N; size++) {
        const proofs = await BoundedTreeProofs.read(store, size, height);
        for (let index = 0; index < size; index++) assert.deepEqual(await proofs.proof(index), inclusionProof(index, size, leaves), `leaf ${index} of ${size}, chunk height ${height}`);
      }
    }
  });

  it('bounded: equals the whole table for random sizes, chunk heights and sets of leaves, in leaf order and in any order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3000 }),
        fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
        fc.integer(),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        async (size, height, seed, picks, shuffled) => {
          const synthetic = syntheticStore(size, seed);
          const whole = await TreeProofs.read(synthetic, size);
          const bounded = await BoundedTreeProofs.read(synthetic, size, height);
          const indices = picks.map((p) => Math.floor(p * size));
          if (!shuffled) indices.sort((a, b) => a - b);
          // Compared after all were made: a proof stays what it was when the source moves to other chunks.
          const proofs: Buffer[][] = [];
          for (const index of indices) proofs.push(await bounded.proof(index));
          indices.forEach((index, i) => assert.deepEqual(proofs[i], whole.proof(index), `leaf ${index} of ${size}, chunk height ${height ?? 'default'}`));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('bounded: reads every leaf once for the top of the tree, then each chunk once per pass in leaf order', async () => {
    const size = 5000;
    const reads: [number, number][] = [];
    const synthetic = syntheticStore(size, 7);
    const counting = { leafHashes: async (from: number, to: number) => (reads.push([from, to]), synthetic.leafHashes(from, to)) } as EventStore;
    const proofs = await BoundedTreeProofs.read(counting, size);
    assert.equal(reads.reduce((n, [from, to]) => n + to - from, 0), size);
    reads.length = 0;
    for (let pass = 0; pass < 2; pass++) for (let index = 0; index < size; index += 3) await proofs.proof(index);
    // 1,024-leaf chunks: four full ones read in each of the two passes; the last, partial one is kept from the first read.
    assert.deepEqual(reads, [0, 1, 2, 3, 0, 1, 2, 3].map((c) => [c * 1024, (c + 1) * 1024]));
  });

  it('bounded: gives the right proofs to concurrent calls in different chunks', async () => {
    const size = 700;
    const synthetic = syntheticStore(size, 3);
    const whole = await TreeProofs.read(synthetic, size);
    // All calls start before any read answers, and the answers' continuations interleave as microtasks.
    const bounded = await BoundedTreeProofs.read(synthetic, size, 4);
    const indices = Array.from({ length: 60 }, (_, i) => (i * 37) % size);
    const proofs = await Promise.all(indices.map((index) => bounded.proof(index)));
    indices.forEach((index, i) => assert.deepEqual(proofs[i], whole.proof(index), `leaf ${index}`));
  });

  it('bounded: yields proofs that fail against the signed root when the store returns fewer leaf hashes than asked', async () => {
    const short = { leafHashes: async (from: number, to: number) => (await store.leafHashes(from, to)).slice(0, -1) } as EventStore;
    const proofs = await BoundedTreeProofs.read(short, N, 2);
    const proof = await proofs.proof(0);
    assert.notDeepEqual(proof, inclusionProof(0, N, leaves));
    assert.throws(() => verifyInclusion(0, N, leaves[0]!, proof, rootOf(leaves)), /leads to root/);
  });
});

/** A store of `size` leaf hashes derived from `seed` (only `leafHashes`, all a proof source reads). */
function syntheticStore(size: number, seed: number): EventStore {
  const leaf = (i: number): string => hash('sha256', `${seed}:${i}`, 'hex');
  return { leafHashes: async (from: number, to: number) => Array.from({ length: Math.max(0, Math.min(size, to) - from) }, (_, k) => leaf(from + k)) } as EventStore;
}

function rootOf(leaves: Buffer[]): Buffer {
  // MTH by the RFC 9162 §2.1.1 recursion, independent of TreeProofs.
  const mth = (l: Buffer[]): Buffer => {
    if (l.length === 1) return l[0]!;
    let k = 1;
    while (k * 2 < l.length) k *= 2;
    return nodeHash(mth(l.slice(0, k)), mth(l.slice(k)));
  };
  return mth(leaves);
}
