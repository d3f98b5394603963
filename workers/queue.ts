// Distributed execution through the ledger itself: `submit` approves a run and queues it; workers
// claim runs by appending RunClaimed at the run stream's revision they read. The store's optimistic
// concurrency lets exactly one such append succeed, so two workers never execute the same run.
import { hostname, userInfo } from 'node:os';
import type { RunClaimed, RunSubmitted } from '../events/training.js';
import { ConcurrencyError } from '../src/errors.js';
import { guardedAppend } from '../src/governance/guarded-append.js';
import { approvePlan, failRun, readRun, runStream } from '../src/governance/recorder.js';
import { trustsWorkerKey } from '../src/governance/write-rules.js';
import type { Plan } from '../src/governance/plan.js';
import { ANY, type EventStore } from '../src/store/port.js';
import type { Backend } from '../events/training-config.js';
import { activateBackend } from './backend.js';
import { defaultWorkerId } from './environment.js';
import { checkExecutable, executeRun, type ExecuteContext, type RunOutcome } from './execute.js';
import { workerKeyOf } from '../src/ledger/worker-keys.js';

export const QUEUE_STREAM = 'training-queue';

export interface SubmitResult {
  runId: string;
  governancePlanHash: string;
  executionPlanHash: string;
  backend: Backend;
}

/**
 * Approves the plan for `runId`, trusting `workerKeys` (the keys of the workers that may execute it),
 * and queues the run; nothing is written if the plan cannot be executed.
 */
export async function submitRun(
  store: EventStore,
  plan: Plan,
  runId: string,
  options: { backend?: Backend; planFile?: string; actor?: string; workerKeys?: readonly string[] } = {},
): Promise<SubmitResult> {
  const config = checkExecutable(plan, options.planFile ?? 'plan');
  const backend = options.backend ?? config.backend;
  const actor = options.actor ?? safeUser();
  const approval = await approvePlan(store, plan, runId, { actor, workerKeys: options.workerKeys ?? [] });
  const data: RunSubmitted = { runId, planFile: options.planFile ?? null, backend, submittedBy: actor };
  const snapshot = await readRun(store, runId);
  // Atomic across both streams: a run is never queued without its submission on its own stream.
  await guardedAppend(store, [
    { stream: runStream(runId), events: [{ type: 'RunSubmitted', data, metadata: { actor } }], expectedRevision: snapshot.revision },
    { stream: QUEUE_STREAM, events: [{ type: 'RunSubmitted', data, metadata: { actor } }], expectedRevision: ANY },
  ]);
  return { runId, governancePlanHash: approval.governancePlanHash, executionPlanHash: approval.executionPlanHash, backend };
}

/**
 * Claims the first queued run nobody has claimed whose approval trusts `workerKey` (a worker whose
 * key is not trusted could record nothing of it). Returns null when there is none. A lost race
 * (another worker appended first) re-reads the run and moves on if it was claimed.
 */
export async function claimNext(store: EventStore, worker: string, workerKey: string): Promise<{ runId: string; backend: Backend } | null> {
  const queued = (await store.readStream(QUEUE_STREAM)).map((e) => e.envelope.data as RunSubmitted);
  for (const submitted of queued) {
    for (;;) {
      const snapshot = await readRun(store, submitted.runId);
      if (snapshot.rules.claimed || !trustsWorkerKey(snapshot.rules, workerKey)) break;
      if (snapshot.state.status === 'completed' || snapshot.state.status === 'failed') break;
      const claim: RunClaimed = { runId: submitted.runId, worker, host: hostname() };
      try {
        await guardedAppend(store, [{ stream: snapshot.stream, events: [{ type: 'RunClaimed', data: claim, metadata: { actor: worker } }], expectedRevision: snapshot.revision }]);
        return { runId: submitted.runId, backend: submitted.backend };
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        // Someone appended to this run meanwhile: re-read and decide again.
      }
    }
  }
  return null;
}

export interface WorkerOptions {
  /** Stop when the queue has no unclaimed run instead of polling. */
  untilIdle?: boolean;
  /** Stop after executing this many runs. */
  maxRuns?: number;
  pollMs?: number;
  signal?: AbortSignal;
  onClaimed?: (runId: string) => void;
  onFinished?: (outcome: RunOutcome | { runId: string; error: string }) => void;
}

/** Claims and executes queued runs one at a time. Returns the runs this worker executed. */
export async function runWorker(ctx: ExecuteContext, options: WorkerOptions = {}): Promise<string[]> {
  const worker = ctx.worker ?? defaultWorkerId();
  const executed: string[] = [];
  while (!options.signal?.aborted && (options.maxRuns === undefined || executed.length < options.maxRuns)) {
    const claimed = await claimNext(ctx.store, worker, workerKeyOf(ctx.keys.signer));
    if (!claimed) {
      if (options.untilIdle) break;
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
      continue;
    }
    options.onClaimed?.(claimed.runId);
    executed.push(claimed.runId);
    try {
      await activateBackend(claimed.backend);
      const outcome = await executeRun({ ...ctx, worker }, claimed.runId, { backend: claimed.backend });
      options.onFinished?.(outcome);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // A failing stage records StageFailed + RunFailed itself; a run that could not even start
      // (e.g. its backend is not installed on this worker) is ended here, so it never stays claimed forever.
      const after = await readRun(ctx.store, claimed.runId);
      if (after.state.status !== 'completed' && after.state.status !== 'failed') {
        await failRun(ctx.store, claimed.runId, `worker ${worker} could not execute the run: ${reason}`, worker).catch(() => undefined);
      }
      options.onFinished?.({ runId: claimed.runId, error: reason });
    }
  }
  return executed;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'runledger';
  }
}
