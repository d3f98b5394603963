// Distributed execution through the ledger itself: `submit` approves a run and queues it; workers
// claim runs by appending RunClaimed, signed by their worker key, at the run stream's revision they
// read. The store's optimistic concurrency lets exactly one such append succeed, so two workers never
// execute the same run, and the claim binds the run's training events to the winner's key (rule
// `claimant`). Workers on other machines claim through Kafka instead (src/kafka/remote-worker.ts).
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { ProposedEvent } from '../events/envelope.js';
import type { RunClaimed, RunSubmitted } from '../events/training.js';
import { ConcurrencyError } from '../src/errors.js';
import { guardedAppend } from '../src/governance/guarded-append.js';
import { approvePlan, failRun, readRun, runStream } from '../src/governance/recorder.js';
import { isFinished } from '../src/governance/run-state.js';
import { trustsWorkerKey, type RuleState } from '../src/governance/write-rules.js';
import type { CheckpointSigner } from '../src/integrity/worker-signature.js';
import type { Plan } from '../src/governance/plan.js';
import { ANY, type EventStore } from '../src/store/port.js';
import type { Backend } from '../events/training-config.js';
import { activateBackend } from './backend.js';
import { defaultWorkerId } from './environment.js';
import { checkExecutable, executeRun, type ExecuteContext, type RunOutcome } from './execute.js';
import { signEvent, workerKeyOf } from '../src/ledger/worker-keys.js';

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

/** Whether a worker holding `workerKey` may claim the run: submitted, not claimed, not ended, and its approval trusts the key. */
export function claimable(rules: RuleState, workerKey: string): boolean {
  return rules.submitted && !rules.claimed && !isFinished(rules.run) && trustsWorkerKey(rules, workerKey);
}

/** The signed claim a worker appends (RunClaimed v2). */
export function claimEvent(runId: string, worker: string, signer: CheckpointSigner): ProposedEvent {
  return { type: 'RunClaimed', data: signEvent<RunClaimed>(signer, 'RunClaimed', { runId, worker, host: hostname() }), metadata: { actor: worker } };
}

/**
 * Claims the first queued run nobody has claimed whose approval trusts the worker's key (a worker
 * whose key is not trusted could record nothing of it). Returns null when there is none. A lost race
 * (another worker appended first) re-reads the run and moves on if it was claimed.
 */
export async function claimNext(store: EventStore, worker: string, signer: CheckpointSigner): Promise<Claimed | null> {
  const workerKey = workerKeyOf(signer);
  for (const submitted of await queuedRuns(store)) {
    for (;;) {
      const snapshot = await readRun(store, submitted.runId);
      if (!claimable(snapshot.rules, workerKey)) break;
      try {
        await guardedAppend(store, [{ stream: snapshot.stream, events: [claimEvent(submitted.runId, worker, signer)], expectedRevision: snapshot.revision }]);
        return { runId: submitted.runId, backend: submitted.backend };
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        // Someone appended to this run meanwhile: re-read and decide again.
      }
    }
  }
  return null;
}

export interface Claimed {
  runId: string;
  backend: Backend;
}

async function queuedRuns(store: EventStore): Promise<RunSubmitted[]> {
  return (await store.readStream(QUEUE_STREAM)).map((e) => e.envelope.data as RunSubmitted);
}

/**
 * A ledger this worker reaches only through messages (src/kafka/remote-ledger.ts): `store` is its
 * verified mirror, whose appends are published to the ledger; the ledger decides claims.
 */
export interface LedgerLink {
  readonly store: EventStore;
  /** Brings the mirror up to what the ledger had published when called. */
  sync(): Promise<void>;
  /** Proposes a claim: `won` when the ledger recorded this one, `lost` when another worker's, `gone` when the run ended or cannot be checked. */
  claim(stream: string, event: ProposedEvent & { id: string }): Promise<'won' | 'lost' | 'gone'>;
  /** Waits until the ledger recorded everything this worker recorded on the stream; throws if it refused any. */
  settle(stream: string): Promise<void>;
}

/**
 * Claims the first run of the mirrored queue that the worker may claim, through the ledger. A claim
 * another worker won is reported to `onLost` and the worker moves on.
 */
export async function claimThrough(link: LedgerLink, worker: string, signer: CheckpointSigner, onLost?: (runId: string) => void): Promise<Claimed | null> {
  await link.sync();
  const workerKey = workerKeyOf(signer);
  for (const submitted of await queuedRuns(link.store)) {
    const snapshot = await readRun(link.store, submitted.runId);
    if (!claimable(snapshot.rules, workerKey)) continue;
    const answer = await link.claim(snapshot.stream, { id: randomUUID(), ...claimEvent(submitted.runId, worker, signer) });
    if (answer === 'won') return { runId: submitted.runId, backend: submitted.backend };
    if (answer === 'lost') onLost?.(submitted.runId);
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
  /** A claim another worker won (remote workers only: locally a lost race is just re-read). */
  onLost?: (runId: string) => void;
  onFinished?: (outcome: ClaimedOutcome) => void;
  /** Claim and record through this link instead of the context's store (`worker --brokers`). */
  link?: LedgerLink;
}

/** Claims and executes queued runs one at a time. Returns the runs this worker executed. */
export async function runWorker(ctx: ExecuteContext, options: WorkerOptions = {}): Promise<string[]> {
  const worker = ctx.worker ?? defaultWorkerId();
  const executed: string[] = [];
  while (!options.signal?.aborted && (options.maxRuns === undefined || executed.length < options.maxRuns)) {
    const { link } = options;
    const claimed = link ? await claimThrough(link, worker, ctx.keys.signer, options.onLost) : await claimNext(ctx.store, worker, ctx.keys.signer);
    if (!claimed) {
      if (options.untilIdle) break;
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
      continue;
    }
    options.onClaimed?.(claimed.runId);
    executed.push(claimed.runId);
    let outcome = await executeClaimed({ ...ctx, ...(link ? { store: link.store } : {}), worker }, claimed.runId, claimed.backend);
    if (link) {
      // Done only when the ledger holds it all; a refusal there (the run was ended meanwhile) is this run's failure.
      outcome = await link.settle(runStream(claimed.runId)).then(
        () => outcome,
        (err: unknown) => ({ runId: claimed.runId, error: err instanceof Error ? err.message : String(err) }),
      );
    }
    options.onFinished?.(outcome);
  }
  return executed;
}

export type ClaimedOutcome = RunOutcome | { runId: string; error: string };

/**
 * Executes a run this worker claimed, wherever its store is (the ledger, or a remote worker's mirror
 * of the run). A failing stage records StageFailed + RunFailed itself; a run that could not even start
 * (e.g. its backend is not installed on this worker) is ended here, so it never stays claimed forever.
 */
export async function executeClaimed(ctx: ExecuteContext & { worker: string }, runId: string, backend: Backend): Promise<ClaimedOutcome> {
  try {
    await activateBackend(backend);
    return await executeRun(ctx, runId, { backend });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const after = await readRun(ctx.store, runId).catch(() => undefined);
    if (after && !isFinished(after.state)) {
      await failRun(ctx.store, runId, `worker ${ctx.worker} could not execute the run: ${reason}`, ctx.worker).catch(() => undefined);
    }
    return { runId, error: reason };
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'runledger';
  }
}
