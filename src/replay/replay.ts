// Online replay: gathers a run's evidence from a store — its events, their leaf indices, RFC 9162
// inclusion proofs under the latest signed checkpoint — and hands it to the run verifier. Optionally
// runs the whole-log verifier first (verify-log.ts) so every byte of the ledger is checked too.
import { InputError } from '../errors.js';
import { openCheckpoint } from '../integrity/checkpoint.js';
import { NoteError, type NoteVerifier } from '../integrity/note.js';
import { keyHistory, KeyHistoryError, readRotationStatements } from './key-history.js';
import { PAGE_SIZE, readLogPages, readStreamPages } from '../ledger/read.js';
import { requireOrigin } from '../ledger/origin.js';
import { checkRunId, runStream } from '../governance/run-stream.js';
import type { EventStore, RecordedEvent, StoredCheckpoint } from '../store/port.js';
import { runledgerVersion } from '../version.js';
import { buildManifest, type ReplayManifest } from './manifest.js';
import { BoundedTreeProofs, type ProofSource } from './tree-proofs.js';
import { verifyLog } from './verify-log.js';
import { runVerifier, verifyRun, type EventEvidence, type RunDivergence, type RunVerification, type TrustedCheckpoint } from './verify-run.js';

export interface ReplayOptions {
  /** Trusted verifier keys (C2SP vkey text). */
  verifierKeys: readonly string[];
  /** Also verify the whole log (every event, every checkpoint) before the run. */
  fullLog?: boolean;
  /** Called as evidence is gathered: `done` of `total` events (the whole log first, with fullLog). */
  onProgress?: (done: number, total: number) => void;
  /** Proofs for the tree of the checkpoint's size, shared by many replays (the dashboard); default: read for this replay, in bounded memory. */
  proofs?: (size: number) => Promise<ProofSource>;
  /**
   * Streaming: read the run in pages and hand each event's evidence here as it is verified, instead
   * of returning it in `evidence` (then empty), so memory does not grow with the run (export).
   */
  onEvidence?: (evidence: EventEvidence) => void;
  /**
   * Without `fullLog`: read the log's bytes after the run's last event for later events of its
   * stream that the store's stream read did not return (default true). Off only for callers that
   * judge the replay against a projection of the log themselves (`checkLoggedEvents`: the dashboard, the gates).
   */
  checkTail?: boolean;
}

export interface ReplayResult {
  runId: string;
  ok: boolean;
  verification: RunVerification | null;
  checkpoint: TrustedCheckpoint | null;
  evidence: EventEvidence[];
  manifest: ReplayManifest | null;
  firstDivergence?: RunDivergence;
}

