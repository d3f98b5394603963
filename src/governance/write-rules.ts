// Who may write what on a run stream: one pure rule function over the run's state, folded from its
// own log. Every write door (`runledger append`, Kafka ingest, the governance recorder, the training
// workers, the HTTP API) checks a proposed event with `ruleViolation` before appending it, and every
// verifier (replay, verify-bundle, retrain, gates, the dashboard badge) checks each recorded event with
// the same function, so a store written by any other means is caught by the same rules.
// The rules and their names are documented in docs/governance.md "Who may write what".
import type { Envelope } from '../../events/envelope.js';
import {
  GOVERNANCE_TYPES,
  type ExecutionPlanRecordedData,
  type GovernancePlanApprovedData,
  type StageCompletedData,
  type StageStartedData,
} from '../../events/governance.js';
import { isCustomType } from '../../events/registry.js';
import { RUN_DATA_TYPES, type MetricsLogged, type ParamsLogged, type ParamValue, type TagDeleted, type TagsSet } from '../../events/runs.js';
import { WORKER_SIGNED_TYPES, type CheckpointWritten, type Metrics, type TelemetrySample, type TrainingCompleted, type TrainingStarted } from '../../events/training.js';
import { canonicalize } from '../integrity/canonical.js';
import { sha256Hex } from '../integrity/hasher.js';
import { decodeWorkerKey, verifyWorkerSignature, workerEventMessage, type WorkerSignatureCheck } from '../integrity/worker-signature.js';
import { ExecutionPlan, GovernancePlan, planHash } from './plan.js';
import { isValidRunId, RUN_STREAM_PREFIX } from './run-stream.js';
import { evolveRun, initialRunState, isFinished, orderViolation, runSummaryDigest, type RunSummary } from './run-state.js';

/** The stage a plan trains in: the built-in worker executes it, and training events name it. */
export const TRAINING_STAGE = 'train';

/** Recorded only by the governance recorder (`plan approve`, `stage`, `run fail`), which decides them from the plan. */
export const RECORDER_TYPES: ReadonlySet<string> = new Set(GOVERNANCE_TYPES.filter((t) => t !== 'AuditFinding'));

/** Every type a run stream may hold besides `custom.*`; anything else (campaign, comparison events) belongs elsewhere. */
const RUN_STREAM_TYPES: ReadonlySet<string> = new Set<string>([...GOVERNANCE_TYPES, ...WORKER_SIGNED_TYPES, ...RUN_DATA_TYPES, 'RunSubmitted', 'RunClaimed']);
const WORKER_SIGNED: ReadonlySet<string> = new Set<string>([...WORKER_SIGNED_TYPES, ...RUN_DATA_TYPES]);
const RUN_DATA: ReadonlySet<string> = new Set<string>(RUN_DATA_TYPES);
/** The first schema version of each signed type that carries a worker signature: 2 for the training events, 1 for the run-data events. */
const SIGNED_SINCE: Readonly<Record<string, number>> = Object.fromEntries([...WORKER_SIGNED_TYPES.map((t) => [t, 2] as const), ...RUN_DATA_TYPES.map((t) => [t, 1] as const)]);
/** The training events that only the plan's training stage may record. */
const TRAINING_STAGE_TYPES: ReadonlySet<string> = new Set(['TrainingStarted', 'CheckpointWritten', 'TrainingCompleted']);

/** The check a violation is reported under (replay's `RunCheck`), and the rule's stable name. */
export type RuleCheck = 'plan-parity' | 'stage-order' | 'run-summary' | 'write-rule';

export interface RuleViolation {
  check: RuleCheck;
  rule: string;
  /** One sentence, without a final period. */
  message: string;
  expected?: string;
  actual?: string;
}

/** What the rules read of an event: its type, schema version and data (never its metadata: actors are not authenticated). */
export type RuledEvent = Pick<Envelope, 'type' | 'schemaVersion' | 'data'>;

export interface CheckpointRef {
  digest: string;
  epoch: number;
  step: number;
  metrics: Metrics;
}

