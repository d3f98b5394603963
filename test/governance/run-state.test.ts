// The stage-order rules as a pure function of the run state.
import assert from 'node:assert/strict';
import { evolveRun, initialRunState, nextStartableStages, orderViolation, runSummaryDigest, type RunEvent, type RunSummary } from '../../src/governance/run-state.js';
import { parsePlan } from '../../src/governance/plan-file.js';

// a → b, a → c, {b, c} → d: b and c may run in parallel.
const plan = parsePlan(
  'governance: { name: diamond, approver: alice }\nexecution:\n  stages:\n    - id: a\n    - { id: b, dependsOn: [a] }\n    - { id: c, dependsOn: [a] }\n    - { id: d, dependsOn: [b, c] }\n',
);
const approved: RunEvent = { type: 'GovernancePlanApproved', data: { runId: 'r', plan: plan.governance, planHash: plan.governancePlanHash, approver: 'alice' } };
const recorded: RunEvent = { type: 'ExecutionPlanRecorded', data: { runId: 'r', plan: plan.execution, planHash: plan.executionPlanHash, governancePlanHash: plan.governancePlanHash } };
const start = (stageId: string, attempt = 1): RunEvent => ({ type: 'StageStarted', data: { runId: 'r', stageId, attempt, inputs: {} } });
const complete = (stageId: string, attempt = 1): RunEvent => ({
  type: 'StageCompleted',
  data: { runId: 'r', stageId, attempt, outputs: {}, wallMs: 1, memoryDeltaBytes: null, throughput: null },
});

function apply(events: RunEvent[]): RunSummary {
  let state = initialRunState('r');
  for (const e of events) {
    const v = orderViolation(state, e);
    assert.equal(v, null, v?.message);
    state = evolveRun(state, e);
  }
  return state;
}

describe('run state and stage order', () => {
  it('allows independent stages to run in parallel once their dependencies completed', () => {
    const state = apply([approved, recorded, start('a'), complete('a')]);
    assert.deepEqual(nextStartableStages(state), ['b', 'c']);
    const both = apply([approved, recorded, start('a'), complete('a'), start('c'), start('b'), complete('b'), complete('c')]);
    assert.deepEqual(nextStartableStages(both), ['d']);
  });

  it('refuses a stage until every dependency completed', () => {
    const state = apply([approved, recorded, start('a'), complete('a'), start('b'), complete('b')]);
    const v = orderViolation(state, start('d'));
    assert.match(v?.message ?? '', /stage d of run r depends on c, which has not completed/);
    assert.equal(v?.expected, 'c completed before d starts');
    assert.equal(v?.actual, 'c pending');
  });

  it('refuses an execution plan for another governance plan', () => {
    const other = { ...recorded, data: { ...recorded.data, governancePlanHash: 'f'.repeat(64) } };
    assert.match(orderViolation(apply([approved]), other)?.message ?? '', /not the approved one/);
  });

  it('refuses a second approval and stages before the execution plan', () => {
    assert.match(orderViolation(apply([approved]), approved)?.message ?? '', /already has an approved governance plan/);
    assert.match(orderViolation(apply([approved]), start('a'))?.message ?? '', /no approved execution plan/);
  });

  it('refuses a wrong attempt number', () => {
    assert.match(orderViolation(apply([approved, recorded]), start('a', 2))?.message ?? '', /attempt 2, expected 1/);
    assert.match(orderViolation(apply([approved, recorded, start('a')]), complete('a', 3))?.message ?? '', /attempt 3 is not the running attempt 1/);
  });

  it('refuses RunCompleted before every stage completed', () => {
    const state = apply([approved, recorded, start('a'), complete('a')]);
    const v = orderViolation(state, { type: 'RunCompleted', data: { runId: 'r', summaryDigest: runSummaryDigest(state) } });
    assert.match(v?.message ?? '', /cannot complete: stages b, c, d not completed/);
  });

  it('ignores events the execution plan does not order', () => {
    const state = apply([approved, recorded]);
    assert.equal(orderViolation(state, { type: 'TelemetrySample', data: {} }), null);
    assert.equal(evolveRun(state, { type: 'custom.x', data: {} }).eventCount, 3);
  });

  it('gives different summary digests for different progress', () => {
    const one = apply([approved, recorded, start('a')]);
    const two = apply([approved, recorded, start('a'), complete('a')]);
    assert.notEqual(runSummaryDigest(one), runSummaryDigest(two));
    assert.equal(runSummaryDigest(one), runSummaryDigest(apply([approved, recorded, start('a')])));
  });
});
