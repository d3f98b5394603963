// comparison events. Each definition is declared once here; types derive from the schemas.
// Recorded by `runledger compare` / `runledger gate` on the stream `comparison-<comparisonId>`
// (ComparisonRecorded, RegressionGateEvaluated — or, for two or more candidates, MultiComparisonRecorded,
// MultiGateEvaluated — then one governance AuditFinding per breach), so a
// gate decision is itself replayable evidence. RunLinked is how any producer (retrain, resume,
// a plan naming its baseline) records a typed relation the comparison graph draws as an edge.
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const Name = z.string().min(1).max(200);

export const ComparisonSide = z
  .object({
    /** What the user named: a run id or a campaign name. */
    ref: Name,
    kind: z.enum(['run', 'campaign']),
    /** The runs whose final metrics were compared, sorted. */
    runs: z.array(Name),
  })
  .strict();
export type ComparisonSide = z.infer<typeof ComparisonSide>;

const SideStats = z
  .object({
    n: z.number().int().nonnegative(),
    aggregate: z.number().nullable(),
    values: z.array(z.number()),
  })
  .strict();

export const TestOutcome = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('bootstrap'),
      low: z.number(),
      high: z.number(),
      confidence: z.number(),
      resamples: z.number().int(),
      seed: z.number().int(),
      significant: z.boolean(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('mann-whitney'),
      u: z.number(),
      pValue: z.number(),
      method: z.enum(['exact', 'asymptotic']),
      alternative: z.enum(['two-sided', 'less', 'greater']),
      alpha: z.number(),
      effectSize: z.number(),
      minEffectSize: z.number(),
      significant: z.boolean(),
    })
    .strict(),
]);

export const MetricComparison = z
  .object({
    metric: Name,
    direction: z.enum(['higher-is-better', 'lower-is-better']),
    baseline: SideStats,
    candidate: SideStats,
    delta: z.number().nullable(),
    relativeDelta: z.number().nullable(),
    test: TestOutcome.nullable(),
  })
  .strict();
export type MetricComparison = z.infer<typeof MetricComparison>;

export const ComparisonRecordedData = z
  .object({
    comparisonId: z.string().regex(/^[0-9a-f]{32}$/),
    baseline: ComparisonSide,
    candidate: ComparisonSide,
    /** SHA-256 of the JCS of `policy`. */
    policyHash: Sha256Hex,
    /** The normalized policy (defaults applied), so an auditor can re-derive every verdict. */
    policy: z.record(z.string(), z.unknown()),
    aggregation: z.enum(['mean', 'median']),
    metrics: z.array(MetricComparison),
  })
  .strict();
export type ComparisonRecordedData = z.infer<typeof ComparisonRecordedData>;

const Verdict = z.enum(['pass', 'warn', 'fail']);
const Severity = z.enum(['hard', 'soft']);
const GateRuleVerdict = z.object({ metric: Name, severity: Severity, breached: z.boolean(), verdict: Verdict, reason: z.string() }).strict();

/** What every gate verdict event starts with. */
const GateVerdict = {
  comparisonId: z.string().regex(/^[0-9a-f]{32}$/),
  policyHash: Sha256Hex,
  strict: z.boolean(),
  verdict: Verdict,
  hardBreaches: z.number().int().nonnegative(),
  softBreaches: z.number().int().nonnegative(),
};

export const RegressionGateEvaluatedData = z
  .object({
    ...GateVerdict,
    rules: z.array(GateRuleVerdict),
    budgets: z.array(
      z
        .object({
          run: Name,
          stage: Name,
          budget: z.enum(['maxWallMs', 'maxMemoryDeltaBytes', 'minThroughput']),
          limit: z.number(),
          actual: z.number().nullable(),
          severity: Severity,
          breached: z.boolean(),
          verdict: Verdict,
          reason: z.string(),
        })
        .strict(),
    ),
  })
  .strict();
export type RegressionGateEvaluatedData = z.infer<typeof RegressionGateEvaluatedData>;

// ---- Two or more candidates (runledger compare/gate --candidate a,b,…) ----------------------------

const Direction = z.enum(['higher-is-better', 'lower-is-better']);
const Probability = z.number().gt(0).lt(1);

export const CandidatesSettings = z
  .object({
    compare: z.enum(['baseline', 'all-pairs']),
    omnibus: z.enum(['kruskal-wallis', 'anova']),
    alpha: Probability,
    power: Probability,
  })
  .strict();

export const OmnibusOutcome = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('kruskal-wallis'), h: z.number(), df: z.number().int().positive(), pValue: z.number(), tieCorrection: z.number() }).strict(),
  z
    .object({
      kind: z.literal('anova'),
      f: z.number(),
      dfBetween: z.number().int().positive(),
      dfWithin: z.number().int().positive(),
      pValue: z.number(),
      msBetween: z.number(),
      msWithin: z.number(),
    })
    .strict(),
]);

export const TukeyOutcome = z
  .object({
    confidence: Probability,
    qCritical: z.number(),
    dfWithin: z.number().int().positive(),
    msWithin: z.number(),
    pairs: z.array(
      z
        .object({ reference: Name, other: Name, difference: z.number(), standardError: z.number(), q: z.number(), pValue: z.number(), low: z.number(), high: z.number() })
        .strict(),
    ),
  })
  .strict();

