// Writing the model registry: register a verified run's signed checkpoint as the next version of a
// model, set, move and delete aliases. Each write reads the model's stream, checks the proposed
// event with the rules (model-rules.ts) against the state read, and appends it with
// expectedRevision = the revision read, so of two concurrent writers only one passes the check.
// The CLI (`runledger model`) and the HTTP API (src/server/model-routes.ts) are shells over this.
import type { ProposedEvent } from '../../events/envelope.js';
import type { CheckpointWritten, TrainingCompleted } from '../../events/training.js';
import type { ModelAliasDeletedData, ModelAliasSetData, ModelVersionRegisteredData } from '../../events/model.js';
import { canonicalize } from '../integrity/canonical.js';
import { InputError, IntegrityError } from '../errors.js';
import { createCheckpoint } from '../ledger/checkpoint.js';
import { hasSigningKey } from '../ledger/keys.js';
import { requireOrigin } from '../ledger/origin.js';
import { readStreamPages } from '../ledger/read.js';
import { loadLedgerSigner } from '../ledger/signer-state.js';
import { replayRun, type ReplayResult } from '../replay/replay.js';
import { checkRunId } from '../governance/recorder.js';
import { NO_STREAM, type EventStore } from '../store/port.js';
import { verifyWorkerSignature, workerEventMessage } from '../integrity/worker-signature.js';
import { checkAliasName, checkModelName, evolveModel, initialModelState, modelStream, modelViolation, type ModelEvent, type ModelState } from './model-rules.js';

/** A model's state as the rules fold it from the store, for deciding a write. */
export async function readModel(store: EventStore, model: string): Promise<ModelState> {
  checkModelName(model);
  let state = initialModelState(model);
  for await (const e of readStreamPages(store, modelStream(model))) {
    const env = e.envelope;
    const violation = modelViolation(state, env);
    if (violation) {
      throw new IntegrityError(`model ${model}: event ${env.id} (${env.type}, stream "${env.stream}" revision ${env.revision}) breaks the registry rules: ${violation.message}; run "runledger model history ${model}"`, {
        stream: env.stream,
        revision: env.revision,
        eventId: env.id,
      });
    }
    state = evolveModel(state, env);
  }
  return state;
}

/** What a registration check needs from a run's replay. */
export type RunReplay = Pick<ReplayResult, 'ok' | 'verification' | 'evidence' | 'firstDivergence'>;

/**
 * Why a registration does not stand on its run, or null when it does: the run verifies against the
 * signed checkpoint, has completed, and its event at `source` is the CheckpointWritten the
 * registration copies, whose Ed25519 signature verifies under the key it names. Pure.
 */
export function registrationViolation(data: ModelVersionRegisteredData, replay: RunReplay): string | null {
  if (!replay.ok) return `run ${data.runId} does not verify: ${replay.firstDivergence?.message ?? 'replay failed'}`;
  const status = replay.verification?.summary.status;
  if (status !== 'completed') return `run ${data.runId} has not completed (status ${status ?? 'unknown'})`;
  const evidence = replay.evidence[data.source.revision];
  const env = evidence?.envelope as { id?: string; type?: string; stream?: string; data?: CheckpointWritten } | undefined;
  const at = `revision ${data.source.revision} of stream "${data.source.stream}"`;
  if (env === undefined || env.stream !== data.source.stream) return `the run has no event at ${at}`;
  if (env.id !== data.source.eventId || evidence!.index !== data.source.index) {
    return `the event at ${at} is ${env.id ?? '?'} at leaf ${evidence!.index ?? 'none'}, not ${data.source.eventId} at leaf ${data.source.index}`;
  }
  if (env.type !== 'CheckpointWritten' || env.data === undefined) return `the event at ${at} is ${env.type ?? '?'}, not CheckpointWritten`;
  if (canonicalize(checkpointOf(env.data)) !== canonicalize(data.checkpoint)) return `the checkpoint recorded by the registration differs from CheckpointWritten ${env.id}`;
  // The replay checked it against the run's trusted worker keys; the registration must copy a signature that verifies.
  if (!verifyWorkerSignature(env.data.publicKey, workerEventMessage('CheckpointWritten', env.data), env.data.signature)) {
    return `the signature of checkpoint ${data.checkpoint.digest} (CheckpointWritten ${env.id}) does not verify with the worker key it names`;
  }
  return null;
}

function checkpointOf(d: CheckpointWritten): ModelVersionRegisteredData['checkpoint'] {
  return { digest: d.digest, bytes: d.bytes, epoch: d.epoch, step: d.step, signature: d.signature, publicKey: d.publicKey, metrics: d.metrics };
}

export interface RegisterOptions {
  model: string;
  runId: string;
  /** Digest of one of the run's checkpoints; default the run's final checkpoint. */
  checkpoint?: string;
  description?: string | null;
  actor: string;
  verifierKeys: readonly string[];
}

export interface ModelChange {
  model: string;
  stream: string;
  revision: number;
  eventId: string;
  type: ModelEvent['type'];
  data: ModelVersionRegisteredData | ModelAliasSetData | ModelAliasDeletedData;
}

