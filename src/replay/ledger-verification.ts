// The whole-ledger check behind `runledger verify` and the public API's `verify()`: every hash,
// chain, root, signature and consistency proof recomputed from the raw events, and whether a signed
// checkpoint covers every recorded event ("anchored"). Nothing stored is trusted.
import { readLogPages } from '../ledger/read.js';
import { requireOrigin } from '../ledger/origin.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import { readRotationStatements } from './key-history.js';
import { leafHash } from '../integrity/hasher.js';
import type { Divergence, VerifyLogReport } from './verify-log.js';
import { defaultVerifyWorkers, verifyLogParallel, verifyRangesParallel, VerifyPool } from './verify-parallel.js';
import { checkpointCopies, checkWitnessPolicy, type WitnessPolicy, type WitnessVerdict } from '../witness/policy.js';
import { PARALLEL_FROM_EVENTS } from './verify-pool.js';
import type { StreamHead } from './verify-worker.js';

export { PARALLEL_FROM_EVENTS };

export interface LedgerVerification extends VerifyLogReport {
  store: string;
  origin: string;
  /** Events committed but not integrated into the tree yet. */
  pendingEvents: number;
  /** Verified, and every recorded event lies inside the latest signed checkpoint. */
  anchored: boolean;
  anchoredEvents: number;
  /** Events no signed checkpoint covers; null when verification failed. */
  unanchoredEvents: number | null;
  /** Ledger key rotations (LedgerKeyRotated) the verification followed. */
  keyRotations: number;
  /** The threads asked for and the threads that did the per-event checks; the rest of the report is the same either way. */
  workers: WorkersUsed;
  /**
   * With `witnesses`: the policy checked on the copies of the latest checkpoint this verification
   * checked (the same list, read once); absent when verification failed or no policy was given.
   */
  witnesses?: WitnessVerdict;
}

/**
 * `requested`: the worker count asked for (1: single-threaded). `used`: the worker threads that
 * checked events, or 1 when the main thread checked every event alone. `reason`: why `used` is
 * what it is — `as-requested`; `small-ledger`, the tree held fewer than `parallelFrom` events, where
 * starting threads costs more than they save; `no-worker-checked`, threads were started but the
 * main thread checked every event (none was ready in time, or none could read the store).
 */
export interface WorkersUsed {
  requested: number;
  used: number;
  reason: 'as-requested' | 'small-ledger' | 'no-worker-checked';
  parallelFrom: number;
}

export interface LedgerVerificationOptions {
  /** Trusted verifier keys in signed-note vkey form. */
  verifierKeys: readonly string[];
  /** Worker threads for the per-event checks; 1 = single-threaded. Default: cores - 1. */
  workers?: number;
  /** Threads started beforehand (the CLI starts them while it opens the store); kept open afterwards. */
  pool?: VerifyPool;
  /** Worker threads only for a tree of at least this many events (default PARALLEL_FROM_EVENTS; 0: always). */
  parallelFrom?: number;
  /** Called with the number of events checked so far. */
  onProgress?: (events: number) => void;
  /** K of N witness keys that must have cosigned the latest checkpoint (C2SP tlog-cosignature). */
  witnesses?: WitnessPolicy;
}