export const PowerNote = z
  .object({
    n: z.number().int().positive(),
    alpha: z.number(),
    familyAlpha: Probability,
    familySize: z.number().int().positive(),
    power: Probability,
    sidedness: z.enum(['one-sided', 'two-sided']),
    method: z.enum(['t', 'mann-whitney-are']),
    sigma: z.number().nullable(),
    effectSize: z.number().nullable(),
    difference: z.number().nullable(),
    smallestPValue: z.number().nullable(),
    text: z.string(),
  })
  .strict();

export const MetricAnalysis = z
  .object({
    metric: Name,
    direction: Direction,
    tested: z.boolean(),
    /** The baseline first, then the candidates in the order given. */
    groups: z.array(SideStats.extend({ ref: Name }).strict()),
    eligible: z.array(Name),
    omnibus: OmnibusOutcome.nullable(),
    tukey: TukeyOutcome.nullable(),
    power: PowerNote.nullable(),
    note: z.string(),
  })
  .strict();

const Bootstrap = z
  .object({ estimate: z.number(), low: z.number(), high: z.number(), confidence: Probability, resamples: z.number().int(), seed: z.number().int() })
  .strict();

export const Hypothesis = z
  .object({
    metric: Name,
    reference: Name,
    other: Name,
    alternative: z.enum(['two-sided', 'less', 'greater']),
    test: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('mann-whitney'), u: z.number(), method: z.enum(['exact', 'asymptotic']) }).strict(),
      z.object({ kind: z.literal('t'), t: z.number(), df: z.number().int().positive(), standardError: z.number() }).strict(),
    ]),
    pValue: z.number(),
    adjustedPValue: z.number(),
    significant: z.boolean(),
    smallestPValue: z.number().nullable(),
    powerless: z.boolean(),
    effect: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('rank'),
          cliffsDelta: Bootstrap,
          hodgesLehmann: z
            .object({ estimate: z.number(), low: z.number().nullable(), high: z.number().nullable(), confidence: Probability, method: z.enum(['exact', 'asymptotic']) })
            .strict(),
        })
        .strict(),
      z.object({ kind: z.literal('mean'), meanDifference: Bootstrap }).strict(),
    ]),
  })
  .strict();

export const MultiComparisonRecordedData = z
  .object({
    comparisonId: z.string().regex(/^[0-9a-f]{32}$/),
    baseline: ComparisonSide,
    candidates: z.array(ComparisonSide).min(2),
    policyHash: Sha256Hex,
    /** The normalized policy with its `candidates` settings filled in. */
    policy: z.record(z.string(), z.unknown()),
    aggregation: z.enum(['mean', 'median']),
    settings: CandidatesSettings,
    family: z.object({ correction: z.literal('holm'), alpha: Probability, size: z.number().int().nonnegative() }).strict(),
    metrics: z.array(MetricAnalysis),
    /** Every tested rule × pair, Holm-adjusted together. */
    hypotheses: z.array(Hypothesis),
  })
  .strict();
export type MultiComparisonRecordedData = z.infer<typeof MultiComparisonRecordedData>;

export const MultiGateEvaluatedData = z
  .object({
    ...GateVerdict,
    candidates: z.array(
      z
        .object({
          ref: Name,
          verdict: Verdict,
          hardBreaches: z.number().int().nonnegative(),
          softBreaches: z.number().int().nonnegative(),
          rules: z.array(GateRuleVerdict.extend({ delta: z.number().nullable(), relativeDelta: z.number().nullable() }).strict()),
        })
        .strict(),
    ),
    budgets: RegressionGateEvaluatedData.shape.budgets,
  })
  .strict();
export type MultiGateEvaluatedData = z.infer<typeof MultiGateEvaluatedData>;

export const LINK_RELATIONS = ['baseline-of', 'replay-of', 'resumed-from', 'repeat-of'] as const;

export const RunLinkedData = z
  .object({
    /** `from` <relation> `to`, e.g. run r2 replay-of run r1. */
    relation: z.enum(LINK_RELATIONS),
    from: z.object({ kind: z.enum(['run', 'campaign']), id: Name }).strict(),
    to: z.object({ kind: z.enum(['run', 'campaign']), id: Name }).strict(),
    note: z.string().max(1000).default(''),
  })
  .strict();
export type RunLinkedData = z.infer<typeof RunLinkedData>;

export const comparisonEvents: EventDefinition[] = [
  defineEvent('ComparisonRecorded', 1, ComparisonRecordedData, 'A baseline and a candidate (runs or campaigns) compared under a policy: per-metric aggregates, deltas, intervals and tests.'),
  defineEvent('RegressionGateEvaluated', 1, RegressionGateEvaluatedData, 'The verdict of a regression gate over a recorded comparison, with every rule and budget outcome.'),
  defineEvent(
    'MultiComparisonRecorded',
    1,
    MultiComparisonRecordedData,
    'A baseline and two or more candidates compared under a policy: per metric the groups, an omnibus test, Tukey HSD (anova) and a power note; every tested rule × pair with its p-value, Holm-adjusted p-value and effect size with interval.',
  ),
  defineEvent('MultiGateEvaluated', 1, MultiGateEvaluatedData, 'The verdict of a regression gate over a recorded multi-candidate comparison: per candidate every rule outcome, and every budget outcome.'),
  defineEvent('RunLinked', 1, RunLinkedData, 'A typed relation between runs or campaigns (baseline-of, replay-of, resumed-from, repeat-of) for the comparison graph.'),
];
