import assert from 'node:assert/strict';
import { parsePolicy } from '../../src/gates/policy.js';
import { evaluateGate, gateExitCode } from '../../src/gates/report.js';
import type { SampleSet } from '../../src/gates/regression.js';

const runs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

function side(ref: string, metrics: Record<string, number[]>): SampleSet {
  const n = Math.max(...Object.values(metrics).map((v) => v.length));
  return { ref, kind: n > 1 ? 'campaign' : 'run', runs: runs(ref, n), metrics };
}

const policyText = (rule: string, extra = '') => `version: 1\nseed: 11\n${extra}rules:\n  - ${rule}\n`;

const baseAcc = [0.9, 0.912, 0.905, 0.895, 0.901];

describe('gates/regression', () => {
  it('fails a clear regression confirmed by the bootstrap interval', () => {
    const policy = parsePolicy(policyText('{metric: accuracy, direction: higher-is-better, absolute: 0.02, test: bootstrap}'));
    const report = evaluateGate({
      policy,
      baseline: side('base', { accuracy: baseAcc }),
      candidate: side('cand', { accuracy: [0.81, 0.83, 0.8, 0.825, 0.815] }),
      budgets: [],
    });
    const rule = report.rules[0]!;
    assert.equal(rule.verdict, 'fail');
    assert.equal(rule.test?.kind, 'bootstrap');
    assert.ok(rule.test!.kind === 'bootstrap' && rule.test!.high < 0);
    assert.equal(report.verdict, 'fail');
    assert.equal(gateExitCode(report), 1);
  });

  it('passes noise: a worse mean whose interval includes zero is not a regression', () => {
    const policy = parsePolicy(policyText('{metric: accuracy, direction: higher-is-better, test: bootstrap}'));
    // Same spread, mean lower by 0.001: beyond "no tolerance", but well inside the noise.
    const report = evaluateGate({
      policy,
      baseline: side('base', { accuracy: baseAcc }),
      candidate: side('cand', { accuracy: [0.911, 0.894, 0.9, 0.904, 0.899] }),
      budgets: [],
    });
    const rule = report.rules[0]!;
    assert.ok(rule.regression! > 0, 'the candidate mean really is lower');
    assert.ok(rule.test!.kind === 'bootstrap' && rule.test!.low < 0 && rule.test!.high > 0);
    assert.equal(rule.verdict, 'pass');
    assert.equal(gateExitCode(report), 0);
  });

  it('passes a candidate identical to its baseline', () => {
    const policy = parsePolicy(policyText('{metric: accuracy, direction: higher-is-better, absolute: 0}'));
    const same = side('base', { accuracy: baseAcc });
    const report = evaluateGate({ policy, baseline: same, candidate: same, budgets: [] });
    assert.equal(report.verdict, 'pass');
    assert.equal(report.rules[0]!.delta, 0);
  });

  it('uses Mann–Whitney with effect size in the direction of the metric', () => {
    const policy = parsePolicy(policyText('{metric: loss, direction: lower-is-better, relative: 5%, test: mann-whitney, minEffectSize: 0.5}'));
    const report = evaluateGate({
      policy,
      baseline: side('base', { loss: [0.3, 0.31, 0.29, 0.305, 0.295] }),
      candidate: side('cand', { loss: [0.4, 0.41, 0.39, 0.42, 0.405] }),
      budgets: [],
    });
    const test = report.rules[0]!.test!;
    assert.equal(test.kind, 'mann-whitney');
    assert.ok(test.kind === 'mann-whitney');
    assert.equal(test.alternative, 'greater');
    assert.equal(test.effectSize, 1);
    assert.ok(Math.abs(test.pValue - 1 / 252) < 1e-12); // the most extreme of C(10,5) arrangements
    assert.equal(report.rules[0]!.verdict, 'fail');
  });

  it('makes a soft breach a warning that exits 0, and --strict turn it into a failure', () => {
    const policy = parsePolicy(policyText('{metric: accuracy, direction: higher-is-better, relative: 1%, severity: soft}'));
    const input = { policy, baseline: side('b', { accuracy: [0.9] }), candidate: side('c', { accuracy: [0.8] }), budgets: [] };
    const lenient = evaluateGate(input);
    assert.equal(lenient.rules[0]!.verdict, 'warn');
    assert.equal(lenient.verdict, 'warn');
    assert.equal(gateExitCode(lenient), 0);
    const strict = evaluateGate({ ...input, strict: true });
    assert.equal(strict.verdict, 'fail');
    assert.equal(gateExitCode(strict), 1);
  });

  it('checks thresholds alone below minRepeats and says so', () => {
    const policy = parsePolicy(policyText('{metric: accuracy, direction: higher-is-better, relative: 5%, test: bootstrap}'));
    const report = evaluateGate({ policy, baseline: side('b', { accuracy: [0.9] }), candidate: side('c', { accuracy: [0.88] }), budgets: [] });
    assert.equal(report.rules[0]!.test, null);
    assert.equal(report.rules[0]!.verdict, 'pass'); // 2.2% < 5%
    assert.match(report.rules[0]!.reason, /bootstrap not applied \(1 run < 5\)/);
  });

  it('fails a hard rule whose metric the candidate never recorded', () => {
    const policy = parsePolicy(policyText('{metric: f1, direction: higher-is-better}'));
    const report = evaluateGate({ policy, baseline: side('b', { f1: [0.5] }), candidate: side('c', { accuracy: [0.9] }), budgets: [] });
    assert.equal(report.rules[0]!.verdict, 'fail');
    assert.match(report.rules[0]!.reason, /candidate recorded no final value for f1/);
  });

  it('fails the gate on a hard budget breach even when every metric passes', () => {
    const policy = parsePolicy(policyText('{metric: accuracy, direction: higher-is-better}'));
    const same = side('b', { accuracy: [0.9] });
    const report = evaluateGate({
      policy,
      baseline: same,
      candidate: same,
      budgets: [{ run: 'b-0', stage: 'train', budget: { maxWallMs: 1000 }, observed: { wallMs: 1500, memoryDeltaBytes: null, throughputPerSec: null } }],
    });
    assert.equal(report.budgets[0]!.verdict, 'fail');
    assert.equal(report.hardBreaches, 1);
    assert.equal(gateExitCode(report), 1);
  });

  it('gives the same comparison id for the same question and a different one when the policy changes', () => {
    const a = parsePolicy(policyText('{metric: accuracy, direction: higher-is-better}'));
    const b = parsePolicy(policyText('{metric: accuracy, direction: higher-is-better, absolute: 0.1}'));
    const input = { baseline: side('b', { accuracy: [0.9] }), candidate: side('c', { accuracy: [0.9] }), budgets: [] };
    assert.equal(evaluateGate({ policy: a, ...input }).comparisonId, evaluateGate({ policy: a, ...input }).comparisonId);
    assert.notEqual(evaluateGate({ policy: a, ...input }).comparisonId, evaluateGate({ policy: b, ...input }).comparisonId);
  });
});
