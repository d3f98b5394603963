// What MLflow's runs/get, runs/search and metrics/get-history answer, folded from a run's stream:
// a pure reducer over its envelopes (plan approval, environment, params, metrics, tags, tag
// deletions, artifacts, the run's end). It is a read model, not a verification: `runledger replay`
// is what checks the signatures, the write rules and the Merkle anchoring of the same events.
import type { Envelope } from '../../../events/envelope.js';
import { ArtifactRecorded, MetricsLogged, ParamsLogged, TagDeleted, TagsSet, type MetricPoint } from '../../../events/runs.js';
import { RunEnvironmentRecorded } from '../../../events/training.js';
import { runStream } from '../../governance/run-stream.js';
import type { EventStore } from '../../store/port.js';
import { notFound } from './errors.js';

export type MlflowStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';

/** The facts an MLflow run records about itself in its environment's `client.mlflow` (signed, in the run's own stream). */
export interface MlflowFacts {
  experimentId: string;
  runName: string;
  userId: string;
}

export interface MlflowRunView {
  runId: string;
  /** Null for a run that did not come through the MLflow door (it still reads, in experiment "0"). */
  mlflow: MlflowFacts | null;
  status: MlflowStatus | null;
  startTime: number | null;
  endTime: number | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Every point of every metric, in log order. */
  metrics: Map<string, MetricPoint[]>;
  artifacts: Map<string, { digest: string; bytes: number; mediaType: string | null }>;
  /** Revision of the last event folded. */
  revision: number;
}

/** The reason `runs/update` records when a client reports KILLED, so the view reads it back as KILLED. */
export const KILLED_REASON = 'killed by the MLflow client (runs/update status KILLED)';

export function emptyRunView(runId: string): MlflowRunView {
  return { runId, mlflow: null, status: null, startTime: null, endTime: null, params: {}, tags: {}, metrics: new Map(), artifacts: new Map(), revision: -1 };
}

/** Folds one event into the view (mutating it: the view is private to one read). */
export function foldRunEvent(view: MlflowRunView, event: Pick<Envelope, 'type' | 'data' | 'revision' | 'metadata'>): MlflowRunView {
  view.revision = event.revision;
  const at = Date.parse(event.metadata.recordedAt);
  switch (event.type) {
    case 'GovernancePlanApproved':
      view.status = 'RUNNING';
      view.startTime ??= at;
      break;
    case 'RunEnvironmentRecorded': {
      const parsed = RunEnvironmentRecorded.safeParse(event.data);
      const facts = parsed.success ? (parsed.data.client as { mlflow?: Partial<MlflowFacts> }).mlflow : undefined;
      if (facts && typeof facts.experimentId === 'string') {
        view.mlflow = { experimentId: facts.experimentId, runName: String(facts.runName ?? ''), userId: String(facts.userId ?? '') };
      }
      break;
    }
    case 'ParamsLogged': {
      const parsed = ParamsLogged.safeParse(event.data);
      if (parsed.success) for (const [k, v] of Object.entries(parsed.data.params)) view.params[k] = String(v);
      break;
    }
    case 'MetricsLogged': {
      const parsed = MetricsLogged.safeParse(event.data);
      if (parsed.success) {
        for (const point of parsed.data.metrics) {
          const points = view.metrics.get(point.key) ?? [];
          points.push(point);
          view.metrics.set(point.key, points);
        }
      }
      break;
    }
    case 'TagsSet': {
      const parsed = TagsSet.safeParse(event.data);
      if (parsed.success) Object.assign(view.tags, parsed.data.tags);
      break;
    }
    case 'TagDeleted': {
      const parsed = TagDeleted.safeParse(event.data);
      if (parsed.success) delete view.tags[parsed.data.key];
      break;
    }
    case 'ArtifactRecorded': {
      const parsed = ArtifactRecorded.safeParse(event.data);
      if (parsed.success) view.artifacts.set(parsed.data.path, { digest: parsed.data.digest, bytes: parsed.data.bytes, mediaType: parsed.data.mediaType });
      break;
    }
    case 'RunCompleted':
      view.status = 'FINISHED';
      view.endTime = at;
      break;
    case 'StageFailed':
    case 'RunFailed': {
      const reason = (event.data as { reason?: unknown }).reason;
      // A stage failing fails the run too (RunFailed follows, with its own reason): the first reason tells.
      if (view.status !== 'KILLED' && view.status !== 'FAILED') view.status = reason === KILLED_REASON ? 'KILLED' : 'FAILED';
      view.endTime ??= at;
      break;
    }
  }
  return view;
}

/** The view of run `runId`, or undefined when the ledger has no such run. */
export async function readRunView(store: EventStore, runId: string): Promise<MlflowRunView | undefined> {
  const events = await store.readStream(runStream(runId));
  if (events.length === 0) return undefined;
  const view = emptyRunView(runId);
  for (const { envelope } of events) foldRunEvent(view, envelope);
  return view.status === null ? undefined : view;
}

/**
 * MLflow's latest value of a metric: the point with the greatest step, then timestamp, then value
 * (mlflow/store/tracking/sqlalchemy_store.py `_update_latest_metric_if_necessary`).
 */
export function latestPoint(points: readonly MetricPoint[]): MetricPoint | undefined {
  let best: MetricPoint | undefined;
  for (const p of points) {
    if (!best || p.step > best.step || (p.step === best.step && (p.timestamp > best.timestamp || (p.timestamp === best.timestamp && p.value > best.value)))) best = p;
  }
  return best;
}

/** The view of run `runId`; RESOURCE_DOES_NOT_EXIST when there is none. */
export async function getRunView(store: EventStore, runId: string): Promise<MlflowRunView> {
  const view = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(runId) ? await readRunView(store, runId) : undefined;
  if (!view) throw notFound(`run ${runId} does not exist in this ledger`);
  return view;
}
