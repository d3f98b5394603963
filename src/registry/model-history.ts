// Reading the model registry as an auditor would: every event of the model's stream is checked from
// its raw bytes (RFC 8785, chain, RFC 9162 inclusion under the latest signed checkpoint), re-checked
// against the registry rules, and every registration against its run's replay — so what `model
// history` and `model show --at T` answer is what the signed log proves, whatever wrote the store.
import type { ModelAliasDeletedData, ModelAliasSetData, ModelDescriptionSetData, ModelTagDeletedData, ModelTagSetData, ModelVersionRegisteredData } from '../../events/model.js';
import { registry } from '../../events/index.js';
import { InputError } from '../errors.js';
import { inclusionProofJson, type InclusionProofJson } from '../integrity/proof.js';
import { openLatestCheckpoint, replayRun } from '../replay/replay.js';
import { checkStreamEvent, streamCursor, type StreamCheck, type StreamDivergence } from '../replay/stream-evidence.js';
import { TreeProofs } from '../replay/tree-proofs.js';
import type { EventEvidence, TrustedCheckpoint } from '../replay/verify-run.js';
import type { EventStore } from '../store/port.js';
import { readStreamPages } from '../ledger/read.js';
import { checkModelName, descriptionOf, evolveModel, initialModelState, modelStream, modelViolation, registrationData, tagsOf, type ModelState } from './model-rules.js';
import { registrationViolation, type RunReplay } from './model-registry.js';

export type ModelCheck = StreamCheck | 'checkpoint' | 'schema' | 'rule' | 'registration';

export type ModelDivergence = Omit<StreamDivergence, 'check'> & { check: ModelCheck };

export type ModelChangeKind = 'registered' | 'alias-set' | 'alias-moved' | 'alias-deleted' | 'tag-set' | 'tag-deleted' | 'description-set';

export interface ModelHistoryEntry {
  revision: number;
  eventId: string;
  type: string;
  change: ModelChangeKind;
  recordedAt: string;
  actor: string;
  /** The version registered, the alias's new version, or the version a tag or description change is about; null for an alias delete and for a change to the model itself. */
  version: number | null;
  alias: string | null;
  previousVersion: number | null;
  reason: string | null;
  runId: string | null;
  checkpointDigest: string | null;
  /** The artifact path a registration names (an artifact version); null otherwise. */
  artifactPath: string | null;
  /** The tag a tag change is about; null otherwise. */
  key: string | null;
  /** A tag's new value or the new description; null for a tag delete and for other changes. */
  value: string | null;
  /** The tag's value or the description before the change (null: none); null for other changes. */
  previousValue: string | null;
  /** True when the event is inside the signed checkpoint and its inclusion proof verified. */
  anchored: boolean;
  /** RFC 9162 inclusion proof of the event's leaf under the signed checkpoint; null when not anchored. */
  inclusion: InclusionProofJson | null;
}

export interface ModelVersionView {
  version: number;
  runId: string;
  /** What the version is: the run's signed checkpoint, or the artifacts it logged under one path. */
  kind: 'checkpoint' | 'artifact';
  /** The checkpoint's digest (checkpoint versions); null for an artifact version. */
  checkpointDigest: string | null;
  /** The checkpoint's metrics (checkpoint versions); null for an artifact version. */
  metrics: NonNullable<ModelVersionRegisteredData['checkpoint']>['metrics'] | null;
  /** The artifact path and its files (artifact versions); null for a checkpoint version. */
  artifact: { path: string; files: { path: string; digest: string; bytes: number }[] } | null;
  registeredAt: string;
  registeredBy: string;
  description: string | null;
  /** Aliases pointing at it now. */
  aliases: string[];
  /** The version's tags now. */
  tags: Record<string, string>;
}

export interface ModelHistory {
  model: string;
  stream: string;
  /** Every event passed every check (bytes, chain, inclusion or pending, schema, rules, registrations). */
  ok: boolean;
  /** ok and every event is inside the signed checkpoint. */
  anchored: boolean;
  checkpoint: { size: number; root: string; note: string } | null;
  versions: ModelVersionView[];
  aliases: Record<string, number>;
  /** The model's own tags and description now. */
  tags: Record<string, string>;
  description: string | null;
  /** The verified events, oldest first (up to the first divergence). */
  entries: ModelHistoryEntry[];
  firstDivergence?: ModelDivergence;
}

/**
 * Folds a model stream's evidence: stream checks, schema, rules, and each registration against the
 * replay of its run (`replays`, by run id). Pure. Events after the checkpoint are listed as not
 * anchored, never as proven.
 */
