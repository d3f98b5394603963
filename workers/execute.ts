// Executes an approved run from the ledger: the plan a worker follows is the one recorded in the
// run's stream (GovernancePlanApproved), never a file read later. Every stage transition goes
// through the governance recorder, which refuses out-of-plan or out-of-order stages.
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { ProposedEvent } from '../events/envelope.js';
import type { GovernancePlanApprovedData } from '../events/governance.js';
import type { BackendInfo, CheckpointWritten, Metrics, RunEnvironmentRecorded, TelemetrySample, TrainingStarted } from '../events/training.js';
import type { MetricsLogged } from '../events/runs.js';
import { InputError, IntegrityError } from '../src/errors.js';
import { canonicalize } from '../src/integrity/canonical.js';
import { sha256Hex } from '../src/integrity/hasher.js';
import { guardedAppend, RunHeads } from '../src/governance/guarded-append.js';
import { approvePlan, checkRunId, readRun, recordStage, runStream, type RunSnapshot } from '../src/governance/recorder.js';
import { planHash, type Plan } from '../src/governance/plan.js';
import { TRAINING_STAGE, trustsWorkerKey, type RuleState } from '../src/governance/write-rules.js';
import { verifyWorkerSignature, workerEventMessage } from '../src/integrity/worker-signature.js';
import type { EventStore } from '../src/store/port.js';
import { activateBackend } from './backend.js';
import { loadCheckpoint, publicKeyVerifier, type CheckpointSigner, type CheckpointVerifier } from './checkpoint.js';
import { Backend, TrainingConfig } from '../events/training-config.js';
import { loadDataset, splitDataset } from './dataset.js';
import { defaultWorkerId, describeEnvironment } from './environment.js';
import { signEvent, workerKeyOf } from '../src/ledger/worker-keys.js';
import { evaluateCheckpoint, train, type TrainingEvent } from './trainer.js';
import { startLedgerWriter, writerStoreUrl } from './ledger-writer.js';

/** Stage ids a training worker knows how to execute; other stages are recorded by their own executors. */
export const WORKER_STAGES = ['prepare', TRAINING_STAGE, 'evaluate'] as const;
export type WorkerStage = (typeof WORKER_STAGES)[number];

export interface ExecuteContext {
  store: EventStore;
  home: string;
  /** The worker key (src/ledger/worker-keys.ts): signs checkpoint files and every event; the run's approval must trust it. */
  keys: { signer: CheckpointSigner };
  worker?: string;
  onProgress?: (stageId: string, done: number, total: number) => void;
}

export interface ExecuteOptions {
  /** Overrides the plan's backend; on resume it must equal the backend the run started with. */
  backend?: Backend;
  /** Continue a run whose stages have already started (`train --resume`). */
  resume?: boolean;
  /** Stop training after this many epochs, leaving the run resumable. */
  stopAfterEpoch?: number;
}

export interface RunOutcome {
  runId: string;
  stream: string;
  status: 'completed' | 'interrupted';
  governancePlanHash: string;
  executionPlanHash: string;
  backend: BackendInfo;
  seed: number;
  /** Every checkpoint of the run, in order (earlier sessions included when resumed). */
  checkpoints: { epoch: number; step: number; digest: string }[];
  finalCheckpoint: string | null;
  metrics: Metrics | null;
}

/** The training section of a plan, or an InputError naming the file. */
export function trainingOf(plan: Pick<Plan, 'governance'>, where: string): TrainingConfig {
  const training = plan.governance.training;
  if (!training) {
    throw new InputError(`${where}: field governance.training is required to train (see docs/training.md)`, { field: 'governance.training' });
  }
  return training;
}

/** Refuses, before anything is written, a plan a training worker could not carry out. */
export function checkExecutable(plan: Plan, where: string): TrainingConfig {
  const config = trainingOf(plan, where);
  const ids = plan.execution.stages.map((s) => s.id);
  const unknown = ids.filter((id) => !(WORKER_STAGES as readonly string[]).includes(id));
  if (unknown.length) {
    throw new InputError(
      `${where}: field execution.stages: stage "${unknown[0]}" is not one a training worker executes (${WORKER_STAGES.join(', ')}); record other stages with "runledger stage start|complete"`,
      { field: 'execution.stages' },
    );
  }
  if (!ids.includes('train')) throw new InputError(`${where}: field execution.stages: a training plan needs a "train" stage`, { field: 'execution.stages' });
  const listed = plan.governance.datasets;
  if (listed.length > 0 && !listed.some((d) => d.digest === config.dataset.digest)) {
    throw new InputError(
      `${where}: field governance.training.dataset.digest: ${config.dataset.digest} is not among the approved governance.datasets`,
      { field: 'governance.training.dataset.digest' },
    );
  }
  loadDataset(config.dataset, `${where}: governance.training.dataset`);
  return config;
}

