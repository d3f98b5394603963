import assert from 'node:assert/strict';
import { foldAll } from '../../projections/projection.js';
import { budgetSubjects, runReport, runSummaryProjection } from '../../projections/run-summary.js';
import { evaluateBudgets } from '../../src/gates/budgets.js';
import { sampleSet } from '../../src/gates/evidence.js';
import { campaignStreamEvents, interleave, metrics, runStreamEvents, sealStreams } from '../../bench/fixtures/projection-log.js';

describe('projections/run-summary', () => {
  const sealed = sealStreams({
    'run-a': runStreamEvents({ runId: 'a', seed: 5, metrics: metrics(0.93), budgets: { train: { maxWallMs: 40, minThroughput: 500 } }, trainWallMs: 55 }),
    'run-b': runStreamEvents({ runId: 'b', seed: 6, metrics: metrics(0.95) }),
    'campaign-ab': campaignStreamEvents('ab', ['b', 'a']),
  });

  it('summarises a run with provenance: status, stages vs plan, plan hashes, seeds, backend, metrics, checkpoints', async () => {
    const { state } = await foldAll(runSummaryProjection, interleave(sealed, 4));
    const report = runReport(state, 'a')!;
    assert.equal(report.status, 'completed');
    assert.deepEqual([report.stages.planned, report.stages.completed, report.stages.failed], [2, 2, 0]);
    assert.deepEqual(report.stages.list.map((s) => s.id), ['prepare', 'train']);
    assert.match(report.governancePlanHash!, /^[0-9a-f]{64}$/);
    assert.match(report.executionPlanHash!, /^[0-9a-f]{64}$/);
    assert.deepEqual(report.seeds, { init: 5 });
    assert.equal(report.trainingSeed, 5);
    assert.equal(report.backend!.name, 'cpu');
    assert.equal(report.finalMetrics!.testAccuracy, 0.93);
    assert.equal(report.checkpoints.length, 1);
    assert.deepEqual(report.campaigns, ['ab']);
  });

  it('computes the same governance summary digest the recorder wrote into RunCompleted', async () => {
    const { state } = await foldAll(runSummaryProjection, interleave(sealed, 1));
    const completed = sealed['run-a']!.find((e) => e.envelope.type === 'RunCompleted')!;
    // The digest before RunCompleted: fold the stream without its last event.
    const before = await foldAll(runSummaryProjection, interleave({ 'run-a': sealed['run-a']!.slice(0, -1) }, 0));
    assert.equal(runReport(before.state, 'a')!.summaryDigest, completed.envelope.data.summaryDigest);
    assert.notEqual(runReport(state, 'a')!.summaryDigest, completed.envelope.data.summaryDigest);
  });

  it('finds budget breaches from the plan against recorded stage wall time and telemetry throughput', async () => {
    const { state } = await foldAll(runSummaryProjection, interleave(sealed, 2));
    const subjects = budgetSubjects(state, ['a', 'b']);
    assert.deepEqual(subjects.map((s) => `${s.run}/${s.stage}`), ['a/train']);
    assert.deepEqual(subjects[0]!.observed, { wallMs: 55, memoryDeltaBytes: 300, throughputPerSec: 1100 });
    const outcomes = evaluateBudgets(subjects, 'hard');
    assert.deepEqual(outcomes.map((o) => `${o.budget}:${o.verdict}`), ['maxWallMs:fail', 'minThroughput:pass']);
  });

  it('resolves a campaign to its runs sorted by id and a run to itself', async () => {
    const { state } = await foldAll(runSummaryProjection, interleave(sealed, 0));
    const campaign = sampleSet(state, 'ab', 'baseline');
    assert.equal(campaign.kind, 'campaign');
    assert.deepEqual(campaign.runs, ['a', 'b']);
    assert.deepEqual(campaign.metrics.testAccuracy, [0.93, 0.95]);
    assert.equal(sampleSet(state, 'b', 'candidate').kind, 'run');
    assert.throws(() => sampleSet(state, 'zzz', 'candidate'), /--candidate zzz: no run or campaign named "zzz"/);
  });
});
