// Writing the model registry: register a verified run's signed checkpoint as the next version of a
// model, set, move and delete aliases, set and delete tags, set descriptions. Each write reads the model's stream, checks the proposed
// event with the rules (model-rules.ts) against the state read, and appends it with
// expectedRevision = the revision read, so of two concurrent writers only one passes the check.
// The CLI (`runledger model`) and the HTTP API (src/server/model-routes.ts) are shells over this.
import type { ProposedEvent } from '../../events/envelope.js';
import type { CheckpointWritten, TrainingCompleted } from '../../events/training.js';
import type { ArtifactRecorded } from '../../events/runs.js';
import type { ModelAliasDeletedData, ModelAliasSetData, ModelDescriptionSetData, ModelTagDeletedData, ModelTagSetData, ModelVersionRegisteredData } from '../../events/model.js';
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
import { checkAliasName, checkModelName, descriptionOf, evolveModel, initialModelState, modelStream, modelViolation, tagsOf, type ModelEvent, type ModelState } from './model-rules.js';

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
 * signed checkpoint and has completed, and every event the registration copies — the CheckpointWritten
 * at `source`, or each ArtifactRecorded of `artifact.files` — is the run's event at that place, copied
 * exactly, with an Ed25519 signature that verifies under the key it names. Pure.
 */
export function registrationViolation(data: ModelVersionRegisteredData, replay: RunReplay): string | null {
  if (!replay.ok) return `run ${data.runId} does not verify: ${replay.firstDivergence?.message ?? 'replay failed'}`;
  const status = replay.verification?.summary.status;
  if (status !== 'completed') return `run ${data.runId} has not completed (status ${status ?? 'unknown'})`;
  if (data.checkpoint !== null && data.source !== null) {
    const found = copiedEvent(replay, data.source, 'CheckpointWritten');
    if (typeof found === 'string') return found;
    const written = found.data as CheckpointWritten;
    if (canonicalize(checkpointOf(written)) !== canonicalize(data.checkpoint)) return `the checkpoint recorded by the registration differs from CheckpointWritten ${found.id}`;
    // The replay checked it against the run's trusted worker keys; the registration must copy a signature that verifies.
    if (!verifyWorkerSignature(written.publicKey, workerEventMessage('CheckpointWritten', written), written.signature)) {
      return `the signature of checkpoint ${data.checkpoint.digest} (CheckpointWritten ${found.id}) does not verify with the worker key it names`;
    }
    return null;
  }
  if (data.artifact === null) return 'it names neither a checkpoint nor an artifact';
  const { path, files } = data.artifact;
  // The files are exactly the run's latest artifact at each path under `path`, in path order.
  const expected = artifactFiles(replay, path);
  if (expected.length !== files.length || expected.some((f, i) => f.path !== files[i]!.path)) {
    return `artifact ${path} of run ${data.runId} holds ${expected.map((f) => f.path).join(', ') || 'no files'}, but the registration lists ${files.map((f) => f.path).join(', ')}`;
  }
  for (const file of files) {
    const found = copiedEvent(replay, file.source, 'ArtifactRecorded');
    if (typeof found === 'string') return found;
    const recorded = found.data as ArtifactRecorded;
    if (canonicalize(artifactFileOf(recorded, file.source)) !== canonicalize(file)) return `file ${file.path} recorded by the registration differs from ArtifactRecorded ${found.id}`;
    if (!verifyWorkerSignature(recorded.publicKey, workerEventMessage('ArtifactRecorded', recorded), recorded.signature)) {
      return `the signature of artifact file ${file.path} (ArtifactRecorded ${found.id}) does not verify with the worker key it names`;
    }
  }
  return null;
}

type Location = NonNullable<ModelVersionRegisteredData['source']>;

/** The run's event at `at`, when it is there (same id, same leaf) and of `type`; else why not. */
function copiedEvent(replay: RunReplay, at: Location, type: string): { id: string; data: unknown } | string {
  const evidence = replay.evidence[at.revision];
  const env = evidence?.envelope as { id?: string; type?: string; stream?: string; data?: unknown } | undefined;
  const where = `revision ${at.revision} of stream "${at.stream}"`;
  if (env === undefined || env.stream !== at.stream) return `the run has no event at ${where}`;
  if (env.id !== at.eventId || evidence!.index !== at.index) return `the event at ${where} is ${env.id ?? '?'} at leaf ${evidence!.index ?? 'none'}, not ${at.eventId} at leaf ${at.index}`;
  if (env.type !== type || env.data === undefined) return `the event at ${where} is ${env.type ?? '?'}, not ${type}`;
  return { id: env.id, data: env.data };
}

