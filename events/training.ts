// training events. Each definition is declared once here; types derive from the schemas.
// Recorded by workers/ on the run's stream (and the campaign / queue streams for orchestration).
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
const Backend = z.enum(['cpu', 'wasm', 'tensorflow', 'tensorflow-gpu']);

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

export const RunEnvironmentRecorded = z
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
export type RunEnvironmentRecorded = z.infer<typeof RunEnvironmentRecorded>;

export const TrainingStarted = z
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
export type TrainingStarted = z.infer<typeof TrainingStarted>;

export const TelemetrySample = z
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
export type TelemetrySample = z.infer<typeof TelemetrySample>;

export const CheckpointWritten = z
  .object({
    runId: z.string().min(1),
    stageId: z.string().min(1),
    epoch: z.number().int().positive(),
    step: z.number().int().nonnegative(),
    /** SHA-256 (hex) of the checkpoint file; the file is `checkpoints/<digest>.ckpt` under the home. */
    digest: Hex64,
    bytes: z.number().int().positive(),
    /** Ed25519 signature (base64) over the checkpoint signing message (docs/training.md). */
    signature: Base64,
    /** Raw 32-byte Ed25519 public key (base64) that made the signature. */
    publicKey: Base64,
    metrics: Metrics,
  })
  .strict();
export type CheckpointWritten = z.infer<typeof CheckpointWritten>;

export const TrainingCompleted = z
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

/** A worker took a submitted run; appended with an expected revision so only one claim can win. */
export const RunClaimed = z
  .object({
    runId: z.string().min(1),
    worker: z.string().min(1),
    host: z.string().min(1),
  })
  .strict();
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

export const trainingEvents: EventDefinition[] = [
  defineEvent('RunEnvironmentRecorded', 1, RunEnvironmentRecorded, 'Where a run executed: node, tfjs and runledger versions, backend and threads, CPU, OS.'),
  defineEvent('TrainingStarted', 1, TrainingStarted, 'A worker began (or resumed) training a run under its approved plan.'),
  defineEvent('TelemetrySample', 1, TelemetrySample, 'Sampled step metrics (loss, accuracy, throughput, wall time, memory) with the run/stage/worker/backend/host tags.'),
  defineEvent('CheckpointWritten', 1, CheckpointWritten, 'A signed, content-addressed checkpoint of model and optimizer state.'),
  defineEvent('TrainingCompleted', 1, TrainingCompleted, 'Training finished; final metrics on the train and held-out splits.'),
  defineEvent('RunSubmitted', 1, RunSubmitted, 'A run was queued for execution by any worker.'),
  defineEvent('RunClaimed', 1, RunClaimed, 'A worker claimed a submitted run (optimistic concurrency: one winner).'),
  defineEvent('CampaignStarted', 1, CampaignStarted, 'A multi-run campaign with deterministic per-run seeds.'),
  defineEvent('CampaignRunCompleted', 1, CampaignRunCompleted, 'One run of a campaign finished.'),
  defineEvent('CampaignCompleted', 1, CampaignCompleted, 'Every run of a campaign finished.'),
];
