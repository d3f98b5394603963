// Regression verdicts: a policy applied to the final metrics of a baseline and a candidate (each a
// single run or the runs of a campaign). Pure: the same samples and policy give the same report,
// which is what lets a gate decision be recorded and later re-derived by an auditor.
import type { Direction, Policy, PolicyRule, Severity, TestKind } from './policy.js';
import { bootstrapMeanDifference, mannWhitneyU, mean, median, type MannWhitneyResult } from './statistics.js';

export interface SampleSet {
  /** What the user named: a run id or a campaign name. */
  ref: string;
  kind: 'run' | 'campaign';
  /** Runs in the order their values are listed (sorted by id for reproducibility). */
  runs: string[];
  /** Final metric values per metric, one per run that recorded it, in `runs` order. */
  metrics: Record<string, number[]>;
}

export type Verdict = 'pass' | 'warn' | 'fail';

export interface SideSummary {
  n: number;
  aggregate: number | null;
  values: number[];
}

export type TestOutcome =
  | {
      kind: 'bootstrap';
      low: number;
      high: number;
      confidence: number;
      resamples: number;
      seed: number;
      significant: boolean;
    }
  | {
      kind: 'mann-whitney';
      u: number;
      pValue: number;
      method: MannWhitneyResult['method'];
      alternative: MannWhitneyResult['alternative'];
      alpha: number;
      effectSize: number;
      minEffectSize: number;
      significant: boolean;
    };

export interface RuleOutcome {
  metric: string;
  direction: Direction;
  severity: Severity;
  baseline: SideSummary;
  candidate: SideSummary;
  /** candidate aggregate - baseline aggregate; null when a side has no value. */
  delta: number | null;
  /** delta / |baseline aggregate|; null when undefined. */
  relativeDelta: number | null;
  /** How much worse the candidate is, in the metric's units (positive = worse). */
  regression: number | null;
  thresholds: { absolute: number | null; relative: number | null };
  /** The configured test, or null when it did not apply (fewer than minRepeats runs, or test: none). */
  test: TestOutcome | null;
  testRequested: TestKind;
  breached: boolean;
  verdict: Verdict;
  reason: string;
}

export function evaluateRules(policy: Policy, baseline: SampleSet, candidate: SampleSet): RuleOutcome[] {
  return policy.rules.map((rule) => evaluateRule(policy, rule, metricValues(baseline, rule.metric), metricValues(candidate, rule.metric)));
}

/** A side's values of a metric: own entries only, so names like "constructor" or "__proto__" are just names. */
export function metricValues(set: SampleSet, metric: string): number[] {
  return Object.hasOwn(set.metrics, metric) ? set.metrics[metric]! : [];
}

export function aggregateOf(values: readonly number[], how: Policy['aggregation']): number | null {
  if (values.length === 0) return null;
  return how === 'median' ? median(values) : mean(values);
}

export interface PracticalSize {
  delta: number;
  relativeDelta: number | null;
  /** How much worse the candidate is, in the metric's units (positive = worse). */
  regression: number;
  relativeRegression: number | null;
  /** Beyond tolerance: the practical half of a breach (the statistical half is the test's). */
  exceeds: boolean;
}

/** The point estimate of a rule: how much worse the candidate's aggregate is, and whether that exceeds the tolerance. */
export function practicalSize(rule: PolicyRule, baseline: number, candidate: number): PracticalSize {
  const delta = candidate - baseline;
  const relativeDelta = baseline === 0 ? null : delta / Math.abs(baseline);
  const sign = rule.direction === 'higher-is-better' ? -1 : 1;
  const regression = sign * delta;
  const relativeRegression = relativeDelta === null ? null : sign * relativeDelta;
  // Practical size: beyond ANY given tolerance; with no tolerance, any worsening counts.
  const overAbsolute = rule.absolute !== undefined && regression > rule.absolute;
  const overRelative = rule.relative !== undefined && (relativeRegression === null ? regression > 0 : relativeRegression > rule.relative);
  const exceeds = rule.absolute === undefined && rule.relative === undefined ? regression > 0 : overAbsolute || overRelative;
  return { delta, relativeDelta, regression, relativeRegression, exceeds };
}

