// Re-deriving a recorded gate decision. A comparison stream holds one or more batches, each
// [ComparisonRecorded | MultiComparisonRecorded, RegressionGateEvaluated | MultiGateEvaluated,
// AuditFinding…]. Every batch is recomputed from its own recorded values, normalised policy and
// budget observations with the same code that made it — numbers, verdicts, reasons, findings — and
// then the recorded values are checked against the final metrics and budgets of the same runs in
// the ledger. A store written by other means (a forged "pass", a doctored p-value, values that are
// not the runs') is caught here. It does not verify the runs themselves: that is `runledger replay`.
import type { ComparisonRecordedData, MultiComparisonRecordedData, MultiGateEvaluatedData, RegressionGateEvaluatedData } from '../../events/comparison.js';
import type { ProposedEvent } from '../../events/envelope.js';
import { budgetSubjects, eventData, type RunSummaries } from '../../projections/run-summary.js';
import { BUDGET_CHECKS, evaluateBudgets, type BudgetOutcome, type BudgetSubject } from './budgets.js';
import { comparisonStream, finalMetricsOf, gateEvents } from './evidence.js';
import { multiGateEvents } from './multi-evidence.js';
import { evaluateMultiGate } from './multi.js';
import { Policy, policyHash, withCandidatesSettings } from './policy.js';
import { fmt, type SampleSet, type Verdict } from './regression.js';
import { evaluateGate } from './report.js';
import type { RecordedEvent } from '../store/port.js';

export interface ComparisonDivergence {
  check: 'stream' | 'policy' | 'evidence' | 'ledger';
  /** One sentence naming the event (stream, revision, type) and the field that differs. */
  message: string;
  stream: string;
  revision?: number;
  type?: string;
  /** JSON path of the first differing field inside the event's data. */
  path?: string;
  recorded?: unknown;
  derived?: unknown;
}

export interface RederivedBatch {
  /** Revision of the batch's first event. */
  revision: number;
  kind: 'two-sample' | 'multi';
  strict: boolean;
  verdict: Verdict;
  events: number;
}

export interface ParsedBatch extends RederivedBatch {
  policy: Policy;
  sides: SampleSet[];
  candidateRuns: string[];
  budgets: BudgetOutcome[];
}

/** Numbers agree to 12 significant digits: a platform's last-bit math differences are not tampering. */
const RELATIVE = 1e-12;

/**
 * Pure: re-derives every batch of a comparison stream from its own events. The first divergence,
 * if any, names the event and the field; otherwise the batches are returned for the ledger check.
 */