/** A fresh run id for a plan when the user names none. */
export function newRunId(plan: Pick<Plan, 'governance'>): string {
  return `${plan.governance.name}-${randomBytes(4).toString('hex')}`;
}

/** Checks the plan, activates the backend, approves the plan for `runId` and executes it. */
export async function trainPlan(ctx: ExecuteContext, plan: Plan, runId: string, options: ExecuteOptions = {}, where = 'plan'): Promise<RunOutcome> {
  checkRunId(runId);
  const config = checkExecutable(plan, where);
  // An unavailable backend is refused before anything is recorded.
  await activateBackend(options.backend ?? config.backend);
  await approvePlan(ctx.store, plan, runId, { actor: ctx.worker ?? defaultWorkerId(), workerKeys: [workerKeyOf(ctx.keys.signer)] });
  return executeRun(ctx, runId, options);
}

interface ApprovedRun {
  snapshot: RunSnapshot;
  approval: GovernancePlanApprovedData;
  config: TrainingConfig;
}

/** The approved plan of a run as recorded, re-hashed so a tampered body is never executed. */
export async function readApprovedRun(store: EventStore, runId: string): Promise<ApprovedRun> {
  const snapshot = await readRun(store, runId);
  const approved = snapshot.events.find((e) => e.envelope.type === 'GovernancePlanApproved');
  if (!approved) throw new InputError(`run ${runId} has no approved plan: run "runledger train --plan FILE --run ${runId}"`, { stream: snapshot.stream });
  const approval = approved.envelope.data as GovernancePlanApprovedData;
  if (planHash(approval.plan) !== approval.planHash) {
    throw new IntegrityError(`run ${runId}: the approved plan body does not hash to its recorded hash ${approval.planHash}`, {
      stream: snapshot.stream,
      revision: approved.envelope.revision,
    });
  }
  const parsed = TrainingConfig.safeParse(approval.plan.training);
  if (!parsed.success) throw new InputError(`run ${runId}: its approved plan has no usable training section`, { field: 'governance.training' });
  return { snapshot, approval, config: parsed.data };
}

function eventsOf<T>(snapshot: RunSnapshot, type: string): T[] {
  return snapshot.events.filter((e) => e.envelope.type === type).map((e) => e.envelope.data as T);
}

