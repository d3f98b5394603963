// Re-execution: train a run again from what its ledger records (approved plan, seed, backend) in a
// fresh worker — a new home, a throwaway key, no recording — and compare every checkpoint digest.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckpointWritten, TrainingStarted } from '../events/training.js';
import { InputError } from '../src/errors.js';
import * as tf from '@tensorflow/tfjs';
import type { EventStore } from '../src/store/port.js';
import { readApprovedRun } from './execute.js';
import { train } from './trainer.js';

export interface CheckpointComparison {
  epoch: number;
  step: number;
  recorded: string;
  /** Null when the re-execution produced no checkpoint for this epoch. */
  recomputed: string | null;
  match: boolean;
}

export interface RetrainReport {
  runId: string;
  backend: string;
  tfjsVersion: { recorded: string; current: string };
  match: boolean;
  checkpoints: CheckpointComparison[];
  /** The first checkpoint whose digest differs, null when all match. */
  firstDifference: CheckpointComparison | null;
  wallMs: number;
}

export async function retrainRun(
  store: EventStore,
  runId: string,
  options: { onProgress?: (done: number, total: number) => void } = {},
): Promise<RetrainReport> {
  const { snapshot, config } = await readApprovedRun(store, runId);
  const started = snapshot.events.find((e) => e.envelope.type === 'TrainingStarted')?.envelope.data as TrainingStarted | undefined;
  const recorded = snapshot.events.filter((e) => e.envelope.type === 'CheckpointWritten').map((e) => e.envelope.data as CheckpointWritten);
  if (!started || recorded.length === 0) {
    throw new InputError(`run ${runId} has recorded no checkpoints, so there is nothing to re-execute and compare`, { stream: snapshot.stream });
  }
  const home = mkdtempSync(join(tmpdir(), 'runledger-retrain-'));
  try {
    const result = await train({
      run: runId,
      stage: 'retrain',
      config,
      backend: started.backend.name,
      home,
      signingKey: generateKeyPairSync('ed25519').privateKey,
      // Re-execute only as far as the ledger recorded (an interrupted run is compared up to where it stopped).
      stopAfterEpoch: recorded.at(-1)!.epoch,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const byEpoch = new Map(result.checkpoints.map((c) => [c.epoch, c.digest]));
    const checkpoints = recorded.map((r): CheckpointComparison => {
      const recomputed = byEpoch.get(r.epoch) ?? null;
      return { epoch: r.epoch, step: r.step, recorded: r.digest, recomputed, match: recomputed === r.digest };
    });
    const firstDifference = checkpoints.find((c) => !c.match) ?? null;
    return {
      runId,
      backend: started.backend.name,
      tfjsVersion: { recorded: started.backend.tfjsVersion, current: tf.version.tfjs },
      match: firstDifference === null,
      checkpoints,
      firstDifference,
      wallMs: result.wallMs,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