export async function verifyLedger(store: EventStore, options: LedgerVerificationOptions): Promise<LedgerVerification> {
  const requested = options.pool?.size ?? options.workers ?? defaultVerifyWorkers();
  if (!Number.isSafeInteger(requested) || requested < 1) throw new RangeError(`workers must be a positive integer, got ${requested}`);
  const parallelFrom = options.parallelFrom ?? PARALLEL_FROM_EVENTS;
  const origin = await requireOrigin(store);
  // Decided on the size before the checks start; the report's tree size is read after the checkpoints, as before.
  const small = requested > 1 && (await store.treeState()).size < parallelFrom;
  const pool = requested === 1 || small ? undefined : (options.pool ?? new VerifyPool(requested));
  try {
    // A store with a file the workers can open lets them read their own rows: no bytes pass through this thread.
    const path = pool !== undefined ? store.rangeReadPath?.() : undefined;
    // The threads open their connections while this thread reads the checkpoints and keys.
    if (path !== undefined) pool!.prepareRead(path);
    const before = pool?.checkedBatches();
    const rotations = await readRotationStatements(store);
    const checkpoints = await store.checkpoints();
    const tree = await store.treeState();
    const heads: StreamHead[] = [];
    const onStreamHead = (stream: string, revision: number, leafHash: string): void => void heads.push({ stream, revision, leafHash });
    const logOptions = { checkpoints, verifierKeys: options.verifierKeys, origin, rotations, onStreamHead, ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
    const parallel = pool !== undefined ? { pool } : { workers: 1 };
    const logged =
      path === undefined
        ? await verifyLogParallel(readLogPages(store), logOptions, parallel)
        : await verifyRangesParallel({ path, end: tree.size, readLog: (fromIndex, limit) => store.readLog({ fromIndex, limit }) }, logOptions, parallel);
    // With workers reading the file, they look the heads up first (each a share); this thread reads through the store from the first they do not confirm.
    const hidden = logged.ok ? await hiddenByIndex(store, heads, path !== undefined && heads.length > 0 ? await pool!.confirmedHeads(path, heads) : 0) : undefined;
    const report: VerifyLogReport = hidden === undefined ? logged : { ...logged, ok: false, firstDivergence: hidden };
    const used = pool === undefined ? 0 : pool.checkedBatches().filter((n, i) => n > before![i]!).length;
    const workers: WorkersUsed = { requested, used: Math.max(1, used), reason: small ? 'small-ledger' : requested > 1 && used === 0 ? 'no-worker-checked' : 'as-requested', parallelFrom };
    const pending = await store.unintegrated();
    // Anchored: every recorded event lies inside the latest checkpoint, which verifyLog checked.
    const signedSize = report.ok ? (checkpoints.at(-1)?.size ?? 0) : 0;
    // The events verified count, not only the size the store records for its tree (a row of its own on server stores).
    const unanchored = Math.max(tree.size, report.treeSize) + pending - signedSize;
    const anchored = report.ok && checkpoints.length > 0 && unanchored === 0;
    // The cosignatures are looked for on the checkpoints just verified, never on a second read of the
    // store: a checkpoint stored since (its ledger signature and root unchecked) must not be "witnessed".
    const latestSize = checkpoints.at(-1)?.size ?? null;
    const witnesses = options.witnesses && report.ok ? { witnesses: checkWitnessPolicy(checkpointCopies(checkpoints, latestSize), latestSize, options.witnesses) } : {};
    return { ...report, store: store.displayUrl, origin, pendingEvents: pending, anchored, anchoredEvents: signedSize, unanchoredEvents: report.ok ? unanchored : null, keyRotations: rotations.length, workers, ...witnesses };
  } finally {
    if (pool !== options.pool) await pool?.close();
  }
}

/**
 * The first stream whose read through the store's index does not reach its last event in the log:
 * a row whose stream or revision column was changed drops out of `readStream` (what replay, export
 * and the dashboard read a run by) with every verified byte intact. Later revisions are events not
 * integrated yet. One point read per stream, from head `from` on (the ones before it workers
 * confirmed with the same statement on the same file: `VerifyPool.confirmedHeads`).
 */
async function hiddenByIndex(store: EventStore, heads: readonly StreamHead[], from: number): Promise<Divergence | undefined> {
  for (const head of heads.slice(from)) {
    const [read] = await store.readStream(head.stream, { fromRevision: head.revision, limit: 1 });
    const found = read === undefined ? undefined : leafHash(read.canonical).toString('hex');
    if (found === head.leafHash) continue;
    const stream = `stream "${head.stream}"`;
    return {
      check: 'stream',
      stream: head.stream,
      revision: head.revision,
      expected: head.leafHash,
      actual: found ?? 'no event',
      message: `The log's last event of ${stream} is revision ${head.revision}, but the store's read of the stream from revision ${head.revision} ${
        read === undefined ? 'returns nothing' : `returns another event (${describeRead(read)})`
      }: the store's stream index hides events of ${stream}.`,
    };
  }
  return undefined;
}

/** What a stream read returned instead, for the message; its bytes may not be an event the log verified. */
function describeRead(event: RecordedEvent): string {
  try {
    return `stream "${event.envelope.stream}" revision ${event.envelope.revision} in its bytes`;
  } catch {
    return 'bytes that are not an envelope';
  }
}
