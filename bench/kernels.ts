// Complexity of the operations a training step runs through — broadcasting (bias add), matMul, the
// batch iterator (workers/batches.ts) and the optimizer step (Adam, workers/model.ts adamUpdate) —
// per size on cpu and wasm, each against a reference doing the same work in plain Float32Array
// loops, measured in interleaved repetitions in the same process (so both meet the same load).
// Per result: wall time per operation (p50/p90/p99, mean, stdev), throughput, the tfjs tensor
// memory an operation holds and leaves behind (tf.memory()), the RSS delta, and the scaling against
// the smallest size (time ratio next to work ratio: equal means linear in the work).
// `ratio` = our throughput ÷ the reference's (higher is better); no goal: these describe, not gate.
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { activateBackend } from '../workers/backend.js';
import { epochBatches } from '../workers/batches.js';
import { adamUpdate, ADAM } from '../workers/model.js';
import { seededPermutation } from '../workers/seeds.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';

interface Kernel {
  op: string;
  /** What one unit of work is. */
  unit: string;
  sizes: number[];
  sizeLabel: (size: number) => string;
  /** Units of work per operation at `size`. */
  work: (size: number) => number;
  /** Builds inputs once; returns one operation and its reference, and a disposer. */
  setup: (size: number) => { ours: () => void; reference: () => void; dispose: () => void; referenceName: string };
  /** Runs on a tfjs backend (false: plain JavaScript, backend-independent). */
  tensors: boolean;
}

function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s ^ (s >>> 15), 1 | s) + 0x6d2b79f5) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

const WIDTH = 64;

const KERNELS: Kernel[] = [
  {
    op: 'broadcast-add',
    unit: 'elements',
    // [rows, 64] + [64], the bias add of every dense layer
    sizes: [16, 256, 4096],
    sizeLabel: (rows) => `${rows}x${WIDTH}`,
    work: (rows) => rows * WIDTH,
    tensors: true,
    setup: (rows) => {
      const a = seeded(rows * WIDTH, 1);
      const b = seeded(WIDTH, 2);
      const ta = tf.tensor2d(a, [rows, WIDTH]);
      const tb = tf.tensor1d(b);
      return {
        ours: () => tf.add(ta, tb).dispose(),
        referenceName: 'plain loop: out[i][j] = a[i][j] + b[j] into a new Float32Array',
        reference: () => {
          const out = new Float32Array(rows * WIDTH);
          for (let i = 0; i < rows; i++) for (let j = 0; j < WIDTH; j++) out[i * WIDTH + j] = a[i * WIDTH + j]! + b[j]!;
          sink(out);
        },
        dispose: () => tf.dispose([ta, tb]),
      };
    },
  },
  {
    op: 'matmul',
    unit: 'flop',
    sizes: [32, 128, 256],
    sizeLabel: (n) => `${n}x${n}x${n}`,
    work: (n) => 2 * n ** 3,
    tensors: true,
    setup: (n) => {
      const a = seeded(n * n, 3);
      const b = seeded(n * n, 4);
      const ta = tf.tensor2d(a, [n, n]);
      const tb = tf.tensor2d(b, [n, n]);
      return {
        ours: () => tf.matMul(ta, tb).dispose(),
        referenceName: 'plain i-k-j triple loop over Float32Array, new output',
        reference: () => {
          const out = new Float32Array(n * n);
          for (let i = 0; i < n; i++) {
            for (let k = 0; k < n; k++) {
              const aik = a[i * n + k]!;
              for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + aik * b[k * n + j]!;
            }
          }
          sink(out);
        },
        dispose: () => tf.dispose([ta, tb]),
      };
    },
  },
  {
    op: 'batch-iterator',
    unit: 'rows',
    // one epoch over a dataset of N rows × 4 features in a seeded order, batches of 16
    sizes: [1024, 16384, 262144],
    sizeLabel: (rows) => `${rows}rows`,
    work: (rows) => rows,
    tensors: false,
    setup: (rows) => {
      const f = 4;
      const x = seeded(rows * f, 5);
      const y = Int32Array.from({ length: rows }, (_, i) => i % 3);
      const order = seededPermutation(rows, 6);
      return {
        ours: () => {
          let s = 0;
          for (const batch of epochBatches(x, y, f, order, 16)) s += batch.y[0]!;
          sink(s);
        },
        referenceName: 'plain loop: the same rows in the same order copied into one batch buffer',
        reference: () => {
          const bx = new Float32Array(16 * f);
          const by = new Int32Array(16);
          let s = 0;
          for (let start = 0; start < rows; start += 16) {
            const n = Math.min(16, rows - start);
            for (let i = 0; i < n; i++) {
              const r = order[start + i]!;
              for (let k = 0; k < f; k++) bx[i * f + k] = x[r * f + k]!;
              by[i] = y[r]!;
            }
            s += by[0]!;
          }
          sink(s);
        },
        dispose: () => undefined,
      };
    },
  },
  {
    op: 'adam-step',
    unit: 'params',
    sizes: [1024, 16384, 262144],
    sizeLabel: (n) => `${n}params`,
    work: (n) => n,
    tensors: true,
    setup: (n) => {
      const p0 = seeded(n, 7);
      const g0 = seeded(n, 8);
      const p = tf.variable(tf.tensor1d(p0));
      const m = tf.variable(tf.zeros([n]));
      const v = tf.variable(tf.zeros([n]));
      const g = tf.tensor1d(g0);
      const rp = Float32Array.from(p0);
      const rm = new Float32Array(n);
      const rv = new Float32Array(n);
      let t = 0;
      let rt = 0;
      return {
        ours: () => tf.tidy(() => adamUpdate(p, g, m, v, ++t, 0.01)),
        referenceName: 'plain loop: the same Adam update over Float32Array (float64 arithmetic, float32 storage)',
        reference: () => {
          rt++;
          const alphaT = (0.01 * Math.sqrt(1 - ADAM.beta2 ** rt)) / (1 - ADAM.beta1 ** rt);
          for (let i = 0; i < n; i++) {
            const gi = g0[i]!;
            rm[i] = ADAM.beta1 * rm[i]! + (1 - ADAM.beta1) * gi;
            rv[i] = ADAM.beta2 * rv[i]! + (1 - ADAM.beta2) * gi * gi;
            rp[i] = rp[i]! - (alphaT * rm[i]!) / (Math.sqrt(rv[i]!) + ADAM.epsilon);
          }
        },
        dispose: () => tf.dispose([p, m, v, g]),
      };
    },
  },
];

