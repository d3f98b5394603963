// Verdicts for two or more candidates at once: per metric an omnibus test over every group, a
// family of pairwise hypotheses (each candidate against the baseline, or every pair) whose p-values
// Holm adjusts together across all rules, effect sizes with intervals, and a power note. Pure: the
// same samples and policy give the same report, so the recorded decision can be re-derived.
import type { z } from 'zod';
import type { Hypothesis as HypothesisSchema, MetricAnalysis as MetricAnalysisSchema } from '../../events/comparison.js';
import { canonicalize } from '../integrity/canonical.js';
import { sha256Hex } from '../integrity/hasher.js';
import type { BudgetOutcome } from './budgets.js';
import { studentTCdf, studentTSf } from './distributions.js';
import { cliffsDeltaInterval, hodgesLehmann } from './effect-size.js';
import { holmAdjust } from './multiplicity.js';
import { kruskalWallis, oneWayAnova, tukeyHsd, withinGroups } from './omnibus.js';
import { policyHash, withCandidatesSettings, type CandidatesSettings, type Policy, type PolicyRule } from './policy.js';
import { MANN_WHITNEY_ARE, smallestDetectableEffect, smallestMannWhitneyP, type Sidedness } from './power.js';
import { aggregateOf, describePractical, fmt, metricValues, practicalSize, type RuleOutcome, type SampleSet, type SideSummary, type Verdict } from './regression.js';
import { combineVerdict, sideRef, type SideRef } from './report.js';
import { bootstrapMeanDifference, mannWhitneyU, mean, type Alternative } from './statistics.js';

export const MULTI_GATE_REPORT_SCHEMA = 'runledger.multi-gate-report/v1';

// The recorded shapes (events/comparison.ts) are the types: the report is what the event holds.
export type MetricAnalysis = z.infer<typeof MetricAnalysisSchema>;
export type GroupSummary = MetricAnalysis['groups'][number];
export type OmnibusOutcome = NonNullable<MetricAnalysis['omnibus']>;
export type TukeyOutcome = NonNullable<MetricAnalysis['tukey']>;
export type PowerNote = NonNullable<MetricAnalysis['power']>;
/**
 * One tested rule × pair: `other` compared with `reference` (differences are other - reference),
 * `alternative` about `other`; adjustedPValue is Holm's over the whole family, significant means
 * adjustedPValue <= α. `powerless`: the test's smallest possible p-value (Mann–Whitney) is above
 * α / family size, Holm's first threshold, so it can confirm nothing — and then excuses nothing
 * either: the rule falls back to its tolerance, as with too few repeats.
 */
export type Hypothesis = z.infer<typeof HypothesisSchema>;
export type PairEffect = Hypothesis['effect'];

/** A candidate's rule outcome: the two-sample shape, its test found in the report's hypotheses. */
export type CandidateRuleOutcome = Omit<RuleOutcome, 'test' | 'testRequested'> & {
  /** Index into the report's hypotheses of (baseline, this candidate, metric); null when not tested. */
  hypothesis: number | null;
};

export interface CandidateOutcome extends SideRef {
  verdict: Verdict;
  hardBreaches: number;
  softBreaches: number;
  rules: CandidateRuleOutcome[];
}

export interface MultiGateReport {
  schema: typeof MULTI_GATE_REPORT_SCHEMA;
  /** Deterministic id of (baseline runs, candidates' runs, policy). */
  comparisonId: string;
  baseline: SideRef;
  candidates: SideRef[];
  policyHash: string;
  aggregation: Policy['aggregation'];
  strict: boolean;
  settings: CandidatesSettings;
  family: { correction: 'holm'; alpha: number; size: number };
  metrics: MetricAnalysis[];
  hypotheses: Hypothesis[];
  results: CandidateOutcome[];
  /** Budgets of every candidate's runs. */
  budgets: BudgetOutcome[];
  hardBreaches: number;
  softBreaches: number;
  verdict: Verdict;
}

