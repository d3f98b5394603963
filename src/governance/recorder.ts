// Recording a governed run: approving its plans and its stage transitions. Every write goes through
// the run-stream door (guarded-append.ts): the run state is read, the write rules check the events
// decided from it, and they are appended with expectedRevision = the revision read, so two concurrent
// recorders cannot both pass the check; the loser re-reads and re-checks.
import type { AuditFindingInput, StageCompletedData, StageFailedData, StageStartedData } from '../../events/governance.js';
import { InputError } from '../errors.js';
import type { EventStore } from '../store/port.js';
import { decideRunAppend, guardedAppend } from './guarded-append.js';
import type { Plan } from './plan.js';
import { evolveRun, runSummaryDigest, type RunEvent, type RunSummary } from './run-state.js';
import { checkRunId, runStream } from './run-stream.js';

export { checkRunId, runStream } from './run-stream.js';
export { readRun, type RunSnapshot } from './guarded-append.js';

/** The governance recorder writes plan and stage events; the door lets it. */
const RECORDER = { allowGovernance: true } as const;

/** The state after proposed events (the door checks them before anything is appended). */
function stateAfter(state: RunSummary, events: RunEvent[]): RunSummary {
  for (const event of events) state = evolveRun(state, event);
  return state;
}

export interface ApprovalResult {
  runId: string;
  stream: string;
  governancePlanHash: string;
  executionPlanHash: string;
  approver: string;
  /** The worker keys the run's approval trusts (those recorded, when it was approved before). */
  workerKeys: string[];
  /** False when the same plans were already approved for this run (an idempotent retry). */
  recorded: boolean;
}

/**
 * Records GovernancePlanApproved and ExecutionPlanRecorded as the first two events of the run,
 * atomically. Approving the same plans again is a no-op; different plans for an existing run are refused.
 */
export async function approvePlan(
  store: EventStore,
  plan: Plan,
  runId: string,
  options: { actor?: string; approver?: string; workerKeys?: readonly string[] } = {},
): Promise<ApprovalResult> {
  const approver = options.approver ?? plan.governance.approver;
  if (approver !== plan.governance.approver) {
    throw new InputError(`plan ${plan.governance.name} must be approved by ${plan.governance.approver}, not ${approver}`, { field: 'approver' });
  }
  const actor = options.actor ?? approver;
  const workerKeys = [...new Set(options.workerKeys ?? [])];
  const base = {
    runId,
    stream: runStream(runId),
    governancePlanHash: plan.governancePlanHash,
    executionPlanHash: plan.executionPlanHash,
    approver,
  };
  return decideRunAppend<ApprovalResult>(store, runId, ({ state, rules }) => {
    if (state.status !== 'empty') {
      if (state.governancePlanHash === plan.governancePlanHash && state.executionPlanHash === plan.executionPlanHash) {
        return { done: { ...base, workerKeys: rules.workerKeys, recorded: false } };
      }
      throw new InputError(
        `run ${runId} already has an approved plan (governance ${state.governancePlanHash ?? 'none'}); choose another run id`,
        { stream: runStream(runId) },
      );
    }
    const events = [
      {
        type: 'GovernancePlanApproved',
        data: { runId, plan: plan.governance, planHash: plan.governancePlanHash, approver, workerKeys },
        metadata: { actor },
      },
      {
        type: 'ExecutionPlanRecorded',
        data: { runId, plan: plan.execution, planHash: plan.executionPlanHash, governancePlanHash: plan.governancePlanHash },
        metadata: { actor },
      },
    ];
    return { events, result: { ...base, workerKeys, recorded: true } };
  }, RECORDER);
}

export type StageAction = 'start' | 'complete' | 'fail';

export interface StageDetails {
  /** Named input digests (start). */
  inputs?: Record<string, string>;
  /** Named output digests (complete, fail). */
  outputs?: Record<string, string>;
  /** Wall time of the attempt; default: now minus the StageStarted recordedAt. */
  wallMs?: number;
  memoryDeltaBytes?: number | null;
  throughput?: number | null;
  /** Why the stage failed (fail). */
  reason?: string;
  actor?: string;
  correlationId?: string;
}

