// The gate report: regression rules and budgets combined into one verdict, and the exit code CI
// acts on. Pure; the CLI records it as events and renders it with the JUnit and Markdown writers.
import { canonicalize } from '../integrity/canonical.js';
import { sha256Hex } from '../integrity/hasher.js';
import { evaluateBudgets, type BudgetOutcome, type BudgetSubject } from './budgets.js';
import { policyHash, type Aggregation, type Policy, type Severity } from './policy.js';
import { evaluateRules, type RuleOutcome, type SampleSet, type Verdict } from './regression.js';

export const GATE_REPORT_SCHEMA = 'runledger.gate-report/v1';

export interface SideRef {
  ref: string;
  kind: SampleSet['kind'];
  runs: string[];
}

export interface GateReport {
  schema: typeof GATE_REPORT_SCHEMA;
  /** Deterministic id of (baseline runs, candidate runs, policy): the same question has the same id. */
  comparisonId: string;
  baseline: SideRef;
  candidate: SideRef;
  policyHash: string;
  aggregation: Aggregation;
  strict: boolean;
  rules: RuleOutcome[];
  budgets: BudgetOutcome[];
  hardBreaches: number;
  softBreaches: number;
  verdict: Verdict;
}

export interface GateInput {
  policy: Policy;
  baseline: SampleSet;
  candidate: SampleSet;
  /** Budgets of the candidate's runs (the baseline's are not the candidate's business). */
  budgets: BudgetSubject[];
  strict?: boolean;
}

export function comparisonId(baseline: SideRef, candidate: SideRef, hash: string): string {
  return sha256Hex(canonicalize({ baseline, candidate, policyHash: hash })).slice(0, 32);
}

export function evaluateGate(input: GateInput): GateReport {
  const { policy } = input;
  const strict = input.strict ?? false;
  const rules = evaluateRules(policy, input.baseline, input.candidate);
  const budgets = policy.budgets.enabled ? evaluateBudgets(input.budgets, policy.budgets.severity) : [];
  const { hardBreaches, softBreaches, verdict } = combineVerdict(rules, budgets, strict);
  const baseline = sideRef(input.baseline);
  const candidate = sideRef(input.candidate);
  const hash = policyHash(policy);
  return {
    schema: GATE_REPORT_SCHEMA,
    comparisonId: comparisonId(baseline, candidate, hash),
    baseline,
    candidate,
    policyHash: hash,
    aggregation: policy.aggregation,
    strict,
    rules,
    budgets,
    hardBreaches,
    softBreaches,
    verdict,
  };
}

/**
 * The gate's rule: fail on any hard breach (or, strict, on any warning), warn on soft breaches and
 * budgets that could not be checked, pass otherwise.
 */
export function combineVerdict(
  rules: readonly { breached: boolean; severity: Severity }[],
  budgets: readonly BudgetOutcome[],
  strict: boolean,
): { hardBreaches: number; softBreaches: number; verdict: Verdict } {
  const breaches = [...rules.filter((r) => r.breached), ...budgets.filter((b) => b.breached)];
  const hardBreaches = breaches.filter((b) => b.severity === 'hard').length;
  const softBreaches = breaches.length - hardBreaches;
  const warnings = softBreaches + budgets.filter((b) => b.actual === null).length;
  const verdict: Verdict = hardBreaches > 0 || (strict && warnings > 0) ? 'fail' : warnings > 0 ? 'warn' : 'pass';
  return { hardBreaches, softBreaches, verdict };
}

export function sideRef(set: SampleSet): SideRef {
  return { ref: set.ref, kind: set.kind, runs: [...set.runs] };
}

/** CI contract: 1 on a hard breach (or any warning under --strict), else 0. */
export function gateExitCode(report: Pick<GateReport, 'verdict'>): 0 | 1 {
  return report.verdict === 'fail' ? 1 : 0;
}
