// The public front door (package `runledger`, docs/api.md): open a ledger by store URL and home,
// then append/read/subscribe, checkpoint, verify, prove, replay runs and log runs from user code.
// A thin object over the core: every write goes through the run-stream door (write rules), every
// "verified" is the full recomputation the CLI does.
import type { Observable } from 'rxjs';
import type { ProposedEvent } from '../../events/envelope.js';
import { guardedAppend } from '../governance/guarded-append.js';
import { createCheckpoint, type CheckpointOutcome } from '../ledger/checkpoint.js';
import { hasSigningKey, loadVerifierKey } from '../ledger/keys.js';
import { defaultActor, ledgerHome, ledgerStoreUrl } from '../ledger/location.js';
import { ensureOrigin, requireOrigin } from '../ledger/origin.js';
import { proveConsistency, proveInclusion, type ConsistencyProofReport, type InclusionProofReport } from '../ledger/proofs.js';
import { ensureLedgerSigner, loadLedgerSigner } from '../ledger/signer-state.js';
import { verifyLedger, type LedgerVerification } from '../replay/ledger-verification.js';
import { replayRun, type ReplayResult } from '../replay/replay.js';
import { logBatch, openRun, startRun, type RunApiContext, type RunBatch, type RunHandle, type StartRunOptions } from '../runs/run.js';
import { openLedgerStore } from '../store/open.js';
import type { AppendResult, EventStore, ExpectedRevision, ReadAllOptions, ReadStreamOptions, RecordedEvent, SubscribeOptions } from '../store/port.js';

export interface OpenLedgerOptions {
  /** The home directory holding the keys and artifacts; default RUNLEDGER_HOME, else `./.runledger`. */
  home?: string;
  /** Who the events' metadata names; default RUNLEDGER_ACTOR, else the OS user. */
  actor?: string;
  /** Create the store, its origin and the signing key when missing (as `runledger init`); default false. */
  create?: boolean;
}

export interface Ledger {
  /** The store URL with any password removed. */
  readonly url: string;
  readonly home: string;
  readonly actor: string;
  /** The store port itself, for what this object does not wrap. */
  readonly store: EventStore;
  /** The ledger's origin (the first line of its checkpoints). */
  origin(): Promise<string>;
  /** The home's verifier key (signed-note vkey form), to give to auditors. */
  verifierKey(): string;
  /** Appends events to one stream, all or nothing, through the write rules (plan and stage events are refused: use the run API). */
  append(stream: string, events: ProposedEvent[], options?: { expectedRevision?: ExpectedRevision }): Promise<AppendResult>;
  read(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Catches up from `after`, then goes live. */
  subscribe(options?: SubscribeOptions): Observable<RecordedEvent>;
  /** Integrates pending events and signs a checkpoint with the home's key. */
  checkpoint(): Promise<CheckpointOutcome>;
  /** Recomputes every hash, chain, root, signature and consistency proof; `anchored` says whether a signed checkpoint covers every event. */
  verify(options?: { verifierKeys?: string[]; workers?: number }): Promise<LedgerVerification>;
  /** RFC 9162 inclusion proof of leaf `index` (default size: the latest checkpoint's). */
  proveInclusion(index: number, size?: number, options?: { verifierKeys?: string[] }): Promise<InclusionProofReport>;
  /** RFC 9162 consistency proof between two tree sizes (default `to`: the latest checkpoint's). */
  proveConsistency(from: number, to?: number, options?: { verifierKeys?: string[] }): Promise<ConsistencyProofReport>;
  /** Full verification of one run against a signed checkpoint (what every "verified" means). */
  verifyRun(runId: string, options?: { verifierKeys?: string[] }): Promise<ReplayResult>;
  /** The run API (src/runs): start, open and batch-log runs signed by the home's worker key. */
  startRun(options: StartRunOptions): Promise<RunHandle>;
  openRun(runId: string): Promise<RunHandle>;
  logBatch(runId: string, batch: RunBatch): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the ledger at `url` (`sqlite:<path>`, `postgres://…`, `kurrentdb://…`; default the home's
 * embedded ledger). An embedded ledger that does not exist is an UnavailableError unless `create`.
 */
export async function openLedger(url?: string, options: OpenLedgerOptions = {}): Promise<Ledger> {
  const home = ledgerHome(options.home);
  const store = await openLedgerStore(ledgerStoreUrl(url, home), { create: options.create === true, missingHint: 'run "runledger init" first, or open it with { create: true }' });
  if (options.create) {
    const { origin } = await ensureOrigin(store);
    ensureLedgerSigner(home, origin);
  }
  const actor = options.actor ?? defaultActor();
  const ctx: RunApiContext = { store, home, actor };
  const keys = (given?: string[]): string[] => given ?? (hasSigningKey(home) ? [loadVerifierKey(home)] : []);
  return {
    url: store.displayUrl,
    home,
    actor,
    store,
    origin: () => requireOrigin(store),
    verifierKey: () => loadVerifierKey(home),
    append: (stream, events, opts = {}) =>
      guardedAppend(store, [{ stream, events: events.map((e) => ({ ...e, metadata: { actor, ...e.metadata } })), ...(opts.expectedRevision !== undefined ? { expectedRevision: opts.expectedRevision } : {}) }]),
    read: (stream, opts) => store.readStream(stream, opts),
    readAll: (opts) => store.readAll(opts),
    subscribe: (opts) => store.subscribe(opts),
    checkpoint: async () => createCheckpoint(store, loadLedgerSigner(home), await requireOrigin(store)),
    verify: (opts = {}) => verifyLedger(store, { verifierKeys: keys(opts.verifierKeys), ...(opts.workers !== undefined ? { workers: opts.workers } : {}) }),
    proveInclusion: async (index, size, opts = {}) => proveInclusion(store, { index, ...(size !== undefined ? { size } : {}), verifierKeys: keys(opts.verifierKeys), origin: await requireOrigin(store) }),
    proveConsistency: async (from, to, opts = {}) => (await proveConsistency(store, { from, ...(to !== undefined ? { to } : {}), verifierKeys: keys(opts.verifierKeys), origin: await requireOrigin(store) })).report,
    verifyRun: (runId, opts = {}) => replayRun(store, runId, { verifierKeys: keys(opts.verifierKeys) }),
    startRun: (opts) => startRun(ctx, opts),
    openRun: (runId) => openRun(ctx, runId),
    logBatch: (runId, batch) => logBatch(ctx, runId, batch),
    close: () => store.close(),
  };
}
