// Run summaries with provenance: for every run, what governed it (plan hashes, seeds, budgets),
// what executed (stages against the plan, backend, environment), what it produced (checkpoints,
// final metrics, telemetry per stage) and how it was judged (comparisons, findings).
//
// Determinism under any interleaving of streams: every part of the state is keyed by the stream it
// comes from (a run's stream, a campaign's, a comparison's) and only ever folded in that stream's
// own order; maps are objects whose key order JCS fixes. No part records arrival order.
import type { AuditFindingData } from '../events/governance.js';
import type { ComparisonRecordedData, RegressionGateEvaluatedData } from '../events/comparison.js';
import type {
  CampaignRunCompleted,
  CampaignStarted,
  CheckpointWritten,
  Metrics,
  RunEnvironmentRecorded,
  TelemetrySample,
  TrainingCompleted,
  TrainingStarted,
} from '../events/training.js';
import type { GovernancePlanApprovedData } from '../events/governance.js';
import type { ArtifactRecorded, MetricsLogged, ParamsLogged, ParamValue, TagDeleted, TagsSet } from '../events/runs.js';
import { registry } from '../events/index.js';
import type { StageBudget } from '../src/governance/plan.js';
import { evolveRun, initialRunState, runSummaryDigest, type RunSummary } from '../src/governance/run-state.js';
import type { RecordedEvent } from '../src/store/port.js';
import { PersistentMap } from './persistent-map.js';
import { stateDigest, type Projection } from './projection.js';

/** Run streams are `run-<runId>` (src/governance/recorder.ts runStream). */
export const RUN_STREAM_PREFIX = 'run-';

export interface LatestMetric {
  value: number;
  step: number;
  timestamp: number;
}

export interface StageTelemetry {
  samples: number;
  /** Sum and count of examples/s over samples that measured it (mean = sum / count). */
  examplesPerSecSum: number;
  examplesPerSecCount: number;
  maxMemoryDeltaBytes: number | null;
  stepWallMsSum: number;
}

export interface RunProvenance {
  runId: string;
  /** The governance reducer's state, exactly as the recorder and replay verifier compute it. */
  governance: RunSummary;
  planName: string | null;
  seeds: Record<string, number>;
  budgets: Record<string, StageBudget>;
  gatePolicy: string | null;
  training: {
    stageId: string;
    seed: number;
    backend: TrainingStarted['backend'];
    configDigest: string;
    dataset: TrainingStarted['dataset'];
    resumedFrom: NonNullable<TrainingStarted['resumedFrom']>[];
  } | null;
  environment: Omit<RunEnvironmentRecorded, 'runId' | 'publicKey' | 'signature'> | null;
  /**
   * Each metric's final value, what gates and comparisons judge: the latest logged point of every
   * MetricsLogged name (highest step, then latest timestamp, then log order), overridden by the
   * built-in trainer's TrainingCompleted metrics (those of its last signed checkpoint). Null when none.
   */
  finalMetrics: Record<string, number> | null;
  /** The built-in trainer's TrainingCompleted metrics, null when it recorded none. */
  trainingMetrics: Metrics | null;
  /** Latest point per metric name (MetricsLogged). */
  metrics: Record<string, LatestMetric>;
  /** Params as logged (write-once). */
  params: Record<string, ParamValue>;
  /** Tags set and not deleted (the log keeps every earlier value). */
  tags: Record<string, string>;
  /** Artifacts recorded, in log order. */
  artifacts: { stageId: string; path: string; digest: string; bytes: number; mediaType: string | null }[];
  trainingWallMs: number | null;
  checkpoints: { stageId: string; epoch: number; step: number; digest: string; metrics: Metrics }[];
  telemetry: Record<string, StageTelemetry>;
  findings: { hard: number; soft: number; info: number };
}