export interface MultiGateInput {
  policy: Policy;
  baseline: SampleSet;
  candidates: SampleSet[];
  /** Budget outcomes of the candidates' runs, already evaluated (or as recorded, when re-deriving). */
  budgets: BudgetOutcome[];
  strict?: boolean;
}

export function multiComparisonId(baseline: SideRef, candidates: readonly SideRef[], hash: string): string {
  return sha256Hex(canonicalize({ baseline, candidates, policyHash: hash })).slice(0, 32);
}

export function evaluateMultiGate(input: MultiGateInput): MultiGateReport {
  if (input.candidates.length < 2) throw new RangeError('a multi-candidate comparison needs at least two candidates');
  const refs = [input.baseline, ...input.candidates].map((s) => s.ref);
  if (new Set(refs).size !== refs.length) throw new RangeError(`every compared side must be named once, got ${refs.join(', ')}`);
  const policy = withCandidatesSettings(input.policy);
  const settings = policy.candidates;
  const strict = input.strict ?? false;
  const sides = [input.baseline, ...input.candidates];

  // Per metric: groups, omnibus, Tukey, and the raw pairwise tests; then Holm over all of them.
  const metrics: MetricAnalysis[] = [];
  const raw: RawHypothesis[] = [];
  for (const rule of policy.rules) {
    const analysis = analyseMetric(policy, rule, sides);
    metrics.push(analysis.metric);
    raw.push(...analysis.hypotheses);
  }
  const adjusted = holmAdjust(raw.map((h) => h.pValue));
  const familySize = raw.length;
  const firstStep = settings.alpha / familySize;
  const hypotheses: Hypothesis[] = raw.map(({ sizes, ...h }, i) => {
    const smallestPValue = h.test.kind === 'mann-whitney' ? smallestMannWhitneyP(sizes[0], sizes[1], h.alternative === 'two-sided' ? 'two-sided' : 'one-sided') : null;
    return {
      ...h,
      adjustedPValue: adjusted[i]!,
      significant: adjusted[i]! <= settings.alpha,
      smallestPValue,
      powerless: smallestPValue !== null && smallestPValue > firstStep,
    };
  });
  for (const m of metrics) {
    if (m.tested && m.eligible.length >= 2) m.power = powerNote(policy, m, familySize);
  }

  const results = input.candidates.map((candidate): CandidateOutcome => {
    const rules = policy.rules.map((rule) => candidateRule(policy, rule, input.baseline, candidate, hypotheses));
    const budgets = input.budgets.filter((b) => candidate.runs.includes(b.run));
    return { ...sideRef(candidate), ...combineVerdict(rules, budgets, strict), rules };
  });
  const budgets = policy.budgets.enabled ? input.budgets : [];
  const { hardBreaches, softBreaches, verdict } = combineVerdict(
    results.flatMap((r) => r.rules),
    budgets,
    strict,
  );
  const baseline = sideRef(input.baseline);
  const candidates = input.candidates.map(sideRef);
  const hash = policyHash(policy);
  return {
    schema: MULTI_GATE_REPORT_SCHEMA,
    comparisonId: multiComparisonId(baseline, candidates, hash),
    baseline,
    candidates,
    policyHash: hash,
    aggregation: policy.aggregation,
    strict,
    settings,
    family: { correction: 'holm', alpha: settings.alpha, size: familySize },
    metrics,
    hypotheses,
    results,
    budgets,
    hardBreaches,
    softBreaches,
    verdict,
  };
}

type MultiPolicy = ReturnType<typeof withCandidatesSettings>;

/** A hypothesis before the family is adjusted; `sizes` (reference, other) only serve the power check. */
type RawHypothesis = Omit<Hypothesis, 'adjustedPValue' | 'significant' | 'smallestPValue' | 'powerless'> & { sizes: [number, number] };

