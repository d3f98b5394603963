// Executes the training section of an approved plan: deterministic data order, manual optimizer
// loop, signed checkpoints, batched telemetry. Recording is a sink the caller provides (the run's
// stream in the ledger); without one the same training runs unrecorded (benchmarks compare both).
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { KeyObject } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { InputError, IntegrityError } from '../src/errors.js';
import { canonicalize } from '../src/integrity/canonical.js';
import { sha256Hex } from '../src/integrity/hasher.js';
import type {
  BackendInfo,
  CheckpointWritten,
  Metrics,
  RunEnvironmentRecorded,
  TelemetrySample,
  TelemetryTags,
  TrainingCompleted,
  TrainingStarted,
} from '../events/training.js';
import type { MetricPoint, MetricsLogged } from '../events/runs.js';
import { activateBackend } from './backend.js';
import { asSigner, loadCheckpoint, publicKeyVerifier, writeCheckpoint, type CheckpointSigner, type CheckpointVerifier } from './checkpoint.js';
import type { Backend, TrainingConfig } from '../events/training-config.js';
import { loadDataset, splitDataset, type Split } from './dataset.js';
import { defaultWorkerId, describeEnvironment } from './environment.js';
import { signEvent } from '../src/ledger/worker-keys.js';
import { disposeModel, evaluate, flipLowestBit, initModel, restoreTensors, stateTensors, trainStep, type ModelState, type Perturbation } from './model.js';
import { deriveSeed, seededPermutation } from './seeds.js';
import { epochBatches, type Batch } from './batches.js';

/** What a worker records, each signed with its key (worker-event v2, docs/training.md "Signatures"). */
export type TrainingEvent =
  | { type: 'RunEnvironmentRecorded'; data: RunEnvironmentRecorded }
  | { type: 'TrainingStarted'; data: TrainingStarted }
  | { type: 'TelemetrySample'; data: TelemetrySample }
  | { type: 'CheckpointWritten'; data: CheckpointWritten }
  | { type: 'TrainingCompleted'; data: TrainingCompleted }
  | { type: 'MetricsLogged'; data: MetricsLogged };

/** An event's data before the worker signs it. */
export type Unsigned<T> = Omit<T, 'publicKey' | 'signature'>;
type DataOf<K extends TrainingEvent['type']> = Extract<TrainingEvent, { type: K }>['data'];

/** Where a worker records what it does; `append` receives batches in order and resolves once they are durable. */
export interface TrainingSink {
  append(events: TrainingEvent[]): Promise<void>;
  /**
   * `append` works off the training thread (workers/ledger-writer.ts) and keeps the order of the
   * batches it is handed: the trainer hands each batch over without waiting and keeps training, with
   * at most one batch unacknowledged, and returns only once every batch is durable.
   */
  overlapped?: boolean;
}

export interface TrainOptions {
  run: string;
  stage: string;
  config: TrainingConfig;
  /** Overrides `config.backend` (the command line's --backend). */
  backend?: Backend;
  /** Home directory: checkpoints go to `<home>/checkpoints/`. */
  home: string;
  /** The worker key: signs checkpoint files and every recorded event. */
  signingKey: KeyObject | CheckpointSigner;
  /** Key checkpoints must verify with when resuming; defaults to the signing key's public half. */
  trustedKey?: KeyObject | CheckpointVerifier;
  worker?: string;
  sink?: TrainingSink;
  /** Continue from this verified checkpoint (epochs after its epoch are trained). */
  resumeFrom?: string;
  /** Stop after this many completed epochs (an interrupted run, for resume). */
  stopAfterEpoch?: number;
  onProgress?: (stepsDone: number, totalSteps: number) => void;
  /** Record RunEnvironmentRecorded before TrainingStarted (default true; the run executor records it at run start). */
  recordEnvironment?: boolean;
  /** wasm only: the build to load (a re-execution loads the one the run recorded); default: the runtime's choice. */
  simd?: boolean;
  /**
   * Test hook of `retrain` (workers/reexecute.ts): after `epoch`, flip the lowest bit of value `index`
   * of tensor `tensor`, so a perturbed re-execution must be reported as diverging there.
   */
  perturb?: Perturbation;
  /**
   * Group-commit interval (default COMMIT_INTERVAL_MS, HANDOVER_INTERVAL_MS for an overlapped sink);
   * 0 commits at every sampled step and checkpoint.
   */
  commitIntervalMs?: number;
}

