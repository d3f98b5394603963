// Omnibus tests over k >= 2 groups and Tukey's post hoc comparison: "do these groups differ at
// all, and which pairs do". Pure functions over groups of numbers; a group is one side (the
// baseline or a candidate) and its values one metric's final value per run.
import { chiSquareSf, fSf, studentizedRangeQuantile, studentizedRangeSf } from './distributions.js';
import { mean } from './statistics.js';

/** 1-based ranks of all values, ties given the mean of the ranks they span (midranks). */
export function midranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]![0] === order[start]![0]) end++;
    const rank = (start + end) / 2 + 1;
    for (let i = start; i <= end; i++) ranks[order[i]![1]] = rank;
    start = end + 1;
  }
  return ranks;
}

function checkGroups(groups: readonly (readonly number[])[], name: string): void {
  if (groups.length < 2) throw new RangeError(`${name} needs at least two groups`);
  if (groups.some((g) => g.length === 0)) throw new RangeError(`${name} needs at least one value in every group`);
}

export interface KruskalWallisResult {
  /** H corrected for ties (divided by the tie correction). */
  h: number;
  df: number;
  /** P(χ²_{k-1} >= H): the large-sample approximation scipy.stats.kruskal uses. */
  pValue: number;
  /** 1 - Σ(t³ - t) / (N³ - N) over tie groups of size t. */
  tieCorrection: number;
}

/**
 * Kruskal–Wallis H test (Kruskal & Wallis 1952): H = 12 / (N(N+1)) Σ R_i² / n_i - 3(N+1) over the
 * groups' rank sums R_i, divided by the tie correction. Undefined (RangeError) when every value ties.
 */
export function kruskalWallis(groups: readonly (readonly number[])[]): KruskalWallisResult {
  checkGroups(groups, 'Kruskal–Wallis');
  const all = groups.flat();
  const n = all.length;
  const ranks = midranks(all);
  let offset = 0;
  let sum = 0;
  for (const g of groups) {
    let r = 0;
    for (let i = 0; i < g.length; i++) r += ranks[offset + i]!;
    sum += (r * r) / g.length;
    offset += g.length;
  }
  const counts = new Map<number, number>();
  for (const v of all) counts.set(v, (counts.get(v) ?? 0) + 1);
  let ties = 0;
  for (const t of counts.values()) ties += t * t * t - t;
  const tieCorrection = 1 - ties / (n * n * n - n);
  if (!(tieCorrection > 0)) throw new RangeError('Kruskal–Wallis is undefined when every value is tied');
  const h = ((12 / (n * (n + 1))) * sum - 3 * (n + 1)) / tieCorrection;
  const df = groups.length - 1;
  return { h, df, pValue: chiSquareSf(h, df), tieCorrection };
}

export interface AnovaResult {
  f: number;
  dfBetween: number;
  dfWithin: number;
  /** P(F_{k-1, N-k} >= F). */
  pValue: number;
  msBetween: number;
  /** The pooled within-group variance (mean square error), shared by Tukey HSD and the pairwise t tests. */
  msWithin: number;
}

/**
 * One-way ANOVA F test (Fisher): F = MS_between / MS_within. Undefined (RangeError) with no
 * within-group degrees of freedom (every group a single value) or no within-group variance.
 */
export function oneWayAnova(groups: readonly (readonly number[])[]): AnovaResult {
  checkGroups(groups, 'one-way ANOVA');
  const { msWithin, dfWithin, means, grand } = withinGroups(groups);
  let ssBetween = 0;
  groups.forEach((g, i) => (ssBetween += g.length * (means[i]! - grand) ** 2));
  const dfBetween = groups.length - 1;
  const msBetween = ssBetween / dfBetween;
  if (!(msWithin > 0)) throw new RangeError('one-way ANOVA is undefined without within-group variance');
  const f = msBetween / msWithin;
  return { f, dfBetween, dfWithin, pValue: fSf(f, dfBetween, dfWithin), msBetween, msWithin };
}

/** Group means, grand mean and the pooled within-group variance with its degrees of freedom. */
export function withinGroups(groups: readonly (readonly number[])[]): { means: number[]; grand: number; msWithin: number; dfWithin: number } {
  const means = groups.map((g) => mean(g));
  const n = groups.reduce((acc, g) => acc + g.length, 0);
  const grand = mean(groups.flat());
  let ssWithin = 0;
  groups.forEach((g, i) => {
    for (const v of g) ssWithin += (v - means[i]!) ** 2;
  });
  const dfWithin = n - groups.length;
  if (dfWithin < 1) throw new RangeError('the pooled variance needs more values than groups');
  return { means, grand, msWithin: ssWithin / dfWithin, dfWithin };
}

export interface TukeyPair {
  /** Indices into the groups: `other` is compared with `reference` (reference < other). */
  reference: number;
  other: number;
  /** mean(other) - mean(reference). */
  difference: number;
  /** sqrt(MS_within / 2 · (1/n_r + 1/n_o)) (Tukey–Kramer for unequal sizes). */
  standardError: number;
  /** |difference| / standardError. */
  q: number;
  /** P(Q_{k, N-k} >= q): adjusted for all k(k-1)/2 pairs of the metric. */
  pValue: number;
  /** Simultaneous interval: difference ± q_{confidence; k, N-k} · standardError. */
  low: number;
  high: number;
}

export interface TukeyResult {
  confidence: number;
  /** The studentized-range critical value q_{confidence; k, ν}. */
  qCritical: number;
  dfWithin: number;
  msWithin: number;
  pairs: TukeyPair[];
}

/**
 * Tukey's honestly significant difference (Tukey 1953; Kramer 1956 for unequal group sizes): every
 * pair of groups with p-values from the studentized range, as scipy.stats.tukey_hsd computes.
 */
export function tukeyHsd(groups: readonly (readonly number[])[], confidence: number): TukeyResult {
  checkGroups(groups, 'Tukey HSD');
  const { means, msWithin, dfWithin } = withinGroups(groups);
  if (!(msWithin > 0)) throw new RangeError('Tukey HSD is undefined without within-group variance');
  const k = groups.length;
  const qCritical = studentizedRangeQuantile(confidence, k, dfWithin);
  const pairs: TukeyPair[] = [];
  for (let r = 0; r < k; r++) {
    for (let o = r + 1; o < k; o++) {
      const difference = means[o]! - means[r]!;
      const standardError = Math.sqrt((msWithin / 2) * (1 / groups[r]!.length + 1 / groups[o]!.length));
      const q = Math.abs(difference) / standardError;
      pairs.push({
        reference: r,
        other: o,
        difference,
        standardError,
        q,
        pValue: studentizedRangeSf(q, k, dfWithin),
        low: difference - qCritical * standardError,
        high: difference + qCritical * standardError,
      });
    }
  }
  return { confidence, qCritical, dfWithin, msWithin, pairs };
}
