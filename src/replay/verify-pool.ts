// The worker threads of parallel log verification, in a module of their own that loads nothing
// but the worker's message types: `runledger verify` starts them before it loads the verifier
// (zod, the checks, the store), so the threads' bootstrap overlaps the main thread's.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RecordedEvent } from '../store/port.js';
import { envelopeIsFromBytes } from '../store/recorded.js';
import { PREPARE, READY, type BatchSlot, type HeadsBatch, type StreamHead, type VerifiedBatch, type VerifyBatch } from './verify-worker.js';

/**
 * A worker's young generation, MiB. Everything a worker allocates per event dies young, so a small
 * nursery costs a few more scavenges and stops V8 from growing it (and the RSS with it) over a long
 * run; old generation and large objects (a big event on the text path) are not limited.
 */
const WORKER_YOUNG_MB = 6;

/**
 * The smallest tree that `verifyLedger` (and `runledger verify`, before it loads the verifier) starts worker threads for: below it one thread is as fast
 * or faster (docs/benchmarks.md, "Parallel verification", Round 7: measured on 2 cores, where
 * the threads' start-up and their extra CPU outweigh the split below ~N events).
 */
export const PARALLEL_FROM_EVENTS = 150_000;

/** Cores - 1 (the main thread keeps the ordered checks), at least 1. */
export function defaultVerifyWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
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
  /** Per worker, the batches it answered having checked at least one event. */
  private readonly checked: number[];
  /** The `seq`s of stream-head checks in flight (`confirmedHeads`). */
  private readonly headChecks = new Set<number>();

  constructor(count: number) {
    this.checked = Array.from({ length: count }, () => 0);
    this.workers = Array.from({ length: count }, (_, index) => {
      const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } });
      worker.on('message', (result: VerifiedBatch) => {
        if (result.seq === READY) {
          this.readyWorkers++;
          return;
        }
        // A head check is not a batch of the log: it does not make a thread count as used.
        if (!this.headChecks.delete(result.seq) && result.passed > 0) this.checked[index]!++;
        const waiter = this.waiting.get(result.seq);
        this.waiting.delete(result.seq);
        waiter?.resolve(result);
      });
      worker.on('error', (err) => this.failAll(err));
      worker.on('exit', (code) => {
        if (!this.closing) this.failAll(new Error(`a verification worker exited with code ${code}`));
      });
      return worker;
    });
    this.held = this.workers.map(() => []);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Per worker, the batches it has answered having checked events: compared before and after a verification, which threads it used. */
  checkedBatches(): readonly number[] {
    return [...this.checked];
  }

  /** Set once a worker failed: batches submitted afterwards fail at once instead of waiting on a dead thread. */
  private failure: Error | undefined;

  private failAll(err: Error): void {
    this.failure ??= err;
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
    return this.post({ seq: this.seq++, base, count: events.length, slotKey, envelopes }, slot);
  }

  /**
   * Has every worker open its read-only connection to the ledger file at `path` now, while the
   * caller reads the ledger's checkpoints and keys, instead of on its first range.
   */
  prepareRead(path: string): void {
    if (this.failure !== undefined) return;
    for (const worker of this.workers) worker.postMessage({ seq: PREPARE, read: path, base: 0, count: 0, slotKey: 0, envelopes: undefined } satisfies VerifyBatch);
  }

  /** Ships the range [base, base + count) of the ledger file at `path` for a worker to read itself, round-robin, in `slot`. */
  submitRead(path: string, base: number, count: number, slot: BatchSlot, slotKey: number): Promise<VerifiedBatch> | undefined {
    return this.post({ seq: this.seq++, read: path, base, count, slotKey, envelopes: undefined }, slot);
  }

  /**
   * Has the workers look up `heads` in the ledger file at `path` with the store's stream read, each
   * a contiguous share: how many leading heads it reaches (heads.length when all), so the caller
   * reads through the store only from the first one a worker did not confirm.
   */
  async confirmedHeads(path: string, heads: readonly StreamHead[]): Promise<number> {
    if (this.failure !== undefined) throw this.failure;
    const share = Math.ceil(heads.length / this.workers.length);
    const parts: { from: number; count: number; result: Promise<VerifiedBatch> }[] = [];
    for (let from = 0, w = 0; from < heads.length; from += share, w++) {
      const message: HeadsBatch = { seq: this.seq++, read: path, heads: heads.slice(from, from + share) };
      const result = new Promise<VerifiedBatch>((resolve, reject) => this.waiting.set(message.seq, { resolve, reject }));
      this.workers[w]!.postMessage(message);
      // A failure rejects every share; the one awaited reports it, the rest must not crash the process.
      result.catch(() => undefined);
      this.headChecks.add(message.seq);
      parts.push({ from, count: message.heads.length, result });
    }
    let confirmed = 0;
    for (const part of parts) {
      const { passed } = await part.result;
      confirmed = part.from + passed;
      if (passed < part.count) break;
    }
    return confirmed;
  }

  private post(batch: VerifyBatch, slot: BatchSlot): Promise<VerifiedBatch> | undefined {
    const { seq, slotKey } = batch;
    if (this.failure !== undefined) {
      const failed = Promise.reject(this.failure);
      failed.catch(() => undefined);
      return failed;
    }
    const held = this.held[this.next]!;
    const holds = held[slotKey]?.slot === slot && held[slotKey].bytes === slot.bytes;
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

  private closing = false;

  async close(): Promise<void> {
    this.closing = true;
    this.waiting.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