/** The run's state as the write rules see it: the governance run state plus what training events are checked against. */
export interface RuleState {
  run: RunSummary;
  /** Worker keys the approval trusts (recorded form: base64 raw Ed25519 public keys). */
  workerKeys: string[];
  /** Budgeted stage ids of the approved governance plan. */
  budgetStages: string[];
  /** The metric names the approved plan declares; null when it declares none (any name may be logged). */
  declaredMetrics: string[] | null;
  /** What TrainingStarted must match: the approved training section (null when the plan has none). */
  training: { configDigest: string; seed: number; datasetDigest: string } | null;
  /** The open training session: opened by TrainingStarted, closed by TrainingCompleted or the stage's end. */
  session: { worker: string; publicKey: string } | null;
  /** The run's last CheckpointWritten. */
  checkpoint: CheckpointRef | null;
  /** Step of the last TelemetrySample per stage, since the stage (or its training session) started. */
  telemetrySteps: Record<string, number>;
  /** Params logged so far (write-once). */
  params: Record<string, ParamValue>;
  /** Tags set and not deleted. */
  tags: Record<string, string>;
  submitted: boolean;
  claimed: boolean;
  /** The worker key that signed the run's RunClaimed: it alone signs the run's later training events. */
  claimant: string | null;
}

export function initialRuleState(runId: string): RuleState {
  return {
    run: initialRunState(runId),
    workerKeys: [],
    budgetStages: [],
    declaredMetrics: null,
    training: null,
    session: null,
    checkpoint: null,
    telemetrySteps: {},
    params: {},
    tags: {},
    submitted: false,
    claimed: false,
    claimant: null,
  };
}

/** Whether the run's approval trusts `publicKey` (recorded form) to sign its training events. */
export function trustsWorkerKey(state: RuleState, publicKey: string): boolean {
  return state.workerKeys.includes(publicKey);
}

const short = (hex: string): string => (hex.length > 16 ? `${hex.slice(0, 16)}…` : hex);

function writeRule(rule: string, message: string, expected?: string, actual?: string): RuleViolation {
  return { check: 'write-rule', rule, message, ...(expected !== undefined ? { expected } : {}), ...(actual !== undefined ? { actual } : {}) };
}

function parity(rule: string, message: string, expected?: string, actual?: string): RuleViolation {
  return { ...writeRule(rule, message, expected, actual), check: 'plan-parity' };
}

/** The run an event's data names: `data.runId`, or `data.tags.run` for telemetry. */
function namedRun(event: RuledEvent): unknown {
  if (event.type === 'TelemetrySample') return (event.data as TelemetrySample).tags?.run;
  return 'runId' in event.data ? event.data.runId : undefined;
}

export interface RuleOptions {
  /**
   * How a worker signature is known to be valid; default the full Ed25519 verification (every
   * verifier). The door passes `acceptWorkerSignature`, which also knows what its own process signed.
   */
  signatureValid?: WorkerSignatureCheck;
}

/**
 * Why `event` may not be appended to the run in `state`, or null when it may. Assumes the event's
 * data already matches its schema (every door validates first; replay checks `schema` first).
 * The checks run in the order docs/bundle-format.md §3 gives a verifier: plan parity, the write
 * rules, stage order, run summary.
 */
export function ruleViolation(state: RuleState, event: RuledEvent, signatures: RuleOptions = {}): RuleViolation | null {
  const run = state.run.runId;
  if (!isValidRunId(run)) {
    return writeRule('run-id', `stream "${RUN_STREAM_PREFIX}${run}" does not name a valid run id, so it can hold no run`);
  }
  if (event.type === 'GovernancePlanApproved' || event.type === 'ExecutionPlanRecorded') {
    const divergence = planParity(state, event);
    if (divergence) return divergence;
  }
  const rule = writeRuleViolation(state, event, signatures.signatureValid ?? verifyWorkerSignature);
  if (rule) return rule;
  if (!RECORDER_TYPES.has(event.type)) return null;
  const order = orderViolation(state.run, event);
  if (order) return order;
  if (event.type === 'RunCompleted' || event.type === 'RunFailed') {
    // The digest recorded at the run's end is the state just before it, as the recorder computed it.
    const recorded = (event.data as { summaryDigest: string }).summaryDigest;
    const recomputed = runSummaryDigest(state.run);
    if (recorded !== recomputed) {
      return {
        check: 'run-summary',
        rule: 'summary-digest',
        message: `${event.type} records run-summary digest ${short(recorded)}, but re-projecting the run gives ${short(recomputed)}`,
        expected: recomputed,
        actual: recorded,
      };
    }
  }
  return null;
}