/** Executes (or, with `resume`, continues) every stage of an approved run in plan order. */
export async function executeRun(ctx: ExecuteContext, runId: string, options: ExecuteOptions = {}): Promise<RunOutcome> {
  const worker = ctx.worker ?? defaultWorkerId();
  const { snapshot, approval, config } = await readApprovedRun(ctx.store, runId);
  const state = snapshot.state;
  if (state.status === 'completed' || state.status === 'failed') {
    throw new InputError(`run ${runId} has already ${state.status}; nothing to execute`, { stream: snapshot.stream });
  }
  const begun = state.stages.some((s) => s.status !== 'pending');
  if (begun && !options.resume) {
    throw new InputError(`run ${runId} has already started: continue it with "runledger train --resume ${runId}"`, { stream: snapshot.stream });
  }
  if (!begun && options.resume) {
    throw new InputError(`run ${runId} has not started, so there is nothing to resume: run "runledger train --run ${runId} --plan FILE"`, { stream: snapshot.stream });
  }
  // Everything this worker records is signed with its key; an approval that does not trust it would refuse all of it.
  const key = workerKeyOf(ctx.keys.signer);
  if (!trustsWorkerKey(snapshot.rules, key)) {
    throw new InputError(
      `run ${runId}: its approval does not trust this worker's key ${key}, so nothing it signs could be recorded; approve the run with --worker-key naming it ("runledger keys show --worker")`,
      { stream: snapshot.stream, field: 'workerKeys' },
    );
  }
  const started = eventsOf<TrainingStarted>(snapshot, 'TrainingStarted')[0];
  let backendName = options.backend ?? config.backend;
  if (started) {
    if (options.backend && options.backend !== started.backend.name) {
      throw new InputError(`run ${runId} trained on ${started.backend.name}; resuming on ${options.backend} would not reproduce it`, { field: 'backend' });
    }
    backendName = started.backend.name;
  }
  const backend = await activateBackend(backendName);
  if (started && started.backend.tfjsVersion !== backend.tfjsVersion) {
    throw new InputError(
      `run ${runId} trained with tfjs ${started.backend.tfjsVersion}, this worker has ${backend.tfjsVersion}; resuming would not reproduce it`,
      { field: 'backend' },
    );
  }

  // Every append goes through the run-stream door, like any other writer's; the heads save re-reading the run.
  const heads = new RunHeads();
  const append = async (events: ProposedEvent[]): Promise<void> => {
    if (events.length) await guardedAppend(ctx.store, [{ stream: runStream(runId), events }], { heads });
  };
  const asProposed = (events: TrainingEvent[]): ProposedEvent[] => events.map((e) => ({ type: e.type, data: e.data, metadata: { actor: worker } }));
  const sampleEvent = (sample: Omit<TelemetrySample, 'publicKey' | 'signature'>): TrainingEvent => ({ type: 'TelemetrySample', data: signEvent<TelemetrySample>(ctx.keys.signer, 'TelemetrySample', sample) });
  const tags = (stageId: string): TelemetrySample['tags'] => ({ run: runId, stage: stageId, worker, backend: backendName, host: hostname() });

  // Resuming trusts nothing it has not checked: the last CheckpointWritten event's signature, then the
  // file's digest and signature — before anything is recorded, so a refusal leaves the run resumable.
  const lastCheckpoint = eventsOf<CheckpointWritten>(snapshot, 'CheckpointWritten').at(-1);
  if (options.resume && lastCheckpoint) loadCheckpoint(ctx.home, lastCheckpoint.digest, checkpointKey(lastCheckpoint, snapshot.rules, runId));

  await append(
    asProposed([{ type: 'RunEnvironmentRecorded', data: signEvent<RunEnvironmentRecorded>(ctx.keys.signer, 'RunEnvironmentRecorded', describeEnvironment(runId, worker, backend)) }]),
  );

  const datasetRef = { dataset: config.dataset.digest };
  let status: RunOutcome['status'] = 'completed';
  for (const stage of state.stages) {
    if (stage.status === 'completed') continue;
    if (stage.status === 'failed') throw new InputError(`run ${runId}: stage ${stage.id} failed`, { stream: snapshot.stream });
    const id = stage.id as WorkerStage;
    if (!(WORKER_STAGES as readonly string[]).includes(id)) {
      throw new InputError(`run ${runId}: stage ${stage.id} is not one a training worker executes`, { stream: snapshot.stream });
    }
    if (stage.status === 'pending') await recordStage(ctx.store, runId, id, 'start', { inputs: datasetRef, actor: worker });
    const t0 = performance.now();
    const m0 = process.memoryUsage();
    let outputs: Record<string, string>;
    let throughput: number | null = null;
    try {
      if (id === 'prepare') {
        const data = loadDataset(config.dataset, 'governance.training.dataset');
        const split = splitDataset(data, config.seed, config.dataset.testFraction);
        outputs = { dataset: data.digest, split: sha256Hex(canonicalize({ train: split.trainIndex, test: split.testIndex })) };
        throughput = (data.labels.length * 1000) / Math.max(performance.now() - t0, 1e-3);
      } else if (id === 'train') {
        const current = await readRun(ctx.store, runId);
        const resumeFrom = eventsOf<CheckpointWritten>(current, 'CheckpointWritten').at(-1);
        // RUNLEDGER_LEDGER_THREAD=1: the door and the durable commits run on a writer thread while
        // training continues (workers/ledger-writer.ts). Off by default: on 2 busy cores it measured
        // slower than the door on this thread (docs/benchmarks.md "Ledger overhead").
        const url = process.env.RUNLEDGER_LEDGER_THREAD === '1' ? writerStoreUrl(ctx.store) : null;
        const writer = url ? startLedgerWriter(url) : null;
        const result = await train({
          run: runId,
          stage: id,
          config,
          backend: backendName,
          home: ctx.home,
          signingKey: ctx.keys.signer,
          ...(resumeFrom ? { trustedKey: checkpointKey(resumeFrom, current.rules, runId) } : {}),
          worker,
          sink: writer ? writer.sink(runStream(runId), worker) : { append: (events) => append(asProposed(events)) },
          recordEnvironment: false,
          ...(resumeFrom ? { resumeFrom: resumeFrom.digest } : {}),
          ...(options.stopAfterEpoch !== undefined ? { stopAfterEpoch: options.stopAfterEpoch } : {}),
          onProgress: (done, total) => ctx.onProgress?.(id, done, total),
        }).finally(() => writer?.close());
        if (!result.completed) {
          status = 'interrupted';
          break;
        }
        outputs = { checkpoint: result.completed.finalCheckpoint };
        throughput = result.wallMs > 0 ? (result.examples * 1000) / result.wallMs : null;
      } else {
        const current = await readRun(ctx.store, runId);
        const final = finalCheckpointOf(current);
        const written = eventsOf<CheckpointWritten>(current, 'CheckpointWritten').findLast((c) => c.digest === final);
        if (!written) throw new IntegrityError(`run ${runId}: its final checkpoint ${final} has no CheckpointWritten event`, { stream: current.stream });
        const metrics = evaluateCheckpoint(ctx.home, final, checkpointKey(written, current.rules, runId), config);
        outputs = { checkpoint: final, metrics: sha256Hex(canonicalize(metrics)) };
        const wallMs = performance.now() - t0;
        const sample = { tags: tags(id), step: 0, epoch: config.epochs, examplesPerSec: null, stepWallMs: wallMs, memoryDeltaBytes: memoryDelta(m0) };
        // The held-out evaluation is logged like every metric, at the step of the checkpoint it evaluated.
        const timestamp = Date.now();
        const points = Object.entries(metrics).map(([key, value]) => ({ key, value, step: written.step, timestamp }));
        const logged: TrainingEvent = { type: 'MetricsLogged', data: signEvent<MetricsLogged>(ctx.keys.signer, 'MetricsLogged', { runId, stageId: id, metrics: points }) };
        await append(asProposed([sampleEvent(sample), logged]));
      }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await recordStage(ctx.store, runId, id, 'fail', { reason, wallMs: performance.now() - t0, memoryDeltaBytes: memoryDelta(m0), actor: worker }).catch(
        () => undefined,
      );
      throw err;
    }
    const wallMs = performance.now() - t0;
    if (id === 'prepare') {
      const sample = {
        tags: tags(id),
        step: 0,
        epoch: 0,
        examplesPerSec: throughput,
        stepWallMs: wallMs,
        memoryDeltaBytes: memoryDelta(m0),
      };
      await append(asProposed([sampleEvent(sample)]));
    }
    await recordStage(ctx.store, runId, id, 'complete', { outputs, wallMs, memoryDeltaBytes: memoryDelta(m0), throughput, actor: worker });
  }

  return outcomeOf(await readRun(ctx.store, runId), approval.planHash, backend, config.seed, status);
}

