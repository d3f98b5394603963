// Telemetry budgets: per-stage limits a governance plan sets (max wall time, max memory delta, min
// throughput), checked against what the run actually recorded. Pure; the run-summary projection
// supplies both the budgets (from the plan) and the observations (from stage and telemetry events).
import type { StageBudget } from '../governance/plan.js';
import type { Severity } from './policy.js';
import type { Verdict } from './regression.js';
import { fmt } from './regression.js';

/** The plan's per-stage budget (src/governance/plan.ts): minThroughput is in items per second. */
export type { StageBudget };

export interface StageObservation {
  wallMs: number | null;
  memoryDeltaBytes: number | null;
  throughputPerSec: number | null;
}

export interface BudgetSubject {
  run: string;
  stage: string;
  budget: StageBudget;
  observed: StageObservation;
}

export type BudgetName = keyof StageBudget;

export interface BudgetOutcome {
  run: string;
  stage: string;
  budget: BudgetName;
  limit: number;
  actual: number | null;
  severity: Severity;
  breached: boolean;
  verdict: Verdict;
  reason: string;
}

/** Which observation each budget is checked against. */
export const BUDGET_CHECKS: readonly { budget: BudgetName; observed: keyof StageObservation; kind: 'max' | 'min'; unit: string }[] = [
  { budget: 'maxWallMs', observed: 'wallMs', kind: 'max', unit: 'ms' },
  { budget: 'maxMemoryDeltaBytes', observed: 'memoryDeltaBytes', kind: 'max', unit: 'bytes' },
  { budget: 'minThroughput', observed: 'throughputPerSec', kind: 'min', unit: 'examples/s' },
];

/**
 * One outcome per (run, stage, budget set in the plan), sorted by run, stage, budget. A budget with
 * no recorded observation cannot be proven kept: it is reported as a warning whatever the severity.
 */
export function evaluateBudgets(subjects: readonly BudgetSubject[], severity: Severity): BudgetOutcome[] {
  const outcomes: BudgetOutcome[] = [];
  for (const subject of subjects) {
    for (const check of BUDGET_CHECKS) {
      const limit = subject.budget[check.budget];
      if (limit === undefined) continue;
      const actual = subject.observed[check.observed];
      const base = { run: subject.run, stage: subject.stage, budget: check.budget, limit, actual, severity };
      if (actual === null) {
        outcomes.push({ ...base, breached: false, verdict: 'warn', reason: `no ${check.observed} recorded for stage ${subject.stage}` });
        continue;
      }
      const breached = check.kind === 'max' ? actual > limit : actual < limit;
      const relation = check.kind === 'max' ? (breached ? 'exceeds' : 'within') : breached ? 'below' : 'meets';
      outcomes.push({
        ...base,
        breached,
        verdict: !breached ? 'pass' : severity === 'hard' ? 'fail' : 'warn',
        reason: `${check.observed} ${fmt(actual)} ${check.unit} ${relation} ${check.kind} ${fmt(limit)} ${check.unit}`,
      });
    }
  }
  const order = BUDGET_CHECKS.map((c) => c.budget);
  return outcomes.sort(
    (a, b) => cmp(a.run, b.run) || cmp(a.stage, b.stage) || order.indexOf(a.budget) - order.indexOf(b.budget),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
