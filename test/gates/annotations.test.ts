import assert from 'node:assert/strict';
import { githubAnnotations } from '../../src/gates/annotations.js';
import type { MultiGateReport } from '../../src/gates/multi.js';
import type { GateReport } from '../../src/gates/report.js';

function report(overrides: Partial<GateReport>): GateReport {
  return {
    schema: 'runledger.gate-report/v1',
    comparisonId: 'c0ffee',
    baseline: { ref: 'base', kind: 'campaign', runs: ['b-1'] },
    candidate: { ref: 'cand', kind: 'campaign', runs: ['c-1'] },
    policyHash: 'ab',
    aggregation: 'mean',
    strict: false,
    rules: [],
    budgets: [],
    hardBreaches: 0,
    softBreaches: 0,
    verdict: 'pass',
    ...overrides,
  };
}

type Rule = GateReport['rules'][number];
const rule = (metric: string, verdict: Rule['verdict'], severity: Rule['severity'], reason: string): Rule => ({ metric, verdict, severity, reason }) as Rule;

describe('gates/annotations (GitHub Actions)', () => {
  it('an error per failing rule, a warning per soft breach, nothing for a pass', () => {
    const lines = githubAnnotations(report({ rules: [rule('testAccuracy', 'fail', 'hard', 'worse by 0.08'), rule('testLoss', 'warn', 'soft', 'up 12%'), rule('trainLoss', 'pass', 'hard', 'ok')] }));
    assert.deepEqual(lines, [
      '::error title=runledger gate%3A testAccuracy (hard)::worse by 0.08 (campaign cand vs baseline campaign base, comparison c0ffee)',
      '::warning title=runledger gate%3A testLoss (soft)::up 12%25 (campaign cand vs baseline campaign base, comparison c0ffee)',
    ]);
  });

  it('makes soft breaches errors under --strict, since they fail the gate', () => {
    const [line] = githubAnnotations(report({ strict: true, rules: [rule('testLoss', 'warn', 'soft', 'up 12%')] }));
    assert.match(line!, /^::error /);
  });

  it('escapes text from the ledger so it cannot start a workflow command of its own', () => {
    const [line] = githubAnnotations(report({ rules: [rule('acc,x:y', 'fail', 'hard', '100% worse\n::add-mask::secret\r\n::stop-commands::x')] }));
    assert.equal(line!.split('\n').length, 1);
    assert.ok(line!.startsWith('::error title=runledger gate%3A acc%2Cx%3Ay (hard)::100%25 worse%0A::add-mask::secret%0D%0A::stop-commands::x'), line);
  });

  it('names the candidate of each rule in a multi-candidate gate', () => {
    const multi = {
      comparisonId: 'm1',
      baseline: { ref: 'base', kind: 'campaign', runs: ['b-1'] },
      strict: false,
      budgets: [],
      results: [
        { ref: 'c1', kind: 'campaign', runs: ['c1-1'], verdict: 'pass', hardBreaches: 0, softBreaches: 0, rules: [{ metric: 'testAccuracy', verdict: 'pass', severity: 'hard', reason: 'ok' }] },
        { ref: 'c2', kind: 'campaign', runs: ['c2-1'], verdict: 'fail', hardBreaches: 1, softBreaches: 0, rules: [{ metric: 'testAccuracy', verdict: 'fail', severity: 'hard', reason: 'worse by 0.1' }] },
      ],
    } as unknown as MultiGateReport;
    assert.deepEqual(githubAnnotations(multi), ['::error title=runledger gate%3A testAccuracy of c2 (hard)::worse by 0.1 (campaign c2 vs baseline campaign base, comparison m1)']);
  });
});
