// Parallel log verification. The per-event work that does not depend on order (decode the stored
// bytes, RFC 8785 form check, Envelope schema, store envelope equality, leaf hash) runs in worker
// threads over batches of events; the main thread keeps everything order-dependent (dense leaf
// indices, recorded leaf hashes, per-stream chains, the compact range, checkpoints and consistency
// proofs) and feeds the single-threaded LogVerifier in strict leaf order. A worker only vouches
// for the events before the first one whose content fails; from there the main thread checks
// events itself, so every report, divergence message included, is the single-threaded one.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RecordedEvent } from '../store/port.js';
import { LogVerifier, verifyLog, type VerifyLogOptions, type VerifyLogReport } from './verify-log.js';
import { envelopeIsFromBytes } from '../store/recorded.js';
import { chainFromScan, reusedChain, SCAN_SLOTS, type ChainFields } from './envelope-scan.js';
import { alignedBlocks } from '../integrity/compact-range.js';
import { HASH_SIZE, hexSpellsBytes } from '../integrity/hasher.js';
import { batchSlot, READY, type BatchSlot, type VerifiedBatch, type VerifyBatch } from './verify-worker.js';

export interface ParallelOptions {
  /** Worker threads; 1 runs the single-threaded verifier. Default: available cores - 1, at least 1. */
  workers?: number;
  /** Threads to use instead of starting `workers` new ones (kept open afterwards): saves their start-up across many logs. */
  pool?: VerifyPool;
  /** Events per batch sent to a worker (default 1024). */
  batchEvents?: number;
  /** A batch is also sent once its canonical bytes reach this size (default 1 MiB). */
  batchBytes?: number;
  /**
   * While no worker has started yet (a fresh pool), the main thread checks the batches itself
   * instead of waiting, the single-threaded path (default true; tests that need every batch in a
   * worker turn it off).
   */
  checkWhileStarting?: boolean;
  /** Called as each batch is applied, with where its content checks ran (for progress and tests). */
  onBatch?: (checkedIn: 'worker' | 'main', events: number) => void;
}

/**
 * A worker's young generation, MiB. Everything a worker allocates per event dies young, so a small
 * nursery costs a few more scavenges and stops V8 from growing it (and the RSS with it) over a long
 * run; old generation and large objects (a big event on the text path) are not limited.
 */
const WORKER_YOUNG_MB = 6;

/** Cores - 1 (the main thread keeps the ordered checks), at least 1. */
export function defaultVerifyWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

interface Pending {
  events: RecordedEvent[];
  /** Leaf index of its first event. */
  base: number;
  /** Where the worker's results are; undefined for a batch checked here. */
  slot?: BatchSlot;
  /** Undefined: the batch could not be shipped (non-Buffer bytes, uncloneable envelope) and is checked here. */
  result: Promise<VerifiedBatch> | undefined;
}

