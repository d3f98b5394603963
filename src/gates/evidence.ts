// Gates meet the ledger: resolving RUN|CAMPAIGN names to runs, taking each run's final metrics from
// its full replay (every write rule re-checked, against a signed checkpoint) — never from a stored
// projection — and turning a gate report into the events that make it replayable evidence
// (ComparisonRecorded, RegressionGateEvaluated, one AuditFinding per breach).
import type { ProposedEvent } from '../../events/envelope.js';
import type { ComparisonRecordedData, RegressionGateEvaluatedData } from '../../events/comparison.js';
import type { AuditFindingData } from '../../events/governance.js';
import { PersistentMap } from '../../projections/persistent-map.js';
import type { RunProvenance, RunSummaries } from '../../projections/run-summary.js';
import { InputError, IntegrityError } from '../errors.js';
import { canonicalize } from '../integrity/canonical.js';
import { sha256Hex } from '../integrity/hasher.js';
import { runStream } from '../governance/run-stream.js';
import { checkLoggedEvents, coverRuns, replayRun, type RunTrust } from '../replay/replay.js';
import { ANY, type AppendRequest, type EventStore } from '../store/port.js';
import type { BudgetOutcome } from './budgets.js';
import type { Policy } from './policy.js';
import type { RuleOutcome, SampleSet } from './regression.js';
import type { GateReport } from './report.js';

/** The runs a RUN|CAMPAIGN name stands for. A campaign name wins over a run id of the same name: campaigns are what repeats are compared by. */
export function sideRuns(state: RunSummaries, ref: string, role: 'baseline' | 'candidate'): { kind: 'run' | 'campaign'; runs: string[] } {
  const campaign = state.campaigns.get(ref);
  const runs = campaign ? campaign.runs.map((r) => r.runId).sort() : state.runs.has(ref) ? [ref] : undefined;
  if (!runs) {
    throw new InputError(`--${role} ${ref}: no run or campaign named "${ref}" in the ledger`, { field: role });
  }
  return { kind: campaign ? 'campaign' : 'run', runs };
}

/** A side's runs and the final metrics `state` holds for them (the gates pass a state of verified runs). */
export function sampleSet(state: RunSummaries, ref: string, role: 'baseline' | 'candidate'): SampleSet {
  const { kind, runs } = sideRuns(state, ref, role);
  return { ref, kind, runs, metrics: finalMetricsOf(state, runs) };
}

/** Final metric values per metric, one per run that recorded it, in `runs` order. */
export function finalMetricsOf(state: RunSummaries, runs: readonly string[]): Record<string, number[]> {
  const metrics: Record<string, number[]> = {};
  for (const runId of runs) {
    const final = state.runs.get(runId)?.finalMetrics;
    if (!final) continue;
    for (const [metric, value] of Object.entries(final).sort(([a], [b]) => (a < b ? -1 : 1))) {
      // Own properties only: a metric named "__proto__" or "constructor" is a metric like any other.
      if (!Object.hasOwn(metrics, metric)) Object.defineProperty(metrics, metric, { value: [], enumerable: true, writable: true, configurable: true });
      metrics[metric]!.push(value);
    }
  }
  return metrics;
}

/**
 * Replays every run (runledger replay's checks, against the latest signed checkpoint) and returns
 * their re-projected provenance: the only source a gate takes metrics and budgets from. A run that
 * does not verify is an IntegrityError (exit 1) naming it and its first divergence.
 */
export async function verifiedRuns(store: EventStore, runIds: readonly string[], trust: RunTrust, logged?: (runId: string) => number): Promise<PersistentMap<RunProvenance>> {
  if (trust.signCheckpoint) await coverRuns(store, runIds, trust.signCheckpoint);
  let verified = PersistentMap.empty<RunProvenance>();
  for (const runId of [...new Set(runIds)]) {
    const replayed = await replayRun(store, runId, { verifierKeys: trust.verifierKeys, checkTail: logged === undefined });
    // A projection of the log's bytes that holds more of the run than the store's stream read gave fails it.
    const replay = logged === undefined ? replayed : checkLoggedEvents(replayed, logged(runId));
    const provenance = replay.verification?.provenance;
    if (!replay.ok || !provenance) {
      const d = replay.firstDivergence;
      throw new IntegrityError(`run ${runId} does not verify (check ${d?.check ?? 'unknown'}), so the gate uses none of its metrics: ${d?.message ?? 'unknown divergence'}`, {
        stream: runStream(runId),
        ...(d?.revision !== undefined ? { revision: d.revision } : {}),
        ...(d?.eventId !== undefined ? { eventId: d.eventId } : {}),
      });
    }
    verified = verified.set(runId, provenance);
  }
  return verified;
}

/** `state` with its runs replaced by the verified replays of `runIds`: what every gate judges by. */
export async function verifiedState(store: EventStore, state: RunSummaries, runIds: readonly string[], trust: RunTrust): Promise<RunSummaries> {
  return { ...state, runs: await verifiedRuns(store, runIds, trust, (runId) => (state.runs.get(runId)?.governance.lastRevision ?? -1) + 1) };
}

export function comparisonStream(comparisonId: string): string {
  return `comparison-${comparisonId}`;
}

