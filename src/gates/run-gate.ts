// The whole gate as the CLI runs it: bring the run summaries up to date, resolve both sides,
// evaluate the policy and the candidate's budgets, record the evidence, refresh the projections
// and the graph artifacts so they include the decision just recorded.
import { catchUp } from '../../projections/catch-up.js';
import { comparisonGraphProjection, graphArtifacts } from '../../projections/comparison-graph.js';
import { budgetSubjects, runSummaryProjection } from '../../projections/run-summary.js';
import { writeArtifacts } from '../../projections/snapshots.js';
import type { EventStore } from '../store/port.js';
import { recordGate, sampleSet } from './evidence.js';
import { defaultPolicy, loadPolicy, type Policy } from './policy.js';
import { evaluateGate, type GateReport } from './report.js';

export interface GateRequest {
  baseline: string;
  candidate: string;
  policyFile?: string;
  strict?: boolean;
}

export interface GateRun {
  report: GateReport;
  policy: Policy;
  /** Where the evidence was recorded, and whether it was already there (an identical earlier gate). */
  recorded: { stream: string; duplicate: boolean };
}

export async function runGate(store: EventStore, home: string, request: GateRequest): Promise<GateRun> {
  // Bad input is refused before anything is written (the policy is read first).
  const explicit = request.policyFile === undefined ? undefined : loadPolicy(request.policyFile);
  const { state } = await catchUp(store, home, runSummaryProjection);
  const baseline = sampleSet(state, request.baseline, 'baseline');
  const candidate = sampleSet(state, request.candidate, 'candidate');
  const policy = explicit ?? defaultPolicy(Object.keys(baseline.metrics).filter((m) => m in candidate.metrics));
  const report = evaluateGate({ policy, baseline, candidate, budgets: budgetSubjects(state, candidate.runs), strict: request.strict });
  const recorded = await recordGate(store, report, policy);
  await catchUp(store, home, runSummaryProjection);
  const graph = await catchUp(store, home, comparisonGraphProjection);
  writeArtifacts(home, graphArtifacts(graph.state));
  return { report, policy, recorded };
}
