// The one JSON shape every benchmark in bench/ emits and `runledger bench-compare` reads: a contract
// between the benchmarks and the gate, so it lives with the gate. Schema first (zod), type derived.
import { z } from 'zod';

export const WallStats = z.object({
  p50: z.number().nonnegative(),
  p90: z.number().nonnegative(),
  p99: z.number().nonnegative(),
  mean: z.number().nonnegative(),
  stdev: z.number().nonnegative(),
});
export type WallStats = z.infer<typeof WallStats>;

export const BenchEnvironment = z.record(z.string(), z.unknown());

export const BenchResult = z.object({
  name: z.string().min(1),
  /** What one unit of throughput is, e.g. "events" or "leaves". */
  unit: z.string().min(1),
  runs: z.number().int().positive(),
  wallMs: WallStats,
  throughputPerSec: z.number().nonnegative(),
  memoryDeltaBytes: z.number(),
  /** The reference implementation measured in the same run (e.g. a hand-written loop). */
  reference: z.object({ name: z.string(), wallMs: WallStats, throughputPerSec: z.number().nonnegative() }).optional(),
  /**
   * Against the same-run reference: "ours ÷ reference" of throughput (higher is better) for `goalIs`
   * `min` or no goal, of wall time (lower is better) for `goalIs` `max`. What bench-compare gates on.
   */
  ratio: z.number().nonnegative().optional(),
  /** The performance goal the ratio is held to, e.g. 1.3. */
  goal: z.number().positive().optional(),
  /** Whether the ratio must be at least (`min`, the default) or at most (`max`) the goal. */
  goalIs: z.enum(['min', 'max']).optional(),
  environment: BenchEnvironment,
});
export type BenchResult = z.infer<typeof BenchResult>;

/** A bench file: an array of results, or `{ results: [...] }` (extra top-level fields allowed). */
export const BenchFile = z.union([z.array(BenchResult), z.object({ results: z.array(BenchResult) }).loose()]);