let sunk = 0;
/** Keeps a result alive so the reference loop cannot be optimised away. */
function sink(value: Float32Array | number): void {
  sunk += typeof value === 'number' ? value : value[value.length >> 1]!;
}

/** Enough repetitions for stable percentiles, fewer for the slow large sizes (the total stays ~1 s per size). */
function repetitionsFor(runs: number, probeMs: number): number {
  return Math.max(runs, Math.min(200, Math.floor(500 / Math.max(probeMs, 0.01))));
}

async function measureKernel(kernel: Kernel, backend: string, runs: number): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  let base: { work: number; p50: number } | null = null;
  for (const size of kernel.sizes) {
    const { ours, reference, dispose, referenceName } = kernel.setup(size);
    try {
      // Warm-up (JIT, kernel registration, wasm heap growth), then a probe to size the repetitions.
      for (let i = 0; i < 3; i++) {
        ours();
        reference();
      }
      const probe = performance.now();
      ours();
      const reps = repetitionsFor(runs, performance.now() - probe);
      // What one operation holds while it runs (its output) and what it leaves behind (a leak).
      const m0 = tf.memory();
      const rss0 = process.memoryUsage().rss;
      const oursMs: number[] = [];
      const refMs: number[] = [];
      for (let r = 0; r < reps; r++) {
        // Alternate which goes first so drift in machine load falls on both.
        const pair = r % 2 === 0 ? ([ours, reference] as const) : ([reference, ours] as const);
        for (const fn of pair) {
          const t0 = performance.now();
          fn();
          (fn === ours ? oursMs : refMs).push(performance.now() - t0);
        }
      }
      const m1 = tf.memory();
      const rssDelta = process.memoryUsage().rss - rss0;
      const wallMs = summarizeRuns(oursMs);
      const refWall = summarizeRuns(refMs);
      const work = kernel.work(size);
      base ??= { work, p50: wallMs.p50 };
      results.push({
        name: `kernels.${kernel.op}.${backend}.${kernel.sizeLabel(size)}`,
        unit: kernel.unit,
        runs: reps,
        wallMs,
        throughputPerSec: work / (wallMs.p50 / 1000),
        memoryDeltaBytes: rssDelta,
        reference: { name: referenceName, wallMs: refWall, throughputPerSec: work / (refWall.p50 / 1000) },
        ratio: refWall.p50 / wallMs.p50,
        environment: {
          ...benchEnvironment(),
          backend,
          op: kernel.op,
          size: kernel.sizeLabel(size),
          workPerOp: work,
          measure: 'wall time of one operation; ratio = reference p50 / ours p50 (throughput ours ÷ reference)',
          tfMemory: { tensorsDelta: m1.numTensors - m0.numTensors, bytesDelta: m1.numBytes - m0.numBytes },
          rssDeltaBytes: rssDelta,
          // Scaling against the smallest size: equal ratios mean time grows linearly with the work.
          scaling: { baseSize: kernel.sizeLabel(kernel.sizes[0]!), workVsBase: work / base.work, timeVsBase: wallMs.p50 / base.p50 },
        },
      });
    } finally {
      dispose();
    }
  }
  return results;
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const runs = options.runs ?? 15;
  const results: BenchResult[] = [];
  // Plain-JavaScript kernels once; tensor kernels on each built-in backend.
  for (const kernel of KERNELS.filter((k) => !k.tensors)) results.push(...(await measureKernel(kernel, 'js', runs)));
  for (const backend of ['cpu', 'wasm'] as const) {
    const info = await activateBackend(backend);
    for (const kernel of KERNELS.filter((k) => k.tensors)) {
      for (const r of await measureKernel(kernel, backend, runs)) results.push({ ...r, environment: { ...r.environment, backendInfo: info } });
    }
  }
  await activateBackend('cpu');
  if (Number.isNaN(sunk)) process.stderr.write('');
  return results;
}
