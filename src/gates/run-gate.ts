// The whole gate as the CLI runs it: bring the run summaries up to date, resolve both sides, replay
// every run they name (metrics and budgets come only from runs that verify), evaluate the policy and
// the candidate's budgets, record the evidence, refresh the projections and the graph artifacts so
// they include the decision just recorded.
import { catchUp } from '../../projections/catch-up.js';
import { comparisonGraphProjection, graphArtifacts } from '../../projections/comparison-graph.js';
import { budgetSubjects, runSummaryProjection, type RunSummaries } from '../../projections/run-summary.js';
import { writeArtifacts } from '../../projections/snapshots.js';
import { guardedAppend } from '../governance/guarded-append.js';
import type { RunTrust } from '../replay/replay.js';
import type { EventStore } from '../store/port.js';
import { evaluateBudgets, type BudgetOutcome } from './budgets.js';
import { InputError } from '../errors.js';
import { budgetFindingRequests, comparisonStream, recordEvidence, recordGate, sampleSet, sideRuns, verifiedState } from './evidence.js';
import { checkAgainstLedger, rederiveEvidence, type ComparisonDivergence, type RederivedBatch } from './rederive.js';
import { multiGateEvents } from './multi-evidence.js';
import { evaluateMultiGate, type MultiGateReport } from './multi.js';
import { defaultPolicy, loadPolicy, withCandidatesSettings, type Policy } from './policy.js';
import type { Verdict } from './regression.js';
import { evaluateGate, type GateReport } from './report.js';