export interface CampaignSummary {
  campaign: string;
  baseSeed: number;
  repeats: number;
  backend: string;
  /** Runs in campaign order with their derived seeds. */
  runs: { runId: string; seed: number }[];
  completedRuns: string[];
  completed: boolean;
}

export interface ComparisonSummary {
  comparisonId: string;
  baseline: ComparisonRecordedData['baseline'];
  candidate: ComparisonRecordedData['candidate'];
  aggregation: ComparisonRecordedData['aggregation'];
  policyHash: string;
  metrics: Record<string, { delta: number | null; relativeDelta: number | null }>;
  /** Latest verdict per mode (a comparison may be gated leniently and strictly). */
  verdicts: { lenient?: RegressionGateEvaluatedData['verdict']; strict?: RegressionGateEvaluatedData['verdict'] };
}

/** Keyed by run id, campaign name and comparison id: persistent maps, so an event costs O(log n). */
export interface RunSummaries {
  runs: PersistentMap<RunProvenance>;
  campaigns: PersistentMap<CampaignSummary>;
  comparisons: PersistentMap<ComparisonSummary>;
}

/** The JSON form (digested, snapshotted): the same maps as plain objects. */
export interface RunSummariesJson {
  runs: Record<string, RunProvenance>;
  campaigns: Record<string, CampaignSummary>;
  comparisons: Record<string, ComparisonSummary>;
}

export const emptyRunSummaries: RunSummaries = { runs: PersistentMap.empty(), campaigns: PersistentMap.empty(), comparisons: PersistentMap.empty() };

/** Data lifted to the latest schema version of its type, so old events read like new ones. */
export function eventData(event: RecordedEvent): Record<string, unknown> {
  const { type, schemaVersion, data } = event.envelope;
  return registry.latestVersion(type) === schemaVersion ? data : registry.upcast(type, schemaVersion, data);
}

function newRun(runId: string): RunProvenance {
  return {
    runId,
    governance: initialRunState(runId),
    planName: null,
    seeds: {},
    budgets: {},
    gatePolicy: null,
    training: null,
    environment: null,
    finalMetrics: null,
    trainingMetrics: null,
    metrics: {},
    params: {},
    tags: {},
    artifacts: [],
    trainingWallMs: null,
    checkpoints: [],
    telemetry: {},
    findings: { hard: 0, soft: 0, info: 0 },
  };
}

