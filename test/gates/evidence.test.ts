import assert from 'node:assert/strict';
import { budgetFindingRequests, contentUuid, gateEvents } from '../../src/gates/evidence.js';
import { parsePolicy } from '../../src/gates/policy.js';
import { evaluateGate } from '../../src/gates/report.js';
import { prepareBatch } from '../../src/store/seal.js';

const policy = parsePolicy(
  'version: 1\nrules:\n  - {metric: testAccuracy, direction: higher-is-better, absolute: 0.01}\n  - {metric: testLoss, direction: lower-is-better, relative: 1%, severity: soft}\n',
);

function report(strict = false, wallMs = 20) {
  return evaluateGate({
    policy,
    strict,
    baseline: { ref: 'base', kind: 'campaign', runs: ['b1', 'b2'], metrics: { testAccuracy: [0.9, 0.91], testLoss: [0.3, 0.31] } },
    candidate: { ref: 'cand', kind: 'campaign', runs: ['c1', 'c2'], metrics: { testAccuracy: [0.8, 0.81], testLoss: [0.4, 0.41] } },
    budgets: [{ run: 'c1', stage: 'train', budget: { maxWallMs: 10 }, observed: { wallMs, memoryDeltaBytes: null, throughputPerSec: null } }],
  });
}

describe('gates/evidence', () => {
  it('turns a report into ComparisonRecorded, RegressionGateEvaluated and one AuditFinding per breach, all valid catalog events', () => {
    const events = gateEvents(report(), policy);
    assert.deepEqual(events.map((e) => e.type), ['ComparisonRecorded', 'RegressionGateEvaluated', 'AuditFinding', 'AuditFinding', 'AuditFinding']);
    // The same validation every store runs before an append.
    prepareBatch([{ stream: 'comparison-x', events }]);
    const checks = events.slice(2).map((e) => `${e.data.check} ${e.data.severity} ${e.data.subject}`);
    assert.deepEqual(checks, ['gate.regression hard metric:testAccuracy', 'gate.regression soft metric:testLoss', 'budget.maxWallMs hard stage:train']);
  });

  it('derives event ids from the whole batch: identical reruns repeat them, any difference changes them all', () => {
    const ids = (events: { id?: string }[]) => events.map((e) => e.id);
    assert.deepEqual(ids(gateEvents(report(), policy)), ids(gateEvents(report(), policy)));
    const strict = ids(gateEvents(report(true), policy));
    const moreTime = ids(gateEvents(report(false, 30), policy));
    for (const other of [strict, moreTime]) {
      assert.ok(ids(gateEvents(report(), policy)).every((id) => !other.includes(id)));
    }
    assert.match(contentUuid('x', {}), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('puts budget findings of run validation on each run\'s own stream', () => {
    const requests = budgetFindingRequests(report().budgets);
    assert.deepEqual(requests.map((r) => r.stream), ['run-c1']);
    prepareBatch(requests);
    assert.deepEqual(budgetFindingRequests(report(false, 5).budgets), [], 'nothing to record when every budget is kept');
  });
});