function analyseMetric(
  policy: MultiPolicy,
  rule: PolicyRule,
  sides: readonly SampleSet[],
): { metric: MetricAnalysis; hypotheses: RawHypothesis[] } {
  const settings = policy.candidates;
  const groups: GroupSummary[] = sides.map((s) => {
    const values = [...metricValues(s, rule.metric)];
    return { ref: s.ref, n: values.length, aggregate: aggregateOf(values, policy.aggregation), values };
  });
  const metric: MetricAnalysis = {
    metric: rule.metric,
    direction: rule.direction,
    tested: rule.test !== 'none',
    groups,
    eligible: [],
    omnibus: null,
    tukey: null,
    power: null,
    note: '',
  };
  if (!metric.tested) {
    metric.note = 'test: none — judged by tolerance alone';
    return { metric, hypotheses: [] };
  }
  const eligible = groups.filter((g) => g.n >= policy.minRepeats);
  metric.eligible = eligible.map((g) => g.ref);
  const short = groups.filter((g) => g.n < policy.minRepeats).map((g) => `${g.ref} (${g.n})`);
  const notes: string[] = short.length ? [`fewer than ${policy.minRepeats} runs, left out of the tests: ${short.join(', ')}`] : [];
  if (eligible.length < 2) {
    metric.note = [...notes, 'fewer than two groups to test'].join('; ');
    return { metric, hypotheses: [] };
  }
  const values = eligible.map((g) => g.values);

  let pooled: { msWithin: number; dfWithin: number } | null = null;
  if (settings.omnibus === 'kruskal-wallis') {
    try {
      metric.omnibus = { kind: 'kruskal-wallis', ...kruskalWallis(values) };
    } catch (err) {
      notes.push(`Kruskal–Wallis not applied: ${(err as Error).message}`);
    }
  } else {
    const within = withinGroups(values);
    if (within.msWithin > 0) {
      pooled = within;
      metric.omnibus = { kind: 'anova', ...oneWayAnova(values) };
      const tukey = tukeyHsd(values, rule.confidence);
      metric.tukey = {
        confidence: tukey.confidence,
        qCritical: tukey.qCritical,
        dfWithin: tukey.dfWithin,
        msWithin: tukey.msWithin,
        pairs: tukey.pairs.map(({ reference, other, ...rest }) => ({ reference: eligible[reference]!.ref, other: eligible[other]!.ref, ...rest })),
      };
    } else {
      notes.push('ANOVA, Tukey HSD and the t tests not applied: no within-group variance (the tolerance alone decides)');
    }
  }
  metric.note = notes.join('; ');

  const hypotheses: RawHypothesis[] = [];
  if (settings.omnibus === 'anova' && pooled === null) return { metric, hypotheses };
  const baselineEligible = eligible[0]!.ref === sides[0]!.ref;
  const pairs: [GroupSummary, GroupSummary][] = [];
  if (settings.compare === 'baseline') {
    if (baselineEligible) for (const g of eligible.slice(1)) pairs.push([eligible[0]!, g]);
  } else {
    for (let i = 0; i < eligible.length; i++) for (let j = i + 1; j < eligible.length; j++) pairs.push([eligible[i]!, eligible[j]!]);
  }
  // One-sided toward a regression of `other` against the baseline; two-sided when every pair is compared.
  const alternative: Alternative = settings.compare === 'all-pairs' ? 'two-sided' : rule.direction === 'higher-is-better' ? 'less' : 'greater';
  const bootstrap = { confidence: rule.confidence, resamples: rule.resamples, seed: policy.seed };
  for (const [reference, other] of pairs) {
    const common = { metric: rule.metric, reference: reference.ref, other: other.ref, alternative, sizes: [reference.n, other.n] as [number, number] };
    if (pooled === null) {
      const mw = mannWhitneyU(reference.values, other.values, alternative);
      hypotheses.push({
        ...common,
        test: { kind: 'mann-whitney', u: mw.u, method: mw.method },
        pValue: mw.pValue,
        effect: {
          kind: 'rank',
          cliffsDelta: cliffsDeltaInterval(reference.values, other.values, bootstrap),
          hodgesLehmann: hodgesLehmann(reference.values, other.values, rule.confidence),
        },
      });
    } else {
      const standardError = Math.sqrt(pooled.msWithin * (1 / reference.n + 1 / other.n));
      const t = (mean(other.values) - mean(reference.values)) / standardError;
      const df = pooled.dfWithin;
      const pValue = alternative === 'less' ? studentTCdf(t, df) : alternative === 'greater' ? studentTSf(t, df) : Math.min(1, 2 * studentTSf(Math.abs(t), df));
      hypotheses.push({
        ...common,
        test: { kind: 't', t, df, standardError },
        pValue,
        effect: { kind: 'mean', meanDifference: bootstrapMeanDifference(reference.values, other.values, bootstrap) },
      });
    }
  }
  return { metric, hypotheses };
}