export function rederiveEvidence(stream: string, events: readonly RecordedEvent[]): { batches: ParsedBatch[]; divergence?: ComparisonDivergence } {
  const batches: ParsedBatch[] = [];
  let i = 0;
  while (i < events.length) {
    const first = events[i]!.envelope;
    const at = (e: RecordedEvent['envelope']): string => `${stream}@${e.revision} (${e.type})`;
    const diverge = (check: ComparisonDivergence['check'], e: RecordedEvent['envelope'], message: string, extra: Partial<ComparisonDivergence> = {}) => ({
      batches,
      divergence: { check, stream, revision: e.revision, type: e.type, message: `${at(e)}: ${message}`, ...extra },
    });
    if (first.type !== 'ComparisonRecorded' && first.type !== 'MultiComparisonRecorded') {
      return diverge('stream', first, 'expected ComparisonRecorded or MultiComparisonRecorded to start a batch of gate evidence');
    }
    const second = events[i + 1]?.envelope;
    const expected = first.type === 'ComparisonRecorded' ? 'RegressionGateEvaluated' : 'MultiGateEvaluated';
    if (second?.type !== expected) return diverge('stream', first, `the batch has no ${expected} after it`);
    const multi = first.type === 'MultiComparisonRecorded';
    const recordedData = eventData(events[i]!);
    const evaluatedData = eventData(events[i + 1]!);

    const parsed = Policy.safeParse(recordedData.policy);
    if (!parsed.success) return diverge('policy', first, `field data.policy is not a valid policy (${parsed.error.issues[0]!.message})`, { path: 'policy' });
    const policy = multi ? withCandidatesSettings(parsed.data) : parsed.data;
    if (policyHash(policy) !== recordedData.policyHash) {
      return diverge('policy', first, 'field data.policyHash is not the SHA-256 of the recorded policy', { path: 'policyHash', recorded: recordedData.policyHash, derived: policyHash(policy) });
    }

    const recordedBudgets = (evaluatedData as RegressionGateEvaluatedData).budgets as BudgetOutcome[];
    const strict = (evaluatedData as RegressionGateEvaluatedData).strict;
    let sides: SampleSet[];
    let derived: ProposedEvent[];
    let candidateRuns: string[];
    if (multi) {
      const d = recordedData as MultiComparisonRecordedData;
      sides = [d.baseline, ...d.candidates].map((side, g) => ({
        ...side,
        metrics: Object.fromEntries(d.metrics.map((m) => [m.metric, m.groups[g]?.values ?? []]).filter(([, v]) => (v as number[]).length > 0)),
      }));
      candidateRuns = [...new Set(d.candidates.flatMap((c) => c.runs))];
      const budgets = policy.budgets.enabled ? evaluateBudgets(subjectsOf(recordedBudgets), policy.budgets.severity) : [];
      const report = evaluateMultiGate({ policy, baseline: sides[0]!, candidates: sides.slice(1), budgets, strict });
      derived = multiGateEvents(report, policy);
    } else {
      const d = recordedData as ComparisonRecordedData;
      const valuesOf = (which: 'baseline' | 'candidate') => Object.fromEntries(d.metrics.map((m) => [m.metric, m[which].values]).filter(([, v]) => (v as number[]).length > 0));
      sides = [
        { ...d.baseline, metrics: valuesOf('baseline') },
        { ...d.candidate, metrics: valuesOf('candidate') },
      ];
      candidateRuns = d.candidate.runs;
      const report = evaluateGate({ policy, baseline: sides[0]!, candidate: sides[1]!, budgets: subjectsOf(recordedBudgets), strict });
      derived = gateEvents(report, policy);
    }

    const derivedId = (derived[0]!.data as { comparisonId: string }).comparisonId;
    if (comparisonStream(derivedId) !== stream) {
      return diverge('evidence', first, `the recorded sides and policy make comparison ${derivedId}, not this stream's`, { path: 'comparisonId', recorded: recordedData.comparisonId, derived: derivedId });
    }
    // The recorded batch must be exactly the derived one: same types, same data, no more, no fewer.
    for (let k = 0; k < derived.length; k++) {
      const recorded = events[i + k];
      const want = derived[k]!;
      if (!recorded || recorded.envelope.type !== want.type) {
        const e = recorded?.envelope ?? events[i + k - 1]!.envelope;
        return diverge('evidence', e, recorded ? `expected ${want.type} here, the re-derived batch has it at this place` : `the batch ends early: ${want.type} is missing`);
      }
      const difference = firstDifference(eventData(recorded), want.data, '');
      if (difference) {
        return diverge('evidence', recorded.envelope, `field data${difference.path} is ${show(difference.recorded)}, re-derived ${show(difference.derived)}`, {
          path: difference.path.replace(/^\./, ''),
          recorded: difference.recorded,
          derived: difference.derived,
        });
      }
    }
    const next = events[i + derived.length]?.envelope;
    if (next && next.type !== 'ComparisonRecorded' && next.type !== 'MultiComparisonRecorded') {
      return diverge('evidence', next, 'is not part of the re-derived batch (an extra event after the evidence)');
    }
    const verdict = (evaluatedData as MultiGateEvaluatedData).verdict;
    batches.push({ revision: first.revision, kind: multi ? 'multi' : 'two-sample', strict, verdict, events: derived.length, policy, sides, candidateRuns, budgets: recordedBudgets });
    i += derived.length;
  }
  return { batches };
}

