import assert from 'node:assert/strict';
import {
  bootstrapMeanDifference,
  exactUDistribution,
  mannWhitneyU,
  mean,
  normalCdf,
  quantile,
  seededRandom,
  stdev,
} from '../../src/gates/statistics.js';

// scipy.stats.mannwhitneyu documentation example (Conover, "Practical Nonparametric Statistics").
const males = [19, 22, 16, 29, 24];
const females = [20, 11, 17, 12];

describe('gates/statistics', () => {
  describe('Mann–Whitney U', () => {
    it('matches the published exact result U=17, p=0.1111 for the scipy example', () => {
      const result = mannWhitneyU(females, males, 'two-sided');
      assert.equal(result.u, 17);
      assert.equal(result.method, 'exact');
      assert.ok(Math.abs(result.pValue - 1 / 9) < 1e-12, String(result.pValue));
    });

    it('matches the published asymptotic p=0.11134688653314041 (tie and continuity corrected)', () => {
      const result = mannWhitneyU(females, males, 'two-sided', 'asymptotic');
      assert.ok(Math.abs(result.pValue - 0.11134688653314041) < 1e-9, String(result.pValue));
    });

    it('gives one-sided p-values in the direction asked about the candidate', () => {
      const greater = mannWhitneyU(females, males, 'greater');
      const less = mannWhitneyU(females, males, 'less');
      assert.ok(Math.abs(greater.pValue - 7 / 126) < 1e-12); // P(U >= 17) = 7 of C(9,4) arrangements
      assert.ok(Math.abs(less.pValue - 122 / 126) < 1e-12); // P(U <= 17)
    });

    it("reports Cliff's delta as (#c>b - #c<b) / (n1 n2)", () => {
      assert.equal(mannWhitneyU(females, males).effectSize, (17 - 3) / 20);
      assert.equal(mannWhitneyU([1, 2, 3], [4, 5, 6]).effectSize, 1);
      assert.equal(mannWhitneyU([4, 5, 6], [1, 2, 3]).effectSize, -1);
      assert.equal(mannWhitneyU([1, 2], [1, 2]).effectSize, 0);
    });

    it('counts the exact null distribution exactly as brute-force enumeration of all splits', () => {
      for (const [m, n] of [
        [5, 4],
        [3, 6],
        [5, 5],
      ] as const) {
        const brute = new Array<number>(m * n + 1).fill(0);
        const total = m + n;
        for (let mask = 0; mask < 1 << total; mask++) {
          if (popcount(mask) !== m) continue;
          // ranks 0..total-1; the first group's U counts pairs where its rank exceeds the other's
          let u = 0;
          for (let i = 0; i < total; i++) {
            if (!(mask & (1 << i))) continue;
            for (let j = 0; j < total; j++) if (!(mask & (1 << j)) && i > j) u++;
          }
          brute[u]!++;
        }
        assert.deepEqual(exactUDistribution(m, n), brute, `${m}x${n}`);
      }
    });

    it('uses the tie-corrected normal approximation when values tie', () => {
      const result = mannWhitneyU([1, 2, 2, 3, 4], [2, 3, 3, 4, 5]);
      assert.equal(result.method, 'asymptotic');
      assert.equal(result.u, 18.5);
      assert.ok(result.pValue > 0 && result.pValue < 1);
    });
  });

  describe('percentile bootstrap', () => {
    const base = [0.9, 0.91, 0.905, 0.895, 0.9];
    const cand = [0.88, 0.885, 0.87, 0.89, 0.875];

    it('is reproducible: the same seed gives the same interval, another seed a different one', () => {
      const a = bootstrapMeanDifference(base, cand, { confidence: 0.95, resamples: 2000, seed: 7 });
      const b = bootstrapMeanDifference(base, cand, { confidence: 0.95, resamples: 2000, seed: 7 });
      const c = bootstrapMeanDifference(base, cand, { confidence: 0.95, resamples: 2000, seed: 8 });
      assert.deepEqual(a, b);
      assert.notDeepEqual([a.low, a.high], [c.low, c.high]);
    });

    it('gives a degenerate interval at the exact difference when both groups are constant', () => {
      const r = bootstrapMeanDifference([2, 2, 2], [3.5, 3.5], { confidence: 0.9, resamples: 500, seed: 1 });
      assert.deepEqual([r.low, r.estimate, r.high], [1.5, 1.5, 1.5]);
    });

    it('approximates the normal-theory interval mean difference ± 1.96 SE on a large sample', () => {
      const random = seededRandom(42);
      const x = Array.from({ length: 400 }, () => random());
      const y = Array.from({ length: 400 }, () => random() + 0.1);
      const se = Math.sqrt(stdev(x) ** 2 / x.length + stdev(y) ** 2 / y.length);
      const d = mean(y) - mean(x);
      const r = bootstrapMeanDifference(x, y, { confidence: 0.95, resamples: 20000, seed: 3 });
      assert.ok(Math.abs(r.low - (d - 1.959964 * se)) < 0.1 * se, `low ${r.low} vs ${d - 1.96 * se}`);
      assert.ok(Math.abs(r.high - (d + 1.959964 * se)) < 0.1 * se, `high ${r.high} vs ${d + 1.96 * se}`);
    });
  });

  describe('building blocks', () => {
    it('computes the normal CDF to double precision at published points', () => {
      assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-15);
      assert.ok(Math.abs(normalCdf(1.959963984540054) - 0.975) < 1e-14);
      assert.ok(Math.abs(normalCdf(-3) - 0.0013498980316300946) < 1e-15);
      assert.ok(Math.abs(normalCdf(1) - 0.8413447460685429) < 1e-14);
    });

    it('interpolates quantiles as R type 7 does', () => {
      assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
      assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
      assert.equal(quantile([5], 0.9), 5);
    });

    it('produces the same PRNG stream for the same seed and a different one for another seed', () => {
      const a = seededRandom(1);
      const b = seededRandom(1);
      const c = seededRandom(2);
      const sa = [a(), a(), a()];
      assert.deepEqual(sa, [b(), b(), b()]);
      assert.notDeepEqual(sa, [c(), c(), c()]);
      assert.ok(sa.every((v) => v >= 0 && v < 1));
    });
  });
});

function popcount(x: number): number {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}
