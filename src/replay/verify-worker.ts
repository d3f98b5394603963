// Worker thread of parallel log verification (verify-parallel.ts): runs the order-independent
// content checks and leaf hashing over one batch of events and hands back the leaf hashes. It
// stops at the first event whose content fails; the main thread re-checks that event itself, so
// the divergence it reports is built exactly as the single-threaded verifier builds it.
import { parentPort } from 'node:worker_threads';
import type { Envelope } from '../../events/envelope.js';
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
  /**
   * JSON of, per passed event, [id, stream, revision, prevHash] for events marked `fromBytes` (else
   * null): what the ordered checks read, so the main thread need not decode those envelopes again.
   */
  chain: string;
}

/** The envelope fields the ordered checks read. */
export type ChainFields = [id: string, stream: string, revision: number, prevHash: string | null];

export function verifyBatch(batch: VerifyBatch): VerifiedBatch {
  const count = batch.envelopes.length;
  const all = Buffer.from(batch.bytes);
  const leaves = new Uint8Array(new ArrayBuffer(count * HASH_SIZE));
  let start = 0;
  let passed = 0;
  const chain: (ChainFields | null)[] = [];
  for (; passed < count; passed++) {
    const end = batch.ends[passed]!;
    const canonical = all.subarray(start, end);
    const event = batch.fromBytes[passed] === 1 ? recordFromCanonical(0, batch.base + passed, canonical, '') : { canonical, envelope: batch.envelopes[passed] };
    if (contentDivergence(event, batch.base + passed) !== undefined) break;
    if (batch.fromBytes[passed] === 1) {
      const env = event.envelope as Envelope;
      chain.push([env.id, env.stream, env.revision, env.prevHash]);
    } else chain.push(null);
    leaves.set(leafHash(canonical), passed * HASH_SIZE);
    start = end;
  }
  return { seq: batch.seq, leaves: leaves.buffer, passed, chain: JSON.stringify(chain) };
}

parentPort?.on('message', (batch: VerifyBatch) => {
  const result = verifyBatch(batch);
  parentPort!.postMessage(result, [result.leaves]);
});