/** Replays the run (against the latest signed checkpoint) and registers its checkpoint as the next version. */
export async function registerVersion(store: EventStore, options: RegisterOptions): Promise<ModelChange> {
  checkModelName(options.model);
  checkRunId(options.runId);
  if (options.verifierKeys.length === 0) throw new InputError('registering a model version needs a verifier key to replay the run: pass --key or use the signing home', { field: 'key' });
  const replay = await replayRun(store, options.runId, { verifierKeys: options.verifierKeys });
  if (!replay.ok) throw new IntegrityError(`run ${options.runId} is not verified, so it cannot become a model version: ${replay.firstDivergence?.message ?? 'replay failed'}`, { stream: replay.firstDivergence?.stream });
  const source = chooseCheckpoint(replay, options.runId, options.checkpoint);
  const written = source.envelope.data as CheckpointWritten;
  const state = await readModel(store, options.model);
  const data: ModelVersionRegisteredData = {
    model: options.model,
    version: state.versions.length + 1,
    runId: options.runId,
    checkpoint: checkpointOf(written),
    source: { stream: source.envelope.stream, revision: source.envelope.revision, eventId: source.envelope.id, index: source.index },
    verifiedAgainst: { treeSize: replay.checkpoint!.size, root: replay.checkpoint!.root.toString('hex') },
    description: options.description ?? null,
  };
  const refused = registrationViolation(data, replay);
  if (refused) throw new IntegrityError(`cannot register run ${options.runId} as model ${options.model}: ${refused}`);
  return appendChange(store, state, { type: 'ModelVersionRegistered', data }, options.actor);
}

function chooseCheckpoint(replay: ReplayResult, runId: string, digest: string | undefined): { envelope: { id: string; stream: string; revision: number; data: unknown }; index: number } {
  const envelopes = replay.evidence.map((e) => ({ env: e.envelope as { id: string; stream: string; revision: number; type: string; data: Record<string, unknown> }, index: e.index }));
  const written = envelopes.filter((e) => e.env.type === 'CheckpointWritten');
  if (written.length === 0) throw new InputError(`run ${runId} has no signed checkpoint (no CheckpointWritten event) to register`, { field: 'run' });
  const completed = envelopes.filter((e) => e.env.type === 'TrainingCompleted').at(-1)?.env.data as TrainingCompleted | undefined;
  const wanted = digest ?? completed?.finalCheckpoint ?? (written.at(-1)!.env.data as CheckpointWritten).digest;
  const found = written.filter((e) => (e.env.data as CheckpointWritten).digest === wanted).at(-1);
  if (!found) throw new InputError(`run ${runId} has no checkpoint with digest ${wanted}`, { field: 'checkpoint' });
  return { envelope: found.env, index: found.index! };
}

export async function setAlias(store: EventStore, options: { model: string; alias: string; version: number; reason: string; actor: string }): Promise<ModelChange> {
  checkModelName(options.model);
  checkAliasName(options.alias);
  const state = await readModel(store, options.model);
  const data: ModelAliasSetData = { model: options.model, alias: options.alias, version: options.version, previousVersion: state.aliases[options.alias] ?? null, reason: options.reason };
  return appendChange(store, state, { type: 'ModelAliasSet', data }, options.actor);
}

export async function deleteAlias(store: EventStore, options: { model: string; alias: string; reason: string; actor: string }): Promise<ModelChange> {
  checkModelName(options.model);
  checkAliasName(options.alias);
  const state = await readModel(store, options.model);
  const current = state.aliases[options.alias];
  if (current === undefined) throw new InputError(`model ${options.model} has no alias "${options.alias}"`, { field: 'alias' });
  const data: ModelAliasDeletedData = { model: options.model, alias: options.alias, previousVersion: current, reason: options.reason };
  return appendChange(store, state, { type: 'ModelAliasDeleted', data }, options.actor);
}

/** Checks the event with the rules against the state read, then appends it at exactly that revision. */
async function appendChange(store: EventStore, state: ModelState, event: { type: ModelChange['type']; data: ModelChange['data'] }, actor: string): Promise<ModelChange> {
  const stream = modelStream(state.model);
  const violation = modelViolation(state, { stream, type: event.type, data: event.data, metadata: { recordedAt: new Date().toISOString() } });
  if (violation) throw new InputError(`model ${state.model}: ${violation.message}`, { stream, field: 'data' });
  const proposed: ProposedEvent = { type: event.type, data: event.data as unknown as Record<string, unknown>, metadata: { actor } };
  const result = await store.append(stream, [proposed], { expectedRevision: state.revision < 0 ? NO_STREAM : state.revision });
  const [appended] = await store.readStream(stream, { fromRevision: result.streams[0]!.lastRevision, limit: 1 });
  return { model: state.model, stream, revision: appended!.envelope.revision, eventId: appended!.envelope.id, type: event.type, data: event.data };
}

export interface AnchorOutcome {
  /** Tree size of the signed checkpoint that now covers the change; null when none was signed. */
  size: number | null;
  note: string | null;
  /** Why nothing was signed. */
  reason?: string;
}

/**
 * Signs a checkpoint right after a registry change, so the change has an inclusion proof under a
 * signed root at once. Without a signing key in the home the change stays unanchored until the next
 * `runledger checkpoint`.
 */
export async function anchorChange(store: EventStore, home: string): Promise<AnchorOutcome> {
  if (!hasSigningKey(home)) return { size: null, note: null, reason: `no signing key in ${home}: run "runledger checkpoint" with the signing home to anchor the change` };
  const outcome = await createCheckpoint(store, loadLedgerSigner(home), await requireOrigin(store));
  return { size: outcome.checkpoint.size, note: outcome.checkpoint.note };
}
