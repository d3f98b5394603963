// The power note of a comparison: with n repeats per side, how large a difference the test could
// detect at the family's per-test level α with power 1 - β. Two-sample t test by the noncentral t
// (as statsmodels' TTestIndPower computes it); Mann–Whitney by the same formula at the effective
// sample size n · 3/π (its asymptotic relative efficiency against t under normality, Hodges &
// Lehmann 1956), after checking that its smallest attainable p-value can reach α at all.
import { noncentralTCdf, noncentralTSf, solveIncreasing, studentTQuantile } from './distributions.js';
import { mannWhitneyU } from './statistics.js';

export type Sidedness = 'one-sided' | 'two-sided';

/** Asymptotic relative efficiency of Mann–Whitney to the t test for normal data. */
export const MANN_WHITNEY_ARE = 3 / Math.PI;

/**
 * Power of the two-sample t test with n1 and n2 values (df = n1 + n2 - 2) against a standardized
 * difference d = Δ/σ: P(T > t_{1-α}) one-sided, P(|T| > t_{1-α/2}) two-sided, T noncentral t with
 * noncentrality d · sqrt(n1 n2 / (n1 + n2)). Sizes may be fractional (effective sizes).
 */
export function tTestPower(d: number, n1: number, n2: number, alpha: number, sidedness: Sidedness): number {
  const df = n1 + n2 - 2;
  const nc = d * Math.sqrt((n1 * n2) / (n1 + n2));
  if (sidedness === 'one-sided') return noncentralTSf(studentTQuantile(1 - alpha, df), df, nc);
  const crit = studentTQuantile(1 - alpha / 2, df);
  return noncentralTSf(crit, df, nc) + noncentralTCdf(-crit, df, nc);
}

/** The standardized difference d >= 0 at which the t test reaches `power`. */
export function smallestDetectableEffect(n1: number, n2: number, alpha: number, power: number, sidedness: Sidedness): number {
  if (!(n1 + n2 > 3)) throw new RangeError('the power of a t test needs more than three values in all');
  return solveIncreasing((d) => tTestPower(d, n1, n2, alpha, sidedness), power, 0, 4, 1e-10);
}

/**
 * The smallest p-value Mann–Whitney can give with n1 and n2 values (the two groups completely
 * separated): when it is above α, no difference however large is detectable.
 */
export function smallestMannWhitneyP(n1: number, n2: number, sidedness: Sidedness): number {
  const low = Array.from({ length: n1 }, (_, i) => i);
  const high = Array.from({ length: n2 }, (_, i) => n1 + i);
  return mannWhitneyU(low, high, sidedness === 'one-sided' ? 'greater' : 'two-sided').pValue;
}