/** Replays a run against the store. Throws InputError when the run does not exist. */
export async function replayRun(store: EventStore, runId: string, options: ReplayOptions): Promise<ReplayResult> {
  checkRunId(runId);
  const stream = runStream(runId);
  const streaming = options.onEvidence !== undefined;
  const events = await store.readStream(stream, streaming ? { limit: 1 } : {});
  if (events.length === 0) throw new InputError(`run ${runId} has no events in this ledger (stream "${stream}" is empty)`, { stream });
  const fail = (firstDivergence: RunDivergence, checkpoint: TrustedCheckpoint | null = null): ReplayResult => ({
    runId,
    ok: false,
    verification: null,
    checkpoint,
    evidence: [],
    manifest: null,
    firstDivergence,
  });

  const checkpoints = await store.checkpoints();
  const latest = checkpoints[checkpoints.length - 1];
  if (latest === undefined) {
    return fail({ check: 'checkpoint', stream, message: 'The ledger has no signed checkpoint: run `runledger checkpoint` first.' });
  }
  const trusted = await openLatestCheckpoint(store, checkpoints, options.verifierKeys);
  if ('check' in trusted) return fail({ ...trusted, stream });

  /** With the whole log verified: how many events of the run's stream its bytes hold. */
  let logged: number | undefined;
  if (options.fullLog) {
    const total = latest.size;
    const log = await verifyLog(readLogPages(store), {
      onStreamHead: (name: string, revision: number) => {
        if (name === stream) logged = revision + 1;
      },
      checkpoints,
      verifierKeys: options.verifierKeys,
      origin: trusted.origin,
      rotations: await readRotationStatements(store),
      ...(options.onProgress ? { onProgress: (done: number) => options.onProgress?.(done, total) } : {}),
    });
    if (!log.ok && log.firstDivergence) {
      const d = log.firstDivergence;
      return fail(
        {
          check: 'log',
          message: d.message,
          ...(d.stream !== undefined ? { stream: d.stream } : {}),
          ...(d.revision !== undefined ? { revision: d.revision } : {}),
          ...(d.eventId !== undefined ? { eventId: d.eventId } : {}),
          ...(d.index !== undefined ? { index: d.index } : {}),
          ...(d.expected !== undefined ? { expected: d.expected } : {}),
          ...(d.actual !== undefined ? { actual: d.actual } : {}),
        },
        trusted,
      );
    }
    logged ??= 0;
  }

  const proofs = await (options.proofs ?? ((size: number) => BoundedTreeProofs.read(store, size)))(trusted.size);
  // The run's events come in log order, the order in which the bounded source reads each chunk once.
  const evidenceOf = async (e: RecordedEvent): Promise<EventEvidence> => ({
    canonical: e.canonical,
    index: e.index,
    proof: e.index !== null && e.index < trusted.size ? await proofs.proof(e.index) : null,
    envelope: e.envelope,
  });
  const evidence: EventEvidence[] = [];
  let verification: RunVerification;
  let lastIndex: number | null = events.at(-1)?.index ?? null;
  if (streaming) {
    const total = (await store.streamRevision(stream)) + 1;
    const verifier = runVerifier(runId, trusted);
    let done = 0;
    for await (const e of readStreamPages(store, stream)) {
      const item = await evidenceOf(e);
      if (!verifier.push(item)) break;
      options.onEvidence!(item);
      options.onProgress?.(++done, total);
      lastIndex = e.index;
    }
    verification = verifier.result();
  } else {
    for (const e of events) {
      evidence.push(await evidenceOf(e));
      options.onProgress?.(evidence.length, events.length);
    }
    verification = verifyRun(runId, evidence, trusted);
  }
  // The store reads a stream by its own index columns, which no hash covers: the run must end where
  // the log's bytes say its stream ends (with the whole log verified, or read after its last event).
  if (verification.ok && logged === undefined && options.checkTail !== false) logged = await loggedAfter(store, stream, lastIndex, verification.events);
  const hidden = verification.ok && logged !== undefined ? hiddenRevisions(runId, verification.events, logged) : undefined;
  if (hidden !== undefined) return fail(options.fullLog ? { ...hidden, check: 'log' } : hidden, trusted);
  return {
    runId,
    ok: verification.ok,
    verification,
    checkpoint: trusted,
    evidence,
    manifest: verification.ok ? buildManifest(verification, trusted, runledgerVersion()) : null,
    ...(verification.firstDivergence ? { firstDivergence: verification.firstDivergence } : {}),
  };
}

/**
 * How many events of `stream` the log holds, by the bytes of the events after leaf `lastIndex` (the
 * run's last event as the store's stream read returned it; `seen` events up to there): each event's
 * stream is the one its canonical bytes name, not the store's column. Reads the log from there to
 * its end; an event not integrated yet (`lastIndex` null) has nothing after it in the log.
 */
async function loggedAfter(store: EventStore, stream: string, lastIndex: number | null, seen: number): Promise<number> {
  let logged = seen;
  if (lastIndex === null) return logged;
  for await (const e of readLogPages(store, PAGE_SIZE, lastIndex + 1)) if (e.envelope.stream === stream && e.envelope.revision >= logged) logged = e.envelope.revision + 1;
  return logged;
}

/**
 * The divergence when the log's bytes hold more events of a run's stream (`logged`: the whole-log
 * verifier's head, or a projection of the log) than the store's read of the stream returned (`seen`):
 * that read goes by index columns no hash covers, so they hid the rest. One check for replay --full,
 * the dashboard badge and the gates.
 */
