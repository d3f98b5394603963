// The whole-ledger check behind `runledger verify` and the public API's `verify()`: every hash,
// chain, root, signature and consistency proof recomputed from the raw events, and whether a signed
// checkpoint covers every recorded event ("anchored"). Nothing stored is trusted.
import { readLogPages } from '../ledger/read.js';
import { requireOrigin } from '../ledger/origin.js';
import type { EventStore } from '../store/port.js';
import { readRotationStatements } from './key-history.js';
import type { VerifyLogReport } from './verify-log.js';
import { defaultVerifyWorkers, verifyLogParallel, verifyRangesParallel, type VerifyPool } from './verify-parallel.js';

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
}

export interface LedgerVerificationOptions {
  /** Trusted verifier keys in signed-note vkey form. */
  verifierKeys: readonly string[];
  /** Worker threads for the per-event checks; 1 = single-threaded. Default: cores - 1. */
  workers?: number;
  /** Threads started beforehand (the CLI starts them while it opens the store); kept open afterwards. */
  pool?: VerifyPool;
  /** Called with the number of events checked so far. */
  onProgress?: (events: number) => void;
}

export async function verifyLedger(store: EventStore, options: LedgerVerificationOptions): Promise<LedgerVerification> {
  const parallel = options.pool !== undefined ? { pool: options.pool } : { workers: options.workers ?? defaultVerifyWorkers() };
  // A store with a file the workers can open lets them read their own rows: no bytes pass through this thread.
  const path = (options.pool?.size ?? parallel.workers ?? 1) > 1 ? store.rangeReadPath?.() : undefined;
  // Threads started beforehand open their connections while this thread reads the checkpoints and keys.
  if (path !== undefined) options.pool?.prepareRead(path);
  const origin = await requireOrigin(store);
  const rotations = await readRotationStatements(store);
  const checkpoints = await store.checkpoints();
  const tree = await store.treeState();
  const logOptions = { checkpoints, verifierKeys: options.verifierKeys, origin, rotations, ...(options.onProgress ? { onProgress: options.onProgress } : {}) };
  const report =
    path === undefined
      ? await verifyLogParallel(readLogPages(store), logOptions, parallel)
      : await verifyRangesParallel({ path, end: tree.size, readLog: (fromIndex, limit) => store.readLog({ fromIndex, limit }) }, logOptions, parallel);
  const pending = await store.unintegrated();
  // Anchored: every recorded event lies inside the latest checkpoint, which verifyLog checked.
  const signedSize = report.ok ? (checkpoints.at(-1)?.size ?? 0) : 0;
  // The events verified count, not only the size the store records for its tree (a row of its own on server stores).
  const unanchored = Math.max(tree.size, report.treeSize) + pending - signedSize;
  const anchored = report.ok && checkpoints.length > 0 && unanchored === 0;
  return { ...report, store: store.displayUrl, origin, pendingEvents: pending, anchored, anchoredEvents: signedSize, unanchoredEvents: report.ok ? unanchored : null, keyRotations: rotations.length };
}