/** Who may write what: the rules of check `write-rule`. */
function writeRuleViolation(state: RuleState, event: RuledEvent, signatureValid: WorkerSignatureCheck): RuleViolation | null {
  const run = state.run.runId;
  const { type } = event;
  if (!RUN_STREAM_TYPES.has(type) && !isCustomType(type)) {
    return writeRule('run-stream-type', `${type} events are not recorded on a run stream`, 'a governance, training, run-data, RunSubmitted, RunClaimed or custom.* event', type);
  }
  const named = namedRun(event);
  if (named !== undefined && named !== run) return writeRule('run-id', `${type} names run ${String(named)}, not ${run}`, run, String(named));
  // Revision 0 is the approval and revision 1 the execution plan, nothing before or between them.
  const status = state.run.status;
  const at = `${type} at revision ${state.run.lastRevision + 1}`;
  if (status === 'empty' ? type !== 'GovernancePlanApproved' : type === 'GovernancePlanApproved') {
    const message = status === 'empty' ? `run ${run} has no approved plan: its first event must be GovernancePlanApproved ("runledger plan approve" records it)` : `run ${run} already has an approved governance plan`;
    return writeRule('approval-first', message, 'GovernancePlanApproved at revision 0 only', at);
  }
  if (status === 'approved' ? type !== 'ExecutionPlanRecorded' : type === 'ExecutionPlanRecorded') {
    const message = status === 'approved' ? `the event after the approval of run ${run} must be ExecutionPlanRecorded` : `run ${run} already has an execution plan`;
    return writeRule('plan-next', message, 'ExecutionPlanRecorded at revision 1 only', at);
  }
  if (type === 'GovernancePlanApproved') return approvalViolation(event.data as GovernancePlanApprovedData);
  if (type === 'ExecutionPlanRecorded') {
    const stages = new Set((event.data as ExecutionPlanRecordedData).plan.stages.map((s) => s.id));
    const unplanned = state.budgetStages.find((id) => !stages.has(id));
    if (unplanned === undefined) return null;
    return writeRule('budget-stage', `the approved plan budgets stage ${unplanned}, which is not a stage of the execution plan`, [...stages].join(', '), unplanned);
  }
  // Findings may follow the end (gates and retrain judge finished runs); they never change its results.
  if (type === 'AuditFinding') return null;
  if (isFinished(state.run)) {
    return writeRule('run-ended', `run ${run} has already ${state.run.status}; only AuditFinding may follow its end`, 'a run that has not ended', `run status ${state.run.status}`);
  }
  if (type === 'RunSubmitted' || type === 'RunClaimed') {
    const done = type === 'RunSubmitted' ? state.submitted : state.claimed;
    if (done) return writeRule('once', `run ${run} already has a ${type} event`, `no earlier ${type}`, `a second ${type}`);
    if (type === 'RunSubmitted') return null;
  }
  if (WORKER_SIGNED.has(type)) return trainingViolation(state, event, signatureValid);
  return null;
}

/** The approver is the plan's; the trusted worker keys are Ed25519 keys, each named once. */
function approvalViolation(approval: GovernancePlanApprovedData): RuleViolation | null {
  if (approval.approver !== approval.plan.approver) {
    return writeRule('approver', `the approval is by ${approval.approver}, but the plan must be approved by ${approval.plan.approver}`, approval.plan.approver, approval.approver);
  }
  const keys = approval.workerKeys ?? [];
  const bad = keys.find((k) => decodeWorkerKey(k) === undefined);
  if (bad !== undefined) return writeRule('worker-keys', `the approval trusts worker key "${bad}", which is not a base64 Ed25519 public key`);
  const twice = keys.find((k, i) => keys.indexOf(k) !== i);
  if (twice !== undefined) return writeRule('worker-keys', `the approval names worker key ${twice} twice`);
  return null;
}

