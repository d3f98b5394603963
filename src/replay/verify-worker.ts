// Worker thread of parallel log verification (verify-parallel.ts): runs the order-independent
// content checks and leaf hashing over one batch of events and hands back the leaf hashes and,
// for each event the byte scan decided, where its chain fields lie in its bytes. It stops at the
// first event whose content fails; the main thread re-checks that event itself, so the divergence
// it reports is built exactly as the single-threaded verifier builds it. Start-up loads only the
// byte scan and the hasher: the text path (zod and the rest of verify-log) loads on the first
// event the scan leaves undecided.
import { parentPort } from 'node:worker_threads';
import { alignedBlocks, subtreeRoot } from '../integrity/compact-range.js';
import { HASH_SIZE, leafHashHex, leafHashPacked } from '../integrity/hasher.js';
import { recordFromCanonical } from '../store/recorded.js';
import { scanEnvelope, SCAN_ID, SCAN_PREV_HASH, SCAN_ROTATION, SCAN_SLOTS, SCAN_STREAM_END, SCAN_STREAM_START } from './envelope-scan.js';
import type { LogRangeReader, RangeRowAt } from '../store/sqlite/range-read.js';

/**
 * The shared memory of one batch in flight, reused batch after batch: the main thread copies the
 * events' bytes in, the worker writes leaf hashes and chain-field offsets back. Nothing is allocated
 * or transferred per batch on either side (per-batch buffers cost more in GC than the copy itself).
 */
export interface BatchSlot {
  /** Event k's canonical bytes are bytes[ends[k-1] ?? 0, ends[k]); replaced by a larger one when a batch does not fit. */
  bytes: SharedArrayBuffer;
  /** Uint32 per event. */
  ends: SharedArrayBuffer;
  /** Uint8 per event: 1 where the store decodes event k's envelope from its bytes (nothing to compare). */
  fromBytes: SharedArrayBuffer;
  /** Out: leaf hashes, HASH_SIZE bytes per event (also the input of the batch's subtrees). */
  leaves: SharedArrayBuffer;
  /**
   * Out: Float64 × SCAN_SLOTS per event: what `scanEnvelope` located in event k's bytes (offsets
   * into them, revision, flags), or NaN in its first slot where the text path checked it: the
   * main thread reads those fields from the envelope.
   */
  fields: SharedArrayBuffer;
  /** Out: the packed roots (32 bytes each) of the perfect subtrees the batch's leaf range splits into (`alignedBlocks`). */
  roots: SharedArrayBuffer;
  /**
   * Out, for batches the worker reads itself (`VerifyBatch.read`): per event a CHAIN_RECORD-byte
   * copy of its id, prevHash and stream as they appear in its bytes, and `fields` point into it.
   */
  chains?: SharedArrayBuffer;
}

/** A chain record: id (36 bytes), prevHash hex (64), stream name (at most STREAM_MAX: the Envelope schema's limit). */
export const CHAIN_PREV = 36;
export const CHAIN_STREAM = 100;
const STREAM_MAX = 200;
export const CHAIN_RECORD = CHAIN_STREAM + STREAM_MAX;

/** Room for the subtree roots of a batch of `events` events: a range splits into at most 2 log2(n) + 2 aligned parts. */
function rootSlots(events: number): number {
  return 2 * Math.ceil(Math.log2(events + 1)) + 2;
}

/** A slot for batches of up to `events` events and (to start with) `bytes` bytes. */
export function batchSlot(events: number, bytes: number): BatchSlot {
  return {
    bytes: new SharedArrayBuffer(bytes),
    ends: new SharedArrayBuffer(4 * events),
    fromBytes: new SharedArrayBuffer(events),
    leaves: new SharedArrayBuffer(HASH_SIZE * events),
    fields: new SharedArrayBuffer(8 * SCAN_SLOTS * events),
    roots: new SharedArrayBuffer(HASH_SIZE * rootSlots(events)),
  };
}

/** A slot for batches of up to `events` events a worker reads itself: no bytes travel, the chain records come back. */
export function readSlot(events: number): BatchSlot {
  return { ...batchSlot(events, 0), chains: new SharedArrayBuffer(CHAIN_RECORD * events) };
}

export interface VerifyBatch {
  seq: number;
  /**
   * A ledger file (SQLite) the worker reads the rows of positions [base, base + count) from itself
   * instead of the slot's bytes; it vouches only for the leading rows whose position is the next
   * leaf index, whose bytes the scan decides, that are no key rotation and whose recorded leaf hash
   * it recomputes.
   */
  read?: string;
  /** Leaf index of the batch's first event (names events in messages only). */
  base: number;
  count: number;
  /** Which of the worker's slots the batch is in (its position in the window of batches in flight). */
  slotKey: number;
  /**
   * The slot's shared memory, sent only when the worker does not hold it yet under `slotKey` (a new
   * slot, or one whose bytes grew): cloning SharedArrayBuffers per message cost the main thread a
   * third of its time. Otherwise the worker uses the one it kept.
   */
  slot?: BatchSlot;
  /** The store's envelopes where fromBytes is 0, by event; undefined when every envelope is from the bytes. */
  envelopes: unknown[] | undefined;
}