export interface StageRecord {
  runId: string;
  stageId: string;
  action: StageAction;
  attempt: number;
  /** Types appended, in order: the stage event, then RunCompleted or RunFailed when the run ended. */
  recorded: string[];
  runStatus: RunSummary['status'];
}

/**
 * Records a stage transition. Refused (InputError, nothing written) when the run has no approved
 * plan, the stage is not in it, its dependencies have not completed, it is not in the right state,
 * or the run has ended. Completing the last stage also records RunCompleted; a failure records RunFailed.
 */
export async function recordStage(
  store: EventStore,
  runId: string,
  stageId: string,
  action: StageAction,
  details: StageDetails = {},
): Promise<StageRecord> {
  const metadata = { actor: details.actor ?? 'runledger', ...(details.correlationId ? { correlationId: details.correlationId } : {}) };
  return decideRunAppend<StageRecord>(store, runId, ({ state, events: recorded }) => {
    const stage = state.stages.find((s) => s.id === stageId);
    const attempt = action === 'start' ? (stage?.attempts ?? 0) + 1 : Math.max(stage?.attempts ?? 1, 1);
    const events: RunEvent[] = [];
    if (action === 'start') {
      const data: StageStartedData = { runId, stageId, attempt, inputs: details.inputs ?? {} };
      events.push({ type: 'StageStarted', data });
    } else {
      const started = [...recorded].reverse().find((e) => e.envelope.type === 'StageStarted' && e.envelope.data.stageId === stageId);
      const wallMs = details.wallMs ?? (started ? Math.max(0, Date.now() - Date.parse(started.envelope.metadata.recordedAt)) : 0);
      if (action === 'complete') {
        const data: StageCompletedData = {
          runId,
          stageId,
          attempt,
          outputs: details.outputs ?? {},
          wallMs,
          memoryDeltaBytes: details.memoryDeltaBytes ?? null,
          throughput: details.throughput ?? null,
        };
        events.push({ type: 'StageCompleted', data });
      } else {
        const reason = details.reason ?? 'stage failed';
        const data: StageFailedData = {
          runId,
          stageId,
          attempt,
          reason,
          outputs: details.outputs ?? {},
          wallMs,
          memoryDeltaBytes: details.memoryDeltaBytes ?? null,
        };
        events.push({ type: 'StageFailed', data });
      }
    }
    let after = stateAfter(state, events);
    // The run ends in the same atomic append as the stage event that ends it.
    if (action === 'complete' && after.stages.every((s) => s.status === 'completed')) {
      const end: RunEvent = { type: 'RunCompleted', data: { runId, summaryDigest: runSummaryDigest(after) } };
      after = stateAfter(after, [end]);
      events.push(end);
    } else if (action === 'fail') {
      const end: RunEvent = {
        type: 'RunFailed',
        data: { runId, stageId, reason: `stage ${stageId} failed: ${details.reason ?? 'stage failed'}`, summaryDigest: runSummaryDigest(after) },
      };
      after = stateAfter(after, [end]);
      events.push(end);
    }
    return {
      events: events.map((e) => ({ type: e.type, data: e.data, metadata })),
      result: { runId, stageId, action, attempt, recorded: events.map((e) => e.type), runStatus: after.status },
    };
  }, RECORDER);
}

/** Ends a run that cannot go on (e.g. its executor crashed) with RunFailed. */
export async function failRun(store: EventStore, runId: string, reason: string, actor = 'runledger'): Promise<void> {
  await decideRunAppend<void>(
    store,
    runId,
    ({ state }) => {
      const end: RunEvent = { type: 'RunFailed', data: { runId, stageId: null, reason, summaryDigest: runSummaryDigest(state) } };
      return { events: [{ ...end, metadata: { actor } }], result: undefined };
    },
    RECORDER,
  );
}

/** Appends an AuditFinding to the run's stream: any time after its plans, also after it ended (findings never change its results). */
export async function recordFinding(store: EventStore, finding: AuditFindingInput, actor = 'runledger'): Promise<void> {
  checkRunId(finding.runId);
  await guardedAppend(store, [{ stream: runStream(finding.runId), events: [{ type: 'AuditFinding', data: { details: {}, ...finding }, metadata: { actor } }] }]);
}