/** Plan parity: each plan's hash is the hash of its normalized body, the plans link, and they name this run. */
function planParity(state: RuleState, event: RuledEvent): RuleViolation | null {
  const data = event.data as { runId: string; plan: unknown; planHash: string };
  const recomputed = planHash(data.plan as GovernancePlan);
  if (recomputed !== data.planHash) {
    return parity('plan-hash', `${event.type} records plan hash ${short(data.planHash)}, but its plan body hashes to ${short(recomputed)}`, recomputed, data.planHash);
  }
  // The body must be the normalized plan: parsing it again changes nothing.
  const schema = event.type === 'GovernancePlanApproved' ? GovernancePlan : ExecutionPlan;
  const normalized = schema.safeParse(data.plan);
  if (!normalized.success || canonicalize(normalized.data) !== canonicalize(data.plan)) {
    return parity('plan-normalized', `${event.type}: the recorded plan body is not a normalized plan, so its hash is not the hash an approver saw`);
  }
  if (event.type === 'ExecutionPlanRecorded') {
    const linked = (event.data as ExecutionPlanRecordedData).governancePlanHash;
    const approved = state.run.governancePlanHash ?? 'none';
    if (linked !== approved) {
      return parity('plan-link', `ExecutionPlanRecorded executes governance plan ${short(linked)}, but the approved plan is ${short(approved)}`, approved, linked);
    }
  }
  if (data.runId !== state.run.runId) return parity('plan-run', `${event.type} names run ${data.runId}, not ${state.run.runId}`, state.run.runId, data.runId);
  return null;
}

/** The stage a training event names: `stageId`, or `tags.stage` for telemetry; none for RunEnvironmentRecorded. */
function stageOf(event: RuledEvent): string | undefined {
  if (event.type === 'TelemetrySample') return (event.data as TelemetrySample).tags.stage;
  return typeof event.data.stageId === 'string' ? event.data.stageId : undefined;
}

/** Training and run-data events: signed by a trusted worker key, in a running stage, by the worker of the open session. */
function trainingViolation(state: RuleState, event: RuledEvent, signatureValid: WorkerSignatureCheck): RuleViolation | null {
  const run = state.run.runId;
  const { type } = event;
  const stageId = stageOf(event);
  if (stageId !== undefined) {
    const stage = state.run.stages.find((s) => s.id === stageId);
    if (stage?.status !== 'running') {
      return writeRule('stage-running', `${type} names stage ${stageId} of run ${run}, which is ${stage ? (stage.status === 'pending' ? 'not started' : stage.status) : 'not in the execution plan'}`, `stage ${stageId} running`, stage ? `stage ${stageId} ${stage.status}` : 'no such stage');
    }
  }
  if (TRAINING_STAGE_TYPES.has(type) && stageId !== TRAINING_STAGE) {
    return writeRule('training-stage', `${type} may only be recorded in the training stage "${TRAINING_STAGE}", not in stage ${String(stageId)}`, TRAINING_STAGE, String(stageId));
  }

  // Authentication: a trusted worker key signed exactly this type and data.
  const signedSince = SIGNED_SINCE[type]!;
  if (event.schemaVersion < signedSince) {
    return writeRule('worker-signature', `${type} version ${event.schemaVersion} carries no worker signature over its data; version ${signedSince} or later is required`, `schemaVersion ${signedSince}`, `schemaVersion ${event.schemaVersion}`);
  }
  const { publicKey, signature } = event.data as { publicKey: string; signature: string };
  if (!trustsWorkerKey(state, publicKey)) {
    return writeRule(
      'worker-signature',
      `${type} is signed by worker key ${publicKey}, which the approval of run ${run} does not trust`,
      state.workerKeys.length ? `one of ${state.workerKeys.join(', ')}` : 'a key the approval names (it names none)',
      publicKey,
    );
  }
  if (!signatureValid(publicKey, workerEventMessage(type, event.data), signature)) {
    return writeRule('worker-signature', `${type} has a signature that does not verify under worker key ${publicKey} for the data it carries`, 'a valid Ed25519 signature of the worker-event message', signature);
  }
  // A claimed run is its claimant's: another key the approval trusts (the worker that lost the claim) records nothing.
  if (state.claimant !== null && publicKey !== state.claimant) {
    return writeRule('claimant', `${type} is signed by worker key ${publicKey}, but run ${run} was claimed by worker key ${state.claimant}`, state.claimant, publicKey);
  }

  // The session: TrainingStarted opens it; every later training-stage event is signed by its key.
  // Run data may also be logged where no session is open (code runledger does not execute), but
  // inside a session only by the worker executing it.
  if (stageId === TRAINING_STAGE && type !== 'TrainingStarted' && !(RUN_DATA.has(type) && state.session === null)) {
    const session = state.session;
    if (session === null) {
      return writeRule('training-session', `${type} in stage ${TRAINING_STAGE} of run ${run} has no open training session: TrainingStarted must come first`, 'an open training session', 'none');
    }
    if (publicKey !== session.publicKey) {
      return writeRule('worker', `${type} is signed by worker key ${publicKey}, but the training session of run ${run} was opened by ${session.publicKey}`, session.publicKey, publicKey);
    }
    const worker = type === 'TelemetrySample' ? (event.data as TelemetrySample).tags.worker : undefined;
    if (worker !== undefined && worker !== session.worker) {
      return writeRule('worker', `TelemetrySample names worker ${worker}, but worker ${session.worker} executes the training session of run ${run}`, session.worker, worker);
    }
  }

  switch (type) {
    case 'TrainingStarted':
      return trainingStartViolation(state, event.data as TrainingStarted);
    case 'TelemetrySample': {
      const { step, tags } = event.data as TelemetrySample;
      const last = state.telemetrySteps[tags.stage];
      if (last !== undefined && step <= last) {
        return writeRule('telemetry-order', `TelemetrySample of stage ${tags.stage} is at step ${step}, not after the previous sample's step ${last}`, `a step above ${last}`, String(step));
      }
      return null;
    }
    case 'CheckpointWritten': {
      const c = event.data as CheckpointWritten;
      const last = state.checkpoint;
      if (last && (c.epoch <= last.epoch || c.step <= last.step)) {
        return writeRule('checkpoint-order', `CheckpointWritten is at epoch ${c.epoch} step ${c.step}, not after the run's last checkpoint at epoch ${last.epoch} step ${last.step}`, `after epoch ${last.epoch} step ${last.step}`, `epoch ${c.epoch} step ${c.step}`);
      }
      return null;
    }
    case 'TrainingCompleted':
      return finalCheckpointViolation(state, event.data as TrainingCompleted);
    case 'ParamsLogged':
      return paramViolation(state, event.data as ParamsLogged);
    case 'MetricsLogged': {
      const declared = state.declaredMetrics;
      const undeclared = declared && (event.data as MetricsLogged).metrics.find((m) => !declared.includes(m.key));
      if (!undeclared) return null;
      return writeRule('metric-declared', `MetricsLogged logs metric ${undeclared.key} of run ${run}, which its approved plan does not declare`, `one of ${declared.join(', ')}`, undeclared.key);
    }
    case 'TagDeleted': {
      const { key } = event.data as TagDeleted;
      if (Object.hasOwn(state.tags, key)) return null;
      return writeRule('tag-set', `TagDeleted deletes tag ${key} of run ${run}, which is not set`, `tag ${key} set`, `tag ${key} not set`);
    }
    default:
      return null;
  }
}