export interface TrainingResult {
  backend: BackendInfo;
  checkpoints: CheckpointWritten[];
  /** Null when stopped before the last epoch. */
  completed: TrainingCompleted | null;
  steps: number;
  /** Training examples processed in this session (resumed sessions count only their own). */
  examples: number;
  wallMs: number;
  /** Time the training thread spent handing events to the sink and waiting for them to be durable. */
  ledgerWaitMs: number;
}

/** SHA-256 of the JCS of the training config as executed. */
export function configDigest(config: TrainingConfig): string {
  return sha256Hex(canonicalize(config));
}

const TELEMETRY_BATCH = 64;
/**
 * Group commit: recorded events are held and committed together when 64 are pending, at the first
 * sampled step or checkpoint once this long has passed since the last commit, and at the end (or
 * stop). A run of a second or less makes one durable commit instead of one per checkpoint, and a
 * longer one about one per second. Nothing is acknowledged early: `sink.append` is durable on return,
 * and a crash loses only events never acknowledged — `train --resume` continues from the last
 * recorded checkpoint, at most about this long (plus one epoch) behind.
 */
export const COMMIT_INTERVAL_MS = 1000;
/**
 * An overlapped sink commits on another thread, so only the last batch's commit is on the training
 * thread's path: batches are handed over at least this often (when the previous one is acknowledged),
 * which keeps that last batch small without a durable commit per sampled step.
 */
export const HANDOVER_INTERVAL_MS = 50;