function powerNote(policy: MultiPolicy, m: MetricAnalysis, familySize: number): PowerNote | null {
  if (familySize === 0) return null;
  const settings = policy.candidates;
  const tested = m.groups.filter((g) => m.eligible.includes(g.ref));
  const n = Math.min(...tested.map((g) => g.n));
  const alpha = settings.alpha / familySize;
  const sidedness: Sidedness = settings.compare === 'all-pairs' ? 'two-sided' : 'one-sided';
  const method = settings.omnibus === 'anova' ? 't' : 'mann-whitney-are';
  const ms = withinGroups(tested.map((g) => g.values)).msWithin;
  const sigma = ms > 0 ? Math.sqrt(ms) : null;
  const smallestPValue = method === 'mann-whitney-are' ? smallestMannWhitneyP(n, n, sidedness) : null;
  const reachable = smallestPValue === null || smallestPValue <= alpha;
  const nEffective = method === 't' ? n : n * MANN_WHITNEY_ARE;
  const effectSize = reachable ? smallestDetectableEffect(nEffective, nEffective, alpha, settings.power, sidedness) : null;
  const difference = effectSize !== null && sigma !== null ? effectSize * sigma : null;
  const level = `α = ${fmt(alpha)} (${fmt(settings.alpha)} over ${familySize} test${familySize === 1 ? '' : 's'}, Holm's first step), 1−β = ${fmt(settings.power)}`;
  const how = method === 't' ? 'two-sample t test' : 'Mann–Whitney via its asymptotic relative efficiency 3/π';
  let text: string;
  if (!reachable) {
    text = `with n = ${n} repeats per side no difference is detectable at ${level}: the smallest p-value Mann–Whitney can give is ${fmt(smallestPValue!)}; add repeats or test fewer rules or candidates`;
  } else if (difference === null) {
    text = `with n = ${n} repeats per side the smallest detectable difference at ${level} is ${fmt(effectSize!)} σ (${how}); σ is 0 here, so any difference shows`;
  } else {
    text = `with n = ${n} repeats per side the smallest detectable difference at ${level} is ${fmt(difference)} ${m.metric} (${fmt(effectSize!)} σ, σ = ${fmt(sigma!)} pooled within-group SD; ${how})`;
  }
  return { n, alpha, familyAlpha: settings.alpha, familySize, power: settings.power, sidedness, method, sigma, effectSize, difference, smallestPValue, text };
}