/** Params are write-once: logging a key again is allowed only with the value it already has. */
function paramViolation(state: RuleState, data: ParamsLogged): RuleViolation | null {
  for (const [key, value] of Object.entries(data.params)) {
    if (!Object.hasOwn(state.params, key) || state.params[key] === value) continue;
    const before = JSON.stringify(state.params[key]);
    return writeRule('param-once', `ParamsLogged sets param ${key} of run ${state.run.runId} to ${JSON.stringify(value)}, but it was logged as ${before}: params are write-once`, before, JSON.stringify(value));
  }
  return null;
}

function trainingStartViolation(state: RuleState, data: TrainingStarted): RuleViolation | null {
  // With a training section, the session trains exactly what was approved; a plan without one (an
  // external trainer's) approves no config to compare with.
  const approved = state.training;
  if (approved !== null) {
    if (data.configDigest !== approved.configDigest) {
      return writeRule('training-config', `TrainingStarted trains config ${short(data.configDigest)}, but the approved training section hashes to ${short(approved.configDigest)}`, approved.configDigest, data.configDigest);
    }
    if (data.seed !== approved.seed) return writeRule('training-config', `TrainingStarted trains with seed ${data.seed}, but the approved seed is ${approved.seed}`, String(approved.seed), String(data.seed));
    if (data.dataset.digest !== approved.datasetDigest) {
      return writeRule('training-config', `TrainingStarted reads dataset ${short(data.dataset.digest)}, but the approved dataset is ${short(approved.datasetDigest)}`, approved.datasetDigest, data.dataset.digest);
    }
  }
  // A session continues from the run's last checkpoint, or starts fresh when there is none.
  const last = state.checkpoint;
  const from = data.resumedFrom;
  const expected = last ? `checkpoint ${last.digest} (epoch ${last.epoch}, step ${last.step})` : 'null (no checkpoint yet)';
  const actual = from ? `checkpoint ${from.digest} (epoch ${from.epoch}, step ${from.step})` : 'null';
  if (last === null ? from !== null : from === null || from.digest !== last.digest || from.epoch !== last.epoch || from.step !== last.step) {
    return writeRule('resumed-from', `TrainingStarted resumes from ${actual}, but the run's last checkpoint is ${expected}`, expected, actual);
  }
  return null;
}

