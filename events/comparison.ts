// comparison events. Each definition is declared once here; types derive from the schemas.
// Recorded by `runledger compare` / `runledger gate` on the stream `comparison-<comparisonId>`
// (ComparisonRecorded, RegressionGateEvaluated, then one governance AuditFinding per breach), so a
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

export const RegressionGateEvaluatedData = z
  .object({
    comparisonId: z.string().regex(/^[0-9a-f]{32}$/),
    policyHash: Sha256Hex,
    strict: z.boolean(),
    verdict: Verdict,
    hardBreaches: z.number().int().nonnegative(),
    softBreaches: z.number().int().nonnegative(),
    rules: z.array(
      z.object({ metric: Name, severity: Severity, breached: z.boolean(), verdict: Verdict, reason: z.string() }).strict(),
    ),
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
  defineEvent('RunLinked', 1, RunLinkedData, 'A typed relation between runs or campaigns (baseline-of, replay-of, resumed-from, repeat-of) for the comparison graph.'),
];