export async function train(options: TrainOptions): Promise<TrainingResult> {
  const started = performance.now();
  const config = options.config;
  const backendName = options.backend ?? config.backend;
  const worker = options.worker ?? defaultWorkerId();
  const host = hostname();
  const dataset = loadDataset(config.dataset);
  const split = splitDataset(dataset, config.seed, config.dataset.testFraction);
  const backend = await activateBackend(backendName, options.simd !== undefined ? { simd: options.simd } : {});
  const trainN = split.trainY.length;
  const stepsPerEpoch = Math.ceil(trainN / config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const tags: TelemetryTags = { run: options.run, stage: options.stage, worker, backend: backendName, host };
  const signer = asSigner(options.signingKey);

  // Every load verifies digest and signature first (checkpoint.ts).
  const content = options.resumeFrom
    ? loadCheckpoint(options.home, options.resumeFrom, options.trustedKey ?? publicKeyVerifier(signer.publicKey))
    : null;
  if (content && content.optimizer !== config.optimizer) {
    throw new InputError(`checkpoint ${options.resumeFrom} was written by ${content.optimizer}, the plan trains with ${config.optimizer}`, {
      field: 'training.optimizer',
    });
  }
  const state = initModel(config, split.featureCount, split.classCount);
  let resumedFrom: TrainingStarted['resumedFrom'] = null;
  if (content) {
    try {
      restoreTensors(state, content.tensors, content.step, content.epoch);
    } catch (err) {
      disposeModel(state);
      throw new InputError(`cannot resume from checkpoint ${options.resumeFrom}: ${(err as Error).message}`, { field: 'training.model' });
    }
    resumedFrom = { digest: options.resumeFrom!, epoch: content.epoch, step: content.step };
  }

  const pending: TrainingEvent[] = [];
  const record = <K extends TrainingEvent['type']>(type: K, data: Unsigned<DataOf<K>>): void => {
    if (options.sink) pending.push({ type, data: signEvent<DataOf<K>>(signer, type, data) } as TrainingEvent);
  };
  // Metrics go where every run's metrics go (MetricsLogged): the sampled steps' loss and accuracy,
  // and each checkpoint's train and held-out metrics, gathered into one signed event per batch.
  let points: MetricPoint[] = [];
  const logMetrics = (step: number, values: Record<string, number | null>): void => {
    if (!options.sink) return;
    const timestamp = Date.now();
    for (const [key, value] of Object.entries(values)) if (value !== null && Number.isFinite(value)) points.push({ key, value, step, timestamp });
  };
  const sealMetrics = (): void => {
    if (points.length) record('MetricsLogged', { runId: options.run, stageId: options.stage, metrics: points });
    points = [];
  };
  const sink = options.sink;
  const overlapped = sink?.overlapped === true;
  const interval = options.commitIntervalMs ?? (overlapped ? HANDOVER_INTERVAL_MS : COMMIT_INTERVAL_MS);
  let lastCommit = performance.now();
  // An overlapped sink's batch being committed, and the first refusal it answered with.
  let inflight: Promise<void> | null = null;
  const refusal: { failed: boolean; error?: unknown } = { failed: false };
  const handOver = (batch: TrainingEvent[]): void => {
    const done = (): void => {
      if (inflight === settled) inflight = null;
    };
    const settled: Promise<void> = sink!.append(batch).then(done, (error: unknown) => {
      if (!refusal.failed) Object.assign(refusal, { failed: true, error });
      done();
    });
    inflight = settled;
  };
  let ledgerWaitMs = 0;
  const flush = async (final = false): Promise<void> => {
    sealMetrics();
    if (!sink) return;
    const t0 = performance.now();
    try {
      await commit(final);
    } finally {
      ledgerWaitMs += performance.now() - t0;
    }
  };
  const commit = async (final: boolean): Promise<void> => {
    // Lets the writer's acknowledgements (and refusals) arrive; a refused batch stops the run.
    if (overlapped) await new Promise<void>((resolve) => setImmediate(resolve));
    if (overlapped) {
      if (refusal.failed) throw refusal.error;
      if (final) {
        // The sink keeps the order: the last batch goes at once, queued behind one still being committed.
        const previous = inflight;
        if (pending.length) handOver(pending.splice(0));
        await previous;
        await inflight;
        if (refusal.failed) throw refusal.error;
      } else if (inflight) {
        return; // the previous batch is still being committed: these wait for the next handover
      } else if (pending.length) handOver(pending.splice(0));
    } else if (pending.length) await sink!.append(pending.splice(0));
    lastCommit = performance.now();
  };
  const commitDue = (): boolean => pending.length >= TELEMETRY_BATCH || performance.now() - lastCommit >= interval;

  // Only a recorded run describes its environment (two git runs): the unrecorded one would throw it away.
  if (sink && (options.recordEnvironment ?? true)) record('RunEnvironmentRecorded', describeEnvironment(options.run, worker, backend));
  record('TrainingStarted', {
    runId: options.run,
    stageId: options.stage,
    worker,
    backend,
    configDigest: configDigest(config),
    dataset: { package: dataset.package, version: dataset.version, digest: dataset.digest, trainSize: trainN, testSize: split.testY.length },
    seed: config.seed,
    totalSteps,
    resumedFrom,
  });

  const checkpoints: CheckpointWritten[] = [];
  const lastEpoch = Math.min(config.epochs, options.stopAfterEpoch ?? config.epochs);
  const sampler = new TelemetrySampler(tags, config.telemetryEvery);
  let examples = 0;
  try {
    for (let epoch = state.epoch + 1; epoch <= lastEpoch; epoch++) {
      const order = seededPermutation(trainN, deriveSeed(config.seed, 'epoch', epoch));
      for (const batch of epochBatches(split.trainX, split.trainY, split.featureCount, order, config.batchSize)) {
        const sampleThis = options.sink !== undefined && ((state.step + 1) % config.telemetryEvery === 0 || state.step + 1 === totalSteps);
        const t0 = performance.now();
        const { loss, accuracy } = runBatch(state, config, split, batch, sampleThis);
        const wallMs = performance.now() - t0;
        sampler.observe(batch.rows, wallMs);
        examples += batch.rows;
        if (sampleThis) {
          record('TelemetrySample', sampler.sample(state.step, epoch, wallMs));
          logMetrics(state.step, { loss, accuracy });
          if (commitDue()) await flush();
        }
        options.onProgress?.(state.step, totalSteps);
      }
      state.epoch = epoch;
      if (options.perturb?.epoch === epoch) flipLowestBit(state, options.perturb.tensor, options.perturb.index);
      if (epoch % config.checkpointEvery === 0 || epoch === config.epochs) {
        const metrics = measure(state, config, split);
        const signed = writeCheckpoint(
          options.home,
          { epoch, step: state.step, optimizer: config.optimizer, tensors: stateTensors(state) },
          options.signingKey,
        );
        // The event's signature binds what it claims (digest, epoch, step, metrics), not only the file.
        const event = signEvent<CheckpointWritten>(signer, 'CheckpointWritten', {
          runId: options.run,
          stageId: options.stage,
          epoch,
          step: state.step,
          digest: signed.digest,
          bytes: signed.bytes,
          metrics,
        });
        checkpoints.push(event);
        logMetrics(state.step, metrics);
        sealMetrics();
        if (options.sink) pending.push({ type: 'CheckpointWritten', data: event });
        // The last checkpoint is committed together with TrainingCompleted.
        if (epoch !== config.epochs && commitDue()) await flush();
      }
    }
    let completed: TrainingCompleted | null = null;
    if (state.epoch === config.epochs) {
      const last = checkpoints.at(-1);
      completed = signEvent<TrainingCompleted>(signer, 'TrainingCompleted', {
        runId: options.run,
        stageId: options.stage,
        epochs: config.epochs,
        steps: state.step,
        finalCheckpoint: last?.digest ?? options.resumeFrom!,
        metrics: last?.metrics ?? measure(state, config, split),
        wallMs: performance.now() - started,
      });
      if (options.sink) pending.push({ type: 'TrainingCompleted', data: completed });
    }
    await flush(true);
    return { backend, checkpoints, completed, steps: state.step, examples, wallMs: performance.now() - started, ledgerWaitMs };
  } finally {
    disposeModel(state);
    // Never settles with a batch still being committed, even when training itself failed.
    await inflight;
  }
}

/**
 * Metrics of a stored checkpoint on the plan's splits, after verifying its digest and signature.
 * The active backend must be the one the run trained with.
 */
export function evaluateCheckpoint(home: string, digest: string, trusted: KeyObject | CheckpointVerifier, config: TrainingConfig): Metrics {
  const content = loadCheckpoint(home, digest, trusted);
  const split = splitDataset(loadDataset(config.dataset), config.seed, config.dataset.testFraction);
  const state = initModel(config, split.featureCount, split.classCount);
  try {
    restoreTensors(state, content.tensors, content.step, content.epoch);
    return measure(state, config, split);
  } catch (err) {
    if (err instanceof IntegrityError) throw err;
    throw new InputError(`checkpoint ${digest} does not fit the plan's model: ${(err as Error).message}`, { field: 'training.model' });
  } finally {
    disposeModel(state);
  }
}

function runBatch(
  state: ModelState,
  config: TrainingConfig,
  split: Split,
  batch: Batch,
  wantMetrics: boolean,
): { loss: number | null; accuracy: number | null } {
  const f = split.featureCount;
  // The batch's buffers are refilled for the next batch: every tensor made from them is disposed below.
  const x = tf.tensor2d(batch.x, [batch.rows, f]);
  const labels = tf.tensor1d(batch.y, 'int32');
  const y = tf.oneHot(labels, split.classCount) as tf.Tensor2D;
  try {
    // Loss and accuracy of the batch on the weights before the step, from the step's own forward pass.
    const measured = trainStep(state, config, x, y, wantMetrics ? batch.y : undefined);
    return { loss: measured?.loss ?? null, accuracy: measured?.accuracy ?? null };
  } finally {
    tf.dispose([x, labels, y]);
  }
}

function measure(state: ModelState, config: TrainingConfig, split: Split): Metrics {
  const a = config.model.activation;
  const trainM = evaluate(state, a, split.trainX, split.trainY, split.featureCount, split.classCount);
  const testM = evaluate(state, a, split.testX, split.testY, split.featureCount, split.classCount);
  return { trainLoss: trainM.loss, trainAccuracy: trainM.accuracy, testLoss: testM.loss, testAccuracy: testM.accuracy };
}

/** Throughput and memory are measured over the interval since the previous sample. */
class TelemetrySampler {
  private examples = 0;
  private busyMs = 0;
  private lastMemory = memoryInUse();

  constructor(
    private readonly tags: TelemetryTags,
    readonly every: number,
  ) {}

  observe(examples: number, wallMs: number): void {
    this.examples += examples;
    this.busyMs += wallMs;
  }

  sample(step: number, epoch: number, stepWallMs: number): Unsigned<TelemetrySample> {
    const memory = memoryInUse();
    const sample: Unsigned<TelemetrySample> = {
      tags: this.tags,
      step,
      epoch,
      examplesPerSec: this.busyMs > 0 ? (this.examples * 1000) / this.busyMs : null,
      stepWallMs,
      memoryDeltaBytes: memory - this.lastMemory,
    };
    this.examples = 0;
    this.busyMs = 0;
    this.lastMemory = memory;
    return sample;
  }
}

/**
 * V8 heap plus external memory (typed arrays holding cpu tensors, the wasm heap): the same two figures
 * as process.memoryUsage()'s heapUsed and external, without the resident-set read from /proc that
 * made it ≈ 25–150 µs per sampled step (0.3 µs this way).
 */
function memoryInUse(): number {
  const heap = getHeapStatistics();
  return heap.used_heap_size + heap.external_memory;
}
