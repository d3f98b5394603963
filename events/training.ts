// training events. Each definition is declared once here; types derive from the schemas.
// Recorded by workers/ on the run's stream (and the campaign / queue streams for orchestration).
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';

export const HEX64_PATTERN = /^[0-9a-f]{64}$/;
export const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;
export const BACKENDS = ['cpu', 'wasm', 'tensorflow', 'tensorflow-gpu'] as const;
const Hex64 = z.string().regex(HEX64_PATTERN, 'expected 64 lowercase hex characters');
const Base64 = z.string().regex(BASE64_PATTERN, 'expected base64');
const Backend = z.enum(BACKENDS);

/** A raw 32-byte Ed25519 public key in standard padded base64 (44 characters): how worker keys are recorded. */
export const WORKER_KEY_PATTERN = /^[A-Za-z0-9+/]{43}=$/;
export const WorkerKey = z.string().regex(WORKER_KEY_PATTERN, 'expected a base64 Ed25519 public key (44 characters)');

/**
 * Version 2 of every training event is signed by a worker key the run's approval trusts: `publicKey`
 * names the key, `signature` is Ed25519 (base64) over the worker-event message of the event's type
 * and data without `signature` (src/integrity/worker-signature.ts, docs/training.md "Signatures").
 */
export const WorkerSigned = {
  publicKey: WorkerKey,
  signature: Base64,
};
/** Version 1 data read as version 2 (projections only): it carries no signature, so no rule accepts it. */
const unsigned = (data: Record<string, unknown>): Record<string, unknown> => ({ ...data, publicKey: '', signature: '' });

/** The tag set every telemetry sample carries, whatever stage (execution, governance, training) emits it. */
export const TelemetryTags = z
  .object({
    run: z.string().min(1),
    stage: z.string().min(1),
    worker: z.string().min(1),
    backend: z.string().min(1),
    host: z.string().min(1),
  })
  .strict();
export type TelemetryTags = z.infer<typeof TelemetryTags>;

export const Metrics = z
  .object({
    trainLoss: z.number(),
    trainAccuracy: z.number().min(0).max(1),
    testLoss: z.number(),
    testAccuracy: z.number().min(0).max(1),
  })
  .strict();
export type Metrics = z.infer<typeof Metrics>;

/** What reproducing a run depends on beyond the plan: cpu and wasm each reproduce themselves but differ from each other. */
export const BackendInfo = z
  .object({
    name: Backend,
    tfjsVersion: z.string().min(1),
    /** Threads the backend computes with; null when the backend does not let us pin or read it. */
    threads: z.number().int().positive().nullable(),
    /** wasm only: whether the SIMD build was loaded (it changes kernels, hence bits). */
    simd: z.boolean().nullable(),
  })
  .strict();
export type BackendInfo = z.infer<typeof BackendInfo>;

const RunEnvironmentRecordedV1 = z
  .object({
    runId: z.string().min(1),
    worker: z.string().min(1),
    host: z.string().min(1),
    node: z.string().min(1),
    runledgerVersion: z.string().min(1),
    backend: BackendInfo,
    os: z.object({ platform: z.string(), release: z.string(), arch: z.string() }).strict(),
    cpu: z.object({ model: z.string(), count: z.number().int().nonnegative() }).strict(),
    totalMemoryBytes: z.number().int().nonnegative(),
  })
  .strict();
const RunEnvironmentRecordedV2 = RunEnvironmentRecordedV1.extend(WorkerSigned).strict();
/** Version 2 data, as runs recorded before version 3 hold it (fixtures still write it). */
export type RunEnvironmentRecordedV2 = z.infer<typeof RunEnvironmentRecordedV2>;

/** A GPU the recording machine reports (nvidia-smi), or one the client reported. */
export const GpuInfo = z
  .object({ name: z.string().min(1).max(200), driver: z.string().max(100).nullable(), memoryBytes: z.number().int().nonnegative().nullable() })
  .strict();
