// Statistics for regression gates: a seeded PRNG (so every interval is reproducible from the
// ledger), the percentile bootstrap of a difference of means, and the Mann–Whitney U test with
// Cliff's delta as effect size. Pure functions; no I/O, no Math.random.
import { mulberry32 } from '../prng.js';

/** The seeded PRNG of every bootstrap (src/prng.ts). */
export const seededRandom = mulberry32;

export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('mean of no values');
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample standard deviation (n - 1 denominator); 0 for fewer than two values. */
export function stdev(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (values.length - 1));
}

export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/** Quantile of SORTED values by linear interpolation between order statistics (Hyndman & Fan type 7, R's default). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no values');
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export interface BootstrapOptions {
  /** Two-sided confidence level, e.g. 0.95. */
  confidence: number;
  resamples: number;
  seed: number;
}

export interface Interval {
  low: number;
  high: number;
  confidence: number;
}

export interface BootstrapResult extends Interval {
  /** The statistic on the observed values, e.g. mean(candidate) - mean(baseline). */
  estimate: number;
  resamples: number;
  seed: number;
}

/**
 * Percentile bootstrap CI of mean(candidate) - mean(baseline) (Efron & Tibshirani 1993, §13.3):
 * each group is resampled with replacement independently, `resamples` times, from one seeded stream
 * (baseline first, then candidate, per resample), so the interval is a pure function of its inputs.
 */
export function bootstrapMeanDifference(
  baseline: readonly number[],
  candidate: readonly number[],
  options: BootstrapOptions,
): BootstrapResult {
  return bootstrapInterval(baseline, candidate, (b, c) => mean(c) - mean(b), options);
}

/**
 * Percentile bootstrap CI of any two-sample statistic(baseline, candidate), drawn exactly as
 * bootstrapMeanDifference draws (one seeded stream; per resample the baseline's |B| indices, then
 * the candidate's |C|), so every interval runledger records is recomputable from its inputs.
 */
export function bootstrapInterval(
  baseline: readonly number[],
  candidate: readonly number[],
  statistic: (baseline: readonly number[], candidate: readonly number[]) => number,
  options: BootstrapOptions,
): BootstrapResult {
  if (baseline.length === 0 || candidate.length === 0) throw new RangeError('bootstrap needs values on both sides');
  const random = seededRandom(options.seed);
  const values = new Float64Array(options.resamples);
  const b = new Array<number>(baseline.length);
  const c = new Array<number>(candidate.length);
  for (let r = 0; r < options.resamples; r++) {
    for (let i = 0; i < b.length; i++) b[i] = baseline[Math.floor(random() * baseline.length)]!;
    for (let i = 0; i < c.length; i++) c[i] = candidate[Math.floor(random() * candidate.length)]!;
    values[r] = statistic(b, c);
  }
  values.sort();
  const sorted = Array.from(values);
  const tail = (1 - options.confidence) / 2;
  return {
    estimate: statistic(baseline, candidate),
    low: quantile(sorted, tail),
    high: quantile(sorted, 1 - tail),
    confidence: options.confidence,
    resamples: options.resamples,
    seed: options.seed,
  };
}

export type Alternative = 'two-sided' | 'less' | 'greater';

export interface MannWhitneyResult {
  /** U of the candidate: pairs (c, b) with c > b, ties counting one half. */
  u: number;
  /** p-value of H0 "same distribution" against `alternative` about the candidate. */
  pValue: number;
  method: 'exact' | 'asymptotic';
  alternative: Alternative;
  /** Cliff's delta = P(c > b) - P(c < b) = rank-biserial correlation, in [-1, 1]. */
  effectSize: number;
}

/** Exact null distribution is used without ties while the count table stays small (as scipy does). */
const EXACT_LIMIT = 8;

/**
 * Mann–Whitney U test (Mann & Whitney 1947). `alternative` is about the candidate: 'less' means
 * "candidate values tend to be smaller than baseline values". Exact p-values from the permutation
 * distribution when there are no ties and either group has at most 8 values; otherwise the normal
 * approximation with tie correction and continuity correction.
 */
export function mannWhitneyU(
  baseline: readonly number[],
  candidate: readonly number[],
  alternative: Alternative = 'two-sided',
  method: 'auto' | 'exact' | 'asymptotic' = 'auto',
): MannWhitneyResult {
  const n1 = candidate.length;
  const n2 = baseline.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('Mann–Whitney needs values on both sides');
  const { greater, less } = pairCounts(baseline, candidate);
  const pairs = n1 * n2;
  const u = greater + (pairs - greater - less) / 2;
  const effectSize = (greater - less) / pairs;
  const ties = tieCounts([...baseline, ...candidate]);
  const hasTies = ties.some((t) => t > 1);
  if (method === 'exact' && hasTies) throw new RangeError('the exact Mann–Whitney distribution assumes no ties');
  if (method === 'exact' || (method === 'auto' && !hasTies && Math.min(n1, n2) <= EXACT_LIMIT)) {
    const counts = exactUDistribution(n1, n2);
    const total = counts.reduce((a, b) => a + b, 0);
    const cdf = (x: number): number => sumRange(counts, 0, Math.floor(x)) / total; // P(U <= x)
    const sf = (x: number): number => sumRange(counts, Math.ceil(x), pairs) / total; // P(U >= x)
    const pValue =
      alternative === 'less' ? cdf(u) : alternative === 'greater' ? sf(u) : Math.min(1, 2 * Math.min(cdf(u), sf(u)));
    return { u, pValue, method: 'exact', alternative, effectSize };
  }
  const n = n1 + n2;
  const tieTerm = ties.reduce((acc, t) => acc + (t * t * t - t), 0) / (n * (n - 1));
  const sigma = Math.sqrt((pairs / 12) * (n + 1 - tieTerm));
  const mu = pairs / 2;
  let pValue: number;
  if (sigma === 0) pValue = 1;
  else if (alternative === 'less') pValue = normalCdf((u + 0.5 - mu) / sigma);
  else if (alternative === 'greater') pValue = 1 - normalCdf((u - 0.5 - mu) / sigma);
  else pValue = Math.min(1, 2 * (1 - normalCdf((Math.abs(u - mu) - 0.5) / sigma)));
  return { u, pValue, method: 'asymptotic', alternative, effectSize };
}