function outcomeOf(snapshot: RunSnapshot, governancePlanHash: string, backend: BackendInfo, seed: number, status: RunOutcome['status']): RunOutcome {
  const written = eventsOf<CheckpointWritten>(snapshot, 'CheckpointWritten');
  const last = written.at(-1);
  return {
    runId: snapshot.runId,
    stream: snapshot.stream,
    status,
    governancePlanHash,
    executionPlanHash: snapshot.state.executionPlanHash ?? '',
    backend,
    seed,
    checkpoints: written.map((c) => ({ epoch: c.epoch, step: c.step, digest: c.digest })),
    finalCheckpoint: status === 'completed' ? (last?.digest ?? null) : null,
    metrics: status === 'completed' ? (last?.metrics ?? null) : null,
  };
}

/** The outcome of a run that already completed, read back from its stream. */
export async function completedOutcome(store: EventStore, runId: string): Promise<RunOutcome> {
  const { snapshot, approval, config } = await readApprovedRun(store, runId);
  const started = eventsOf<TrainingStarted>(snapshot, 'TrainingStarted')[0];
  if (snapshot.state.status !== 'completed' || !started) throw new InputError(`run ${runId} has not completed`, { stream: snapshot.stream });
  return outcomeOf(snapshot, approval.planHash, started.backend, config.seed, 'completed');
}

/**
 * The key a recorded checkpoint's file must verify with: the worker key that signed its event, once
 * the event's signature is checked and the run's approval is seen to trust that key.
 */
function checkpointKey(event: CheckpointWritten, rules: RuleState, runId: string): CheckpointVerifier {
  if (!trustsWorkerKey(rules, event.publicKey) || !verifyWorkerSignature(event.publicKey, workerEventMessage('CheckpointWritten', event), event.signature)) {
    throw new IntegrityError(`run ${runId}: CheckpointWritten for epoch ${event.epoch} (${event.digest}) is not signed by a worker key the run's approval trusts`, {
      field: 'signature',
    });
  }
  return publicKeyVerifier(Buffer.from(event.publicKey, 'base64'));
}

function finalCheckpointOf(snapshot: RunSnapshot): string {
  const trainStage = snapshot.state.stages.find((s) => s.id === 'train');
  const digest = trainStage?.outputs.checkpoint;
  if (!digest) throw new InputError(`run ${snapshot.runId}: the train stage recorded no final checkpoint`, { stream: snapshot.stream });
  return digest;
}

function memoryDelta(before: NodeJS.MemoryUsage): number {
  const now = process.memoryUsage();
  return now.heapUsed + now.external - (before.heapUsed + before.external);
}