export type GpuInfo = z.infer<typeof GpuInfo>;

/**
 * v3: recorded by every door that starts a run (the built-in worker, the run API in-process, HTTP,
 * MLflow). The top-level facts are the recording process's own (host, CPU, memory, versions, the
 * git commit of its working directory); `client` is what the caller reported about its side,
 * unverified (docs/api.md "Environment").
 */
const RunEnvironmentRecordedV3 = RunEnvironmentRecordedV1.extend({
  /** The tfjs backend a built-in worker trains on; null for code runledger does not execute. */
  backend: BackendInfo.nullable(),
  /** Which door recorded the run: `runledger` (built-in worker), `typescript`, `http`, `mlflow`, … */
  source: z.string().min(1).max(64),
  /** The @tensorflow/tfjs version installed beside runledger; null when it cannot be read. */
  tfjsVersion: z.string().min(1).max(64).nullable(),
  /** The Python version of the client, when it reports one. */
  python: z.string().min(1).max(64).nullable(),
  /** The git commit of the recording process's working directory, when it is in a repository. */
  git: z.object({ commit: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/), branch: z.string().max(500).nullable(), dirty: z.boolean().nullable() }).strict().nullable(),
  gpus: z.array(GpuInfo).max(64),
  /** Facts the client reported (python version, its git commit, GPU, …), as given: JSON, not verified. */
  client: z.record(z.string().max(200), z.unknown()),
})
  .extend(WorkerSigned)
  .strict();
export const RunEnvironmentRecorded = RunEnvironmentRecordedV3;
export type RunEnvironmentRecorded = z.infer<typeof RunEnvironmentRecorded>;
/** Version 2 data read as version 3: a built-in worker's, with nothing it did not record. */
const environmentV3 = (data: Record<string, unknown>): Record<string, unknown> => {
  const backend = data.backend as BackendInfo;
  return { ...data, source: 'runledger', tfjsVersion: backend.tfjsVersion, python: null, git: null, gpus: [], client: {} };
};

const TrainingStartedV1 = z
  .object({
    runId: z.string().min(1),
    stageId: z.string().min(1),
    worker: z.string().min(1),
    backend: BackendInfo,
    /** SHA-256 (hex) of the JCS of the training config as executed (defaults applied). */
    configDigest: Hex64,
    dataset: z
      .object({
        package: z.string(),
        version: z.string(),
        digest: Hex64,
        trainSize: z.number().int().nonnegative(),
        testSize: z.number().int().nonnegative(),
      })
      .strict(),
    seed: z.number().int().positive(),
    totalSteps: z.number().int().nonnegative(),
    /** Set when continuing from a verified checkpoint (`train --resume`). */
    resumedFrom: z.object({ digest: Hex64, epoch: z.number().int().nonnegative(), step: z.number().int().nonnegative() }).strict().nullable(),
  })
  .strict();
/** Opens a training session: its key signs every later event of the session (docs/governance.md "Who may write what"). */
export const TrainingStarted = TrainingStartedV1.extend(WorkerSigned).strict();
export type TrainingStarted = z.infer<typeof TrainingStarted>;

const TelemetrySampleV1 = z
  .object({
    tags: TelemetryTags,
    step: z.number().int().nonnegative(),
    epoch: z.number().int().nonnegative(),
    loss: z.number().nullable(),
    accuracy: z.number().min(0).max(1).nullable(),
    examplesPerSec: z.number().nonnegative().nullable(),
    stepWallMs: z.number().nonnegative(),
    memoryDeltaBytes: z.number().int(),
  })
  .strict();
const TelemetrySampleV2 = TelemetrySampleV1.extend(WorkerSigned).strict();
/** Version 2 data, loss and accuracy included, as runs recorded before version 3 hold it. */
export type TelemetrySampleV2 = z.infer<typeof TelemetrySampleV2>;
/**
 * v3: system telemetry only (throughput, wall time, memory); the step's loss and accuracy are metric
 * points of a MetricsLogged event (`loss`, `accuracy`), like every other metric.
 */
