// Read-model records → the API's JSON shapes. Pure: the shapes are documented in api-types.ts.
import type { CheckpointWritten } from '../../events/training.js';
import type { ComparisonRecordedData, RegressionGateEvaluatedData } from '../../events/comparison.js';
import type {
  CheckpointView,
  ComparisonView,
  GateView,
  GraphView,
  MetricSeriesPoint,
  MetricComparisonView,
  RunDetail,
  RunRow,
  StageBudgetView,
  TelemetryView,
  VerificationBadge,
} from './api-types.js';
import { buildGraph } from '../../projections/comparison-graph.js';
import type { ComparisonRecord, LiveView, RunRecord } from './live-view.js';

/** Checks a checkpoint's signature (the caller decides which key is trusted); null when it cannot tell. */
export type CheckpointSignatureCheck = (checkpoint: CheckpointWritten) => boolean | null;

export function runRow(run: RunRecord, badge: VerificationBadge): RunRow {
  const p = run.provenance;
  const stage = chartStage(run);
  const samples = run.telemetry.filter((t) => t.sample.tags.stage === stage);
  const last = samples[samples.length - 1]?.sample;
  const losses = run.metrics.filter((m) => m.stage === stage && m.point.key === 'loss');
  const lastLoss = losses[losses.length - 1]?.point.value ?? null;
  return {
    runId: run.runId,
    status: p.governance.status,
    plan: p.planName,
    backend: p.training?.backend.name ?? p.environment?.backend?.name ?? null,
    campaign: run.campaign,
    seed: p.training?.seed ?? null,
    step: last?.step ?? null,
    totalSteps: run.totalSteps,
    lastLoss,
    metrics: p.finalMetrics ?? p.checkpoints[p.checkpoints.length - 1]?.metrics ?? null,
    checkpoints: p.checkpoints.length,
    findings: p.findings,
    verification: badge,
    updatedAt: run.updatedAt,
  };
}

export function stageBudgets(run: RunRecord): Record<string, StageBudgetView> {
  return run.provenance.budgets;
}

export function runDetail(run: RunRecord, badge: VerificationBadge, checkSignature: CheckpointSignatureCheck, live: LiveView): RunDetail {
  const budgets = stageBudgets(run);
  const p = run.provenance;
  const g = p.governance;
  return {
    ...runRow(run, badge),
    approver: g.approver,
    governancePlanHash: g.governancePlanHash,
    executionPlanHash: g.executionPlanHash,
    failure: g.failure,
    stages: g.stages.map((stage) => ({
      id: stage.id,
      dependsOn: stage.dependsOn,
      status: stage.status,
      attempts: stage.attempts,
      wallMs: stage.wallMs,
      memoryDeltaBytes: stage.memoryDeltaBytes,
      throughput: stage.throughput,
      failure: stage.failure,
      budget: budgets[stage.id] ?? null,
    })),
    training: p.training
      ? {
          stageId: p.training.stageId,
          worker: run.worker ?? p.environment?.worker ?? '—',
          configDigest: p.training.configDigest,
          dataset: p.training.dataset,
          backend: p.training.backend,
          resumedFrom: p.training.resumedFrom[p.training.resumedFrom.length - 1] ?? null,
          wallMs: p.trainingWallMs,
        }
      : null,
    environment: (p.environment as Record<string, unknown> | null) ?? null,
    params: p.params,
    tags: p.tags,
    latestMetrics: p.metrics,
    checkpointList: run.checkpoints.map((c): CheckpointView => ({
      epoch: c.data.epoch,
      step: c.data.step,
      digest: c.data.digest,
      bytes: c.data.bytes,
      publicKey: c.data.publicKey,
      signatureValid: checkSignature(c.data),
      metrics: c.data.metrics,
      recordedAt: c.recordedAt,
    })),
    findingList: run.findings.map((f) => ({
      severity: f.data.severity,
      check: f.data.check,
      message: f.data.message,
      subject: f.data.subject,
      recordedAt: f.recordedAt,
    })),
    gates: [...live.comparisons.values()].filter((c) => c.gate && c.data.candidate.runs.includes(run.runId)).map(gateView),
    summaryDigest: live.summaryDigest(run.runId)!,
  };
}

/** The stage whose samples a run's charts show: the training stage, else the stage sampled last. */
export function chartStage(run: RunRecord): string | null {
  return run.provenance.training?.stageId ?? run.telemetry[run.telemetry.length - 1]?.sample.tags.stage ?? null;
}