export function evaluateRule(policy: Policy, rule: PolicyRule, base: readonly number[], cand: readonly number[]): RuleOutcome {
  const baseline: SideSummary = { n: base.length, aggregate: aggregateOf(base, policy.aggregation), values: [...base] };
  const candidate: SideSummary = { n: cand.length, aggregate: aggregateOf(cand, policy.aggregation), values: [...cand] };
  const thresholds = { absolute: rule.absolute ?? null, relative: rule.relative ?? null };
  const common = { metric: rule.metric, direction: rule.direction, severity: rule.severity, baseline, candidate, thresholds, testRequested: rule.test };
  const verdictFor = (breached: boolean): Verdict => (!breached ? 'pass' : rule.severity === 'hard' ? 'fail' : 'warn');

  if (baseline.aggregate === null || candidate.aggregate === null) {
    const side = baseline.aggregate === null ? 'baseline' : 'candidate';
    return {
      ...common,
      delta: null,
      relativeDelta: null,
      regression: null,
      test: null,
      breached: true,
      verdict: verdictFor(true),
      reason: `the ${side} recorded no final value for ${rule.metric}`,
    };
  }
  const { delta, relativeDelta, regression, relativeRegression, exceeds } = practicalSize(rule, baseline.aggregate, candidate.aggregate);

  const testApplies = rule.test !== 'none' && base.length >= policy.minRepeats && cand.length >= policy.minRepeats;
  let test: TestOutcome | null = null;
  if (testApplies && rule.test === 'bootstrap') {
    const ci = bootstrapMeanDifference(base, cand, { confidence: rule.confidence, resamples: rule.resamples, seed: policy.seed });
    // Significant regression: the whole interval of (candidate - baseline) lies on the worse side of 0.
    const significant = rule.direction === 'higher-is-better' ? ci.high < 0 : ci.low > 0;
    test = { kind: 'bootstrap', low: ci.low, high: ci.high, confidence: ci.confidence, resamples: ci.resamples, seed: ci.seed, significant };
  } else if (testApplies && rule.test === 'mann-whitney') {
    const alternative = rule.direction === 'higher-is-better' ? 'less' : 'greater';
    const mw = mannWhitneyU(base, cand, alternative);
    const significant = mw.pValue < rule.alpha && Math.abs(mw.effectSize) >= rule.minEffectSize;
    test = {
      kind: 'mann-whitney',
      u: mw.u,
      pValue: mw.pValue,
      method: mw.method,
      alternative,
      alpha: rule.alpha,
      effectSize: mw.effectSize,
      minEffectSize: rule.minEffectSize,
      significant,
    };
  }

  const breached = exceeds && (test === null || test.significant);
  return {
    ...common,
    delta,
    relativeDelta,
    regression,
    test,
    breached,
    verdict: verdictFor(breached),
    reason: explain(rule, regression, relativeRegression, exceeds, test, testApplies, Math.min(base.length, cand.length), policy.minRepeats),
  };
}

function explain(
  rule: PolicyRule,
  regression: number,
  relativeRegression: number | null,
  exceeds: boolean,
  test: TestOutcome | null,
  testApplies: boolean,
  n: number,
  minRepeats: number,
): string {
  const { worse, limit } = describePractical(rule, regression, relativeRegression);
  let statistical = '';
  if (test?.kind === 'bootstrap') {
    statistical = `; ${Math.round(test.confidence * 100)}% bootstrap CI of the difference [${fmt(test.low)}, ${fmt(test.high)}] ${test.significant ? 'excludes' : 'includes'} 0`;
  } else if (test?.kind === 'mann-whitney') {
    statistical = `; Mann–Whitney p=${fmt(test.pValue)}, Cliff's delta ${fmt(test.effectSize)} ${test.significant ? 'significant' : 'not significant'}`;
  } else if (rule.test !== 'none' && !testApplies) {
    statistical = `; ${rule.test} not applied (${n} run${n === 1 ? '' : 's'} < ${minRepeats})`;
  }
  const verdict = exceeds ? (test && !test.significant ? 'beyond tolerance but within noise' : 'beyond tolerance') : 'within tolerance';
  return `${worse}, ${verdict} (${limit})${statistical}`;
}

/** "worse by 0.02 (2.2%)" / "not worse", and the rule's tolerance, for reasons. */
export function describePractical(rule: PolicyRule, regression: number, relativeRegression: number | null): { worse: string; limit: string } {
  const worse = regression > 0 ? `worse by ${fmt(regression)}${relativeRegression === null ? '' : ` (${fmt(relativeRegression * 100)}%)`}` : 'not worse';
  const tolerance = [
    rule.absolute !== undefined ? `absolute ${fmt(rule.absolute)}` : null,
    rule.relative !== undefined ? `relative ${fmt(rule.relative * 100)}%` : null,
  ]
    .filter(Boolean)
    .join(', ');
  return { worse, limit: tolerance ? `tolerance ${tolerance}` : 'no tolerance' };
}

/** Compact number formatting for human-readable reasons and reports (never used in digests). */
export function fmt(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? value.toExponential(3) : String(Number(value.toPrecision(4)));
}
