// Parallel log verification. The per-event work that does not depend on order (decode the stored
// bytes, RFC 8785 form check, Envelope schema, store envelope equality, leaf hash) runs in worker
// threads over batches of events; the main thread keeps everything order-dependent (dense leaf
// indices, recorded leaf hashes, per-stream chains, the compact range, checkpoints and consistency
// proofs) and feeds the single-threaded LogVerifier in strict leaf order. A worker only vouches
// for the events before the first one whose content fails; from there the main thread checks
// events itself, so every report, divergence message included, is the single-threaded one.
import type { RecordedEvent } from '../store/port.js';
import { LogVerifier, verifyLog, type VerifyLogOptions, type VerifyLogReport } from './verify-log.js';
import { defaultVerifyWorkers, VerifyPool } from './verify-pool.js';

export { defaultVerifyWorkers, VerifyPool };
import { chainFromScan, reusedChain, SCAN_SLOTS, type ChainFields } from './envelope-scan.js';
import { alignedBlocks } from '../integrity/compact-range.js';
import { HASH_SIZE, hexSpellsBytes } from '../integrity/hasher.js';
import { batchSlot, readSlot, type BatchSlot, type VerifiedBatch } from './verify-worker.js';

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


interface Pending {
  events: RecordedEvent[];
  /** Leaf index of its first event. */
  base: number;
  /** Where the worker's results are; undefined for a batch checked here. */
  slot?: BatchSlot;
  /** Undefined: the batch could not be shipped (non-Buffer bytes, uncloneable envelope) and is checked here. */
  result: Promise<VerifiedBatch> | undefined;
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
      // Batches end on multiples of batchEvents (whole subtrees); while no worker is ready, start-up chunks are checked here.
      const starting = checkWhileStarting && inFlight.length === 0 && (pool?.readyWorkers ?? 0) === 0;
      if (batch.length < (starting ? Math.min(STARTUP_CHUNK, batchEvents) : batchEvents - (dispatched % batchEvents)) && batchSize < batchBytes) continue;
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

/** A ledger whose rows worker threads read themselves (`EventStore.rangeReadPath`). */
export interface LogRanges {
  /** The file each worker opens read-only. */
  path: string;
  /** Leaf indices [0, end) are read in ranges by the workers (a hint: the tree size when verification starts); the main thread reads on from there. */
  end: number;
  /** The main thread's own read (`EventStore.readLog`): its fallback, and everything past `end`. */
  readLog(fromIndex: number, limit: number): Promise<readonly RecordedEvent[]>;
}

/** Stand-ins for events a worker read and vouched for: the verifier reads only their index and (the worker's own) leaf hash. */
interface Vouched {
  index: number;
  leafHash: string;
}

/**
 * `verifyLogParallel` where the workers read their rows from the ledger file themselves: the main
 * thread hands out position ranges and gets back only leaf hashes, chain fields and subtree roots,
 * and runs the ordered checks. From the first event a worker did not vouch for, the main thread
 * reads and checks the rest of that range itself; once the verifier is not where the next range
 * starts (a gap or a shorter log), or past `end`, it reads on by itself to the end of the log as
 * `verifyLog(readLogPages(store))` does. The report is the single-threaded one.
 */
export async function verifyRangesParallel(ranges: LogRanges, options: VerifyLogOptions, parallel: ParallelOptions = {}): Promise<VerifyLogReport> {
  const workers = parallel.pool?.size ?? parallel.workers ?? defaultVerifyWorkers();
  if (!Number.isSafeInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${workers}`);
  const verifier = new LogVerifier(options);
  const batchEvents = Math.max(1, parallel.batchEvents ?? 1024);
  const window = 2 * workers;
  const end = Math.max(0, Math.floor(ranges.end));
  /** Reads [from, from + limit) (or what the log has there) and checks it here; false once diverged. */
  const checkHere = async (from: number, limit: number): Promise<boolean> => {
    for (const event of await ranges.readLog(from, limit)) if (!verifier.push(event)) return false;
    return true;
  };
  const pool = workers === 1 || end === 0 ? undefined : (parallel.pool ?? new VerifyPool(workers));
  if (pool !== undefined && pool !== parallel.pool) pool.prepareRead(ranges.path);
  try {
    if (pool !== undefined) {
      const slots: BatchSlot[] = [];
      const vouched: Vouched[] = Array.from({ length: batchEvents }, () => ({ index: 0, leafHash: '' }));
      const inFlight: { base: number; count: number; slot: BatchSlot; result: Promise<VerifiedBatch> | undefined }[] = [];
      const checkWhileStarting = parallel.checkWhileStarting ?? true;
      let next = 0;
      let batches = 0;
      for (;;) {
        if (verifier.failed) break;
        if (inFlight.length === 0 && next < end && checkWhileStarting && pool.readyWorkers === 0) {
          // Workers still loading: check a short chunk here rather than wait, then let their messages
          // in, so the first worker ready gets the next ranges at once instead of idling behind a whole range.
          const count = Math.min(STARTUP_CHUNK, batchEvents, end - next);
          parallel.onBatch?.('main', count);
          if (!(await checkHere(next, count))) break;
          next += count;
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        while (inFlight.length < window && next < end) {
          const key = batches++ % window;
          const slot = (slots[key] ??= readSlot(batchEvents));
          // Ranges end on multiples of batchEvents (the first after the start-up chunks is shorter): whole subtrees for the workers.
          const count = Math.min(batchEvents - (next % batchEvents), end - next);
          inFlight.push({ base: next, count, slot, result: pool.submitRead(ranges.path, next, count, slot, key) });
          next += count;
        }
        const pending = inFlight.shift();
        if (pending === undefined) break;
        // The verifier stopped short of this range (a gap, or rows missing): the rest is read here.
        if (verifier.treeSize !== pending.base) break;
        const result = pending.result === undefined ? undefined : await pending.result;
        parallel.onBatch?.(result === undefined || result.passed < pending.count ? 'main' : 'worker', pending.count);
        const passed = result?.passed ?? 0;
        if (passed > 0 && !applyVouched(verifier, pending.base, passed, pending.slot, result!.blocks > 0 && passed === pending.count, vouched)) break;
        if (passed < pending.count && !(await checkHere(pending.base + passed, pending.count - passed))) break;
        if (verifier.treeSize !== pending.base + pending.count) break;
      }
    }
    // Past the ranges (or after a short one): on to the end of the log, here, as readLogPages reads it.
    for (;;) {
      if (verifier.failed) break;
      const from = verifier.treeSize;
      const page = await ranges.readLog(from, PAGE);
      if (page.length === 0) break;
      for (const event of page) if (!verifier.push(event)) break;
      if (verifier.treeSize === from) break;
    }
  } finally {
    if (pool !== parallel.pool) await pool?.close();
  }
  return verifier.finish();
}

/** Pages the main thread reads by itself past the workers' ranges (readLogPages' page). */
const PAGE = 5_000;

/** Events the main thread checks at a time while no worker has started (it looks for a ready one between chunks). */
const STARTUP_CHUNK = 256;

/** Feeds the `passed` events a worker read and vouched for to the verifier in leaf order; false once diverged. */
function applyVouched(verifier: LogVerifier, base: number, passed: number, slot: BatchSlot, whole: boolean, vouched: Vouched[]): boolean {
  const leaves = Buffer.from(slot.leaves);
  const fields = new Float64Array(slot.fields);
  const chains = Buffer.from(slot.chains!);
  const events = vouched as unknown as RecordedEvent[];
  for (let k = 0; k < passed; k++) {
    const v = vouched[k]!;
    v.index = base + k;
    // Packed (HashText): the worker compared it with the recorded hash already.
    v.leafHash = leaves.toString('latin1', k * HASH_SIZE, (k + 1) * HASH_SIZE);
  }
  const leafOf = (k: number): string => vouched[k]!.leafHash;
  const chainOf = (k: number): ChainFields | undefined => chainFromScan(chains, fields, k * SCAN_SLOTS, workerChain);
  if (!whole) {
    for (let k = 0; k < passed; k++) if (!verifier.pushChecked(events[k]!, leafOf(k), chainOf(k))) return false;
    return true;
  }
  const roots = Buffer.from(slot.roots);
  let from = 0;
  const widths = alignedBlocks(base, base + passed);
  for (let b = 0; b < widths.length; b++) {
    const width = widths[b]!;
    const at = from;
    if (verifier.takesBlock(width)) {
      if (!verifier.pushCheckedBlock(events.slice(at, at + width), (k) => leafOf(at + k), (k) => chainOf(at + k), roots.toString('latin1', b * HASH_SIZE, (b + 1) * HASH_SIZE))) return false;
    } else {
      for (let k = at; k < at + width; k++) if (!verifier.pushChecked(events[k]!, leafOf(k), chainOf(k))) return false;
    }
    from += width;
  }
  return true;
}