/** Samples of one stage (steps restart per stage), after `afterStep`. */
export function telemetryView(run: RunRecord, stage: string | null, afterStep = -1): TelemetryView {
  const budgets = stageBudgets(run);
  const stages = new Set(run.telemetry.map((t) => t.sample.tags.stage));
  // Each sample's loss and accuracy: the metric points logged at its stage and step (the last one wins).
  const valueAt = new Map<string, number>();
  for (const { stage: s, point } of run.metrics) if (point.key === 'loss' || point.key === 'accuracy') valueAt.set(`${s}\u0000${point.step}\u0000${point.key}`, point.value);
  const at = (s: string, step: number, key: string): number | null => valueAt.get(`${s}\u0000${step}\u0000${key}`) ?? null;
  return {
    runId: run.runId,
    stage,
    stages: [...stages].sort(),
    points: run.telemetry
      .filter((t) => (stage === null || t.sample.tags.stage === stage) && t.sample.step > afterStep)
      .map(({ sample, recordedAt }) => ({
        step: sample.step,
        epoch: sample.epoch,
        stage: sample.tags.stage,
        loss: at(sample.tags.stage, sample.step, 'loss'),
        accuracy: at(sample.tags.stage, sample.step, 'accuracy'),
        examplesPerSec: sample.examplesPerSec,
        stepWallMs: sample.stepWallMs,
        memoryDeltaBytes: sample.memoryDeltaBytes,
        recordedAt,
      })),
    metrics: metricSeries(run, stage, afterStep),
    budgets: Object.fromEntries(Object.entries(budgets).filter(([stage]) => stages.has(stage))),
  };
}

/** Logged metric points of one stage (any stage when null) after `afterStep`, grouped by name in log order. */
function metricSeries(run: RunRecord, stage: string | null, afterStep: number): Record<string, MetricSeriesPoint[]> {
  const series = new Map<string, MetricSeriesPoint[]>();
  for (const { stage: s, point } of run.metrics) {
    if ((stage !== null && s !== stage) || point.step <= afterStep) continue;
    const list = series.get(point.key) ?? [];
    list.push({ step: point.step, value: point.value, timestamp: point.timestamp, stage: s });
    series.set(point.key, list);
  }
  return Object.fromEntries([...series].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function ruleFor(gate: RegressionGateEvaluatedData | null, metric: string): RegressionGateEvaluatedData['rules'][number] | undefined {
  return gate?.rules.find((r) => r.metric === metric);
}

function metricView(m: ComparisonRecordedData['metrics'][number], gate: RegressionGateEvaluatedData | null): MetricComparisonView {
  const rule = ruleFor(gate, m.metric);
  const test = m.test;
  return {
    metric: m.metric,
    direction: m.direction,
    baseline: { n: m.baseline.n, aggregate: m.baseline.aggregate },
    candidate: { n: m.candidate.n, aggregate: m.candidate.aggregate },
    delta: m.delta,
    relativeDelta: m.relativeDelta,
    interval: test?.kind === 'bootstrap' ? { low: test.low, high: test.high, confidence: test.confidence } : null,
    pValue: test?.kind === 'mann-whitney' ? test.pValue : null,
    effectSize: test?.kind === 'mann-whitney' ? test.effectSize : null,
    significant: test ? test.significant : null,
    verdict: rule?.verdict ?? null,
    severity: rule?.severity ?? null,
    reason: rule?.reason ?? null,
  };
}

export function comparisonView(c: ComparisonRecord): ComparisonView {
  return {
    comparisonId: c.data.comparisonId,
    baseline: c.data.baseline,
    candidate: c.data.candidate,
    aggregation: c.data.aggregation,
    policyHash: c.data.policyHash,
    metrics: c.data.metrics.map((m) => metricView(m, c.gate)),
    verdict: c.gate?.verdict ?? null,
    recordedAt: c.recordedAt,
  };
}

export function gateView(c: ComparisonRecord): GateView {
  const g = c.gate!;
  return {
    comparisonId: g.comparisonId,
    verdict: g.verdict,
    strict: g.strict,
    hardBreaches: g.hardBreaches,
    softBreaches: g.softBreaches,
    baseline: c.data.baseline.ref,
    candidate: c.data.candidate.ref,
    rules: g.rules,
    budgets: g.budgets,
    recordedAt: c.gateRecordedAt ?? c.recordedAt,
  };
}

/** The comparison-graph projection's graph (deterministic node and edge order), shaped for cytoscape. */
export function graphView(live: LiveView): GraphView {
  const graph = buildGraph(live.graph.state);
  return {
    nodes: graph.nodes.map((n) => ({ id: n.id, kind: n.kind, label: n.name, status: (n.status as GraphView['nodes'][number]['status']) ?? null })),
    edges: graph.edges.map((e) => ({
      id: `${e.type}:${e.from}->${e.to}${e.comparisonId ? `:${e.comparisonId}` : ''}`,
      source: e.from,
      target: e.to,
      relation: e.type,
      deltas: Object.fromEntries(Object.entries(e.deltas).map(([metric, d]) => [metric, d.delta])),
    })),
  };
}