/** A stream's last event as the verified log's bytes have it: its revision and leaf hash (hex). */
export interface StreamHead {
  stream: string;
  revision: number;
  leafHash: string;
}

/**
 * Stream heads for a worker to look up in the ledger file `read` with the store's own stream read
 * (`READ_STREAM_SQL`): it answers, as `passed`, how many leading heads the read reaches — the
 * event at the head's revision has the head's leaf hash over its bytes.
 */
export interface HeadsBatch {
  seq: number;
  read: string;
  heads: StreamHead[];
}

export interface VerifiedBatch {
  seq: number;
  /** Number of leading events whose content checks passed (their results are in the slot); < count means event `passed` failed. */
  passed: number;
  /** Subtree roots written to the slot: those of every part of `alignedBlocks(base, base + count)`, or 0 (none: a failed batch). */
  blocks: number;
}

type ContentDivergence = typeof import('./verify-log.js').contentDivergence;
let textPath: ContentDivergence | undefined;

/** The slots this worker was sent, by key (at most one window of them). */
const slots = new Map<number, BatchSlot>();

export async function verifyBatch(batch: VerifyBatch): Promise<VerifiedBatch> {
  const { count } = batch;
  if (batch.slot !== undefined) slots.set(batch.slotKey, batch.slot);
  const slot = batch.slot ?? slots.get(batch.slotKey);
  if (slot === undefined) throw new Error(`verification worker: no slot ${batch.slotKey} was sent`);
  if (batch.read !== undefined) return readAndVerify(batch, slot, batch.read);
  const all = Buffer.from(slot.bytes);
  const ends = new Uint32Array(slot.ends, 0, count);
  const fromBytes = new Uint8Array(slot.fromBytes, 0, count);
  const leaves = Buffer.from(slot.leaves);
  const fields = new Float64Array(slot.fields, 0, count * SCAN_SLOTS);
  let start = 0;
  let passed = 0;
  for (; passed < count; passed++) {
    const end = ends[passed]!;
    const canonical = all.subarray(start, end);
    const decoded = fromBytes[passed] === 1;
    if (!decoded || !scanEnvelope(canonical, fields, passed * SCAN_SLOTS)) {
      fields[passed * SCAN_SLOTS + SCAN_ID] = NaN;
      textPath ??= (await import('./verify-log.js')).contentDivergence;
      // The text path may keep what it is given (a record adopts its parse): a private copy, not shared memory.
      const own = Buffer.from(canonical);
      const event = decoded ? recordFromCanonical(0, batch.base + passed, own, '') : { canonical: own, envelope: batch.envelopes?.[passed] };
      if (textPath(event, batch.base + passed) !== undefined) break;
    }
    leaves.write(leafHashPacked(canonical), passed * HASH_SIZE, HASH_SIZE, 'latin1');
    start = end;
  }
  return { seq: batch.seq, passed, blocks: passed === count ? writeSubtreeRoots(batch.base, count, leaves, slot.roots) : 0 };
}

/**
 * This worker's read-only connection to the ledger file: opened on `PREPARE` (while the main thread
 * still reads the ledger's checkpoints) or else on its first read batch. One promise, so batches
 * that arrive while it opens share one connection.
 */
let reader: { path: string; open: Promise<LogRangeReader> } | undefined;
/** The range reader's module (better-sqlite3), loaded with the first connection. */
let rangeRead: Promise<typeof import('../store/sqlite/range-read.js')>;
/** Where the row being checked lies in its range's block (`rangeRowAt` fills it). */
const row: RangeRowAt = { position: 0, hash: 0, hashLength: 0, canonical: 0, canonicalLength: 0 };

function readerOf(path: string): Promise<LogRangeReader> {
  if (reader?.path !== path) {
    const previous = reader?.open;
    rangeRead ??= import('../store/sqlite/range-read.js');
    reader = { path, open: (async () => {
      (await previous?.catch(() => undefined))?.close();
      return (await rangeRead).openLogRangeReader(path);
    })() };
  }
  return reader.open;
}

/**
 * A batch this worker reads itself. Anything it cannot decide alone (a gap, a row the scan leaves
 * to the text path, a key rotation, a recorded leaf hash that differs, a read error) ends what it
 * vouches for; the main thread reads and checks the rest of the batch itself.
 */
