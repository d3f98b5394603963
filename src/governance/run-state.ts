// The run state: a pure reducer over a run's stream, and the stage-order rules checked against it.
// One code path serves the recorder (which refuses to append a lie), the online replay verifier
// and the offline bundle verifier; the state's JCS digest is the run summary projection digest.
import type { Envelope } from '../../events/envelope.js';
import {
  ExecutionPlanRecordedData,
  GovernancePlanApprovedData,
  RunFailedData,
  StageCompletedData,
  StageFailedData,
  StageStartedData,
} from '../../events/governance.js';
import { canonicalize } from '../integrity/canonical.js';
import { sha256Hex } from '../integrity/hasher.js';

export type StageStatus = 'pending' | 'running' | 'completed' | 'failed';
export type RunStatus = 'empty' | 'approved' | 'planned' | 'completed' | 'failed';

export interface StageSummary {
  id: string;
  dependsOn: string[];
  status: StageStatus;
  attempts: number;
  inputs: Record<string, string>;
  outputs: Record<string, string>;
  wallMs: number | null;
  memoryDeltaBytes: number | null;
  throughput: number | null;
  failure: string | null;
}

export interface RunSummary {
  runId: string;
  status: RunStatus;
  approver: string | null;
  governancePlanHash: string | null;
  executionPlanHash: string | null;
  /** Stages in execution-plan order. */
  stages: StageSummary[];
  /** Events applied, of any type (training telemetry and findings included). */
  eventCount: number;
  /** Revision of the last applied event, -1 before any. */
  lastRevision: number;
  failure: string | null;
}

/** The part of an envelope the rules read. */
export type RunEvent = Pick<Envelope, 'type' | 'data'>;

export interface OrderViolation {
  /** Always `stage-order`: the name of the check in reports. */
  check: 'stage-order';
  /** Which stage-order rule (docs/governance.md "Rules"): the approval first, the execution plan next, stage transitions, the run's end. */
  rule: 'approval-first' | 'plan-next' | 'stage-transition' | 'run-end';
  message: string;
  expected: string;
  actual: string;
}

export function initialRunState(runId: string): RunSummary {
  return {
    runId,
    status: 'empty',
    approver: null,
    governancePlanHash: null,
    executionPlanHash: null,
    stages: [],
    eventCount: 0,
    lastRevision: -1,
    failure: null,
  };
}

/** SHA-256 hex of the JCS of the run summary: the projection digest replay compares. */
export function runSummaryDigest(state: RunSummary): string {
  return sha256Hex(canonicalize(state));
}

export function isFinished(state: RunSummary): boolean {
  return state.status === 'completed' || state.status === 'failed';
}

/** The stages whose start is allowed now, in plan order. */
export function nextStartableStages(state: RunSummary): string[] {
  if (state.status !== 'planned') return [];
  const done = new Set(state.stages.filter((s) => s.status === 'completed').map((s) => s.id));
  return state.stages.filter((s) => s.status === 'pending' && s.dependsOn.every((d) => done.has(d))).map((s) => s.id);
}

/**
 * Why `event` may not follow `state`, or null when it may. Non-governance events (telemetry,
 * checkpoints, custom.*) and AuditFinding are not ordered by the execution plan.
 */
export function orderViolation(state: RunSummary, event: RunEvent): OrderViolation | null {
  const run = state.runId;
  switch (event.type) {
    case 'GovernancePlanApproved':
      if (state.status !== 'empty') {
        return violation('approval-first', `run ${run} already has an approved governance plan`, 'GovernancePlanApproved as the first event of the run', `event ${state.eventCount + 1} of the run`);
      }
      return null;
    case 'ExecutionPlanRecorded': {
      const v = (message: string, expected: string, actual: string): OrderViolation => violation('plan-next', message, expected, actual);
      if (state.status !== 'approved') {
        return v(
          state.status === 'empty' ? `run ${run} has no approved governance plan` : `run ${run} already has an execution plan`,
          'ExecutionPlanRecorded directly after GovernancePlanApproved',
          `run status ${state.status}`,
        );
      }
      const data = event.data as ExecutionPlanRecordedData;
      if (data.governancePlanHash !== state.governancePlanHash) {
        return v(`the execution plan names governance plan ${data.governancePlanHash}, not the approved one`, `${state.governancePlanHash}`, data.governancePlanHash);
      }
      return null;
    }
    case 'StageStarted':
    case 'StageCompleted':
    case 'StageFailed':
      return stageViolation(state, event.type, event.data as StageStartedData);
    case 'RunCompleted': {
      const unfinished = runEndViolation(state);
      if (unfinished) return unfinished;
      const open = state.stages.filter((s) => s.status !== 'completed').map((s) => s.id);
      if (open.length > 0) {
        return violation('run-end', `run ${run} cannot complete: stage${open.length > 1 ? 's' : ''} ${open.join(', ')} not completed`, 'every stage completed', `${open.join(', ')} not completed`);
      }
      return null;
    }
    case 'RunFailed': {
      const unfinished = runEndViolation(state);
      if (unfinished) return unfinished;
      const stageId = (event.data as RunFailedData).stageId;
      if (stageId !== null && state.stages.find((s) => s.id === stageId)?.status !== 'failed') {
        return violation('run-end', `run ${run} failed because of stage ${stageId}, which has not failed`, `stage ${stageId} failed`, `stage ${stageId} ${state.stages.find((s) => s.id === stageId)?.status ?? 'not in the plan'}`);
      }
      return null;
    }
    default:
      return null;
  }
}

function violation(rule: OrderViolation['rule'], message: string, expected: string, actual: string): OrderViolation {
  return { check: 'stage-order', rule, message, expected, actual };
}

