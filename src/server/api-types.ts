// The JSON shapes of the dashboard API, shared by the server and the browser bundle (type-only
// imports on the web side, erased by esbuild). docs/dashboard.md documents them for users.

export type RunStatus = 'empty' | 'approved' | 'planned' | 'completed' | 'failed';
export type StageStatus = 'pending' | 'running' | 'completed' | 'failed';

/**
 * What the run replay (`runledger replay RUN`'s checks) says against the latest signed checkpoint:
 * verified — every check passed for every event; pending — the events inside the checkpoint passed,
 * later ones are not signed yet; unsigned — no checkpoint yet, or no verifier key to open it;
 * failed — a check failed (the first divergence is in the detail).
 */
export type VerificationBadge = 'verified' | 'pending' | 'unsigned' | 'failed';

/**
 * Final metrics by name: any name a run logged (docs/api.md "Names"); a built-in training run has
 * trainLoss, trainAccuracy, testLoss and testAccuracy among them.
 */
export type MetricsView = Record<string, number>;

export interface RunRow {
  runId: string;
  status: RunStatus;
  /** Governance plan name; null before approval. */
  plan: string | null;
  backend: string | null;
  campaign: string | null;
  seed: number | null;
  /** Latest step sampled in the training stage, and the total the worker announced. */
  step: number | null;
  totalSteps: number | null;
  lastLoss: number | null;
  /** Final metrics, else those of the latest checkpoint. */
  metrics: MetricsView | null;
  checkpoints: number;
  findings: { hard: number; soft: number; info: number };
  verification: VerificationBadge;
  updatedAt: string | null;
}

export interface StageBudgetView {
  maxWallMs?: number;
  maxMemoryDeltaBytes?: number;
  minThroughput?: number;
}

export interface StageView {
  id: string;
  dependsOn: string[];
  status: StageStatus;
  attempts: number;
  wallMs: number | null;
  memoryDeltaBytes: number | null;
  throughput: number | null;
  failure: string | null;
  budget: StageBudgetView | null;
}

export interface CheckpointView {
  epoch: number;
  step: number;
  digest: string;
  bytes: number;
  publicKey: string;
  /** Signature over the checkpoint digest checked against the home's verifier key; null when no key is known. */
  signatureValid: boolean | null;
  metrics: MetricsView;
  recordedAt: string;
}

export interface FindingView {
  severity: 'hard' | 'soft' | 'info';
  check: string;
  message: string;
  subject: string | null;
  recordedAt: string;
}

export interface RunDetail extends RunRow {
  approver: string | null;
  governancePlanHash: string | null;
  executionPlanHash: string | null;
  failure: string | null;
  stages: StageView[];
  training: {
    stageId: string;
    worker: string;
    configDigest: string;
    dataset: { package: string; version: string; digest: string; trainSize: number; testSize: number };
    backend: { name: string; tfjsVersion: string; threads: number | null; simd: boolean | null };
    resumedFrom: { digest: string; epoch: number; step: number } | null;
    wallMs: number | null;
  } | null;
  environment: Record<string, unknown> | null;
  /** Params as logged (write-once). */
  params: Record<string, string | number | boolean>;
  /** Tags set and not deleted. */
  tags: Record<string, string>;
  /** The latest point of every metric name the run logged. */
  latestMetrics: Record<string, { value: number; step: number; timestamp: number }>;
  checkpointList: CheckpointView[];
  findingList: FindingView[];
  gates: GateView[];
  /** Digest of the run summary projection the page shows (SHA-256 of its JCS form). */
  summaryDigest: string;
}

export interface TelemetryPoint {
  step: number;
  epoch: number;
  stage: string;
  loss: number | null;
  accuracy: number | null;
  examplesPerSec: number | null;
  stepWallMs: number;
  memoryDeltaBytes: number;
  recordedAt: string;
}

export interface MetricSeriesPoint {
  step: number;
  value: number;
  timestamp: number;
  stage: string;
}

export interface TelemetryView {
  runId: string;
  /** The stage these samples belong to (steps restart per stage); default the training stage. */
  stage: string | null;
  /** Every stage the run has samples for. */
  stages: string[];
  points: TelemetryPoint[];
  /** The stage's logged metric points by name (any name), after the same step, in log order. */
  metrics: Record<string, MetricSeriesPoint[]>;
  /** Budgets of the stages the samples belong to, from the approved plan. */
  budgets: Record<string, StageBudgetView>;
}