function finalCheckpointViolation(state: RuleState, data: TrainingCompleted): RuleViolation | null {
  const last = state.checkpoint;
  if (last === null) return writeRule('final-checkpoint', `TrainingCompleted names checkpoint ${short(data.finalCheckpoint)}, but run ${state.run.runId} recorded no checkpoint`, 'a recorded checkpoint', data.finalCheckpoint);
  if (data.finalCheckpoint !== last.digest) {
    return writeRule('final-checkpoint', `TrainingCompleted names checkpoint ${short(data.finalCheckpoint)}, not the run's last checkpoint ${short(last.digest)}`, last.digest, data.finalCheckpoint);
  }
  if (data.epochs !== last.epoch || data.steps !== last.step) {
    return writeRule('final-checkpoint', `TrainingCompleted reports epoch ${data.epochs} step ${data.steps}, but its checkpoint is at epoch ${last.epoch} step ${last.step}`, `epoch ${last.epoch} step ${last.step}`, `epoch ${data.epochs} step ${data.steps}`);
  }
  const expected = canonicalize(last.metrics);
  const actual = canonicalize(data.metrics);
  if (actual !== expected) return writeRule('final-checkpoint', `TrainingCompleted reports metrics ${actual}, but its checkpoint's signed metrics are ${expected}`, expected, actual);
  return null;
}

/** Applies one event (assumed already checked by `ruleViolation`). Returns a new state. */
export function evolveRules(state: RuleState, event: Pick<Envelope, 'type' | 'data'> & { revision?: number }): RuleState {
  const next: RuleState = { ...state, run: evolveRun(state.run, event) };
  const withoutSteps = (stageId: string): Record<string, number> => {
    const { [stageId]: _dropped, ...rest } = state.telemetrySteps;
    return rest;
  };
  switch (event.type) {
    case 'GovernancePlanApproved': {
      const data = event.data as GovernancePlanApprovedData;
      const training = data.plan.training;
      return {
        ...next,
        workerKeys: [...(data.workerKeys ?? [])],
        budgetStages: Object.keys(data.plan.budgets ?? {}),
        declaredMetrics: data.plan.metrics ? [...data.plan.metrics] : null,
        training: training ? { configDigest: sha256Hex(canonicalize(training)), seed: training.seed, datasetDigest: training.dataset.digest } : null,
      };
    }
    case 'StageStarted':
      return { ...next, telemetrySteps: withoutSteps((event.data as StageStartedData).stageId) };
    case 'StageCompleted':
    case 'StageFailed': {
      const { stageId } = event.data as StageCompletedData;
      return { ...next, telemetrySteps: withoutSteps(stageId), session: stageId === TRAINING_STAGE ? null : state.session };
    }
    case 'TrainingStarted': {
      const data = event.data as TrainingStarted;
      return { ...next, session: { worker: data.worker, publicKey: data.publicKey }, telemetrySteps: withoutSteps(data.stageId) };
    }
    case 'TelemetrySample': {
      const { tags, step } = event.data as TelemetrySample;
      return { ...next, telemetrySteps: { ...state.telemetrySteps, [tags.stage]: step } };
    }
    case 'CheckpointWritten': {
      const c = event.data as CheckpointWritten;
      return { ...next, checkpoint: { digest: c.digest, epoch: c.epoch, step: c.step, metrics: c.metrics } };
    }
    case 'TrainingCompleted':
      return { ...next, session: null };
    case 'ParamsLogged':
      return { ...next, params: { ...state.params, ...(event.data as ParamsLogged).params } };
    case 'TagsSet':
      return { ...next, tags: { ...state.tags, ...(event.data as TagsSet).tags } };
    case 'TagDeleted': {
      const { [(event.data as TagDeleted).key]: _deleted, ...tags } = state.tags;
      return { ...next, tags };
    }
    case 'RunSubmitted':
      return { ...next, submitted: true };
    case 'RunClaimed':
      return { ...next, claimed: true, claimant: (event.data as { publicKey?: string }).publicKey ?? null };
    default:
      return next;
  }
}