function candidateRule(policy: MultiPolicy, rule: PolicyRule, baselineSet: SampleSet, candidateSet: SampleSet, hypotheses: readonly Hypothesis[]): CandidateRuleOutcome {
  const base = metricValues(baselineSet, rule.metric);
  const cand = metricValues(candidateSet, rule.metric);
  const baseline: SideSummary = { n: base.length, aggregate: aggregateOf(base, policy.aggregation), values: [...base] };
  const candidate: SideSummary = { n: cand.length, aggregate: aggregateOf(cand, policy.aggregation), values: [...cand] };
  const thresholds = { absolute: rule.absolute ?? null, relative: rule.relative ?? null };
  const common = { metric: rule.metric, direction: rule.direction, severity: rule.severity, baseline, candidate, thresholds };
  const verdictFor = (breached: boolean): Verdict => (!breached ? 'pass' : rule.severity === 'hard' ? 'fail' : 'warn');
  if (baseline.aggregate === null || candidate.aggregate === null) {
    const side = baseline.aggregate === null ? 'baseline' : `candidate ${candidateSet.ref}`;
    return { ...common, delta: null, relativeDelta: null, regression: null, hypothesis: null, breached: true, verdict: verdictFor(true), reason: `the ${side} recorded no final value for ${rule.metric}` };
  }
  const practical = practicalSize(rule, baseline.aggregate, candidate.aggregate);
  const index = hypotheses.findIndex((h) => h.metric === rule.metric && h.reference === baselineSet.ref && h.other === candidateSet.ref);
  const hypothesis = index < 0 ? null : hypotheses[index]!;
  const confirmation = hypothesis === null || hypothesis.powerless ? null : confirms(policy, rule, hypothesis);
  const breached = practical.exceeds && (confirmation === null || confirmation.confirmed);
  const { worse, limit } = describePractical(rule, practical.regression, practical.relativeRegression);
  const judged = practical.exceeds ? (confirmation && !confirmation.confirmed ? 'beyond tolerance but within noise' : 'beyond tolerance') : 'within tolerance';
  let statistical = '';
  if (confirmation) statistical = `; ${confirmation.text}`;
  else if (hypothesis?.powerless) {
    const firstStep = policy.candidates.alpha / hypotheses.length;
    statistical = `; Mann–Whitney cannot reach α/${hypotheses.length} = ${fmt(firstStep)} with ${baseline.n} and ${candidate.n} runs (its smallest possible p-value is ${fmt(hypothesis.smallestPValue!)}), so the tolerance alone decides`;
  } else if (rule.test !== 'none') statistical = `; not tested (${untestedWhy(policy, baseline.n, candidate.n)})`;
  return {
    ...common,
    delta: practical.delta,
    relativeDelta: practical.relativeDelta,
    regression: practical.regression,
    hypothesis: index < 0 ? null : index,
    breached,
    verdict: verdictFor(breached),
    reason: `${worse}, ${judged} (${limit})${statistical}`,
  };
}

function untestedWhy(policy: MultiPolicy, nBaseline: number, nCandidate: number): string {
  const n = Math.min(nBaseline, nCandidate);
  if (n < policy.minRepeats) return `${n} run${n === 1 ? '' : 's'} < ${policy.minRepeats}`;
  return policy.candidates.omnibus === 'anova' ? 'no within-group variance' : 'no test applied';
}

/**
 * Whether the family's test confirms a regression of the candidate: Holm-significant, the effect
 * pointing the worse way, and (rank tests) |Cliff's delta| at least the rule's minEffectSize.
 */
function confirms(policy: MultiPolicy, rule: PolicyRule, h: Hypothesis): { confirmed: boolean; text: string } {
  const worseSign = rule.direction === 'higher-is-better' ? -1 : 1;
  const p = `p=${fmt(h.pValue)}, Holm p=${fmt(h.adjustedPValue)} ${h.significant ? '<=' : '>'} α=${fmt(policy.candidates.alpha)}`;
  if (h.effect.kind === 'rank') {
    const d = h.effect.cliffsDelta;
    const large = Math.abs(d.estimate) >= rule.minEffectSize;
    const confirmed = h.significant && Math.sign(d.estimate) === worseSign && large;
    const effect = `Cliff's delta ${fmt(d.estimate)} [${fmt(d.low)}, ${fmt(d.high)}]${large ? '' : ` below ${fmt(rule.minEffectSize)}`}`;
    return { confirmed, text: `Mann–Whitney ${p}, ${effect}: ${confirmed ? 'significant' : 'not significant'}` };
  }
  const d = h.effect.meanDifference;
  const confirmed = h.significant && Math.sign(d.estimate) === worseSign;
  return { confirmed, text: `t test ${p}, mean difference ${fmt(d.estimate)} [${fmt(d.low)}, ${fmt(d.high)}]: ${confirmed ? 'significant' : 'not significant'}` };
}