export function verifyModelHistory(model: string, events: readonly EventEvidence[], checkpoint: TrustedCheckpoint, replays: ReadonlyMap<string, RunReplay>): ModelHistory {
  const stream = modelStream(model);
  let state = initialModelState(model);
  const entries: ModelHistoryEntry[] = [];
  const cursor = streamCursor();
  const report = (firstDivergence?: ModelDivergence): ModelHistory => ({
    model,
    stream,
    ok: firstDivergence === undefined,
    anchored: firstDivergence === undefined && entries.every((e) => e.anchored),
    checkpoint: { size: checkpoint.size, root: checkpoint.root.toString('hex'), note: checkpoint.note },
    ...view(state),
    entries,
    ...(firstDivergence ? { firstDivergence } : {}),
  });
  for (const [i, evidence] of events.entries()) {
    const checked = checkStreamEvent(stream, i, evidence, checkpoint, cursor, true);
    if ('check' in checked) return report(checked);
    const env = checked.envelope;
    const where = { stream: env.stream, revision: env.revision, eventId: env.id, type: env.type, ...(evidence.index !== null ? { index: evidence.index } : {}) };
    const label = `Event ${env.id} (${env.type}, stream "${env.stream}" revision ${env.revision})`;
    try {
      registry.validate(env.type, env.data, env.schemaVersion);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return report({ check: 'schema', ...where, message: `${label}: ${err.message}.` });
    }
    const violation = modelViolation(state, env);
    if (violation) return report({ check: 'rule', ...where, expected: violation.expected, actual: violation.actual, message: `${label} breaks the registry rules: ${violation.message}.` });
    if (env.type === 'ModelVersionRegistered') {
      const data = registrationData(env);
      const replay = replays.get(data.runId);
      const refused = replay === undefined ? `run ${data.runId} was not replayed` : registrationViolation(data, replay);
      if (refused) return report({ check: 'registration', ...where, message: `${label} registers version ${data.version} from run ${data.runId}, but ${refused}.` });
    }
    const inclusion = checked.anchored ? inclusionProofJson(evidence.index!, checkpoint.size, checked.leaf, checkpoint.root, evidence.proof!) : null;
    entries.push(entryOf(state, env, checked.anchored, inclusion));
    state = evolveModel(state, env);
  }
  return report();
}

function entryOf(before: ModelState, env: EventEvidenceEnvelope, anchored: boolean, inclusion: InclusionProofJson | null): ModelHistoryEntry {
  const base = { revision: env.revision, eventId: env.id, type: env.type, recordedAt: env.metadata.recordedAt, actor: env.metadata.actor, anchored, inclusion };
  const none = { alias: null, previousVersion: null, reason: null, runId: null, checkpointDigest: null, artifactPath: null, key: null, value: null, previousValue: null };
  if (env.type === 'ModelVersionRegistered') {
    const d = registrationData(env);
    return { ...base, ...none, change: 'registered', version: d.version, runId: d.runId, checkpointDigest: d.checkpoint?.digest ?? null, artifactPath: d.artifact?.path ?? null, reason: d.description };
  }
  if (env.type === 'ModelAliasSet') {
    const d = env.data as ModelAliasSetData;
    return { ...base, ...none, change: before.aliases[d.alias] === undefined ? 'alias-set' : 'alias-moved', version: d.version, alias: d.alias, previousVersion: d.previousVersion, reason: d.reason };
  }
  if (env.type === 'ModelTagSet') {
    const d = env.data as ModelTagSetData;
    return { ...base, ...none, change: 'tag-set', version: d.version, key: d.key, value: d.value, previousValue: d.previousValue };
  }
  if (env.type === 'ModelTagDeleted') {
    const d = env.data as ModelTagDeletedData;
    return { ...base, ...none, change: 'tag-deleted', version: d.version, key: d.key, previousValue: d.previousValue };
  }
  if (env.type === 'ModelDescriptionSet') {
    const d = env.data as ModelDescriptionSetData;
    return { ...base, ...none, change: 'description-set', version: d.version, value: d.description, previousValue: d.previousDescription };
  }
  const d = env.data as ModelAliasDeletedData;
  return { ...base, ...none, change: 'alias-deleted', version: null, alias: d.alias, previousVersion: d.previousVersion, reason: d.reason };
}

type EventEvidenceEnvelope = Parameters<typeof evolveModel>[1] & { id: string; revision: number; metadata: { recordedAt: string; actor: string } };

function view(state: ModelState): Pick<ModelHistory, 'versions' | 'aliases' | 'tags' | 'description'> {
  const byVersion = new Map<number, string[]>();
  for (const [alias, version] of Object.entries(state.aliases).sort(([a], [b]) => a.localeCompare(b))) byVersion.set(version, [...(byVersion.get(version) ?? []), alias]);
  return {
    aliases: Object.fromEntries(Object.entries(state.aliases).sort(([a], [b]) => a.localeCompare(b))),
    tags: sortedTags(state.tags),
    description: state.description,
    versions: state.versions.map((d) => ({
      version: d.version,
      runId: d.runId,
      kind: d.artifact ? ('artifact' as const) : ('checkpoint' as const),
      checkpointDigest: d.checkpoint?.digest ?? null,
      metrics: d.checkpoint?.metrics ?? null,
      artifact: d.artifact ? { path: d.artifact.path, files: d.artifact.files.map((f) => ({ path: f.path, digest: f.digest, bytes: f.bytes })) } : null,
      registeredAt: '',
      registeredBy: '',
      description: descriptionOf(state, d.version),
      aliases: byVersion.get(d.version) ?? [],
      tags: sortedTags(tagsOf(state, d.version)),
    })),
  };
}