export const TelemetrySample = TelemetrySampleV2.omit({ loss: true, accuracy: true }).strict();
export type TelemetrySample = z.infer<typeof TelemetrySample>;
/** Version 2's loss and accuracy, which version 3 leaves to MetricsLogged: read them from the raw data. */
export const TelemetrySampleV2Metrics = z.object({ loss: z.number().nullable(), accuracy: z.number().nullable() });
const withoutMetrics = (data: Record<string, unknown>): Record<string, unknown> => {
  const { loss: _loss, accuracy: _accuracy, ...rest } = data;
  return rest;
};

const CheckpointWrittenV1 = z
  .object({
    runId: z.string().min(1),
    stageId: z.string().min(1),
    epoch: z.number().int().positive(),
    step: z.number().int().nonnegative(),
    /** SHA-256 (hex) of the checkpoint file; the file is `checkpoints/<digest>.ckpt` under the home. */
    digest: Hex64,
    bytes: z.number().int().positive(),
    /** v1: Ed25519 signature (base64) over `runledger checkpoint v1\n<digest>\n` — it binds nothing else. */
    signature: Base64,
    /** Raw 32-byte Ed25519 public key (base64) that made the signature. */
    publicKey: Base64,
    metrics: Metrics,
  })
  .strict();
/** v2: the same fields; `signature` is over the worker-event message, so it binds the metrics, epoch, step and run too. */
export const CheckpointWritten = CheckpointWrittenV1.extend(WorkerSigned).strict();
export type CheckpointWritten = z.infer<typeof CheckpointWritten>;

const TrainingCompletedV1 = z
  .object({
    runId: z.string().min(1),
    stageId: z.string().min(1),
    epochs: z.number().int().positive(),
    steps: z.number().int().nonnegative(),
    finalCheckpoint: Hex64,
    /** Final metrics; test* are on the held-out split. */
    metrics: Metrics,
    wallMs: z.number().nonnegative(),
  })
  .strict();
export const TrainingCompleted = TrainingCompletedV1.extend(WorkerSigned).strict();
export type TrainingCompleted = z.infer<typeof TrainingCompleted>;

/** A run queued for any worker (`runledger submit`); recorded on the run stream and the queue stream. */
export const RunSubmitted = z
  .object({
    runId: z.string().min(1),
    planFile: z.string().nullable(),
    backend: Backend,
    submittedBy: z.string().min(1),
  })
  .strict();
export type RunSubmitted = z.infer<typeof RunSubmitted>;

const RunClaimedV1 = z
  .object({
    runId: z.string().min(1),
    worker: z.string().min(1),
    host: z.string().min(1),
  })
  .strict();
/**
 * A worker took a submitted run; appended with an expected revision so only one claim can win.
 * Version 2 is signed by the claiming worker's key, and every later training event of the run must be
 * signed by that key (rule `claimant`): a losing worker trusted by the same approval records nothing.
 */
export const RunClaimed = RunClaimedV1.extend(WorkerSigned).strict();
export type RunClaimed = z.infer<typeof RunClaimed>;

export const CampaignStarted = z
  .object({
    campaign: z.string().min(1),
    baseSeed: z.number().int().positive(),
    repeats: z.number().int().positive(),
    backend: Backend,
    /** Runs in order with the seed each was derived (docs/training.md "Campaign seeds"). */
    runs: z.array(z.object({ runId: z.string().min(1), seed: z.number().int().positive() }).strict()).min(1),
  })
  .strict();
export type CampaignStarted = z.infer<typeof CampaignStarted>;

export const CampaignRunCompleted = z
  .object({
    campaign: z.string().min(1),
    runId: z.string().min(1),
    seed: z.number().int().positive(),
    finalCheckpoint: Hex64,
    metrics: Metrics,
  })
  .strict();