/** Candidate–baseline pairs (c, b) with c > b and with c < b. */
function pairCounts(baseline: readonly number[], candidate: readonly number[]): { greater: number; less: number } {
  let greater = 0;
  let less = 0;
  for (const c of candidate) {
    for (const b of baseline) {
      if (c > b) greater++;
      else if (c < b) less++;
    }
  }
  return { greater, less };
}

/** Cliff's delta P(c > b) - P(c < b) over all candidate–baseline pairs (Cliff 1993), in [-1, 1]. */
export function cliffsDelta(baseline: readonly number[], candidate: readonly number[]): number {
  if (baseline.length === 0 || candidate.length === 0) throw new RangeError("Cliff's delta needs values on both sides");
  const { greater, less } = pairCounts(baseline, candidate);
  return (greater - less) / (baseline.length * candidate.length);
}

function sumRange(counts: readonly number[], from: number, to: number): number {
  let s = 0;
  for (let i = Math.max(0, from); i <= Math.min(to, counts.length - 1); i++) s += counts[i]!;
  return s;
}

function tieCounts(values: readonly number[]): number[] {
  const byValue = new Map<number, number>();
  for (const v of values) byValue.set(v, (byValue.get(v) ?? 0) + 1);
  return [...byValue.values()];
}

/**
 * Number of rank arrangements giving each U in 0..m*n, by the recurrence
 * f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u) (Mann & Whitney 1947, eq. 2).
 */
export function exactUDistribution(m: number, n: number): number[] {
  // table[j] is the distribution for (i, j) as i grows; start from i = 0: only U = 0, once.
  let prev: number[][] = Array.from({ length: n + 1 }, () => [1]);
  for (let i = 1; i <= m; i++) {
    const cur: number[][] = [[1]];
    for (let j = 1; j <= n; j++) {
      const size = i * j + 1;
      const dist = new Array<number>(size).fill(0);
      const a = prev[j]!; // f(i-1, j, u - j)
      for (let u = 0; u < a.length; u++) dist[u + j]! += a[u]!;
      const b = cur[j - 1]!; // f(i, j-1, u)
      for (let u = 0; u < b.length; u++) dist[u]! += b[u]!;
      cur.push(dist);
    }
    prev = cur;
  }
  return prev[n]!;
}

/** Standard normal CDF via erfc (W. J. Cody's rational approximations, |error| < 1e-14 in double). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

// Complementary error function: W. J. Cody, "Rational Chebyshev approximations for the error
// function", Math. Comp. 23 (1969), coefficients as in his CALERF routine.
function erfc(x: number): number {
  const ax = Math.abs(x);
  let result: number;
  if (ax <= 0.5) {
    const a = [3.1611237438705655, 113.86415415105016, 377.485237685302, 3209.3775891384694, 0.18577770618460315];
    const b = [23.601290952344122, 244.02463793444417, 1282.6165260773723, 2844.236833439171];
    const y = ax * ax;
    let num = a[4]! * y;
    let den = y;
    for (let i = 0; i < 3; i++) {
      num = (num + a[i]!) * y;
      den = (den + b[i]!) * y;
    }
    const erf = (x * (num + a[3]!)) / (den + b[3]!);
    return 1 - erf;
  }
  if (ax <= 4) {
    const c = [
      0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.6351381974001, 881.952221241769,
      1712.0476126340707, 2051.0783778260716, 1230.3393547979972, 2.1531153547440383e-08,
    ];
    const d = [
      15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597,
      4362.619090143247, 3439.3676741437216, 1230.3393548037495,
    ];
    let num = c[8]! * ax;
    let den = ax;
    for (let i = 0; i < 7; i++) {
      num = (num + c[i]!) * ax;
      den = (den + d[i]!) * ax;
    }
    result = (num + c[7]!) / (den + d[7]!);
  } else {
    const p = [0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 0.0006587491615298378, 0.016315387137302097];
    const q = [2.568520192289822, 1.8729528499234673, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918];
    const y = 1 / (ax * ax);
    let num = p[5]! * y;
    let den = y;
    for (let i = 0; i < 4; i++) {
      num = (num + p[i]!) * y;
      den = (den + q[i]!) * y;
    }
    result = (y * (num + p[4]!)) / (den + q[4]!);
    result = (1 / Math.sqrt(Math.PI) - result) / ax;
  }
  // Cody splits exp(-x^2) to keep precision for large |x|.
  const xsq = Math.trunc(ax * 16) / 16;
  const del = (ax - xsq) * (ax + xsq);
  result = Math.exp(-xsq * xsq) * Math.exp(-del) * result;
  return x < 0 ? 2 - result : result;
}
