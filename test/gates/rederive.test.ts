// Re-deriving recorded gate evidence, as an attacker with write access to the store would test it:
// forged verdicts, doctored numbers, a policy that does not hash to its recorded hash, extra events,
// and internally consistent evidence computed over values that are not the runs'.
import assert from 'node:assert/strict';
import type { ProposedEvent } from '../../events/envelope.js';
import { budgetSubjects, runSummaryProjection, type RunSummaries } from '../../projections/run-summary.js';
import { evaluateBudgets } from '../../src/gates/budgets.js';
import { gateEvents, sampleSet } from '../../src/gates/evidence.js';
import { multiGateEvents } from '../../src/gates/multi-evidence.js';
import { evaluateMultiGate } from '../../src/gates/multi.js';
import { parsePolicy, Policy, policyHash } from '../../src/gates/policy.js';
import { checkAgainstLedger, firstDifference, rederiveEvidence } from '../../src/gates/rederive.js';
import type { SampleSet } from '../../src/gates/regression.js';
import { evaluateGate } from '../../src/gates/report.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { campaignStreamEvents, interleave, metrics, runStreamEvents, sealStreams, type Streams } from '../../bench/fixtures/projection-log.js';
import * as ref from './multi-reference.js';

type Group = keyof typeof ref.ACC;
const GROUPS = Object.keys(ref.ACC) as Group[];

// A ledger of four 5-run campaigns whose final metrics are the reference values.
function ledger(): RunSummaries {
  const streams: Streams = {};
  for (const name of GROUPS) {
    const ids = ref.ACC[name].map((_, i) => `${name}-${i + 1}`);
    ids.forEach((runId, i) => (streams[`run-${runId}`] = runStreamEvents({ runId, seed: i + 1, metrics: metrics(ref.ACC[name][i]!, ref.LOSS[name][i]!), budgets: { train: { maxWallMs: 100 } } })));
    streams[`campaign-${name}`] = campaignStreamEvents(name, ids);
  }
  return interleave(sealStreams(streams), 0).reduce((state, e) => runSummaryProjection.evolve(state, e), runSummaryProjection.initial);
}

const state = ledger();
const policy = parsePolicy(
  'version: 1\nseed: 4\ncandidates: {omnibus: kruskal-wallis}\nrules:\n  - {metric: testAccuracy, direction: higher-is-better, absolute: 0.005}\n  - {metric: testLoss, direction: lower-is-better, relative: 5%, severity: soft}\n',
);

function multiEvidence(p: Policy = policy, strict = false, sides: SampleSet[] = ['baseline', 'candidate', 'candidate-3'].map((r) => sampleSet(state, r, 'candidate'))) {
  // As runMultiGate gathers them: the candidates' runs' budgets, evaluated from the run summaries.
  const budgets = evaluateBudgets(budgetSubjects(state, sides.slice(1).flatMap((s) => s.runs)), p.budgets.severity);
  const report = evaluateMultiGate({ policy: p, baseline: sides[0]!, candidates: sides.slice(1), budgets, strict });
  return { report, events: multiGateEvents(report, p), stream: `comparison-${report.comparisonId}` };
}

/** Events as a store hands them back (validated against the catalog, sealed with revisions). */
function recorded(stream: string, events: ProposedEvent[]): RecordedEvent[] {
  return sealStreams({ [stream]: events })[stream]!.map((e, i) => ({ ...e, position: i, index: i }));
}

function edit(events: ProposedEvent[], index: number, change: (data: Record<string, unknown>) => void): ProposedEvent[] {
  return events.map((e, i) => {
    if (i !== index) return e;
    const data = structuredClone(e.data);
    change(data);
    return { ...e, data };
  });
}