const sortedTags = (tags: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export interface ReadHistoryOptions {
  verifierKeys: readonly string[];
  /** Proofs for the tree of the checkpoint's size, shared across reads (the dashboard); default: read for this history. */
  proofs?: (size: number) => Promise<TreeProofs>;
}

/** Reads and verifies a model's history from a store. Throws InputError when the model has no events. */
export async function readModelHistory(store: EventStore, model: string, options: ReadHistoryOptions): Promise<ModelHistory> {
  checkModelName(model);
  const stream = modelStream(model);
  const events = [];
  for await (const e of readStreamPages(store, stream)) events.push(e);
  if (events.length === 0) throw new InputError(`model ${model} has no events in this ledger (stream "${stream}" is empty)`, { stream });
  if (options.verifierKeys.length === 0) throw new InputError('reading a model history needs a verifier key: pass --key or use the signing home', { field: 'key' });
  const unverified = (firstDivergence: ModelDivergence): ModelHistory => ({ model, stream, ok: false, anchored: false, checkpoint: null, versions: [], aliases: {}, tags: {}, description: null, entries: [], firstDivergence });
  const checkpoints = await store.checkpoints();
  const latest = checkpoints.at(-1);
  if (latest === undefined) return unverified({ check: 'checkpoint', stream, message: 'The ledger has no signed checkpoint: run `runledger checkpoint` first.' });
  const trusted = await openLatestCheckpoint(store, checkpoints, options.verifierKeys);
  if ('check' in trusted) return unverified({ ...trusted, check: 'checkpoint' });

  let tree: Promise<TreeProofs> | undefined;
  const proofs = (size: number): Promise<TreeProofs> => (tree ??= options.proofs ? options.proofs(size) : TreeProofs.read(store, size));
  // Every run a registration names is replayed once, with the same proof source.
  const replays = new Map<string, RunReplay>();
  for (const e of events) {
    if (e.envelope.type !== 'ModelVersionRegistered') continue;
    const runId = String((e.envelope.data as { runId?: unknown }).runId);
    if (replays.has(runId)) continue;
    try {
      replays.set(runId, await replayRun(store, runId, { verifierKeys: options.verifierKeys, proofs }));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      replays.set(runId, { ok: false, verification: null, evidence: [], firstDivergence: { check: 'chain', message: err.message } });
    }
  }
  const source = await proofs(trusted.size);
  const evidence: EventEvidence[] = events.map((e) => ({
    canonical: e.canonical,
    index: e.index,
    proof: e.index !== null && e.index < trusted.size ? source.proof(e.index) : null,
    envelope: e.envelope,
  }));
  const history = verifyModelHistory(model, evidence, trusted, replays);
  // Who registered each version, and when, is the registration event's metadata.
  for (const entry of history.entries) {
    if (entry.change !== 'registered') continue;
    const v = history.versions[entry.version! - 1];
    if (v) Object.assign(v, { registeredAt: entry.recordedAt, registeredBy: entry.actor });
  }
  return history;
}

export interface ModelAtTime {
  model: string;
  at: string;
  /** Every alias as it stood at `at`: its version and the verified event that set it. */
  aliases: { alias: string; version: number; setBy: ModelHistoryEntry }[];
  /** Versions registered at or before `at`. */
  versions: number[];
  /** The last change at or before `at`; null when the model did not exist yet. */
  lastChange: ModelHistoryEntry | null;
  /** Every answering event is inside the signed checkpoint. */
  anchored: boolean;
}

/** The registry as it stood at time `at` (inclusive), from a verified history. Pure. */
export function modelAt(history: ModelHistory, at: string): ModelAtTime {
  // RFC 3339 (a date alone means its midnight UTC); Date.parse alone would take "2026" or "May 1".
  const rfc3339 = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2}))?$/.test(at);
  const time = rfc3339 ? Date.parse(at.replace(' ', 'T')) : NaN;
  if (!Number.isFinite(time)) throw new InputError(`--at "${at}" is not a date and time (use RFC 3339, e.g. 2026-01-01T12:00:00Z)`, { field: '--at' });
  const aliases = new Map<string, ModelHistoryEntry>();
  const versions: number[] = [];
  let lastChange: ModelHistoryEntry | null = null;
  for (const entry of history.entries) {
    if (Date.parse(entry.recordedAt) > time) break;
    lastChange = entry;
    if (entry.change === 'registered') versions.push(entry.version!);
    else if (entry.change === 'alias-deleted') aliases.delete(entry.alias!);
    else if (entry.change === 'alias-set' || entry.change === 'alias-moved') aliases.set(entry.alias!, entry);
  }
  const list = [...aliases.values()].sort((a, b) => a.alias!.localeCompare(b.alias!)).map((e) => ({ alias: e.alias!, version: e.version!, setBy: e }));
  return { model: history.model, at: new Date(time).toISOString(), aliases: list, versions, lastChange, anchored: list.every((a) => a.setBy.anchored) && (lastChange?.anchored ?? true) };
}
