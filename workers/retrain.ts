// Re-execution from the replay manifest: the run is first replayed (chain, inclusion under the
// signed checkpoint, stage order, plan parity — src/replay), then its approved training section is
// trained again on the recorded backend in a fresh worker process (workers/reexecute.ts: a new
// home, a throwaway key, no recording) and every checkpoint digest is compared with the recorded one.
// `repeat` does that N times, each in its own process, and stops at the first divergence, naming
// the repetition, the checkpoint and the first tensor value that differs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
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
import { loadCheckpoint, publicKeyVerifier, type CheckpointContent } from './checkpoint.js';
import type { Perturbation } from './model.js';

export interface CheckpointComparison {
  epoch: number;
  step: number;
  recorded: string;
  /** Null when the re-execution produced no checkpoint for this epoch. */
  recomputed: string | null;
  match: boolean;
}

/** The first value of a checkpoint tensor that differs; float32 values with their bit patterns. */
export interface TensorDifference {
  name: string;
  index: number;
  /** The float32 value, or "NaN" / "Infinity" / "-Infinity" (not JSON numbers). */
  recorded: number | string;
  recomputed: number | string;
  recordedBits: string;
  recomputedBits: string;
}

/** Where a re-execution first left the recorded run: repetition, checkpoint and, where both files are at hand, tensor value. */
export interface Divergence extends CheckpointComparison {
  /** 1-based repetition of `--repeat` that diverged. */
  repetition: number;
  /** Null when the recorded checkpoint file is not in the home (or the re-execution wrote none). */
  tensor: TensorDifference | null;
}

export interface RetrainReport {
  runId: string;
  /** The replay manifest the re-execution followed (hashes, seeds, training section, environment). */
  manifest: ReplayManifest;
  backend: string;
  /** wasm: whether the SIMD build was loaded, as recorded and as re-executed; null on other backends. */
  simd: boolean | null;
  tfjsVersion: { recorded: string; current: string };
  match: boolean;
  /** Re-executions asked for (`--repeat`) and carried out (fewer when one diverged: it stops there). */
  repeat: { requested: number; executed: number };
  /** The first repetition's comparison, checkpoint by checkpoint. */
  checkpoints: CheckpointComparison[];
  /** The first checkpoint whose digest differs in any repetition, null when all match. */
  firstDifference: Divergence | null;
  /** Each repetition's wall time inside its worker: dataset, backend initialisation, training (not process start). */
  repetitionWallMs: number[];
  wallMs: number;
}

/** The verifier keys the replay trusts; with `signCheckpoint`, a checkpoint is signed first when none covers the run yet. */
export interface RetrainOptions extends RunTrust {
  onProgress?: (done: number, total: number) => void;
  /** Re-executions, each in a fresh worker process (default 1). */
  repeat?: number;
  /** The home holding the recorded checkpoint files: a divergence is then named down to the tensor value. */
  home?: string;
  /** Test hook: flips one weight in one repetition (see `perturbationFromEnv`). */
  perturb?: RepetitionPerturbation;
}

export interface RepetitionPerturbation extends Perturbation {
  repetition: number;
}

/**
 * RUNLEDGER_RETRAIN_PERTURB=<repetition>:<epoch>:<tensor>:<index> makes that repetition flip the
 * lowest bit of one value after that epoch — the evidence that a divergence would be reported.
 */