export interface MetricComparisonView {
  metric: string;
  direction: 'higher-is-better' | 'lower-is-better';
  baseline: { n: number; aggregate: number | null };
  candidate: { n: number; aggregate: number | null };
  delta: number | null;
  relativeDelta: number | null;
  /** Confidence interval of the difference (bootstrap) or p-value and effect size (Mann–Whitney U). */
  interval: { low: number; high: number; confidence: number } | null;
  pValue: number | null;
  effectSize: number | null;
  significant: boolean | null;
  verdict: 'pass' | 'warn' | 'fail' | null;
  severity: 'hard' | 'soft' | null;
  reason: string | null;
}

export interface GateView {
  comparisonId: string;
  verdict: 'pass' | 'warn' | 'fail';
  strict: boolean;
  hardBreaches: number;
  softBreaches: number;
  baseline: string;
  candidate: string;
  rules: { metric: string; severity: 'hard' | 'soft'; breached: boolean; verdict: 'pass' | 'warn' | 'fail'; reason: string }[];
  budgets: { run: string; stage: string; budget: string; limit: number; actual: number | null; severity: 'hard' | 'soft'; breached: boolean; verdict: 'pass' | 'warn' | 'fail'; reason: string }[];
  recordedAt: string;
}

export interface ComparisonView {
  comparisonId: string;
  baseline: { ref: string; kind: 'run' | 'campaign'; runs: string[] };
  candidate: { ref: string; kind: 'run' | 'campaign'; runs: string[] };
  aggregation: string;
  policyHash: string;
  metrics: MetricComparisonView[];
  verdict: 'pass' | 'warn' | 'fail' | null;
  recordedAt: string;
}

export interface GraphNode {
  id: string;
  kind: 'run' | 'campaign';
  label: string;
  /** The graph projection's run status (recorded, completed, failed); null for campaigns. */
  status: string | null;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  relation: string;
  /** Metric deltas carried by the edge, metric → source − target (the comparison's own for compared-with). */
  deltas: Record<string, number>;
}

export interface GraphView {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface VerificationRun {
  runId: string;
  events: number;
  /** Events with a leaf index below the checkpoint size. */
  included: number;
  badge: VerificationBadge;
  /** Events the replay verified before it stopped (all of them when verified). */
  verifiedEvents: number;
  /** The replay's first divergence; null when verified or not replayed. */
  divergence: { check: string; message: string; revision?: number } | null;
  detail: string;
}

export interface VerificationView {
  checkpoint: {
    size: number;
    root: string;
    origin: string;
    /** Key names of the note's signature lines. */
    signers: string[];
    /** Verified with the home's verifier key; null when the home has no key. */
    signatureValid: boolean | null;
    createdAt: string;
  } | null;
  checkpoints: number;
  treeSize: number;
  verifierKey: string | null;
  runs: VerificationRun[];
}

export interface ReplayCheckView {
  check: string;
  /** not-reached: replay stops at the first divergence, so later checks say nothing. */
  status: 'passed' | 'failed' | 'not-reached';
  /** What the check establishes, or for a failure what differed. */
  message: string;
}

export interface ReplayView {
  runId: string;
  ok: boolean;
  events: number;
  checks: ReplayCheckView[];
  firstDivergence: { check: string; message: string; revision?: number; expected?: string; actual?: string } | null;
  checkpointSize: number | null;
}

/** One Server-Sent Event `change` on /api/events: what moved since the previous one. */
export interface ChangeMessage {
  position: number;
  runs: string[];
  topics: ('runs' | 'telemetry' | 'checkpoints' | 'comparisons' | 'graph' | 'gates' | 'verification')[];
}

export interface ServerInfo {
  version: string;
  store: string;
  readOnly: boolean;
  position: number;
}

/** One row of GET /api/models: a model as its verified history stands. */
export interface ModelSummary {
  model: string;
  ok: boolean;
  anchored: boolean;
  versions: number;
  aliases: Record<string, number>;
  lastChange: string | null;
  divergence: string | null;
}
