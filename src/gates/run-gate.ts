// The whole gate as the CLI runs it: bring the run summaries up to date, resolve both sides, replay
// every run they name (metrics and budgets come only from runs that verify), evaluate the policy and
// the candidate's budgets, record the evidence, refresh the projections and the graph artifacts so
// they include the decision just recorded.
import { catchUp } from '../../projections/catch-up.js';
import { comparisonGraphProjection, graphArtifacts } from '../../projections/comparison-graph.js';
import { budgetSubjects, runSummaryProjection } from '../../projections/run-summary.js';
import { writeArtifacts } from '../../projections/snapshots.js';
import { guardedAppend } from '../governance/guarded-append.js';
import type { EventStore } from '../store/port.js';
import { evaluateBudgets, type BudgetOutcome } from './budgets.js';
import type { RunTrust } from '../replay/replay.js';
import { budgetFindingRequests, recordGate, sampleSet, sideRuns, verifiedRuns } from './evidence.js';
import { defaultPolicy, loadPolicy, type Policy } from './policy.js';
import type { Verdict } from './regression.js';
import { evaluateGate, type GateReport } from './report.js';

export interface GateRequest {
  baseline: string;
  candidate: string;
  policyFile?: string;
  strict?: boolean;
  /** Keys the runs' replays trust; every run of both sides must verify. */
  trust: RunTrust;
}

export interface GateRun {
  report: GateReport;
  policy: Policy;
  /** Where the evidence was recorded, and whether it was already there (an identical earlier gate). */
  recorded: { stream: string; duplicate: boolean };
  /** The runs replayed and verified before their metrics were used. */
  verifiedRuns: string[];
}

export async function runGate(store: EventStore, home: string, request: GateRequest): Promise<GateRun> {
  // Bad input is refused before anything is written (the policy is read first).
  const explicit = request.policyFile === undefined ? undefined : loadPolicy(request.policyFile);
  const { state } = await catchUp(store, home, runSummaryProjection);
  // The projection only names the runs; what is compared comes from their verified replays.
  const names = [...sideRuns(state, request.baseline, 'baseline').runs, ...sideRuns(state, request.candidate, 'candidate').runs];
  const verified = { ...state, runs: await verifiedRuns(store, names, request.trust) };
  const baseline = sampleSet(verified, request.baseline, 'baseline');
  const candidate = sampleSet(verified, request.candidate, 'candidate');
  const policy = explicit ?? defaultPolicy(Object.keys(baseline.metrics).filter((m) => m in candidate.metrics));
  const report = evaluateGate({ policy, baseline, candidate, budgets: budgetSubjects(verified, candidate.runs), strict: request.strict });
  const recorded = await recordGate(store, report, policy);
  await catchUp(store, home, runSummaryProjection);
  const graph = await catchUp(store, home, comparisonGraphProjection);
  writeArtifacts(home, graphArtifacts(graph.state));
  return { report, policy, recorded, verifiedRuns: [...new Set(names)].sort() };
}

export interface BudgetRequest {
  ref: string;
  policyFile?: string;
  strict?: boolean;
  /** Keys the runs' replays trust; budgets are judged only on runs that verify. */
  trust: RunTrust;
}

export interface BudgetRun {
  ref: string;
  kind: 'run' | 'campaign';
  runs: string[];
  budgets: BudgetOutcome[];
  hardBreaches: number;
  softBreaches: number;
  /** Budgets that could not be checked (no observation recorded). */
  unproven: number;
  verdict: Verdict;
  /** Streams that received AuditFinding events (empty when nothing was breached or all were recorded before). */
  recorded: string[];
}

/**
 * Run validation against the plan's budgets: one AuditFinding per breach, appended to the run's own
 * stream (atomically across runs), so the finding travels with the run into replays and bundles.
 */
export async function runBudgets(store: EventStore, home: string, request: BudgetRequest): Promise<BudgetRun> {
  const policy = request.policyFile === undefined ? undefined : loadPolicy(request.policyFile);
  const severity = policy?.budgets.severity ?? 'hard';
  const { state } = await catchUp(store, home, runSummaryProjection);
  const verified = { ...state, runs: await verifiedRuns(store, sideRuns(state, request.ref, 'candidate').runs, request.trust) };
  const side = sampleSet(verified, request.ref, 'candidate');
  const budgets = evaluateBudgets(budgetSubjects(verified, side.runs), severity);
  const requests = budgetFindingRequests(budgets);
  let recorded: string[] = [];
  if (requests.length > 0) {
    // Findings on run streams go through the run-stream door like every other write.
    const result = await guardedAppend(store, requests);
    recorded = result.duplicate ? [] : requests.map((r) => r.stream);
    await catchUp(store, home, runSummaryProjection);
  }
  const hardBreaches = budgets.filter((b) => b.breached && b.severity === 'hard').length;
  const softBreaches = budgets.filter((b) => b.breached && b.severity === 'soft').length;
  const unproven = budgets.filter((b) => b.actual === null).length;
  const warnings = softBreaches + unproven;
  const verdict: Verdict = hardBreaches > 0 || (request.strict && warnings > 0) ? 'fail' : warnings > 0 ? 'warn' : 'pass';
  return { ref: side.ref, kind: side.kind, runs: side.runs, budgets, hardBreaches, softBreaches, unproven, verdict, recorded };
}