export function hiddenRevisions(runId: string, seen: number, logged: number): RunDivergence | undefined {
  if (logged <= seen) return undefined;
  const stream = runStream(runId);
  return {
    check: 'chain',
    stream,
    revision: seen,
    expected: `revisions 0–${logged - 1}`,
    actual: seen === 0 ? 'no revision' : `revisions 0–${seen - 1}`,
    message: `The log holds revisions 0–${logged - 1} of stream "${stream}", but the store's read of the stream ${seen === 0 ? 'returns none' : `ends at revision ${seen - 1}`}: revision ${seen} onward is hidden from the replay of run ${runId}.`,
  };
}

/**
 * `result`, failed at the first hidden revision when the log's bytes hold more events of the run
 * (`logged`, from a projection of the log) than its replay read: what the dashboard, its replay
 * view and the gates judge a replay by.
 */
export function checkLoggedEvents(result: ReplayResult, logged: number): ReplayResult {
  if (!result.ok || result.verification === null) return result;
  const hidden = hiddenRevisions(result.runId, result.verification.events, logged);
  return hidden === undefined ? result : { ...result, ok: false, manifest: null, firstDivergence: hidden };
}

/** What judging runs by their replay trusts: verifier keys, and optionally a way to sign a checkpoint covering them first. */
export interface RunTrust {
  /** Trusted verifier keys (C2SP vkey text). */
  verifierKeys: readonly string[];
  /** Signs a ledger checkpoint; absent when the caller cannot sign (then the runs must already be covered). */
  signCheckpoint?: () => Promise<unknown>;
}

/**
 * Signs a ledger checkpoint (with `sign`, which the caller binds to its signing key) when the latest
 * one does not cover every event of `runIds`: what `retrain` and the gates do before they replay runs
 * that were recorded since the last `runledger checkpoint`.
 */
export async function coverRuns(store: EventStore, runIds: readonly string[], sign: () => Promise<unknown>): Promise<void> {
  const checkpoints = await store.checkpoints();
  const size = checkpoints[checkpoints.length - 1]?.size ?? 0;
  for (const runId of runIds) {
    const stream = runStream(checkRunId(runId));
    const revision = await store.streamRevision(stream);
    if (revision < 0) continue;
    const [last] = await store.readStream(stream, { fromRevision: revision, limit: 1 });
    if (last && (last.index === null || last.index >= size)) {
      await sign();
      return;
    }
  }
}

/**
 * Opens the latest of `checkpoints` under the trusted keys, after key rotations under the key valid
 * at its tree size (the key history in the log), and checks it against its stored columns.
 */
export async function openLatestCheckpoint(store: EventStore, checkpoints: readonly StoredCheckpoint[], verifierKeys: readonly string[]): Promise<TrustedCheckpoint | RunDivergence> {
  const latest = checkpoints[checkpoints.length - 1];
  if (latest === undefined) return { check: 'checkpoint', message: 'The ledger has no signed checkpoint: run `runledger checkpoint` first.' };
  const origin = await requireOrigin(store);
  let history;
  try {
    history = keyHistory(await readRotationStatements(store), checkpoints, verifierKeys, origin);
  } catch (err) {
    if (!(err instanceof KeyHistoryError)) throw err;
    return { check: 'checkpoint', message: err.message };
  }
  return openLatest(latest, checkpoints.length, origin, history.keysFor(latest.size));
}

/** Opens one stored checkpoint under the given keys and checks it against its stored columns. */
function openLatest(stored: StoredCheckpoint, ordinal: number, origin: string, keys: readonly NoteVerifier[]): TrustedCheckpoint | RunDivergence {
  const label = `Checkpoint ${ordinal} (tree size ${stored.size})`;
  try {
    const checkpoint = openCheckpoint(stored.note, keys);
    if (checkpoint.origin !== origin) {
      return { check: 'checkpoint', expected: origin, actual: checkpoint.origin, message: `${label} is for log origin "${checkpoint.origin}", not this ledger's "${origin}".` };
    }
    if (checkpoint.size !== stored.size || checkpoint.root.toString('hex') !== stored.root) {
      return { check: 'checkpoint', message: `${label}: the signed note (size ${checkpoint.size}) differs from the stored size and root columns.` };
    }
    return { origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root, note: stored.note };
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    return { check: 'checkpoint', message: `${label}: ${err.message}.` };
  }
}