/** Worker threads for `verifyLogParallel`; close it when done. */
export class VerifyPool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (r: VerifiedBatch) => void; reject: (e: Error) => void }>();
  /** Per worker, by slot key: the slot and the bytes buffer it holds (so each is sent once). */
  private readonly held: { slot: BatchSlot; bytes: SharedArrayBuffer }[][];
  private next = 0;
  private seq = 0;
  /** Workers that have loaded their modules and take batches. */
  readyWorkers = 0;

  constructor(count: number) {
    this.workers = Array.from({ length: count }, () => {
      const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
      worker.on('message', (result: VerifiedBatch) => {
        if (result.seq === READY) {
          this.readyWorkers++;
          return;
        }
        const waiter = this.waiting.get(result.seq);
        this.waiting.delete(result.seq);
        waiter?.resolve(result);
      });
      worker.on('error', (err) => this.failAll(err));
      worker.on('exit', (code) => {
        if (this.waiting.size > 0) this.failAll(new Error(`a verification worker exited with code ${code}`));
      });
      return worker;
    });
    this.held = this.workers.map(() => []);
  }

  get size(): number {
    return this.workers.length;
  }

  private failAll(err: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }

  /** Ships a batch round-robin in `slot`, known as `slotKey` (which must not be in flight); undefined when it cannot be shipped as is. */
  submit(events: RecordedEvent[], base: number, slot: BatchSlot, slotKey: number): Promise<VerifiedBatch> | undefined {
    let total = 0;
    for (const event of events) {
      if (!Buffer.isBuffer(event.canonical)) return undefined;
      total += event.canonical.length;
    }
    if (total > slot.bytes.byteLength) slot.bytes = new SharedArrayBuffer(Math.max(total, 2 * slot.bytes.byteLength));
    const view = Buffer.from(slot.bytes);
    const ends = new Uint32Array(slot.ends, 0, events.length);
    // An envelope the store decodes from these bytes on demand is not decoded (nor cloned) here: the worker scans the bytes.
    const fromBytes = new Uint8Array(slot.fromBytes, 0, events.length);
    let envelopes: unknown[] | undefined;
    let at = 0;
    for (let k = 0; k < events.length; k++) {
      const event = events[k]!;
      view.set(event.canonical, at);
      at += event.canonical.length;
      ends[k] = at;
      const decoded = envelopeIsFromBytes(event);
      fromBytes[k] = decoded ? 1 : 0;
      if (!decoded) (envelopes ??= new Array<unknown>(events.length))[k] = event.envelope;
    }
    const seq = this.seq++;
    const held = this.held[this.next]!;
    const holds = held[slotKey]?.slot === slot && held[slotKey].bytes === slot.bytes;
    const batch: VerifyBatch = { seq, base, count: events.length, slotKey, envelopes };
    if (!holds) batch.slot = slot;
    const worker = this.workers[this.next]!;
    try {
      worker.postMessage(batch);
    } catch {
      return undefined; // DataCloneError: an envelope that is not plain data
    }
    if (!holds) held[slotKey] = { slot, bytes: slot.bytes };
    this.next = (this.next + 1) % this.workers.length;
    const result = new Promise<VerifiedBatch>((resolve, reject) => this.waiting.set(seq, { resolve, reject }));
    // A worker failure rejects every batch in flight; the one awaited reports it, the rest must not crash the process.
    result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    this.waiting.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * The leaf hash a worker wrote for event k: the recorded hash itself when it spells those 32 bytes
 * (compared in place, no string made per event), else the worker's hash in hex as a new string
 * (and the verifier reports the difference).
 */
function workerLeaf(leaves: Buffer, k: number, recorded: unknown): string {
  const at = k * HASH_SIZE;
  if (hexSpellsBytes(recorded, leaves, at)) return recorded as string;
  return leaves.toString('hex', at, at + HASH_SIZE);
}

/** The chain fields of the event being applied: the verifier is done with them before the next one. */
const workerChain = reusedChain();

/** Feeds one batch to the verifier in leaf order; false once a divergence has been found. */
function apply(verifier: LogVerifier, events: readonly RecordedEvent[], base: number, slot: BatchSlot | undefined, result: VerifiedBatch | undefined): boolean {
  const passed = result === undefined || slot === undefined ? 0 : result.passed;
  const leaves = slot === undefined ? undefined : Buffer.from(slot.leaves);
  const fields = slot === undefined ? undefined : new Float64Array(slot.fields);
  if (passed === events.length && result!.blocks > 0) return applyBlocks(verifier, events, base, leaves!, fields!, Buffer.from(slot!.roots));
  for (let k = 0; k < events.length; k++) {
    const event = events[k]!;
    // The worker scanned a copy of these very bytes: the fields lie at the same offsets here.
    const ok = k < passed ? verifier.pushChecked(event, workerLeaf(leaves!, k, event.leafHash), chainFromScan(event.canonical, fields!, k * SCAN_SLOTS, workerChain)) : verifier.push(event);
    if (!ok) return false;
  }
  return true;
}

/**
 * A batch whose every event a worker vouched for, with the roots of its aligned subtrees: the tree
 * takes each subtree's root where no checkpoint falls inside it, else its leaves one by one.
 */
function applyBlocks(verifier: LogVerifier, events: readonly RecordedEvent[], base: number, leaves: Buffer, fields: Float64Array, roots: Buffer): boolean {
  let from = 0;
  const widths = alignedBlocks(base, base + events.length);
  for (let b = 0; b < widths.length; b++) {
    const width = widths[b]!;
    const at = from;
    const leafHex = (k: number): string => workerLeaf(leaves, at + k, events[at + k]!.leafHash);
    const chain = (k: number): ChainFields | undefined => chainFromScan(events[at + k]!.canonical, fields, (at + k) * SCAN_SLOTS, workerChain);
    if (verifier.takesBlock(width)) {
      if (!verifier.pushCheckedBlock(events.slice(at, at + width), leafHex, chain, roots.toString('latin1', b * HASH_SIZE, (b + 1) * HASH_SIZE))) return false;
    } else {
      for (let k = 0; k < width; k++) if (!verifier.pushChecked(events[at + k]!, leafHex(k), chain(k))) return false;
    }
    from += width;
  }
  return true;
}

/**
 * Verifies a log with `workers` threads; the report is identical to `verifyLog`'s for the same
 * input. Events are read ahead by up to two batches per worker.
 */
export async function verifyLogParallel(
  events: Iterable<RecordedEvent> | AsyncIterable<RecordedEvent>,
  options: VerifyLogOptions,
  parallel: ParallelOptions = {},
): Promise<VerifyLogReport> {
  const workers = parallel.pool?.size ?? parallel.workers ?? defaultVerifyWorkers();
  if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  if (workers === 1) return verifyLog(events, options);
  const batchEvents = Math.max(1, parallel.batchEvents ?? 1024);
  const batchBytes = Math.max(1, parallel.batchBytes ?? 1 << 20);
  const window = 2 * workers;

  const verifier = new LogVerifier(options);
  let pool: VerifyPool | undefined = parallel.pool;
  const inFlight: Pending[] = [];
  let batch: RecordedEvent[] = [];
  let batchSize = 0;
  let dispatched = 0;
  // At most `window` batches are in flight, the last ones dispatched: slot d % window is free at dispatch d.
  const slots: BatchSlot[] = [];
  let batches = 0;
  const dispatch = (): void => {
    pool ??= new VerifyPool(workers);
    const key = batches++ % window;
    const slot = (slots[key] ??= batchSlot(batchEvents, batchBytes + (batchBytes >> 2)));
    inFlight.push({ events: batch, base: dispatched, slot, result: pool.submit(batch, dispatched, slot, key) });
    dispatched += batch.length;
    batch = [];
    batchSize = 0;
  };
  const checkWhileStarting = parallel.checkWhileStarting ?? true;
  /** No worker has loaded yet and none has a batch: the main thread would only wait. */
  const startingUp = (): boolean => {
    if (!checkWhileStarting || inFlight.length > 0) return false;
    pool ??= new VerifyPool(workers);
    return pool.readyWorkers === 0;
  };
  /** Applies the oldest batch in flight; false once verification has diverged. */
  const drainOne = async (): Promise<boolean> => {
    const pending = inFlight.shift()!;
    parallel.onBatch?.(pending.result === undefined ? 'main' : 'worker', pending.events.length);
    return apply(verifier, pending.events, pending.base, pending.slot, pending.result === undefined ? undefined : await pending.result);
  };

  // Only a failure of the source is weighed against divergences found so far; a failure of the
  // verifier or of a worker propagates, as it does single-threaded.
  const source = Symbol.asyncIterator in events ? events[Symbol.asyncIterator]() : events[Symbol.iterator]();
  let diverged = false;
  let done = false;
  try {
    for (;;) {
      let step: IteratorResult<RecordedEvent>;
      try {
        step = await source.next();
      } catch (err) {
        done = true; // a source that threw is finished
        // The single-threaded verifier would have stopped at a divergence before reading this far.
        if (batch.length > 0) inFlight.push({ events: batch, base: dispatched, result: undefined });
        batch = [];
        while (inFlight.length > 0 && !diverged) diverged = !(await drainOne());
        if (!diverged) throw err;
        break;
      }
      if (step.done === true) {
        done = true;
        break;
      }
      const event = step.value;
      batch.push(event);
      batchSize += Buffer.isBuffer(event.canonical) ? event.canonical.length : 0;
      if (batch.length < batchEvents && batchSize < batchBytes) continue;
      if (startingUp()) {
        // Workers still loading: check this batch here rather than wait, then let their messages in.
        inFlight.push({ events: batch, base: dispatched, result: undefined });
        dispatched += batch.length;
        batch = [];
        batchSize = 0;
        diverged = !(await drainOne());
        await new Promise<void>((resolve) => setImmediate(resolve));
      } else dispatch();
      while (inFlight.length >= window && !diverged) diverged = !(await drainOne());
      if (diverged) break;
    }
    if (!diverged) {
      // A log shorter than one batch is not worth starting a thread for.
      if (batch.length > 0) {
        if (pool === undefined) inFlight.push({ events: batch, base: dispatched, result: undefined });
        else dispatch();
      }
      while (inFlight.length > 0 && !diverged) diverged = !(await drainOne());
    }
  } finally {
    // Close the source as `for await … break` would, then stop the threads.
    if (!done) await source.return?.();
    if (pool !== parallel.pool) await pool?.close();
  }
  return verifier.finish();
}
