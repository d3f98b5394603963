// Re-execution from the replay manifest: the run is first replayed (chain, inclusion under the
// signed checkpoint, stage order, plan parity — src/replay), then its approved training section is
// trained again on the recorded backend in a fresh worker process (workers/reexecute.ts: a new
// home, a throwaway key, no recording) and every checkpoint digest is compared with the recorded one.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Envelope } from '../events/envelope.js';
import { BackendInfo, type CheckpointWritten } from '../events/training.js';
import { InputError, IntegrityError, UnavailableError } from '../src/errors.js';
import { checkRunId, runStream } from '../src/governance/run-stream.js';
import { coverRuns, replayRun, type RunTrust } from '../src/replay/replay.js';
import type { ReplayManifest } from '../src/replay/manifest.js';
import type { EventStore } from '../src/store/port.js';
import { TrainingConfig, type Backend } from '../events/training-config.js';

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

/** The verifier keys the replay trusts; with `signCheckpoint`, a checkpoint is signed first when none covers the run yet. */
export interface RetrainOptions extends RunTrust {
  onProgress?: (done: number, total: number) => void;
}

export async function retrainRun(store: EventStore, runId: string, options: RetrainOptions): Promise<RetrainReport> {
  checkRunId(runId);
  if ((await store.streamRevision(runStream(runId))) < 0) throw new InputError(`run ${runId} has no events in this ledger`, { stream: runStream(runId) });
  if (options.signCheckpoint) await coverRuns(store, [runId], options.signCheckpoint);
  // Nothing is said to match before the run passes replay: every write rule re-checked from its log.
  const replay = await replayRun(store, runId, { verifierKeys: options.verifierKeys });
  if (!replay.ok || !replay.manifest || !replay.verification) {
    const d = replay.firstDivergence;
    throw new IntegrityError(`run ${runId} failed replay (check ${d?.check ?? 'unknown'}), so it is not re-executed: ${d?.message ?? 'unknown divergence'}`, {
      stream: runStream(runId),
      ...(d?.revision !== undefined ? { revision: d.revision } : {}),
    });
  }
  const manifest = replay.manifest;
  const config = TrainingConfig.safeParse(manifest.training);
  if (!config.success) throw new InputError(`run ${runId}: its replay manifest has no training section to re-execute`, { stream: manifest.stream });
  // The last RunEnvironmentRecorded of any version names the backend (null when runledger did not train the run).
  const environment = BackendInfo.safeParse((manifest.environment as { backend?: unknown } | null)?.backend);
  if (!environment.success) throw new InputError(`run ${runId}: its replay manifest records no training environment (backend)`, { stream: manifest.stream });
  const backend = environment.data;
  // The digests compared are read from the verified bytes, not from any decoded copy.
  const recorded = replay.evidence
    .map((e) => JSON.parse(e.canonical.toString('utf8')) as Envelope)
    .filter((e) => e.type === 'CheckpointWritten')
    .map((e) => e.data as CheckpointWritten);
  if (recorded.length === 0) {
    throw new InputError(`run ${runId} has recorded no checkpoints, so there is nothing to re-execute and compare`, { stream: manifest.stream });
  }
  const result = await reexecute(
    { config: config.data, backend: backend.name, stopAfterEpoch: Math.max(...recorded.map((r) => r.epoch)) },
    options.onProgress,
  );
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
    tfjsVersion: { recorded: backend.tfjsVersion, current: result.backend.tfjsVersion },
    match: firstDifference === null,
    checkpoints,
    firstDifference,
    wallMs: result.wallMs,
  };
}

export interface Reexecution {
  checkpoints: { epoch: number; step: number; digest: string }[];
  backend: BackendInfo;
  wallMs: number;
}

/**
 * Trains `config` in a fresh worker process (workers/reexecute.ts) as far as `stopAfterEpoch`, the
 * last epoch the ledger recorded — an interrupted run is compared up to where it stopped.
 */
export function reexecute(
  request: { config: TrainingConfig; backend: Backend; stopAfterEpoch: number },
  onProgress?: (done: number, total: number) => void,
): Promise<Reexecution> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./reexecute.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let failure = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    createInterface({ input: child.stderr }).on('line', (line) => {
      const progress = /^progress (\d+) (\d+)$/.exec(line);
      if (progress) onProgress?.(Number(progress[1]), Number(progress[2]));
      else if (line.startsWith('error ')) failure = line.slice('error '.length);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve(JSON.parse(stdout) as Reexecution);
      reject(new UnavailableError(`the re-execution worker failed${failure ? `: ${failure}` : ` with exit code ${code}`}`));
    });
    child.stdin.end(JSON.stringify(request));
  });
}