export function perturbationFromEnv(env: NodeJS.ProcessEnv = process.env): RepetitionPerturbation | undefined {
  const v = env.RUNLEDGER_RETRAIN_PERTURB;
  if (!v) return undefined;
  const m = /^(\d+):(\d+):([^:]+):(\d+)$/.exec(v);
  if (!m) throw new InputError(`environment variable RUNLEDGER_RETRAIN_PERTURB must be <repetition>:<epoch>:<tensor>:<index>, not "${v}"`, { field: 'RUNLEDGER_RETRAIN_PERTURB' });
  return { repetition: Number(m[1]), epoch: Number(m[2]), tensor: m[3]!, index: Number(m[4]) };
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
  const repeat = options.repeat ?? 1;
  const started = performance.now();
  // Each repetition's checkpoints stay on disk until compared; the first to match every digest is
  // kept as the recorded bytes (same SHA-256) when the home does not hold the recorded files.
  const scratch = mkdtempSync(join(tmpdir(), 'runledger-retrain-'));
  try {
    let reference: { dir: string; key: string } | null = null;
    let first: CheckpointComparison[] = [];
    let firstDifference: Divergence | null = null;
    let current = backend.tfjsVersion;
    const repetitionWallMs: number[] = [];
    for (let repetition = 1; repetition <= repeat && !firstDifference; repetition++) {
      const dir = join(scratch, `repetition-${repetition}`);
      const perturb = options.perturb?.repetition === repetition ? options.perturb : undefined;
      const result = await reexecute(
        {
          config: config.data,
          backend: backend.name,
          simd: backend.simd,
          stopAfterEpoch: Math.max(...recorded.map((r) => r.epoch)),
          home: dir,
          ...(perturb ? { perturb: { epoch: perturb.epoch, tensor: perturb.tensor, index: perturb.index } } : {}),
        },
        options.onProgress && ((done, total) => options.onProgress!((repetition - 1) * total + done, repeat * total)),
      );
      repetitionWallMs.push(result.wallMs);
      current = result.backend.tfjsVersion;
      // A resumed run may record an epoch twice (before and after the interruption): each must match.
      const byEpoch = new Map(result.checkpoints.map((c) => [c.epoch, c.digest]));
      const checkpoints = recorded.map((r): CheckpointComparison => {
        const recomputed = byEpoch.get(r.epoch) ?? null;
        return { epoch: r.epoch, step: r.step, recorded: r.digest, recomputed, match: recomputed === r.digest };
      });
      if (repetition === 1) first = checkpoints;
      const diff = checkpoints.find((c) => !c.match);
      if (diff) {
        const event = recorded.find((r) => r.epoch === diff.epoch && r.digest === diff.recorded)!;
        const recordedFile = recordedCheckpoint(options.home, event) ?? (reference ? readCheckpoint(reference.dir, diff.recorded, reference.key) : null);
        const recomputedFile = diff.recomputed ? readCheckpoint(dir, diff.recomputed, result.publicKey) : null;
        firstDifference = { ...diff, repetition, tensor: recordedFile && recomputedFile ? firstTensorDifference(recordedFile, recomputedFile) : null };
      } else if (!reference) {
        reference = { dir, key: result.publicKey };
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
    }
    return {
      runId,
      manifest,
      backend: backend.name,
      simd: backend.simd,
      tfjsVersion: { recorded: backend.tfjsVersion, current },
      match: firstDifference === null,
      repeat: { requested: repeat, executed: repetitionWallMs.length },
      checkpoints: first,
      firstDifference,
      repetitionWallMs,
      wallMs: performance.now() - started,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The recorded checkpoint file from the home, verified with the key that signed its (replayed) event; null when absent or not verifiable. */
function recordedCheckpoint(home: string | undefined, event: CheckpointWritten): CheckpointContent | null {
  if (!home) return null;
  try {
    return loadCheckpoint(home, event.digest, publicKeyVerifier(Buffer.from(event.publicKey, 'base64')));
  } catch {
    return null;
  }
}

function readCheckpoint(home: string, digest: string, publicKey: string): CheckpointContent {
  return loadCheckpoint(home, digest, publicKeyVerifier(Buffer.from(publicKey, 'base64')));
}

/** The first tensor value (tensor order, then index) whose float32 bits differ; null when only the header differs. */
export function firstTensorDifference(recorded: CheckpointContent, recomputed: CheckpointContent): TensorDifference | null {
  for (const [t, a] of recorded.tensors.entries()) {
    const b = recomputed.tensors[t];
    if (!b) return null;
    const aBits = new Uint32Array(a.values.buffer, a.values.byteOffset, a.values.length);
    const bBits = new Uint32Array(b.values.buffer, b.values.byteOffset, b.values.length);
    for (let i = 0; i < Math.min(aBits.length, bBits.length); i++) {
      if (aBits[i] !== bBits[i]) {
        const hex = (x: number): string => `0x${x.toString(16).padStart(8, '0')}`;
        const value = (x: number): number | string => (Number.isFinite(x) ? x : String(x));
        return { name: a.name, index: i, recorded: value(a.values[i]!), recomputed: value(b.values[i]!), recordedBits: hex(aBits[i]!), recomputedBits: hex(bBits[i]!) };
      }
    }
  }
  return null;
}

export interface Reexecution {
  checkpoints: { epoch: number; step: number; digest: string }[];
  backend: BackendInfo;
  wallMs: number;
  /** base64 raw Ed25519 key of the worker's throwaway signing key (its checkpoint files verify with it). */
  publicKey: string;
}

/** What a re-execution worker is asked to do (workers/reexecute.ts). */
export interface ReexecutionRequest {
  config: TrainingConfig;
  backend: Backend;
  /** wasm: the build the run recorded; null/absent elsewhere. */
  simd?: boolean | null;
  stopAfterEpoch: number;
  /** Where the worker writes its checkpoints (kept); default a temporary home it removes. */
  home?: string;
  perturb?: Perturbation;
}

/**
 * Trains `config` in a fresh worker process (workers/reexecute.ts) as far as `stopAfterEpoch`, the
 * last epoch the ledger recorded — an interrupted run is compared up to where it stopped.
 */
export function reexecute(
  request: ReexecutionRequest,
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
