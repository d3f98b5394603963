// Worker thread of parallel log verification (verify-parallel.ts): runs the order-independent
// content checks and leaf hashing over one batch of events and hands back the leaf hashes and,
// for each event the byte scan decided, where its chain fields lie in its bytes. It stops at the
// first event whose content fails; the main thread re-checks that event itself, so the divergence
// it reports is built exactly as the single-threaded verifier builds it. Start-up loads only the
// byte scan and the hasher: the text path (zod and the rest of verify-log) loads on the first
// event the scan leaves undecided.
import { parentPort } from 'node:worker_threads';
import { HASH_SIZE, leafHashHex } from '../integrity/hasher.js';
import { recordFromCanonical } from '../store/recorded.js';
import { scanEnvelope, SCAN_ID, SCAN_SLOTS } from './envelope-scan.js';

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
  /** Leaf hashes of events [0, passed), 64 hex characters each (as latin1 bytes: no Buffer per leaf on either side). */
  leaves: ArrayBuffer;
  /** Number of leading events whose content checks passed; < batch length means event `passed` failed. */
  passed: number;
  /**
   * Float64Array of SCAN_SLOTS per event: what `scanEnvelope` located in event k's bytes (offsets
   * into them, revision, flags), or NaN in its first slot where the text path checked it: the
   * main thread reads those fields from the envelope.
   */
  fields: ArrayBuffer;
}

/** Bytes per leaf hash in `VerifiedBatch.leaves`. */
export const LEAF_HEX = 2 * HASH_SIZE;

type ContentDivergence = typeof import('./verify-log.js').contentDivergence;
let textPath: ContentDivergence | undefined;

export async function verifyBatch(batch: VerifyBatch): Promise<VerifiedBatch> {
  const count = batch.envelopes.length;
  const all = Buffer.from(batch.bytes);
  const leaves = Buffer.from(new ArrayBuffer(count * LEAF_HEX));
  const fields = new Float64Array(count * SCAN_SLOTS);
  let start = 0;
  let passed = 0;
  for (; passed < count; passed++) {
    const end = batch.ends[passed]!;
    const canonical = all.subarray(start, end);
    const fromBytes = batch.fromBytes[passed] === 1;
    if (!fromBytes || !scanEnvelope(canonical, fields, passed * SCAN_SLOTS)) {
      fields[passed * SCAN_SLOTS + SCAN_ID] = NaN;
      textPath ??= (await import('./verify-log.js')).contentDivergence;
      const event = fromBytes ? recordFromCanonical(0, batch.base + passed, canonical, '') : { canonical, envelope: batch.envelopes[passed] };
      if (textPath(event, batch.base + passed) !== undefined) break;
    }
    leaves.write(leafHashHex(canonical), passed * LEAF_HEX, LEAF_HEX, 'latin1');
    start = end;
  }
  return { seq: batch.seq, leaves: leaves.buffer as ArrayBuffer, passed, fields: fields.buffer };
}

parentPort?.on('message', (batch: VerifyBatch) => {
  void verifyBatch(batch).then((result) => parentPort!.postMessage(result, [result.leaves, result.fields]));
});