export interface GateRequest {
  baseline: string;
  candidate: string;
  policyFile?: string;
  strict?: boolean;
  /** Keys the runs' replays trust; every run of every side must verify. */
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

/** The runs every side names, resolved on the projection (which only names them), then replayed: the state a gate judges by. */
async function judgedState(store: EventStore, state: RunSummaries, sides: readonly { ref: string; role: 'baseline' | 'candidate' }[], trust: RunTrust): Promise<{ verified: RunSummaries; runs: string[] }> {
  const runs = [...new Set(sides.flatMap((s) => sideRuns(state, s.ref, s.role).runs))].sort();
  return { verified: await verifiedState(store, state, runs, trust), runs };
}

export async function runGate(store: EventStore, home: string, request: GateRequest): Promise<GateRun> {
  // Bad input is refused before anything is written (the policy is read first).
  const explicit = request.policyFile === undefined ? undefined : loadPolicy(request.policyFile);
  const { state } = await catchUp(store, home, runSummaryProjection);
  const sides = [{ ref: request.baseline, role: 'baseline' as const }, { ref: request.candidate, role: 'candidate' as const }];
  const { verified, runs } = await judgedState(store, state, sides, request.trust);
  const baseline = sampleSet(verified, request.baseline, 'baseline');
  const candidate = sampleSet(verified, request.candidate, 'candidate');
  const policy = explicit ?? defaultPolicy(Object.keys(baseline.metrics).filter((m) => Object.hasOwn(candidate.metrics, m)));
  const report = evaluateGate({ policy, baseline, candidate, budgets: budgetSubjects(verified, candidate.runs), strict: request.strict });
  const recorded = await recordGate(store, report, policy);
  await catchUp(store, home, runSummaryProjection);
  const graph = await catchUp(store, home, comparisonGraphProjection);
  writeArtifacts(home, graphArtifacts(graph.state));
  return { report, policy, recorded, verifiedRuns: runs };
}

export interface MultiGateRequest {
  baseline: string;
  /** Two or more run ids or campaign names, in the order the report lists them. */
  candidates: string[];
  policyFile?: string;
  strict?: boolean;
  /** Keys the runs' replays trust; every run of every side must verify. */
  trust: RunTrust;
}

export interface MultiGateRun {
  report: MultiGateReport;
  policy: Policy;
  recorded: { stream: string; duplicate: boolean };
  /** The runs replayed and verified before their metrics were used. */
  verifiedRuns: string[];
}

/** The gate for two or more candidates: the same steps as runGate, every candidate resolved alike. */
export async function runMultiGate(store: EventStore, home: string, request: MultiGateRequest): Promise<MultiGateRun> {
  checkSides(request.baseline, request.candidates);
  const explicit = request.policyFile === undefined ? undefined : loadPolicy(request.policyFile);
  const { state: projected } = await catchUp(store, home, runSummaryProjection);
  const sides = [{ ref: request.baseline, role: 'baseline' as const }, ...request.candidates.map((ref) => ({ ref, role: 'candidate' as const }))];
  const { verified: state, runs: verifiedRuns } = await judgedState(store, projected, sides, request.trust);
  // Where the multi-candidate path gathers run metrics: one sampleSet per side, as runGate does.
  const baseline = sampleSet(state, request.baseline, 'baseline');
  const candidates = request.candidates.map((ref) => sampleSet(state, ref, 'candidate'));
  const shared = Object.keys(baseline.metrics).filter((m) => candidates.every((c) => Object.hasOwn(c.metrics, m)));
  const policy = withCandidatesSettings(explicit ?? defaultPolicy(shared));
  const runs = [...new Set(candidates.flatMap((c) => c.runs))];
  const budgets = policy.budgets.enabled ? evaluateBudgets(budgetSubjects(state, runs), policy.budgets.severity) : [];
  const report = evaluateMultiGate({ policy, baseline, candidates, budgets, strict: request.strict });
  const recorded = await recordEvidence(store, report.comparisonId, multiGateEvents(report, policy));
  await catchUp(store, home, runSummaryProjection);
  const graph = await catchUp(store, home, comparisonGraphProjection);
  writeArtifacts(home, graphArtifacts(graph.state));
  return { report, policy, recorded, verifiedRuns };
}

/** Each side named once: a repeated candidate (or the baseline among them) would be compared with itself. */
function checkSides(baseline: string, candidates: readonly string[]): void {
  const seen = new Set<string>([baseline]);
  for (const ref of candidates) {
    if (ref === baseline) throw new InputError(`--candidate ${ref}: "${ref}" is the baseline; name each side once`, { field: 'candidate' });
    if (seen.has(ref)) throw new InputError(`--candidate names "${ref}" twice; name each candidate once`, { field: 'candidate' });
    seen.add(ref);
  }
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
  const { state: projected } = await catchUp(store, home, runSummaryProjection);
  const { verified: state } = await judgedState(store, projected, [{ ref: request.ref, role: 'candidate' }], request.trust);
  const side = sampleSet(state, request.ref, 'candidate');
  const budgets = evaluateBudgets(budgetSubjects(state, side.runs), severity);
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

export interface ComparisonRederivation {
  comparisonId: string;
  stream: string;
  /** Every batch re-derived identically from its own events, and its values are the runs' in the ledger. */
  ok: boolean;
  batches: RederivedBatch[];
  /** Runs whose recorded final metrics and budgets were checked against the ledger. */
  runsChecked: number;
  firstDivergence?: ComparisonDivergence;
}

/**
 * `runledger rederive`: re-derives a recorded comparison (src/gates/rederive.ts) and checks it against
 * the ledger — against the runs' verified replays, so a run forged since cannot vouch for it.
 */
export async function rederiveComparison(store: EventStore, home: string, comparisonId: string, trust: RunTrust): Promise<ComparisonRederivation> {
  if (!/^[0-9a-f]{32}$/.test(comparisonId)) {
    throw new InputError(`comparison id "${comparisonId}" must be 32 lowercase hex digits (as printed by compare and gate)`, { field: 'comparison' });
  }
  const stream = comparisonStream(comparisonId);
  const events = await store.readStream(stream);
  if (events.length === 0) throw new InputError(`no comparison ${comparisonId} in this ledger (stream "${stream}" is empty)`, { stream });
  const { batches, divergence } = rederiveEvidence(stream, events);
  const summary = batches.map(({ revision, kind, strict, verdict, events: n }) => ({ revision, kind, strict, verdict, events: n }));
  const runs = new Set(batches.flatMap((b) => b.sides.flatMap((s) => s.runs)));
  if (divergence) return { comparisonId, stream, ok: false, batches: summary, runsChecked: 0, firstDivergence: divergence };
  // An auditor's check: the run summaries rebuilt from the log, not resumed from a snapshot in the home,
  // and every run they name replayed (its metrics and telemetry are what the comparison is checked against).
  const { state: rebuilt } = await catchUp(store, home, runSummaryProjection, { rebuild: true, persist: false });
  const state = await verifiedState(store, rebuilt, [...runs].filter((r) => rebuilt.runs.has(r)), trust);
  const ledger = checkAgainstLedger(stream, batches, state);
  return { comparisonId, stream, ok: ledger === undefined, batches: summary, runsChecked: ledger ? 0 : runs.size, ...(ledger ? { firstDivergence: ledger } : {}) };
}
