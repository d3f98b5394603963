import assert from 'node:assert/strict';
import { evaluateBudgets } from '../../src/gates/budgets.js';

const observed = (wallMs: number | null, memoryDeltaBytes: number | null, throughputPerSec: number | null) => ({
  wallMs,
  memoryDeltaBytes,
  throughputPerSec,
});

describe('gates/budgets', () => {
  it('detects each kind of breach and passes budgets that are kept', () => {
    const outcomes = evaluateBudgets(
      [
        { run: 'r1', stage: 'train', budget: { maxWallMs: 100, maxMemoryDeltaBytes: 1000, minThroughput: 50 }, observed: observed(120, 900, 40) },
        { run: 'r1', stage: 'eval', budget: { maxWallMs: 100 }, observed: observed(99, null, null) },
      ],
      'hard',
    );
    const byKey = Object.fromEntries(outcomes.map((o) => [`${o.stage}.${o.budget}`, o.verdict]));
    assert.deepEqual(byKey, {
      'eval.maxWallMs': 'pass',
      'train.maxWallMs': 'fail',
      'train.maxMemoryDeltaBytes': 'pass',
      'train.minThroughput': 'fail',
    });
    assert.deepEqual(
      outcomes.map((o) => `${o.stage}.${o.budget}`),
      ['eval.maxWallMs', 'train.maxWallMs', 'train.maxMemoryDeltaBytes', 'train.minThroughput'],
    );
  });

  it('treats the limit itself as kept and soft budgets as warnings', () => {
    const [kept] = evaluateBudgets([{ run: 'r', stage: 's', budget: { maxWallMs: 100 }, observed: observed(100, null, null) }], 'hard');
    assert.equal(kept!.verdict, 'pass');
    const [soft] = evaluateBudgets([{ run: 'r', stage: 's', budget: { maxWallMs: 100 }, observed: observed(101, null, null) }], 'soft');
    assert.equal(soft!.verdict, 'warn');
    assert.equal(soft!.breached, true);
  });

  it('warns when a budgeted stage recorded no telemetry', () => {
    const [missing] = evaluateBudgets([{ run: 'r', stage: 's', budget: { minThroughput: 1 }, observed: observed(null, null, null) }], 'hard');
    assert.equal(missing!.verdict, 'warn');
    assert.equal(missing!.breached, false);
    assert.match(missing!.reason, /no throughputPerSec recorded/);
  });
});
