// The shared proof source of replay and the dashboard: its proofs are RFC 9162's, for every leaf of
// every tree size, read from a real store.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeHash } from '../../src/integrity/hasher.js';
import { inclusionProof, verifyInclusion } from '../../src/integrity/proof.js';
import { TreeProofs } from '../../src/replay/tree-proofs.js';
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
});

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
