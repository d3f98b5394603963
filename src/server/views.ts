// Read-model records → the API's JSON shapes. Pure: the shapes are documented in api-types.ts.
import type { CheckpointWritten } from '../../events/training.js';
import type { ComparisonRecordedData, RegressionGateEvaluatedData } from '../../events/comparison.js';
import type {
  CheckpointView,
  ComparisonView,
  GateView,
  GraphEdge,
  GraphNode,
  GraphView,
  MetricComparisonView,
  RunDetail,
  RunRow,
  StageBudgetView,
  TelemetryView,
  VerificationBadge,
} from './api-types.js';
import type { ComparisonRecord, LiveView, RunRecord } from './live-view.js';

/** Checks a checkpoint's signature (the caller decides which key is trusted); null when it cannot tell. */
export type CheckpointSignatureCheck = (checkpoint: CheckpointWritten) => boolean | null;

export function runRow(run: RunRecord, badge: VerificationBadge): RunRow {
  const last = run.telemetry[run.telemetry.length - 1]?.sample;
  const lastLoss = [...run.telemetry].reverse().find((t) => t.sample.loss !== null)?.sample.loss ?? null;
  const latestCheckpoint = run.checkpoints[run.checkpoints.length - 1]?.data;
  const findings = { hard: 0, soft: 0, info: 0 };
  for (const f of run.findings) findings[f.data.severity]++;
  return {
    runId: run.runId,
    status: run.summary.status,
    plan: run.plan?.name ?? null,
    backend: run.started?.backend.name ?? run.environment?.backend.name ?? last?.tags.backend ?? run.plan?.training?.backend ?? null,
    campaign: run.campaign,
    seed: run.started?.seed ?? null,
    step: last?.step ?? null,
    totalSteps: run.started?.totalSteps ?? null,
    lastLoss,
    metrics: run.completed?.metrics ?? latestCheckpoint?.metrics ?? null,
    checkpoints: run.checkpoints.length,
    findings,
    verification: badge,
    updatedAt: run.updatedAt,
  };
}

export function stageBudgets(run: RunRecord): Record<string, StageBudgetView> {
  return (run.plan?.budgets ?? {}) as Record<string, StageBudgetView>;
}

export function runDetail(run: RunRecord, badge: VerificationBadge, checkSignature: CheckpointSignatureCheck, live: LiveView): RunDetail {
  const budgets = stageBudgets(run);
  const s = run.summary;
  return {
    ...runRow(run, badge),
    approver: s.approver,
    governancePlanHash: s.governancePlanHash,
    executionPlanHash: s.executionPlanHash,
    failure: s.failure,
    stages: s.stages.map((stage) => ({
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
    training: run.started
      ? {
          worker: run.started.worker,
          configDigest: run.started.configDigest,
          dataset: run.started.dataset,
          backend: run.started.backend,
          resumedFrom: run.started.resumedFrom,
          wallMs: run.completed?.wallMs ?? null,
        }
      : null,
    environment: (run.environment as Record<string, unknown> | null) ?? null,
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

export function telemetryView(run: RunRecord, afterStep = -1): TelemetryView {
  const budgets = stageBudgets(run);
  const stages = new Set(run.telemetry.map((t) => t.sample.tags.stage));
  return {
    runId: run.runId,
    points: run.telemetry
      .filter((t) => t.sample.step > afterStep)
      .map(({ sample, recordedAt }) => ({
        step: sample.step,
        epoch: sample.epoch,
        stage: sample.tags.stage,
        loss: sample.loss,
        accuracy: sample.accuracy,
        examplesPerSec: sample.examplesPerSec,
        stepWallMs: sample.stepWallMs,
        memoryDeltaBytes: sample.memoryDeltaBytes,
        recordedAt,
      })),
    budgets: Object.fromEntries(Object.entries(budgets).filter(([stage]) => stages.has(stage))),
  };
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

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Runs and campaigns as nodes; membership, links and comparisons as typed edges; sorted by id. */
export function graphView(live: LiveView): GraphView {
  const nodes = new Map<string, GraphNode>();
  const node = (kind: 'run' | 'campaign', id: string): string => {
    const key = `${kind}:${id}`;
    if (!nodes.has(key)) nodes.set(key, { id: key, kind, label: id, status: kind === 'run' ? (live.runs.get(id)?.summary.status ?? null) : null });
    return key;
  };
  for (const run of live.runs.values()) if (run.summary.status !== 'empty' || run.telemetry.length) node('run', run.runId);
  const edges = new Map<string, GraphEdge>();
  const edge = (source: string, target: string, relation: string, deltas: Record<string, number> = {}): void => {
    const id = `${relation}:${source}->${target}`;
    edges.set(id, { id, source, target, relation, deltas });
  };
  for (const c of live.campaigns.values()) {
    const campaign = node('campaign', c.campaign);
    for (const runId of c.runs) edge(node('run', runId), campaign, 'member-of');
  }
  for (const { data } of live.links) edge(node(data.from.kind, data.from.id), node(data.to.kind, data.to.id), data.relation);
  for (const c of live.comparisons.values()) {
    const deltas: Record<string, number> = {};
    for (const m of c.data.metrics) if (m.delta !== null) deltas[m.metric] = m.delta;
    edge(node(c.data.baseline.kind, c.data.baseline.ref), node(c.data.candidate.kind, c.data.candidate.ref), 'compared-with', deltas);
  }
  return { nodes: [...nodes.values()].sort(byId), edges: [...edges.values()].sort(byId) };
}
