// Effect sizes with intervals for one candidate–baseline (or candidate–candidate) pair: the
// Hodges–Lehmann shift in the metric's units with its distribution-free interval, and Cliff's delta
// (a probability scale) with the seeded percentile bootstrap. Pure.
import { normalQuantile } from './distributions.js';
import { bootstrapInterval, cliffsDelta, exactUDistribution, median, type BootstrapOptions, type BootstrapResult } from './statistics.js';

export interface ShiftEstimate {
  /** Median of all pairwise differences other - reference. */
  estimate: number;
  /** Interval bounds; null when the groups are too small for the confidence asked. */
  low: number | null;
  high: number | null;
  confidence: number;
  /** Critical values from the exact null distribution of U, or its normal approximation for large groups. */
  method: 'exact' | 'asymptotic';
}

/** Above this many pairs the exact U distribution gives way to its normal approximation. */
const EXACT_PAIRS_LIMIT = 10_000;

/**
 * Hodges–Lehmann estimate of the shift of `other` relative to `reference` (Hodges & Lehmann 1963)
 * and its distribution-free confidence interval (Moses; Bauer 1972): with D_(1) <= … <= D_(mn) the
 * sorted pairwise differences, [D_(k), D_(mn+1-k)] for the largest k with P(U <= k - 1) <= α/2
 * under H0. Exact for continuous data; with ties the coverage is approximate.
 */
export function hodgesLehmann(reference: readonly number[], other: readonly number[], confidence: number): ShiftEstimate {
  const m = reference.length;
  const n = other.length;
  if (m === 0 || n === 0) throw new RangeError('Hodges–Lehmann needs values on both sides');
  const diffs: number[] = [];
  for (const o of other) for (const r of reference) diffs.push(o - r);
  diffs.sort((a, b) => a - b);
  const pairs = m * n;
  const tail = (1 - confidence) / 2;
  let k: number;
  let method: ShiftEstimate['method'];
  if (pairs <= EXACT_PAIRS_LIMIT) {
    method = 'exact';
    const counts = exactUDistribution(m, n);
    const limit = tail * counts.reduce((a, b) => a + b, 0);
    // Arrangements with U <= k - 1 accumulate as k grows; stop before they exceed the tail.
    let cumulative = 0;
    k = 0;
    while (k < counts.length && cumulative + counts[k]! <= limit) cumulative += counts[k++]!;
  } else {
    method = 'asymptotic';
    const sigma = Math.sqrt((pairs * (m + n + 1)) / 12);
    k = Math.floor(pairs / 2 + 0.5 - normalQuantile(1 - tail) * sigma);
  }
  const bounded = k >= 1 && k <= pairs + 1 - k;
  return {
    estimate: median(diffs),
    low: bounded ? diffs[k - 1]! : null,
    high: bounded ? diffs[pairs - k]! : null,
    confidence,
    method,
  };
}

/** Cliff's delta of `other` against `reference` with its seeded percentile-bootstrap interval. */
export function cliffsDeltaInterval(reference: readonly number[], other: readonly number[], options: BootstrapOptions): BootstrapResult {
  return bootstrapInterval(reference, other, cliffsDelta, options);
}