function runEndViolation(state: RunSummary): OrderViolation | null {
  if (state.status === 'planned') return null;
  const finished = isFinished(state);
  return {
    check: 'stage-order',
    rule: 'run-end',
    message: finished ? `run ${state.runId} has already ${state.status}` : `run ${state.runId} has no execution plan`,
    expected: 'a planned run that has not ended',
    actual: `run status ${state.status}`,
  };
}

function stageViolation(state: RunSummary, type: string, data: { stageId: string; attempt: number }): OrderViolation | null {
  const run = state.runId;
  const v = (message: string, expected: string, actual: string): OrderViolation => violation('stage-transition', message, expected, actual);
  if (state.status === 'empty' || state.status === 'approved') {
    return v(`run ${run} has no approved execution plan: run "runledger plan approve" first`, 'an approved execution plan', `run status ${state.status}`);
  }
  if (isFinished(state)) {
    return v(`run ${run} has already ${state.status}; no stage may be recorded after the run ended`, 'a run that has not ended', `run status ${state.status}`);
  }
  const stage = state.stages.find((s) => s.id === data.stageId);
  if (!stage) {
    return v(
      `stage ${data.stageId} is not in the execution plan of run ${run} (stages: ${state.stages.map((s) => s.id).join(', ')})`,
      `one of ${state.stages.map((s) => s.id).join(', ')}`,
      data.stageId,
    );
  }
  if (type === 'StageStarted') {
    if (stage.status !== 'pending') {
      return v(`stage ${stage.id} of run ${run} is already ${stage.status}`, `stage ${stage.id} pending`, `stage ${stage.id} ${stage.status}`);
    }
    const open = stage.dependsOn.filter((d) => state.stages.find((s) => s.id === d)?.status !== 'completed');
    if (open.length > 0) {
      return v(
        `stage ${stage.id} of run ${run} depends on ${open.join(', ')}, which ${open.length > 1 ? 'have' : 'has'} not completed`,
        `${open.join(', ')} completed before ${stage.id} starts`,
        `${open.map((d) => `${d} ${state.stages.find((s) => s.id === d)?.status}`).join(', ')}`,
      );
    }
    if (data.attempt !== stage.attempts + 1) {
      return v(`stage ${stage.id} start is attempt ${data.attempt}, expected ${stage.attempts + 1}`, `attempt ${stage.attempts + 1}`, `attempt ${data.attempt}`);
    }
    return null;
  }
  if (stage.status !== 'running') {
    const verb = type === 'StageCompleted' ? 'complete' : 'fail';
    return v(`stage ${stage.id} of run ${run} cannot ${verb}: it is ${stage.status === 'pending' ? 'not started' : stage.status}`, `stage ${stage.id} running`, `stage ${stage.id} ${stage.status}`);
  }
  if (data.attempt !== stage.attempts) {
    return v(`stage ${stage.id} attempt ${data.attempt} is not the running attempt ${stage.attempts}`, `attempt ${stage.attempts}`, `attempt ${data.attempt}`);
  }
  return null;
}

/** Applies one event (assumed already checked by `orderViolation`). Returns a new state. */
export function evolveRun(state: RunSummary, event: RunEvent & { revision?: number }): RunSummary {
  const next: RunSummary = { ...state, eventCount: state.eventCount + 1, lastRevision: event.revision ?? state.lastRevision + 1 };
  const updateStage = (id: string, change: (s: StageSummary) => StageSummary): void => {
    next.stages = next.stages.map((s) => (s.id === id ? change(s) : s));
  };
  switch (event.type) {
    case 'GovernancePlanApproved': {
      const data = event.data as GovernancePlanApprovedData;
      return { ...next, status: 'approved', approver: data.approver, governancePlanHash: data.planHash };
    }
    case 'ExecutionPlanRecorded': {
      const data = event.data as ExecutionPlanRecordedData;
      const stages = data.plan.stages.map(
        (s): StageSummary => ({
          id: s.id,
          dependsOn: [...s.dependsOn],
          status: 'pending',
          attempts: 0,
          inputs: {},
          outputs: {},
          wallMs: null,
          memoryDeltaBytes: null,
          throughput: null,
          failure: null,
        }),
      );
      return { ...next, status: 'planned', executionPlanHash: data.planHash, stages };
    }
    case 'StageStarted': {
      const data = event.data as StageStartedData;
      updateStage(data.stageId, (s) => ({ ...s, status: 'running', attempts: data.attempt, inputs: { ...data.inputs } }));
      return next;
    }
    case 'StageCompleted': {
      const data = event.data as StageCompletedData;
      updateStage(data.stageId, (s) => ({
        ...s,
        status: 'completed',
        outputs: { ...data.outputs },
        wallMs: data.wallMs,
        memoryDeltaBytes: data.memoryDeltaBytes,
        throughput: data.throughput,
      }));
      return next;
    }
    case 'StageFailed': {
      const data = event.data as StageFailedData;
      updateStage(data.stageId, (s) => ({
        ...s,
        status: 'failed',
        outputs: { ...data.outputs },
        wallMs: data.wallMs,
        memoryDeltaBytes: data.memoryDeltaBytes,
        failure: data.reason,
      }));
      return next;
    }
    case 'RunCompleted':
      return { ...next, status: 'completed' };
    case 'RunFailed':
      return { ...next, status: 'failed', failure: (event.data as RunFailedData).reason };
    default:
      return next;
  }
}

/** Folds a whole stream; throws nothing — use `orderViolation` first when the order matters. */
export function projectRun(runId: string, events: Iterable<RunEvent & { revision?: number }>): RunSummary {
  let state = initialRunState(runId);
  for (const event of events) state = evolveRun(state, event);
  return state;
}