async function readAndVerify(batch: VerifyBatch, slot: BatchSlot, path: string): Promise<VerifiedBatch> {
  const { base, count } = batch;
  let block: Buffer | undefined;
  let rangeRowAt: typeof import('../store/sqlite/range-read.js').rangeRowAt;
  try {
    block = (await readerOf(path)).range(base, base + count);
    rangeRowAt = (await rangeRead).rangeRowAt;
  } catch {
    return { seq: batch.seq, passed: 0, blocks: 0 };
  }
  const leaves = Buffer.from(slot.leaves);
  const fields = new Float64Array(slot.fields, 0, count * SCAN_SLOTS);
  const chains = Buffer.from(slot.chains!);
  let passed = 0;
  for (let next = 0; block !== undefined && passed < count && rangeRowAt(block, next, row); passed++) {
    if (row.hashLength !== HASH_SIZE) break;
    next = row.canonical + row.canonicalLength;
    const canonical = block.subarray(row.canonical, next);
    const at = passed * SCAN_SLOTS;
    if (row.position !== base + passed || !scanEnvelope(canonical, fields, at) || fields[at + SCAN_ROTATION] === 1) break;
    const streamStart = fields[at + SCAN_STREAM_START]!;
    const streamLength = fields[at + SCAN_STREAM_END]! - streamStart;
    if (streamLength > STREAM_MAX) break;
    const leafAt = passed * HASH_SIZE;
    leaves.write(leafHashPacked(canonical), leafAt, HASH_SIZE, 'latin1');
    if (leaves.compare(block, row.hash, row.hash + HASH_SIZE, leafAt, leafAt + HASH_SIZE) !== 0) break;
    // The chain fields, copied out of the bytes as they are: the main thread reads them from here.
    const record = passed * CHAIN_RECORD;
    const id = fields[at + SCAN_ID]!;
    canonical.copy(chains, record, id, id + CHAIN_PREV);
    fields[at + SCAN_ID] = record;
    const prev = fields[at + SCAN_PREV_HASH]!;
    if (prev >= 0) {
      canonical.copy(chains, record + CHAIN_PREV, prev, prev + CHAIN_STREAM - CHAIN_PREV);
      fields[at + SCAN_PREV_HASH] = record + CHAIN_PREV;
    }
    canonical.copy(chains, record + CHAIN_STREAM, streamStart, streamStart + streamLength);
    fields[at + SCAN_STREAM_START] = record + CHAIN_STREAM;
    fields[at + SCAN_STREAM_END] = record + CHAIN_STREAM + streamLength;
  }
  return { seq: batch.seq, passed, blocks: passed === count ? writeSubtreeRoots(base, count, leaves, slot.roots) : 0 };
}

/** How many leading heads the store's stream read reaches in the file (none on a read error: the main thread checks those itself). */
async function checkHeads(batch: HeadsBatch): Promise<VerifiedBatch> {
  let passed = 0;
  try {
    const read = await readerOf(batch.read);
    for (const head of batch.heads) {
      const bytes = read.streamAt(head.stream, head.revision);
      if (bytes === undefined || leafHashHex(bytes) !== head.leafHash) break;
      passed++;
    }
  } catch {
    // what is not confirmed here is read again through the store
  }
  return { seq: batch.seq, passed, blocks: 0 };
}

/** The roots of the batch's aligned subtrees (its share of the tree) over its leaf hashes, into `roots`; how many. */
function writeSubtreeRoots(base: number, count: number, leaves: Buffer, roots: SharedArrayBuffer): number {
  const widths = alignedBlocks(base, base + count);
  if (widths.length * HASH_SIZE > roots.byteLength) return 0;
  const out = Buffer.from(roots);
  let at = 0;
  widths.forEach((width, b) => {
    out.write(subtreeRoot(leaves, at * HASH_SIZE, width), b * HASH_SIZE, HASH_SIZE, 'latin1');
    at += width;
  });
  return widths.length;
}

/** The `seq` of the message a worker sends once its modules are loaded and it can take batches. */
export const READY = -1;
/** The `seq` of a message (no reply) asking a worker to open its connection to the ledger file `read` ahead of its first range. */
export const PREPARE = -2;

parentPort?.on('message', (batch: VerifyBatch | HeadsBatch) => {
  if ('heads' in batch) {
    void checkHeads(batch).then((result) => parentPort!.postMessage(result));
    return;
  }
  if (batch.seq === PREPARE) {
    // A failure here is met again, and handled, by the first range read.
    if (batch.read !== undefined) readerOf(batch.read).catch(() => undefined);
    return;
  }
  void verifyBatch(batch).then((result) => parentPort!.postMessage(result));
});
parentPort?.postMessage({ seq: READY, passed: 0, blocks: 0 } satisfies VerifiedBatch);
