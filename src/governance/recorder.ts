// Recording a governed run: approving its plans and its stage transitions. Every write is checked
// against the run state read in the same attempt and appended with expectedRevision = the revision
// read, so two concurrent recorders cannot both pass the check; the loser re-reads and re-checks.
import type { ProposedEvent } from '../../events/envelope.js';
import type { AuditFindingInput, StageCompletedData, StageFailedData, StageStartedData } from '../../events/governance.js';
import { ConcurrencyError, InputError } from '../errors.js';
import { NO_STREAM, type EventStore, type RecordedEvent } from '../store/port.js';
import { Identifier, type Plan } from './plan.js';
import { evolveRun, initialRunState, orderViolation, runSummaryDigest, type RunEvent, type RunSummary } from './run-state.js';

/** Each run is one stream. */
export function runStream(runId: string): string {
  return `run-${runId}`;
}

/** Rejects run ids that cannot name a stream or a file. */
export function checkRunId(runId: string): string {
  const parsed = Identifier.safeParse(runId);
  if (!parsed.success) throw new InputError(`run id "${runId}" ${parsed.error.issues[0]!.message}`, { field: 'run' });
  return runId;
}

export interface RunSnapshot {
  runId: string;
  stream: string;
  events: RecordedEvent[];
  /** Stream revision read, -1 when the run has no events. */
  revision: number;
  state: RunSummary;
}

/** Reads a run's stream and folds it into its state. */
export async function readRun(store: EventStore, runId: string): Promise<RunSnapshot> {
  checkRunId(runId);
  const stream = runStream(runId);
  const events = await store.readStream(stream);
  let state = initialRunState(runId);
  for (const e of events) state = evolveRun(state, e.envelope);
  return { runId, stream, events, revision: events.length ? events[events.length - 1]!.envelope.revision : -1, state };
}

const MAX_ATTEMPTS = 20;

/**
 * Reads the run, lets `decide` turn its state into events (or throw an InputError), and appends them
 * at exactly the revision read. Retries on a concurrent append until the decision holds or is refused.
 */
async function decideAndAppend<T>(
  store: EventStore,
  runId: string,
  decide: (snapshot: RunSnapshot) => { events: ProposedEvent[]; result: T } | { done: T },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const snapshot = await readRun(store, runId);
    const decision = decide(snapshot);
    if ('done' in decision) return decision.done;
    try {
      await store.append(snapshot.stream, decision.events, {
        expectedRevision: snapshot.revision < 0 ? NO_STREAM : snapshot.revision,
      });
      return decision.result;
    } catch (err) {
      if (!(err instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

/** Applies proposed events to a state, refusing the first that breaks the stage order. */
function checkedState(state: RunSummary, events: RunEvent[]): RunSummary {
  for (const event of events) {
    const violation = orderViolation(state, event);
    if (violation) throw new InputError(`${violation.message}; nothing was recorded`, { stream: runStream(state.runId) });
    state = evolveRun(state, event);
  }
  return state;
}

export interface ApprovalResult {
  runId: string;
  stream: string;
  governancePlanHash: string;
  executionPlanHash: string;
  approver: string;
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
  options: { actor?: string; approver?: string } = {},
): Promise<ApprovalResult> {
  const approver = options.approver ?? plan.governance.approver;
  if (approver !== plan.governance.approver) {
    throw new InputError(`plan ${plan.governance.name} must be approved by ${plan.governance.approver}, not ${approver}`, { field: 'approver' });
  }
  const actor = options.actor ?? approver;
  const base = {
    runId,
    stream: runStream(runId),
    governancePlanHash: plan.governancePlanHash,
    executionPlanHash: plan.executionPlanHash,
    approver,
  };
  return decideAndAppend<ApprovalResult>(store, runId, ({ state }) => {
    if (state.status !== 'empty') {
      if (state.governancePlanHash === plan.governancePlanHash && state.executionPlanHash === plan.executionPlanHash) {
        return { done: { ...base, recorded: false } };
      }
      throw new InputError(
        `run ${runId} already has an approved plan (governance ${state.governancePlanHash ?? 'none'}); choose another run id`,
        { stream: runStream(runId) },
      );
    }
    const events: ProposedEvent[] = [
      {
        type: 'GovernancePlanApproved',
        data: { runId, plan: plan.governance, planHash: plan.governancePlanHash, approver },
        metadata: { actor },
      },
      {
        type: 'ExecutionPlanRecorded',
        data: { runId, plan: plan.execution, planHash: plan.executionPlanHash, governancePlanHash: plan.governancePlanHash },
        metadata: { actor },
      },
    ];
    checkedState(state, events);
    return { events, result: { ...base, recorded: true } };
  });
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
  return decideAndAppend<StageRecord>(store, runId, ({ state, events: recorded }) => {
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
    let after = checkedState(state, events);
    // The run ends in the same atomic append as the stage event that ends it.
    if (action === 'complete' && after.stages.every((s) => s.status === 'completed')) {
      const end: RunEvent = { type: 'RunCompleted', data: { runId, summaryDigest: runSummaryDigest(after) } };
      after = checkedState(after, [end]);
      events.push(end);
    } else if (action === 'fail') {
      const end: RunEvent = {
        type: 'RunFailed',
        data: { runId, stageId, reason: `stage ${stageId} failed: ${details.reason ?? 'stage failed'}`, summaryDigest: runSummaryDigest(after) },
      };
      after = checkedState(after, [end]);
      events.push(end);
    }
    return {
      events: events.map((e) => ({ type: e.type, data: e.data, metadata })),
      result: { runId, stageId, action, attempt, recorded: events.map((e) => e.type), runStatus: after.status },
    };
  });
}

/** Ends a run that cannot go on (e.g. its executor crashed) with RunFailed. */
export async function failRun(store: EventStore, runId: string, reason: string, actor = 'runledger'): Promise<void> {
  await decideAndAppend<void>(store, runId, ({ state }) => {
    const end: RunEvent = { type: 'RunFailed', data: { runId, stageId: null, reason, summaryDigest: runSummaryDigest(state) } };
    checkedState(state, [end]);
    return { events: [{ ...end, metadata: { actor } }], result: undefined };
  });
}

/** Appends an AuditFinding to the run's stream (any position: findings are not ordered by the plan). */
export async function recordFinding(store: EventStore, finding: AuditFindingInput, actor = 'runledger'): Promise<void> {
  checkRunId(finding.runId);
  await store.append(runStream(finding.runId), [{ type: 'AuditFinding', data: { details: {}, ...finding }, metadata: { actor } }]);
}