/** RFC 9562 §5.8 UUIDv8 from a content hash: an identical re-evaluation is an idempotent retry. */
export function contentUuid(type: string, data: unknown): string {
  const h = sha256Hex(canonicalize({ type, data }));
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function gateEvents(report: GateReport, policy: Policy): ProposedEvent[] {
  const comparison: ComparisonRecordedData = {
    comparisonId: report.comparisonId,
    baseline: report.baseline,
    candidate: report.candidate,
    policyHash: report.policyHash,
    policy: JSON.parse(canonicalize(policy)) as Record<string, unknown>,
    aggregation: report.aggregation,
    metrics: report.rules.map((r) => ({
      metric: r.metric,
      direction: r.direction,
      baseline: r.baseline,
      candidate: r.candidate,
      delta: r.delta,
      relativeDelta: r.relativeDelta,
      test: r.test,
    })),
  };
  const evaluated: RegressionGateEvaluatedData = {
    ...verdictHeader(report),
    rules: report.rules.map(ruleVerdict),
    budgets: report.budgets.map((b) => ({ ...b })),
  };
  const findings: AuditFindingData[] = [
    ...report.rules
      .filter((r) => r.breached)
      .map((r) => ({
        runId: report.candidate.ref,
        severity: r.severity,
        check: `gate.regression`,
        message: `${r.metric}: ${r.reason}`,
        subject: `metric:${r.metric}`,
        details: { comparisonId: report.comparisonId, baseline: report.baseline.ref, delta: r.delta, relativeDelta: r.relativeDelta, test: r.test },
      })),
    ...report.budgets.filter((b) => b.breached).map((b) => budgetFinding(b, report.comparisonId)),
  ];
  return evidenceBatch(sha256Hex(canonicalize({ comparison, evaluated, findings })), report.comparisonId, [
    ['ComparisonRecorded', comparison],
    ['RegressionGateEvaluated', evaluated],
    ...findings.map((f): [string, object] => ['AuditFinding', f]),
  ]);
}

/** The fields every gate verdict event starts with. */
export function verdictHeader(report: Pick<GateReport, 'comparisonId' | 'policyHash' | 'strict' | 'verdict' | 'hardBreaches' | 'softBreaches'>) {
  const { comparisonId, policyHash, strict, verdict, hardBreaches, softBreaches } = report;
  return { comparisonId, policyHash, strict, verdict, hardBreaches, softBreaches };
}

export function ruleVerdict(r: Pick<RuleOutcome, 'metric' | 'severity' | 'breached' | 'verdict' | 'reason'>): RegressionGateEvaluatedData['rules'][number] {
  return { metric: r.metric, severity: r.severity, breached: r.breached, verdict: r.verdict, reason: r.reason };
}

/**
 * A gate's evidence as events whose ids derive from one key for the whole batch: re-running an
 * identical gate is an idempotent retry of the same events; any difference (strictness, a new
 * budget observation) makes every id new.
 */
export function evidenceBatch(batchKey: string, comparisonId: string, entries: readonly [type: string, data: object][]): ProposedEvent[] {
  return entries.map(([type, data], index) => ({
    id: contentUuid(type, { batchKey, index }),
    type,
    data: data as Record<string, unknown>,
    metadata: { correlationId: comparisonId },
  }));
}

export function budgetFinding(b: BudgetOutcome, comparisonId: string | null): AuditFindingData {
  return {
    runId: b.run,
    severity: b.severity,
    check: `budget.${b.budget}`,
    message: `stage ${b.stage}: ${b.reason}`,
    subject: `stage:${b.stage}`,
    details: { ...(comparisonId ? { comparisonId } : {}), limit: b.limit, actual: b.actual },
  };
}

/**
 * Run validation's evidence: one AuditFinding per breached budget on the run's own stream
 * (`run-<id>`), with ids derived from each run's findings, so validating again appends nothing.
 */
export function budgetFindingRequests(outcomes: readonly BudgetOutcome[]): AppendRequest[] {
  const byRun = new Map<string, AuditFindingData[]>();
  for (const b of outcomes.filter((o) => o.breached)) byRun.set(b.run, [...(byRun.get(b.run) ?? []), budgetFinding(b, null)]);
  return [...byRun.entries()].map(([runId, findings]) => {
    const batchKey = sha256Hex(canonicalize(findings));
    return {
      stream: runStream(runId),
      expectedRevision: ANY,
      events: findings.map((data, i) => ({ id: contentUuid('AuditFinding', { batchKey, index: i }), type: 'AuditFinding', data: data as unknown as Record<string, unknown> })),
    };
  });
}

/** Appends the gate's evidence on its comparison stream; re-running the same gate appends nothing. */
export async function recordGate(store: Pick<EventStore, 'append'>, report: GateReport, policy: Policy): Promise<{ stream: string; duplicate: boolean }> {
  return recordEvidence(store, report.comparisonId, gateEvents(report, policy));
}

export async function recordEvidence(store: Pick<EventStore, 'append'>, comparisonId: string, events: ProposedEvent[]): Promise<{ stream: string; duplicate: boolean }> {
  const stream = comparisonStream(comparisonId);
  const result = await store.append(stream, events, { expectedRevision: ANY });
  return { stream, duplicate: result.duplicate };
}