/** Own-property records in key order (JCS sorts them anyway; this keeps JSON output stable too). */
function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A point replaces the latest of its name when its step is higher, or equal with a timestamp as late or later (MLflow's "latest"). */
export function latestMetrics(latest: Record<string, LatestMetric>, points: MetricsLogged['metrics']): Record<string, LatestMetric> {
  const next = { ...latest };
  for (const { key, value, step, timestamp } of points) {
    const current = Object.hasOwn(next, key) ? next[key] : undefined;
    if (!current || step > current.step || (step === current.step && timestamp >= current.timestamp)) next[key] = { value, step, timestamp };
  }
  return sortedRecord(next);
}

export function finalMetrics(latest: Record<string, LatestMetric>, training: Metrics | null): Record<string, number> | null {
  const merged = sortedRecord({ ...Object.fromEntries(Object.entries(latest).map(([k, m]) => [k, m.value])), ...(training ?? {}) });
  return Object.keys(merged).length > 0 ? merged : null;
}

const emptyTelemetry: StageTelemetry = { samples: 0, examplesPerSecSum: 0, examplesPerSecCount: 0, maxMemoryDeltaBytes: null, stepWallMsSum: 0 };

/** One run's stream event applied to its provenance. */
export function evolveRunProvenance(run: RunProvenance, event: RecordedEvent): RunProvenance {
  const data = eventData(event);
  const next: RunProvenance = { ...run, governance: evolveRun(run.governance, { type: event.envelope.type, data, revision: event.envelope.revision }) };
  switch (event.envelope.type) {
    case 'GovernancePlanApproved': {
      const { plan } = data as GovernancePlanApprovedData;
      return { ...next, planName: plan.name, seeds: { ...plan.seeds }, budgets: { ...plan.budgets }, gatePolicy: plan.gatePolicy };
    }
    case 'TrainingStarted': {
      const d = data as TrainingStarted;
      const resumedFrom = [...(run.training?.resumedFrom ?? []), ...(d.resumedFrom ? [d.resumedFrom] : [])];
      return { ...next, training: { stageId: d.stageId, seed: d.seed, backend: d.backend, configDigest: d.configDigest, dataset: d.dataset, resumedFrom } };
    }
    case 'RunEnvironmentRecorded': {
      // Where the run executed; the worker's signature over it is evidence, not environment.
      const { runId: _runId, publicKey: _publicKey, signature: _signature, ...environment } = data as RunEnvironmentRecorded;
      return { ...next, environment };
    }
    case 'CheckpointWritten': {
      const d = data as CheckpointWritten;
      return { ...next, checkpoints: [...run.checkpoints, { stageId: d.stageId, epoch: d.epoch, step: d.step, digest: d.digest, metrics: d.metrics }] };
    }
    case 'TrainingCompleted': {
      const d = data as TrainingCompleted;
      return { ...next, trainingMetrics: d.metrics, finalMetrics: finalMetrics(run.metrics, d.metrics), trainingWallMs: d.wallMs };
    }
    case 'MetricsLogged': {
      const metrics = latestMetrics(run.metrics, (data as MetricsLogged).metrics);
      return { ...next, metrics, finalMetrics: finalMetrics(metrics, run.trainingMetrics) };
    }
    case 'ParamsLogged':
      return { ...next, params: sortedRecord({ ...run.params, ...(data as ParamsLogged).params }) };
    case 'TagsSet':
      return { ...next, tags: sortedRecord({ ...run.tags, ...(data as TagsSet).tags }) };
    case 'TagDeleted': {
      const { [(data as TagDeleted).key]: _deleted, ...tags } = run.tags;
      return { ...next, tags };
    }
    case 'ArtifactRecorded': {
      const d = data as ArtifactRecorded;
      return { ...next, artifacts: [...run.artifacts, { stageId: d.stageId, path: d.path, digest: d.digest, bytes: d.bytes, mediaType: d.mediaType }] };
    }
    case 'TelemetrySample': {
      const d = data as TelemetrySample;
      const t = run.telemetry[d.tags.stage] ?? emptyTelemetry;
      const measured = d.examplesPerSec !== null;
      const stage: StageTelemetry = {
        samples: t.samples + 1,
        examplesPerSecSum: t.examplesPerSecSum + (d.examplesPerSec ?? 0),
        examplesPerSecCount: t.examplesPerSecCount + (measured ? 1 : 0),
        maxMemoryDeltaBytes: t.maxMemoryDeltaBytes === null ? d.memoryDeltaBytes : Math.max(t.maxMemoryDeltaBytes, d.memoryDeltaBytes),
        stepWallMsSum: t.stepWallMsSum + d.stepWallMs,
      };
      return { ...next, telemetry: { ...run.telemetry, [d.tags.stage]: stage } };
    }
    case 'AuditFinding': {
      const { severity } = data as AuditFindingData;
      return { ...next, findings: { ...run.findings, [severity]: run.findings[severity] + 1 } };
    }
    default:
      return next;
  }
}

function evolveCampaign(campaigns: RunSummaries['campaigns'], type: string, data: Record<string, unknown>): RunSummaries['campaigns'] {
  switch (type) {
    case 'CampaignStarted': {
      const d = data as CampaignStarted;
      const summary: CampaignSummary = { campaign: d.campaign, baseSeed: d.baseSeed, repeats: d.repeats, backend: d.backend, runs: d.runs.map((r) => ({ ...r })), completedRuns: [], completed: false };
      return campaigns.set(d.campaign, summary);
    }
    case 'CampaignRunCompleted': {
      const d = data as CampaignRunCompleted;
      const c = campaigns.get(d.campaign);
      return c ? campaigns.set(d.campaign, { ...c, completedRuns: [...c.completedRuns, d.runId] }) : campaigns;
    }
    case 'CampaignCompleted': {
      const name = data.campaign as string;
      const c = campaigns.get(name);
      return c ? campaigns.set(name, { ...c, completed: true }) : campaigns;
    }
    default:
      return campaigns;
  }
}

function evolveComparison(comparisons: RunSummaries['comparisons'], type: string, data: Record<string, unknown>): RunSummaries['comparisons'] {
  if (type === 'ComparisonRecorded') {
    const d = data as ComparisonRecordedData;
    const metrics = Object.fromEntries(d.metrics.map((m) => [m.metric, { delta: m.delta, relativeDelta: m.relativeDelta }]));
    const previous = comparisons.get(d.comparisonId);
    return comparisons.set(d.comparisonId, {
      comparisonId: d.comparisonId,
      baseline: d.baseline,
      candidate: d.candidate,
      aggregation: d.aggregation,
      policyHash: d.policyHash,
      metrics,
      verdicts: previous?.verdicts ?? {},
    });
  }
  if (type === 'RegressionGateEvaluated') {
    const d = data as RegressionGateEvaluatedData;
    const c = comparisons.get(d.comparisonId);
    if (!c) return comparisons;
    return comparisons.set(d.comparisonId, { ...c, verdicts: { ...c.verdicts, [d.strict ? 'strict' : 'lenient']: d.verdict } });
  }
  return comparisons;
}

export const runSummaryProjection: Projection<RunSummaries> = {
  name: 'run-summary',
  version: 1,
  initial: emptyRunSummaries,
  evolve(state, event) {
    const { stream, type } = event.envelope;
    if (stream.startsWith(RUN_STREAM_PREFIX)) {
      const runId = stream.slice(RUN_STREAM_PREFIX.length);
      const run = evolveRunProvenance(state.runs.get(runId) ?? newRun(runId), event);
      return { ...state, runs: state.runs.set(runId, run) };
    }
    if (type.startsWith('Campaign')) return { ...state, campaigns: evolveCampaign(state.campaigns, type, eventData(event)) };
    if (type === 'ComparisonRecorded' || type === 'RegressionGateEvaluated') {
      return { ...state, comparisons: evolveComparison(state.comparisons, type, eventData(event)) };
    }
    return state;
  },
  toJSON: (state): RunSummariesJson => ({ runs: state.runs.toJSON(), campaigns: state.campaigns.toJSON(), comparisons: state.comparisons.toJSON() }),
  fromJSON(json) {
    const j = json as RunSummariesJson;
    return { runs: PersistentMap.fromObject(j.runs), campaigns: PersistentMap.fromObject(j.campaigns), comparisons: PersistentMap.fromObject(j.comparisons) };
  },
};

/** What `runledger` shows for a run: provenance plus derived views (stages vs plan, comparisons). */
export interface RunReport {
  runId: string;
  status: RunSummary['status'];
  planName: string | null;
  governancePlanHash: string | null;
  executionPlanHash: string | null;
  /** Digest of the run's governance state now (a replay manifest's projections.runState). RunCompleted.summaryDigest records the digest taken just before RunCompleted itself, so for an ended run the two differ. */
  summaryDigest: string;
  /** Digest of this run's provenance entry: what a replay manifest's projections.runSummary records. */
  provenanceDigest: string;
  stages: {
    planned: number;
    completed: number;
    failed: number;
    list: { id: string; status: string; attempts: number; wallMs: number | null; memoryDeltaBytes: number | null; throughput: number | null }[];
  };
  seeds: Record<string, number>;
  trainingSeed: number | null;
  backend: TrainingStarted['backend'] | null;
  environment: RunProvenance['environment'];
  finalMetrics: RunProvenance['finalMetrics'];
  params: RunProvenance['params'];
  tags: RunProvenance['tags'];
  checkpoints: RunProvenance['checkpoints'];
  campaigns: string[];
  comparisons: {
    comparisonId: string;
    role: 'baseline' | 'candidate';
    baselineRuns: string[];
    candidateRuns: string[];
    aggregation: string;
    verdict: string | null;
  }[];
  findings: RunProvenance['findings'];
}

export function runReport(state: RunSummaries, runId: string): RunReport | undefined {
  const run = state.runs.get(runId);
  if (!run) return undefined;
  const g = run.governance;
  const campaigns = state.campaigns
    .sortedKeys()
    .filter((name) => state.campaigns.get(name)!.runs.some((r) => r.runId === runId));
  const comparisons = [...state.comparisons.values()]
    .flatMap((c) => {
      const role = c.candidate.runs.includes(runId) ? 'candidate' : c.baseline.runs.includes(runId) ? 'baseline' : null;
      if (!role) return [];
      return [{ comparisonId: c.comparisonId, role, baselineRuns: c.baseline.runs, candidateRuns: c.candidate.runs, aggregation: c.aggregation, verdict: c.verdicts.strict ?? c.verdicts.lenient ?? null } as const];
    })
    .sort((a, b) => (a.comparisonId < b.comparisonId ? -1 : a.comparisonId > b.comparisonId ? 1 : 0));
  return {
    runId,
    status: g.status,
    planName: run.planName,
    governancePlanHash: g.governancePlanHash,
    executionPlanHash: g.executionPlanHash,
    summaryDigest: runSummaryDigest(g),
    provenanceDigest: stateDigest(run),
    stages: {
      planned: g.stages.length,
      completed: g.stages.filter((s) => s.status === 'completed').length,
      failed: g.stages.filter((s) => s.status === 'failed').length,
      list: g.stages.map((s) => ({ id: s.id, status: s.status, attempts: s.attempts, wallMs: s.wallMs, memoryDeltaBytes: s.memoryDeltaBytes, throughput: s.throughput })),
    },
    seeds: run.seeds,
    trainingSeed: run.training?.seed ?? null,
    backend: run.training?.backend ?? null,
    environment: run.environment,
    finalMetrics: run.finalMetrics,
    params: run.params,
    tags: run.tags,
    checkpoints: run.checkpoints,
    campaigns,
    comparisons: comparisons.map((c) => ({ ...c })),
    findings: run.findings,
  };
}

/** Budget subjects for the gate: each budgeted stage of a run with what its telemetry shows. */
export function budgetSubjects(state: RunSummaries, runIds: readonly string[]): { run: string; stage: string; budget: StageBudget; observed: { wallMs: number | null; memoryDeltaBytes: number | null; throughputPerSec: number | null } }[] {
  return runIds.flatMap((runId) => {
    const run = state.runs.get(runId);
    if (!run) return [];
    return Object.keys(run.budgets)
      .sort()
      .map((stageId) => {
        const stage = run.governance.stages.find((s) => s.id === stageId);
        const t = run.telemetry[stageId];
        const trainingWall = run.training?.stageId === stageId ? run.trainingWallMs : null;
        return {
          run: runId,
          stage: stageId,
          budget: run.budgets[stageId]!,
          observed: {
            // The stage's own record first; telemetry fills in what the executor did not measure.
            wallMs: stage?.wallMs ?? trainingWall,
            memoryDeltaBytes: stage?.memoryDeltaBytes ?? t?.maxMemoryDeltaBytes ?? null,
            throughputPerSec: stage?.throughput ?? (t && t.examplesPerSecCount > 0 ? t.examplesPerSecSum / t.examplesPerSecCount : null),
          },
        };
      });
  });
}