type ArtifactFile = NonNullable<ModelVersionRegisteredData['artifact']>['files'][number];

function artifactFileOf(d: ArtifactRecorded, source: Location): ArtifactFile {
  return { path: d.path, digest: d.digest, bytes: d.bytes, mediaType: d.mediaType, signature: d.signature, publicKey: d.publicKey, source };
}

/** The run's artifact files at `path` or below it (`path/…`): the latest ArtifactRecorded of each path, sorted by path. */
function artifactFiles(replay: Pick<RunReplay, 'evidence'>, path: string): ArtifactFile[] {
  const latest = new Map<string, ArtifactFile>();
  for (const e of replay.evidence) {
    const env = e.envelope as { id: string; stream: string; revision: number; type: string; data: ArtifactRecorded };
    if (env.type !== 'ArtifactRecorded' || e.index === null) continue;
    if (env.data.path !== path && !env.data.path.startsWith(`${path}/`)) continue;
    latest.set(env.data.path, artifactFileOf(env.data, { stream: env.stream, revision: env.revision, eventId: env.id, index: e.index }));
  }
  return [...latest.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function checkpointOf(d: CheckpointWritten): NonNullable<ModelVersionRegisteredData['checkpoint']> {
  return { digest: d.digest, bytes: d.bytes, epoch: d.epoch, step: d.step, signature: d.signature, publicKey: d.publicKey, metrics: d.metrics };
}

export interface RegisterOptions {
  model: string;
  runId: string;
  /** Digest of one of the run's checkpoints; default the run's final checkpoint. */
  checkpoint?: string;
  /** Register the artifacts the run logged at this path (a file, or a directory of files) instead of a checkpoint. */
  artifact?: string;
  description?: string | null;
  /** Tags of the new version, recorded with the registration in one atomic append. */
  tags?: Record<string, string>;
  actor: string;
  verifierKeys: readonly string[];
}

export interface ModelChange {
  model: string;
  stream: string;
  revision: number;
  eventId: string;
  type: ModelEvent['type'];
  data: ModelVersionRegisteredData | ModelAliasSetData | ModelAliasDeletedData | ModelTagSetData | ModelTagDeletedData | ModelDescriptionSetData;
}

/** Replays the run (against the latest signed checkpoint) and registers its checkpoint as the next version. */
export async function registerVersion(store: EventStore, options: RegisterOptions): Promise<ModelChange> {
  checkModelName(options.model);
  checkRunId(options.runId);
  if (options.verifierKeys.length === 0) throw new InputError('registering a model version needs a verifier key to replay the run: pass --key or use the signing home', { field: 'key' });
  const replay = await replayRun(store, options.runId, { verifierKeys: options.verifierKeys });
  if (!replay.ok) throw new IntegrityError(`run ${options.runId} is not verified, so it cannot become a model version: ${replay.firstDivergence?.message ?? 'replay failed'}`, { stream: replay.firstDivergence?.stream });
  const state = await readModel(store, options.model);
  const base = {
    model: options.model,
    version: state.versions.length + 1,
    runId: options.runId,
    verifiedAgainst: { treeSize: replay.checkpoint!.size, root: replay.checkpoint!.root.toString('hex') },
    description: options.description ?? null,
  };
  let data: ModelVersionRegisteredData;
  if (options.artifact !== undefined) {
    if (options.checkpoint !== undefined) throw new InputError('give either a checkpoint or an artifact path to register, not both', { field: 'artifact' });
    const files = artifactFiles(replay, options.artifact);
    if (files.length === 0) throw new InputError(`run ${options.runId} logged no artifact at ${JSON.stringify(options.artifact)} (nor below it)`, { field: 'artifact' });
    data = { ...base, checkpoint: null, source: null, artifact: { path: options.artifact, files } };
  } else {
    const source = chooseCheckpoint(replay, options.runId, options.checkpoint);
    const written = source.envelope.data as CheckpointWritten;
    data = {
      ...base,
      checkpoint: checkpointOf(written),
      source: { stream: source.envelope.stream, revision: source.envelope.revision, eventId: source.envelope.id, index: source.index },
      artifact: null,
    };
  }
  const refused = registrationViolation(data, replay);
  if (refused) throw new IntegrityError(`cannot register run ${options.runId} as model ${options.model}: ${refused}`);
  const tags = Object.entries(options.tags ?? {}).map(([key, value]): ChangeEvent => ({ type: 'ModelTagSet', data: { model: options.model, version: data.version, key, value, previousValue: null } }));
  const [registered] = await appendChanges(store, state, [{ type: 'ModelVersionRegistered', data }, ...tags], options.actor);
  return registered!;
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

/** Which version a tag or description change is about: null is the model itself. */
export interface MetadataTarget {
  model: string;
  version?: number | null;
  actor: string;
}

/**
 * Sets tags and the description of the model or of one of its versions in one atomic append, each
 * change naming the value it replaces; what already has that value records nothing.
 */
export async function setMetadata(store: EventStore, options: MetadataTarget & { tags?: Record<string, string>; description?: string }): Promise<ModelChange[]> {
  const { state, version } = await readTarget(store, options);
  const events: ChangeEvent[] = [];
  for (const [key, value] of Object.entries(options.tags ?? {})) {
    const previous = ownValue(tagsOf(state, version), key);
    if (previous !== value) events.push({ type: 'ModelTagSet', data: { model: options.model, version, key, value, previousValue: previous } });
  }
  const previous = descriptionOf(state, version);
  if (options.description !== undefined && options.description !== previous) {
    events.push({ type: 'ModelDescriptionSet', data: { model: options.model, version, description: options.description, previousDescription: previous } });
  }
  return events.length === 0 ? [] : appendChanges(store, state, events, options.actor);
}

/** Sets (or changes) a tag of the model or of one of its versions; null when it already had that value. */
export async function setTag(store: EventStore, options: MetadataTarget & { key: string; value: string }): Promise<ModelChange | null> {
  const [change] = await setMetadata(store, { ...options, tags: { [options.key]: options.value } });
  return change ?? null;
}

/** Sets the description of the model or of one of its versions; null when it already was that text. */
export async function setDescription(store: EventStore, options: MetadataTarget & { description: string }): Promise<ModelChange | null> {
  const [change] = await setMetadata(store, options);
  return change ?? null;
}

export async function deleteTag(store: EventStore, options: MetadataTarget & { key: string }): Promise<ModelChange> {
  const { state, version } = await readTarget(store, options);
  const previous = ownValue(tagsOf(state, version), options.key);
  if (previous === null) throw new InputError(`${targetName(options.model, version)} has no tag "${options.key}"`, { field: 'key' });
  return appendChange(store, state, { type: 'ModelTagDeleted', data: { model: options.model, version, key: options.key, previousValue: previous } }, options.actor);
}

async function readTarget(store: EventStore, options: MetadataTarget): Promise<{ state: ModelState; version: number | null }> {
  checkModelName(options.model);
  const state = await readModel(store, options.model);
  const version = options.version ?? null;
  if (version !== null && (version < 1 || version > state.versions.length)) throw new InputError(`model ${options.model} has no version ${version}`, { field: 'version' });
  return { state, version };
}

const ownValue = (tags: Record<string, string>, key: string): string | null => (Object.hasOwn(tags, key) ? tags[key]! : null);
const targetName = (model: string, version: number | null): string => (version === null ? `model ${model}` : `version ${version} of model ${model}`);

type ChangeEvent = { type: ModelChange['type']; data: ModelChange['data'] };

/** Checks the event with the rules against the state read, then appends it at exactly that revision. */
async function appendChange(store: EventStore, state: ModelState, event: ChangeEvent, actor: string): Promise<ModelChange> {
  const [change] = await appendChanges(store, state, [event], actor);
  return change!;
}

/** Checks each event with the rules against the state its predecessors leave, then appends them all, atomically, at exactly the revision read. */
async function appendChanges(store: EventStore, state: ModelState, events: readonly ChangeEvent[], actor: string): Promise<ModelChange[]> {
  const stream = modelStream(state.model);
  const recordedAt = new Date().toISOString();
  let next = state;
  for (const event of events) {
    const proposed = { stream, type: event.type, data: event.data, metadata: { recordedAt } };
    const violation = modelViolation(next, proposed);
    if (violation) throw new InputError(`model ${state.model}: ${violation.message}`, { stream, field: 'data' });
    next = evolveModel(next, proposed);
  }
  const proposed: ProposedEvent[] = events.map((event) => ({ type: event.type, data: event.data as unknown as Record<string, unknown>, metadata: { actor } }));
  const result = await store.append(stream, proposed, { expectedRevision: state.revision < 0 ? NO_STREAM : state.revision });
  const appended = await store.readStream(stream, { fromRevision: state.revision + 1, limit: events.length });
  if (appended.at(-1)?.envelope.revision !== result.streams[0]!.lastRevision) throw new IntegrityError(`model ${state.model}: the store did not hand back the ${events.length} event(s) just appended to stream "${stream}"`, { stream });
  return appended.map((e, k) => ({ model: state.model, stream, revision: e.envelope.revision, eventId: e.envelope.id, type: events[k]!.type, data: events[k]!.data }));
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