export type CampaignRunCompleted = z.infer<typeof CampaignRunCompleted>;

export const CampaignCompleted = z
  .object({
    campaign: z.string().min(1),
    runs: z.array(z.string().min(1)),
  })
  .strict();
export type CampaignCompleted = z.infer<typeof CampaignCompleted>;

/** The worker-signed events: on a run stream, each is signed by a worker key the run's approval trusts (version 2). */
export const WORKER_SIGNED_TYPES = ['RunEnvironmentRecorded', 'TrainingStarted', 'TelemetrySample', 'CheckpointWritten', 'TrainingCompleted', 'RunClaimed'] as const;
export type WorkerSignedType = (typeof WORKER_SIGNED_TYPES)[number];

export const trainingEvents: EventDefinition[] = [
  defineEvent('RunEnvironmentRecorded', 1, RunEnvironmentRecordedV1, 'Where a run executed (unsigned; superseded by version 2).', unsigned),
  defineEvent('RunEnvironmentRecorded', 2, RunEnvironmentRecordedV2, 'Where a built-in worker executed a run: node, tfjs and runledger versions, backend and threads, CPU, OS; signed by a trusted worker key (superseded by version 3).', environmentV3),
  defineEvent('RunEnvironmentRecorded', 3, RunEnvironmentRecorded, 'Where a run executed, recorded by every door that starts one: host, CPU, memory, OS, node, tfjs and runledger versions, the git commit, GPUs, the backend (built-in worker) and the client\'s own facts (Python, …); signed by a trusted worker key.'),
  defineEvent('TrainingStarted', 1, TrainingStartedV1, 'A worker began (or resumed) training (unsigned; superseded by version 2).', unsigned),
  defineEvent('TrainingStarted', 2, TrainingStarted, 'A worker began (or resumed) training a run under its approved plan; its key signs the rest of the session.'),
  defineEvent('TelemetrySample', 1, TelemetrySampleV1, 'Sampled step metrics (unsigned; superseded by version 2).', unsigned),
  defineEvent('TelemetrySample', 2, TelemetrySampleV2, 'Sampled step metrics (loss, accuracy, throughput, wall time, memory) with the run/stage/worker/backend/host tags; signed by the worker (superseded by version 3).', withoutMetrics),
  defineEvent('TelemetrySample', 3, TelemetrySample, 'Sampled system telemetry of a step (throughput, wall time, memory) with the run/stage/worker/backend/host tags; signed by the worker. The step\'s loss and accuracy are MetricsLogged points.'),
  defineEvent('CheckpointWritten', 1, CheckpointWrittenV1, 'A checkpoint whose signature binds only its digest (superseded by version 2).', (data) => data),
  defineEvent('CheckpointWritten', 2, CheckpointWritten, 'A content-addressed checkpoint of model and optimizer state; the worker signature binds its digest, epoch, step and metrics.'),
  defineEvent('TrainingCompleted', 1, TrainingCompletedV1, 'Training finished (unsigned; superseded by version 2).', unsigned),
  defineEvent('TrainingCompleted', 2, TrainingCompleted, 'Training finished; final metrics on the train and held-out splits, those of the last signed checkpoint.'),
  defineEvent('RunSubmitted', 1, RunSubmitted, 'A run was queued for execution by any worker.'),
  defineEvent('RunClaimed', 1, RunClaimedV1, 'A worker claimed a submitted run (unsigned; superseded by version 2).', unsigned),
  defineEvent('RunClaimed', 2, RunClaimed, "A worker claimed a submitted run (optimistic concurrency: one winner), signed by its worker key, which must sign the run's every later training event."),
  defineEvent('CampaignStarted', 1, CampaignStarted, 'A multi-run campaign with deterministic per-run seeds.'),
  defineEvent('CampaignRunCompleted', 1, CampaignRunCompleted, 'One run of a campaign finished.'),
  defineEvent('CampaignCompleted', 1, CampaignCompleted, 'Every run of a campaign finished.'),
];
