// Worker thread of parallel log verification (verify-parallel.ts): runs the order-independent
// content checks and leaf hashing over one batch of events and hands back the leaf hashes. It
// stops at the first event whose content fails; the main thread re-checks that event itself, so
// the divergence it reports is built exactly as the single-threaded verifier builds it.
import { parentPort } from 'node:worker_threads';
import { HASH_SIZE, leafHash } from '../integrity/hasher.js';
import { recordFromCanonical } from '../store/recorded.js';
import { contentDivergence } from './verify-log.js';

/** One batch: event k's canonical bytes are bytes[ends[k-1] ?? 0, ends[k]). */
export interface VerifyBatch {
  seq: number;
  /** Leaf index of the batch's first event (names events in messages only). */
  base: number;
  bytes: ArrayBuffer;
  ends: Uint32Array;
  envelopes: unknown[];
  /** 1 where the store decodes event k's envelope from its bytes (its envelopes[k] is null): nothing to compare. */
  fromBytes: Uint8Array;
}

export interface VerifiedBatch {
  seq: number;
  /** Leaf hashes of events [0, passed), 32 bytes each. */
  leaves: ArrayBuffer;
  /** Number of leading events whose content checks passed; < batch length means event `passed` failed. */
  passed: number;
}

export function verifyBatch(batch: VerifyBatch): VerifiedBatch {
  const count = batch.envelopes.length;
  const all = Buffer.from(batch.bytes);
  const leaves = new Uint8Array(new ArrayBuffer(count * HASH_SIZE));
  let start = 0;
  let passed = 0;
  for (; passed < count; passed++) {
    const end = batch.ends[passed]!;
    const canonical = all.subarray(start, end);
    const event = batch.fromBytes[passed] === 1 ? recordFromCanonical(0, batch.base + passed, canonical, '') : { canonical, envelope: batch.envelopes[passed] };
    if (contentDivergence(event, batch.base + passed) !== undefined) break;
    leaves.set(leafHash(canonical), passed * HASH_SIZE);
    start = end;
  }
  return { seq: batch.seq, leaves: leaves.buffer, passed };
}

parentPort?.on('message', (batch: VerifyBatch) => {
  const result = verifyBatch(batch);
  parentPort!.postMessage(result, [result.leaves]);
});
