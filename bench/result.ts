// What every benchmark shares: the result shape (declared with the gate that reads it,
// src/gates/bench-file.ts), `summarizeRuns` turning raw wall times into it, and the environment.
import { cpus, platform, arch, totalmem, loadavg } from 'node:os';

export { BenchEnvironment, BenchFile, BenchResult, WallStats } from '../src/gates/bench-file.js';
import type { BenchResult, WallStats } from '../src/gates/bench-file.js';

export interface BenchOptions {
  /** Repetitions per measurement (default chosen by each benchmark). */
  runs?: number;
  /** Problem size scale factor, 1 = the documented default. */
  scale?: number;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarizeRuns(samplesMs: readonly number[]): WallStats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const variance = sorted.length < 2 ? 0 : sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (sorted.length - 1);
  return { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), mean, stdev: Math.sqrt(variance) };
}

export function benchEnvironment(): Record<string, unknown> {
  const cpu = cpus();
  return {
    node: process.version,
    platform: platform(),
    arch: arch(),
    cpuModel: cpu[0]?.model ?? 'unknown',
    cpus: cpu.length,
    totalMemBytes: totalmem(),
    // The machine is shared: the 1, 5 and 15 minute load averages when the result was taken.
    loadAverage: loadavg(),
  };
}

/**
 * A throughput result against a reference timed in the same run: both as events per second over
 * their median wall time, and the ratio ours ÷ reference of throughput (reference wall ÷ ours),
 * higher is better; `goal`, when given, is a `min` goal on that ratio.
 */
export function throughputResult(
  name: string,
  events: number,
  samplesMs: readonly number[],
  reference: { name: string; samplesMs: readonly number[] },
  environment: Record<string, unknown>,
  options: { memoryDeltaBytes?: number; goal?: number } = {},
): BenchResult {
  const wallMs = summarizeRuns(samplesMs);
  const referenceWall = summarizeRuns(reference.samplesMs);
  return {
    name,
    unit: 'events',
    runs: samplesMs.length,
    wallMs,
    throughputPerSec: events / (wallMs.p50 / 1000),
    memoryDeltaBytes: options.memoryDeltaBytes ?? 0,
    reference: { name: reference.name, wallMs: referenceWall, throughputPerSec: events / (referenceWall.p50 / 1000) },
    ratio: referenceWall.p50 / wallMs.p50,
    ...(options.goal === undefined ? {} : { goal: options.goal, goalIs: 'min' as const }),
    environment,
  };
}

/**
 * The parallel-verification goal of issue 13 (`--workers 2` ≥ 1.7× one worker): a `throughputResult`
 * of the parallel wall times against the one-worker ones, same run, same events. Higher is better.
 */
export const PARALLEL_SPEEDUP_GOAL = 1.7;
