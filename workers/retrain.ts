// Re-execution from the replay manifest: the run is first replayed (chain, inclusion under the
// signed checkpoint, stage order, plan parity — src/replay), then its approved training section is
// trained again on the recorded backend in a fresh worker (a new home, a throwaway key, no
// recording) and every checkpoint digest is compared with the one the ledger recorded.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Envelope } from '../events/envelope.js';
import { RunEnvironmentRecorded, type CheckpointWritten } from '../events/training.js';
import { InputError, IntegrityError } from '../src/errors.js';
import type { NoteSigner } from '../src/integrity/note.js';
import { checkRunId, runStream } from '../src/governance/recorder.js';
import { createCheckpoint, latestCheckpoint } from '../src/ledger/checkpoint.js';
import { replayRun } from '../src/replay/replay.js';
import type { ReplayManifest } from '../src/replay/manifest.js';
import type { EventStore } from '../src/store/port.js';
import { TrainingConfig } from './config.js';
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
  /** The replay manifest the re-execution followed (hashes, seeds, training section, environment). */
  manifest: ReplayManifest;
  backend: string;
  tfjsVersion: { recorded: string; current: string };
  match: boolean;
  checkpoints: CheckpointComparison[];
  /** The first checkpoint whose digest differs, null when all match. */
  firstDifference: CheckpointComparison | null;
  wallMs: number;
}

export interface RetrainOptions {
  /** Trusted verifier keys (C2SP vkey text) for the ledger checkpoint. */
  verifierKeys: readonly string[];
  /** When no signed checkpoint covers the run yet, sign one first (what `runledger checkpoint` does). */
  checkpointWith?: { signer: NoteSigner; origin: string };
  onProgress?: (done: number, total: number) => void;
}

export async function retrainRun(store: EventStore, runId: string, options: RetrainOptions): Promise<RetrainReport> {
  checkRunId(runId);
  const events = await store.readStream(runStream(runId));
  if (events.length === 0) throw new InputError(`run ${runId} has no events in this ledger`, { stream: runStream(runId) });
  const lastIndex = events.at(-1)!.index;
  const latest = await latestCheckpoint(store);
  if (options.checkpointWith && (lastIndex === null || !latest || latest.size <= lastIndex)) {
    await createCheckpoint(store, options.checkpointWith.signer, options.checkpointWith.origin);
  }
  const replay = await replayRun(store, runId, { verifierKeys: options.verifierKeys });
  if (!replay.ok || !replay.manifest || !replay.verification) {
    const d = replay.firstDivergence;
    throw new IntegrityError(`run ${runId} failed replay, so it is not re-executed: ${d?.message ?? 'unknown divergence'}`, {
      stream: runStream(runId),
      ...(d?.revision !== undefined ? { revision: d.revision } : {}),
    });
  }
  const manifest = replay.manifest;
  const config = TrainingConfig.safeParse(manifest.training);
  if (!config.success) throw new InputError(`run ${runId}: its replay manifest has no training section to re-execute`, { stream: manifest.stream });
  const environment = RunEnvironmentRecorded.safeParse(manifest.environment);
  if (!environment.success) throw new InputError(`run ${runId}: its replay manifest records no training environment (backend)`, { stream: manifest.stream });
  const backend = environment.data.backend;
  // The digests compared are read from the verified bytes, not from any decoded copy.
  const recorded = replay.evidence
    .map((e) => JSON.parse(e.canonical.toString('utf8')) as Envelope)
    .filter((e) => e.type === 'CheckpointWritten')
    .map((e) => e.data as CheckpointWritten);
  if (recorded.length === 0) {
    throw new InputError(`run ${runId} has recorded no checkpoints, so there is nothing to re-execute and compare`, { stream: manifest.stream });
  }
  const home = mkdtempSync(join(tmpdir(), 'runledger-retrain-'));
  try {
    const result = await train({
      run: runId,
      stage: 'retrain',
      config: config.data,
      backend: backend.name,
      home,
      signingKey: generateKeyPairSync('ed25519').privateKey,
      // Re-execute only as far as the ledger recorded (an interrupted run is compared up to where it stopped).
      stopAfterEpoch: Math.max(...recorded.map((r) => r.epoch)),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    // A resumed run may record an epoch twice (before and after the interruption): each must match.
    const byEpoch = new Map(result.checkpoints.map((c) => [c.epoch, c.digest]));
    const checkpoints = recorded.map((r): CheckpointComparison => {
      const recomputed = byEpoch.get(r.epoch) ?? null;
      return { epoch: r.epoch, step: r.step, recorded: r.digest, recomputed, match: recomputed === r.digest };
    });
    const firstDifference = checkpoints.find((c) => !c.match) ?? null;
    return {
      runId,
      manifest,
      backend: backend.name,
      tfjsVersion: { recorded: backend.tfjsVersion, current: tf.version.tfjs },
      match: firstDifference === null,
      checkpoints,
      firstDifference,
      wallMs: result.wallMs,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
