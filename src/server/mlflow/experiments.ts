// Experiments on the ledger: one stream `experiment-<id>` per experiment, whose first event is
// ExperimentCreated (events/experiments.ts). The id is derived from the name, so two clients
// creating the same name race for the same stream and the store lets exactly one of them create it
// (expectedRevision no_stream) — no index to keep consistent. MLflow's "Default" experiment, id 0,
// exists on every server without having been created.
import { createHash } from 'node:crypto';
import { EXPERIMENT_STREAM_PREFIX, ExperimentCreated, ExperimentRunAdded } from '../../../events/experiments.js';
import { ConcurrencyError } from '../../errors.js';
import { guardedAppend } from '../../governance/guarded-append.js';
import { NO_STREAM, type EventStore } from '../../store/port.js';
import { invalid, MlflowError, notFound } from './errors.js';

export { EXPERIMENT_STREAM_PREFIX };
export const DEFAULT_EXPERIMENT_ID = '0';
export const DEFAULT_EXPERIMENT_NAME = 'Default';

export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  tags: Record<string, string>;
  /** When the ledger recorded its creation, ms since the epoch; null for the implicit Default. */
  createdAt: number | null;
}

/** The id of the experiment named `name`: 16 hex digits of SHA-256 over it, "0" for Default. */
export function experimentIdFor(name: string): string {
  if (name === DEFAULT_EXPERIMENT_NAME) return DEFAULT_EXPERIMENT_ID;
  return createHash('sha256').update(`runledger experiment\n${name}`).digest('hex').slice(0, 16);
}

export const experimentStream = (experimentId: string): string => `${EXPERIMENT_STREAM_PREFIX}${experimentId}`;

/** Where MLflow clients send an experiment's artifacts: this server's mlflow-artifacts proxy. */
export const artifactLocationFor = (experimentId: string): string => `mlflow-artifacts:/${experimentId}`;

const DEFAULT_EXPERIMENT: Experiment = {
  experimentId: DEFAULT_EXPERIMENT_ID,
  name: DEFAULT_EXPERIMENT_NAME,
  artifactLocation: artifactLocationFor(DEFAULT_EXPERIMENT_ID),
  tags: {},
  createdAt: null,
};

/** The experiment with this id, or undefined. A stream whose first event is not a matching ExperimentCreated holds none. */
export async function findExperiment(store: EventStore, experimentId: string): Promise<Experiment | undefined> {
  // Default is never created: its stream, if any, only indexes its runs.
  if (experimentId === DEFAULT_EXPERIMENT_ID) return DEFAULT_EXPERIMENT;
  const [first] = await store.readStream(experimentStream(experimentId), { limit: 1 });
  if (!first) return undefined;
  const parsed = ExperimentCreated.safeParse(first.envelope.data);
  if (first.envelope.type !== 'ExperimentCreated' || !parsed.success) return undefined;
  const data = parsed.data;
  if (data.experimentId !== experimentId || experimentIdFor(data.name) !== experimentId) return undefined;
  // The artifact location is always this server's proxy, whatever the event says: an event appended
  // by other means must not send a client's uploads elsewhere.
  return { experimentId, name: data.name, artifactLocation: artifactLocationFor(experimentId), tags: data.tags, createdAt: Date.parse(first.envelope.metadata.recordedAt) };
}

export async function getExperiment(store: EventStore, experimentId: string): Promise<Experiment> {
  const experiment = await findExperiment(store, experimentId);
  if (!experiment) throw notFound(`no experiment with id ${experimentId} in this ledger`);
  return experiment;
}

export async function getExperimentByName(store: EventStore, name: string): Promise<Experiment> {
  const experiment = await findExperiment(store, experimentIdFor(name));
  if (!experiment || experiment.name !== name) throw notFound(`no experiment named ${JSON.stringify(name)} in this ledger`);
  return experiment;
}

/** Records a new experiment; RESOURCE_ALREADY_EXISTS when the name is taken. */
export async function createExperiment(store: EventStore, request: { name: string; tags: Record<string, string>; actor: string }): Promise<Experiment> {
  const experimentId = experimentIdFor(request.name);
  const taken = (): MlflowError => new MlflowError('RESOURCE_ALREADY_EXISTS', 400, `an experiment named ${JSON.stringify(request.name)} already exists (id ${experimentId})`);
  if (experimentId === DEFAULT_EXPERIMENT_ID) throw taken();
  const data: ExperimentCreated = { experimentId, name: request.name, artifactLocation: artifactLocationFor(experimentId), tags: request.tags };
  const checked = ExperimentCreated.safeParse(data);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw invalid(`experiment ${issue.path.join('.') || 'request'}: ${issue.message}`);
  }
  try {
    await guardedAppend(store, [{ stream: experimentStream(experimentId), expectedRevision: NO_STREAM, events: [{ type: 'ExperimentCreated', data, metadata: { actor: request.actor } }] }], { experimentIndex: true });
  } catch (err) {
    if (err instanceof ConcurrencyError) throw taken();
    throw err;
  }
  return (await findExperiment(store, experimentId))!;
}

/** Every experiment of the ledger, Default first, then by creation. */
export async function listExperiments(store: EventStore): Promise<Experiment[]> {
  const ids = (await store.listStreams()).filter((s) => s.stream.startsWith(EXPERIMENT_STREAM_PREFIX)).map((s) => s.stream.slice(EXPERIMENT_STREAM_PREFIX.length));
  const found = (await Promise.all(ids.map((id) => findExperiment(store, id)))).filter((e): e is Experiment => e !== undefined);
  const all = found.some((e) => e.experimentId === DEFAULT_EXPERIMENT_ID) ? found : [DEFAULT_EXPERIMENT, ...found];
  return all.sort((a, b) => (a.createdAt ?? -1) - (b.createdAt ?? -1) || a.experimentId.localeCompare(b.experimentId));
}

/** Records that `runId` was created in the experiment (its index of runs). */
export async function addExperimentRun(store: EventStore, experimentId: string, runId: string, actor: string): Promise<void> {
  await guardedAppend(store, [{ stream: experimentStream(experimentId), events: [{ type: 'ExperimentRunAdded', data: { experimentId, runId }, metadata: { actor } }] }], { experimentIndex: true });
}

/** The run ids an experiment's stream indexes, in creation order (to be checked against each run's own environment). */
export async function experimentRunIds(store: EventStore, experimentId: string): Promise<string[]> {
  const events = await store.readStream(experimentStream(experimentId));
  const ids: string[] = [];
  for (const { envelope } of events) {
    const parsed = ExperimentRunAdded.safeParse(envelope.data);
    if (envelope.type === 'ExperimentRunAdded' && parsed.success && parsed.data.experimentId === experimentId) ids.push(parsed.data.runId);
  }
  return ids;
}
