// Regression-gate policy: a YAML (or JSON) file naming metrics, their direction, tolerated
// regressions, the statistical test for repeated runs and each rule's severity. Parsed with the
// `yaml` document API so every error names the field and the line it is on.
import { isMap, isNode, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { decodeUtf8, readBoundedFile } from '../input/decode.js';
import { checkCount, LIMITS } from '../input/limits.js';
import { parseYaml } from '../input/yaml.js';
import { canonicalize } from '../integrity/canonical.js';
import { sha256Hex } from '../integrity/hasher.js';

export const POLICY_VERSION = 1;

/** A fraction: 0.05 or "5%". */
const Fraction = z.union(
  [
    z.number().nonnegative('must be zero or positive'),
    z
      .string()
      .regex(/^\d+(\.\d+)?%$/)
      .transform((s) => Number(s.slice(0, -1)) / 100),
  ],
  { error: 'must be a non-negative number or a percentage such as "5%"' },
);

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.map((v) => `"${v}"`).join(', ')}` });
}

const Probability = z.number().gt(0, 'must be between 0 and 1').lt(1, 'must be between 0 and 1');

export const Direction = oneOf(['higher-is-better', 'lower-is-better']);
export type Direction = z.infer<typeof Direction>;
export const Severity = oneOf(['hard', 'soft']);
export type Severity = z.infer<typeof Severity>;
export const TestKind = oneOf(['bootstrap', 'mann-whitney', 'none']);
export type TestKind = z.infer<typeof TestKind>;
export const Aggregation = oneOf(['mean', 'median']);
export type Aggregation = z.infer<typeof Aggregation>;

export const PolicyRule = z
  .object({
    metric: z.string().min(1, 'must name a metric'),
    direction: Direction,
    /** Largest tolerated regression in the metric's units. */
    absolute: z.number().nonnegative('must be zero or positive').optional(),
    /** Largest tolerated regression relative to the baseline aggregate. */
    relative: Fraction.optional(),
    /** Used only when both sides have at least `minRepeats` runs. */
    test: TestKind.default('bootstrap'),
    confidence: Probability.default(0.95),
    alpha: Probability.default(0.05),
    resamples: z.number().int().min(100, 'must be at least 100').max(1_000_000, 'must be at most 1000000').default(5000),
    /** Smallest |Cliff's delta| that counts as a real regression under the Mann–Whitney test. */
    minEffectSize: z.number().min(0).max(1, 'must be between 0 and 1').default(0.33),
    severity: Severity.default('hard'),
  })
  .strict();
export type PolicyRule = z.infer<typeof PolicyRule>;

export const CompareMode = oneOf(['baseline', 'all-pairs']);
export type CompareMode = z.infer<typeof CompareMode>;
export const OmnibusKind = oneOf(['kruskal-wallis', 'anova']);
export type OmnibusKind = z.infer<typeof OmnibusKind>;

/** How two or more candidates are judged together (docs/gates.md "More than one candidate"). */
export const CandidatesSettings = z
  .object({
    /** baseline: each candidate against the baseline (one-sided); all-pairs: every pair of groups (two-sided). */
    compare: CompareMode.default('baseline'),
    /** kruskal-wallis (pairwise Mann–Whitney) or anova (Tukey HSD, pairwise t on the pooled variance). */
    omnibus: OmnibusKind.default('kruskal-wallis'),
    /** Family-wise error rate, held by Holm's procedure over every tested rule and pair. */
    alpha: Probability.default(0.05),
    /** 1 - β of the power note. */
    power: Probability.default(0.8),
  })
  .strict();
export type CandidatesSettings = z.infer<typeof CandidatesSettings>;

export const Policy = z
  .object({
    version: z.literal(POLICY_VERSION, `must be ${POLICY_VERSION}`),
    /** Seed of the bootstrap PRNG: the same ledger and policy always give the same intervals. */
    seed: z.number().int().min(0).max(0xffffffff).default(1),
    /** How a campaign's repeats combine into the value a threshold is checked against. */
    aggregation: Aggregation.default('mean'),
    /** Statistical tests run only when both sides have at least this many runs. */
    minRepeats: z.number().int().min(2, 'must be at least 2').default(5),
    rules: z.array(PolicyRule).min(1, 'must list at least one rule'),
    budgets: z
      .object({ severity: Severity.default('hard'), enabled: z.boolean().default(true) })
      .strict()
      .default({ severity: 'hard', enabled: true }),
    /** Used only when --candidate names two or more; absent, the defaults of CandidatesSettings apply. */
    candidates: CandidatesSettings.optional(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.rules.forEach((rule, i) => {
      if (seen.has(rule.metric)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'metric'], message: `names "${rule.metric}" twice` });
      seen.add(rule.metric);
    });
  });
export type Policy = z.infer<typeof Policy>;

/** Used when no --policy is given: every metric both sides recorded, 1% relative tolerance, bootstrap for repeats. */
export function defaultPolicy(metrics: readonly string[]): Policy {
  if (metrics.length === 0) {
    throw new InputError('baseline and candidate share no final metrics (have their runs completed training?); nothing to compare', { field: 'policy' });
  }
  return Policy.parse({
    version: POLICY_VERSION,
    rules: [...metrics].sort().map((metric) => ({
      metric,
      direction: /loss|error|time|latency|ms$/i.test(metric) ? 'lower-is-better' : 'higher-is-better',
      relative: 0.01,
    })),
  });
}

/**
 * The policy a multi-candidate comparison applies: `candidates` with its defaults filled in, so the
 * recorded policy (and its hash) states the settings used even when the file left them out.
 */
export function withCandidatesSettings(policy: Policy): Policy & { candidates: CandidatesSettings } {
  return { ...policy, candidates: CandidatesSettings.parse(policy.candidates ?? {}) };
}

/** SHA-256 of the policy's JCS form (after defaults): recorded with every gate decision. */
export function policyHash(policy: Policy): string {
  return sha256Hex(canonicalize(policy));
}

/** Reads a policy file: at most LIMITS.documentBytes of UTF-8 (docs/limits.md). */
export function loadPolicy(file: string): Policy {
  return parsePolicy(decodeUtf8(readBoundedFile(file, LIMITS.documentBytes, 'policy file'), file), file);
}

/** Parses policy text (safe YAML mode, src/input/yaml.ts); any problem is an InputError naming file, line and field. */
export function parsePolicy(text: string, file = '(policy)'): Policy {
  const { value, doc, lineCounter } = parseYaml(text, { file, at: (line) => (line === undefined ? file : `${file} line ${line}`), what: 'policy' });
  // Counted on the document, before zod builds 100,000 rule objects.
  const rules = doc.get('rules', true);
  if (isSeq(rules)) {
    const line = rules.range ? lineCounter.linePos(rules.range[0]).line : undefined;
    checkCount(line === undefined ? file : `${file} line ${line}`, 'field rules', rules.items.length, LIMITS.policyRules, 'rules', { file, line, field: 'rules' });
  }
  const parsed = Policy.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const field = fieldName(path) || '(policy)';
  const unknown = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const line = lineOf(doc, unknown === undefined ? path : [...path, unknown], lineCounter);
  const missing = path.length > 0 && !doc.hasIn(path);
  const message = missing ? 'is required' : issue.code === 'unrecognized_keys' ? 'is not a policy field (see docs/gates.md)' : issue.message;
  return fail(file, line, unknown === undefined ? field : fieldName([...path, unknown]), message);
}

function fail(file: string, line: number | undefined, field: string, message: string): never {
  const where = line === undefined ? file : `${file} line ${line}`;
  throw new InputError(`${where}: field ${field} ${message}`, { file, line, field });
}


function fieldName(path: readonly (string | number)[]): string {
  // Names come from the file: clipped, so a hostile key cannot make the message huge.
  const name = (p: string): string => (p.length > 60 ? `${p.slice(0, 60)}…` : p);
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${name(p)}` : name(p)), '');
}

/** The line of the deepest node of `path` present in the document (the map holding a missing key). */
function lineOf(doc: Document, path: readonly (string | number)[], lineCounter: LineCounter): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const sub = path.slice(0, depth);
    const last = sub[sub.length - 1];
    const parent = depth === 0 ? undefined : depth === 1 ? doc.contents : doc.getIn(sub.slice(0, -1), true);
    // Point at the key itself when there is one (unknown keys have no value node worth citing).
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === last);
      if (pair && isNode(pair.key) && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
    }
    const node = depth === 0 ? doc.contents : doc.getIn(sub, true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}