describe('gates/rederive', () => {
  it('re-derives a multi-candidate batch from its own events, and its values are the runs\' in the ledger', () => {
    const { events, stream } = multiEvidence();
    const { batches, divergence } = rederiveEvidence(stream, recorded(stream, events));
    assert.equal(divergence, undefined);
    assert.deepEqual(batches.map((b) => [b.kind, b.revision, b.verdict, b.events]), [['multi', 0, 'fail', events.length]]);
    assert.equal(checkAgainstLedger(stream, batches, state), undefined);
  });

  it('re-derives every batch of a stream (the same comparison gated leniently, then strictly) and two-sample evidence too', () => {
    const lenient = multiEvidence();
    const strict = multiEvidence(policy, true);
    assert.equal(lenient.stream, strict.stream);
    const both = rederiveEvidence(lenient.stream, recorded(lenient.stream, [...lenient.events, ...strict.events]));
    assert.equal(both.divergence, undefined);
    assert.deepEqual(both.batches.map((b) => [b.revision, b.strict]), [[0, false], [lenient.events.length, true]]);

    const p = parsePolicy('version: 1\nrules:\n  - {metric: testAccuracy, direction: higher-is-better, absolute: 0.005}\n');
    const candidate = sampleSet(state, 'candidate', 'candidate');
    const two = evaluateGate({ policy: p, baseline: sampleSet(state, 'baseline', 'baseline'), candidate, budgets: budgetSubjects(state, candidate.runs) });
    const stream = `comparison-${two.comparisonId}`;
    const result = rederiveEvidence(stream, recorded(stream, gateEvents(two, p)));
    assert.equal(result.divergence, undefined);
    assert.equal(result.batches[0]!.kind, 'two-sample');
    assert.equal(checkAgainstLedger(stream, result.batches, state), undefined);
  });

  it('catches a forged verdict: "pass" written over a failing gate, findings dropped', () => {
    const { events, stream } = multiEvidence();
    const forged = edit(events, 1, (d) => {
      d.verdict = 'pass';
      d.hardBreaches = 0;
      d.softBreaches = 0;
      for (const c of d.candidates as { verdict: string; hardBreaches: number; softBreaches: number; rules: { breached: boolean; verdict: string }[] }[]) {
        c.verdict = 'pass';
        c.hardBreaches = c.softBreaches = 0;
        for (const r of c.rules) [r.breached, r.verdict] = [false, 'pass'];
      }
    }).slice(0, 2);
    const { divergence } = rederiveEvidence(stream, recorded(stream, forged));
    assert.equal(divergence?.check, 'evidence');
    assert.equal(divergence?.revision, 1);
    assert.equal(divergence?.type, 'MultiGateEvaluated');
    assert.equal(divergence?.path, 'candidates[0].hardBreaches');
    assert.match(divergence!.message, new RegExp(`^${stream}@1 \\(MultiGateEvaluated\\): field data\\.candidates\\[0\\]\\.hardBreaches is 0, re-derived 1`));
  });

  it('catches a doctored p-value and names the field', () => {
    const { events, stream } = multiEvidence();
    const forged = edit(events, 0, (d) => ((d.hypotheses as { pValue: number }[])[0]!.pValue = 0.5));
    const { divergence } = rederiveEvidence(stream, recorded(stream, forged));
    assert.equal(divergence?.path, 'hypotheses[0].pValue');
    assert.equal(divergence?.recorded, 0.5);
    assert.equal(divergence?.revision, 0);
  });

  it('catches a recorded policy that does not hash to its policyHash, and a rehashed one that no longer gives the recorded reasons', () => {
    const { events, stream } = multiEvidence();
    const loosened = edit(events, 0, (d) => ((d.policy as { rules: { absolute?: number }[] }).rules[0]!.absolute = 0.5));
    assert.equal(rederiveEvidence(stream, recorded(stream, loosened)).divergence?.check, 'policy');
    const rehashed = edit(loosened, 0, (d) => (d.policyHash = policyHash(Policy.parse(d.policy))));
    const divergence = rederiveEvidence(stream, recorded(stream, rehashed)).divergence;
    assert.equal(divergence?.check, 'evidence', 'the loosened policy makes another comparison id and other verdicts');
    const garbage = edit(events, 0, (d) => (d.policy = { version: 1 }));
    assert.match(rederiveEvidence(stream, recorded(stream, garbage)).divergence!.message, /field data\.policy is not a valid policy/);
  });

  it('catches an extra event appended after the evidence, a batch cut short, and evidence copied onto another comparison\'s stream', () => {
    const { events, stream } = multiEvidence();
    const extra = [...events, { type: 'AuditFinding', data: { runId: 'candidate', severity: 'info', check: 'note', message: 'x', subject: null } }];
    assert.match(rederiveEvidence(stream, recorded(stream, extra)).divergence!.message, /is not part of the re-derived batch/);
    assert.match(rederiveEvidence(stream, recorded(stream, events.slice(0, 3))).divergence!.message, /the batch ends early: AuditFinding is missing/);
    const elsewhere = `comparison-${'0'.repeat(32)}`;
    assert.equal(rederiveEvidence(elsewhere, recorded(elsewhere, events)).divergence?.path, 'comparisonId');
    assert.match(rederiveEvidence(stream, recorded(stream, events.slice(1))).divergence!.message, /expected ComparisonRecorded or MultiComparisonRecorded/);
  });

  it('catches consistent evidence computed over values that are not the runs\' final metrics', () => {
    // The attacker recomputes everything honestly, but over a candidate whose accuracy is 0.09 better than its runs'.
    const sides = ['baseline', 'candidate', 'candidate-3'].map((r) => sampleSet(state, r, 'candidate'));
    const flattered = { ...sides[1]!, metrics: { ...sides[1]!.metrics, testAccuracy: sides[1]!.metrics.testAccuracy!.map((v) => v + 0.09) } };
    const { events, stream, report } = multiEvidence(policy, false, [sides[0]!, flattered, sides[2]!]);
    assert.equal(report.results[0]!.verdict, 'warn', 'the forged evidence would let the regressed candidate through');
    const { batches, divergence } = rederiveEvidence(stream, recorded(stream, events));
    assert.equal(divergence, undefined, 'internally consistent');
    const ledgerDivergence = checkAgainstLedger(stream, batches, state);
    assert.equal(ledgerDivergence?.check, 'ledger');
    assert.match(ledgerDivergence!.message, /the recorded testAccuracy values of candidate \(0\.9, 0\.92, 0\.89, 0\.915, 0\.905\) are not the final metrics of its runs in the ledger \(0\.81, 0\.83, 0\.8, 0\.825, 0\.815\)/);
  });

  it('catches recorded budget observations that are not the runs\' own', () => {
    const { events, stream } = multiEvidence();
    const { batches } = rederiveEvidence(stream, recorded(stream, events));
    // The fixture runs recorded train wall time 50 ms under a 100 ms budget; the recorded outcomes say so too.
    assert.equal(checkAgainstLedger(stream, batches, state), undefined);
    const lying = batches.map((b) => ({ ...b, budgets: b.budgets.map((o, i) => (i === 0 ? { ...o, actual: 40 } : o)) }));
    assert.match(checkAgainstLedger(stream, lying, state)!.message, /recorded budget outcome budgets\[0\]\.actual is 40, the runs in the ledger give 50/);
  });

  it('compares numbers to 12 significant digits and everything else exactly', () => {
    assert.equal(firstDifference({ a: [1, 0.1 + 0.2] }, { a: [1, 0.3] }, ''), undefined);
    assert.deepEqual(firstDifference({ a: [1, 0.30001] }, { a: [1, 0.3] }, ''), { path: '.a[1]', recorded: 0.30001, derived: 0.3 });
    assert.deepEqual(firstDifference({ a: 'x' }, { a: 'x', b: null }, ''), { path: '.b', recorded: undefined, derived: null });
  });
});