/**
 * The recorded values must be the final metrics of the recorded runs as the ledger holds them now,
 * and the recorded budget observations the runs' own.
 */
export function checkAgainstLedger(stream: string, batches: readonly ParsedBatch[], state: RunSummaries): ComparisonDivergence | undefined {
  for (const batch of batches) {
    const where = `${stream}@${batch.revision}`;
    for (const side of batch.sides) {
      const missing = side.runs.find((r) => !state.runs.has(r));
      if (missing !== undefined) return { check: 'ledger', stream, revision: batch.revision, message: `${where}: run ${missing} of ${side.ref} is not in the ledger` };
      const actual = finalMetricsOf(state, side.runs);
      for (const [metric, values] of Object.entries(side.metrics)) {
        const difference = firstDifference(actual[metric] ?? [], values, '');
        if (difference) {
          return {
            check: 'ledger',
            stream,
            revision: batch.revision,
            path: `${side.ref}.${metric}`,
            recorded: values,
            derived: actual[metric] ?? [],
            message: `${where}: the recorded ${metric} values of ${side.ref} (${values.map(fmt).join(', ')}) are not the final metrics of its runs in the ledger (${(actual[metric] ?? []).map(fmt).join(', ') || 'none'})`,
          };
        }
      }
    }
    if (batch.policy.budgets.enabled) {
      const now = evaluateBudgets(budgetSubjects(state, batch.candidateRuns), batch.policy.budgets.severity);
      const difference = firstDifference(now, batch.budgets, '');
      if (difference) {
        return {
          check: 'ledger',
          stream,
          revision: batch.revision,
          path: `budgets${difference.path}`,
          recorded: difference.derived,
          derived: difference.recorded,
          message: `${where}: recorded budget outcome budgets${difference.path} is ${show(difference.derived)}, the runs in the ledger give ${show(difference.recorded)}`,
        };
      }
    }
  }
  return undefined;
}

/** The budget subjects a list of outcomes was evaluated from (limit and observation per budget). */
function subjectsOf(outcomes: readonly BudgetOutcome[]): BudgetSubject[] {
  const byStage = new Map<string, BudgetSubject>();
  for (const o of outcomes) {
    const key = `${o.run}\u0000${o.stage}`;
    const subject = byStage.get(key) ?? { run: o.run, stage: o.stage, budget: {}, observed: { wallMs: null, memoryDeltaBytes: null, throughputPerSec: null } };
    const check = BUDGET_CHECKS.find((c) => c.budget === o.budget);
    if (check) {
      subject.budget = { ...subject.budget, [o.budget]: o.limit };
      subject.observed = { ...subject.observed, [check.observed]: o.actual };
    }
    byStage.set(key, subject);
  }
  return [...byStage.values()];
}

/** The first leaf where two JSON values differ (numbers compared to 12 significant digits). */
export function firstDifference(recorded: unknown, derived: unknown, path: string): { path: string; recorded: unknown; derived: unknown } | undefined {
  if (typeof recorded === 'number' && typeof derived === 'number') {
    return recorded === derived || Math.abs(recorded - derived) <= RELATIVE * Math.max(Math.abs(recorded), Math.abs(derived)) ? undefined : { path, recorded, derived };
  }
  if (Array.isArray(recorded) && Array.isArray(derived)) {
    for (let i = 0; i < Math.max(recorded.length, derived.length); i++) {
      if (i >= recorded.length || i >= derived.length) return { path: `${path}[${i}]`, recorded: recorded[i], derived: derived[i] };
      const d = firstDifference(recorded[i], derived[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (isObject(recorded) && isObject(derived)) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(derived)])].sort();
    for (const key of keys) {
      // A key whose value is undefined is absent from the recorded JSON: the same thing.
      if (recorded[key] === undefined && derived[key] === undefined) continue;
      const d = firstDifference(recorded[key], derived[key], `${path}.${key}`);
      if (d) return d;
    }
    return undefined;
  }
  return recorded === derived ? undefined : { path, recorded, derived };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(value: unknown): string {
  if (value === undefined) return 'absent';
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
