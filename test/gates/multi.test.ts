// The multi-candidate gate end to end as a pure function: its family of hypotheses checked against
// scipy/statsmodels (test/gates/multi-reference.ts), then its verdicts, power note and evidence.
import assert from 'node:assert/strict';
import { registry } from '../../events/index.js';
import { multiGateJunit } from '../../src/gates/junit.js';
import { multiGateMarkdown } from '../../src/gates/markdown.js';
import { multiGateEvents } from '../../src/gates/multi-evidence.js';
import { evaluateMultiGate, type MultiGateReport } from '../../src/gates/multi.js';
import { parsePolicy, type Policy } from '../../src/gates/policy.js';
import type { SampleSet } from '../../src/gates/regression.js';
import { prepareBatch } from '../../src/store/seal.js';
import * as ref from './multi-reference.js';

type Group = keyof typeof ref.ACC;
const CANDIDATES: Group[] = ['candidate', 'candidate-2', 'candidate-3'];

function side(name: Group, n = 5): SampleSet {
  return {
    ref: name,
    kind: 'campaign',
    runs: Array.from({ length: n }, (_, i) => `${name}-${i + 1}`),
    metrics: { testAccuracy: ref.ACC[name].slice(0, n), testLoss: ref.LOSS[name].slice(0, n) },
  };
}

function policy(candidates: string, rules = RULES, extra = ''): Policy {
  return parsePolicy(`version: 1\nseed: 9\n${extra}candidates: ${candidates}\nrules:\n${rules}`);
}

const RULES = '  - {metric: testAccuracy, direction: higher-is-better, absolute: 0.005, minEffectSize: 0.5}\n  - {metric: testLoss, direction: lower-is-better, relative: 5%, severity: soft}\n';

function gate(p: Policy, candidates: Group[] = CANDIDATES, budgets: MultiGateReport['budgets'] = [], strict = false): MultiGateReport {
  return evaluateMultiGate({ policy: p, baseline: side('baseline'), candidates: candidates.map((c) => side(c)), budgets, strict });
}

function close(actual: number, expected: number, what: string, rel = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= 1e-12 + rel * Math.abs(expected), `${what}: ${actual} vs reference ${expected}`);
}

const rule = (r: MultiGateReport, candidate: string, metric: string) => r.results.find((c) => c.ref === candidate)!.rules.find((x) => x.metric === metric)!;

describe('gates/multi', () => {
  describe('Kruskal–Wallis family, each candidate against the baseline', () => {
    const report = gate(policy('{omnibus: kruskal-wallis, compare: baseline}'));

    it('tests every rule × candidate once, with scipy Mann–Whitney p-values and statsmodels Holm adjustments across all of them', () => {
      assert.equal(report.family.size, 6);
      assert.deepEqual(report.hypotheses.map((h) => `${h.metric} ${h.reference}->${h.other} ${h.alternative}`), ref.MW_FAMILY.map((f) => `${f.metric} baseline->${f.candidate} ${f.metric === 'testAccuracy' ? 'less' : 'greater'}`));
      report.hypotheses.forEach((h, i) => {
        close(h.pValue, ref.MW_FAMILY[i]!.pValue, `p[${i}]`);
        close(h.adjustedPValue, ref.HOLM_MW_FAMILY.adjusted[i]!, `Holm[${i}]`);
        assert.equal(h.significant, ref.HOLM_MW_FAMILY.reject[i], `reject[${i}]`);
        assert.equal(h.test.kind === 'mann-whitney' && h.test.method, ref.MW_FAMILY[i]!.method);
      });
    });

    it('reports the Kruskal–Wallis omnibus of every metric as scipy.stats.kruskal does', () => {
      const [acc, loss] = report.metrics;
      assert.equal(acc!.omnibus?.kind, 'kruskal-wallis');
      close(acc!.omnibus!.kind === 'kruskal-wallis' ? acc!.omnibus!.h : NaN, ref.KRUSKAL_ACC[0]!, 'H acc', 1e-12);
      close(acc!.omnibus!.pValue, ref.KRUSKAL_ACC[1]!, 'p acc');
      close(loss!.omnibus!.pValue, ref.KRUSKAL_LOSS[1]!, 'p loss');
      assert.deepEqual(acc!.groups.map((g) => g.ref), ['baseline', ...CANDIDATES]);
    });

    it('fails a confirmed regression beyond tolerance, passes noise, and passes a small confirmed drop within tolerance', () => {
      assert.equal(rule(report, 'candidate', 'testAccuracy').verdict, 'fail');
      assert.equal(rule(report, 'candidate', 'testLoss').verdict, 'warn', 'soft rule');
      assert.equal(rule(report, 'candidate-2', 'testAccuracy').verdict, 'pass');
      assert.match(rule(report, 'candidate-2', 'testAccuracy').reason, /within tolerance/);
      // candidate-3 is 0.0118 worse: beyond the 0.005 tolerance, and Holm confirms it with Cliff's delta -0.92.
      assert.equal(rule(report, 'candidate-3', 'testAccuracy').verdict, 'fail');
      assert.deepEqual(report.results.map((c) => [c.ref, c.verdict]), [['candidate', 'fail'], ['candidate-2', 'pass'], ['candidate-3', 'fail']]);
      assert.equal(report.verdict, 'fail');
      assert.equal(report.hardBreaches, 2);
      assert.equal(report.softBreaches, 1);
    });

    it('gives effect sizes with intervals: Cliff\'s delta (seeded bootstrap) and the Hodges–Lehmann shift of the brute-force reference', () => {
      const h = report.hypotheses.find((x) => x.metric === 'testAccuracy' && x.other === 'candidate-3')!;
      assert.equal(h.effect.kind, 'rank');
      if (h.effect.kind !== 'rank') return;
      const expected = ref.HODGES_LEHMANN[1]!;
      close(h.effect.hodgesLehmann.estimate, expected.estimate, 'HL estimate', 1e-12);
      close(h.effect.hodgesLehmann.low!, expected.low, 'HL low', 1e-12);
      close(h.effect.hodgesLehmann.high!, expected.high, 'HL high', 1e-12);
      assert.equal(h.effect.cliffsDelta.estimate, -0.92);
      assert.equal(h.effect.cliffsDelta.seed, 9);
      assert.ok(h.effect.cliffsDelta.low <= -0.92 && h.effect.cliffsDelta.high >= -0.92);
    });

    it('adds a power note per metric: the smallest detectable difference at α/m with n per side, as statsmodels TTestIndPower gives via ARE 3/π', () => {
      const power = report.metrics[0]!.power!;
      const expected = ref.POWER.find((p) => p.method === 'mann-whitney-are' && p.alternative === 'larger' && Math.abs(p.alpha - 0.05 / 6) < 1e-15)!;
      assert.equal(power.n, 5);
      close(power.alpha, 0.05 / 6, 'α/m');
      assert.equal(power.familySize, 6);
      close(power.effectSize!, expected.effectSize, 'd', 1e-8);
      close(power.difference!, expected.effectSize * power.sigma!, 'difference = d σ', 1e-8);
      assert.match(power.text, /^with n = 5 repeats per side the smallest detectable difference at α = 0\.008333 \(0\.05 over 6 tests, Holm's first step\), 1−β = 0\.8 is [0-9.]+ testAccuracy/);
    });

    it('is a pure function of its inputs, and the bootstrap seed moves only the intervals', () => {
      assert.deepEqual(gate(policy('{omnibus: kruskal-wallis}')), gate(policy('{omnibus: kruskal-wallis}')));
      const other = evaluateMultiGate({ policy: parsePolicy(`version: 1\nseed: 10\ncandidates: {omnibus: kruskal-wallis}\nrules:\n${RULES}`), baseline: side('baseline'), candidates: CANDIDATES.map((c) => side(c)), budgets: [] });
      assert.deepEqual(other.hypotheses.map((h) => h.pValue), report.hypotheses.map((h) => h.pValue));
      assert.notDeepEqual(other.hypotheses.map((h) => h.effect), report.hypotheses.map((h) => h.effect));
    });
  });

  describe('every pair, two-sided', () => {
    const report = gate(policy('{compare: all-pairs}'));

    it('tests all six pairs of four groups per metric with scipy p-values and statsmodels Holm over all twelve', () => {
      assert.equal(report.family.size, 12);
      report.hypotheses.forEach((h, i) => {
        const e = ref.MW_ALL_PAIRS[i]!;
        assert.deepEqual([h.metric, h.reference, h.other, h.alternative], [e.metric, e.reference, e.other, 'two-sided']);
        close(h.pValue, e.pValue, `p[${i}]`);
        close(h.adjustedPValue, e.adjusted, `Holm[${i}]`);
        assert.equal(h.significant, e.reject);
      });
    });

    it('does not let a test that cannot reach α/m excuse a clear regression: the tolerance decides, and the reason says why', () => {
      // Two-sided Mann–Whitney with 5 and 5 runs cannot go below p = 2/252 ≈ 0.0079 > 0.05/12.
      assert.ok(report.hypotheses.every((h) => h.powerless && Math.abs(h.smallestPValue! - 2 / 252) < 1e-15));
      const r = rule(report, 'candidate', 'testAccuracy');
      assert.equal(r.verdict, 'fail');
      assert.match(r.reason, /cannot reach α\/12 = 0\.004167 with 5 and 5 runs \(its smallest possible p-value is 0\.007937\), so the tolerance alone decides/);
      assert.match(report.metrics[0]!.power!.text, /no difference is detectable/);
      assert.equal(report.metrics[0]!.power!.effectSize, null);
    });
  });

  describe('one-way ANOVA family with Tukey HSD', () => {
    const report = gate(policy('{omnibus: anova}'));

    it('reports the ANOVA F and Tukey HSD of every pair as scipy.stats.f_oneway and tukey_hsd do, with group names', () => {
      const acc = report.metrics[0]!;
      assert.equal(acc.omnibus?.kind, 'anova');
      close(acc.omnibus!.kind === 'anova' ? acc.omnibus!.f : NaN, ref.ANOVA_ACC[0]!, 'F', 1e-11);
      const names = ['baseline', ...CANDIDATES];
      assert.deepEqual(acc.tukey!.pairs.map((p) => [p.reference, p.other]), ref.TUKEY_ACC.map((e) => [names[e.reference], names[e.other]]));
      acc.tukey!.pairs.forEach((p, i) => {
        close(p.pValue, ref.TUKEY_ACC[i]!.pValue, `Tukey p[${i}]`, 1e-7);
        close(p.low, ref.TUKEY_ACC[i]!.low, `Tukey low[${i}]`);
      });
    });

    it('tests each candidate with the t test on the pooled ANOVA variance (statsmodels OLS), one-sided toward a regression', () => {
      const acc = report.hypotheses.filter((h) => h.metric === 'testAccuracy');
      acc.forEach((h, i) => {
        const e = ref.POOLED_T_ACC[i]!; // pairs (0,1), (0,2), (0,3): baseline first
        assert.equal(h.test.kind, 't');
        if (h.test.kind !== 't') return;
        close(h.test.t, e.t, `t[${i}]`, 1e-10);
        assert.equal(h.test.df, e.df);
        // One-sided 'less' with t < 0 is half the two-sided p-value.
        close(h.pValue, e.twoSidedP / 2, `p[${i}]`, 1e-8);
        assert.equal(h.effect.kind, 'mean');
      });
      // candidate-3's drop (t = -2.39) is not confirmed after Holm over six tests: within noise, so it passes.
      assert.equal(rule(report, 'candidate-3', 'testAccuracy').verdict, 'pass');
      assert.match(rule(report, 'candidate-3', 'testAccuracy').reason, /beyond tolerance but within noise/);
      assert.equal(report.metrics[0]!.power!.method, 't');
    });

    it('leaves the t tests out without within-group variance and lets the tolerance decide', () => {
      const flat = (name: string, v: number): SampleSet => ({ ref: name, kind: 'campaign', runs: [1, 2, 3, 4, 5].map((i) => `${name}-${i}`), metrics: { testAccuracy: [v, v, v, v, v], testLoss: [0.3, 0.3, 0.3, 0.3, 0.3] } });
      const r = evaluateMultiGate({ policy: policy('{omnibus: anova}'), baseline: flat('b', 0.9), candidates: [flat('c1', 0.8), flat('c2', 0.9)], budgets: [] });
      assert.equal(r.family.size, 0);
      assert.match(r.metrics[0]!.note, /no within-group variance/);
      assert.equal(r.results[0]!.rules[0]!.verdict, 'fail');
      assert.match(r.results[0]!.rules[0]!.reason, /not tested \(no within-group variance\)/);
    });
  });

  it('holds Holm across candidates: a third candidate enlarges the family and can only raise the others\' adjusted p-values', () => {
    const two = gate(policy('{omnibus: kruskal-wallis}'), ['candidate', 'candidate-2']);
    const three = gate(policy('{omnibus: kruskal-wallis}'));
    assert.equal(two.family.size, 4);
    for (const h of two.hypotheses) {
      const same = three.hypotheses.find((x) => x.metric === h.metric && x.other === h.other)!;
      assert.equal(same.pValue, h.pValue);
      assert.ok(same.adjustedPValue >= h.adjustedPValue, `${h.metric} ${h.other}`);
    }
  });

  it('leaves a candidate with fewer than minRepeats runs out of the tests and names it', () => {
    const r = evaluateMultiGate({ policy: policy('{omnibus: kruskal-wallis}'), baseline: side('baseline'), candidates: [side('candidate', 4), side('candidate-2')], budgets: [] });
    assert.match(r.metrics[0]!.note, /fewer than 5 runs, left out of the tests: candidate \(4\)/);
    assert.deepEqual(r.metrics[0]!.eligible, ['baseline', 'candidate-2']);
    assert.equal(rule(r, 'candidate', 'testAccuracy').hypothesis, null);
    assert.match(rule(r, 'candidate', 'testAccuracy').reason, /not tested \(4 runs < 5\)/);
    assert.equal(rule(r, 'candidate', 'testAccuracy').verdict, 'fail', 'beyond tolerance and untested: the tolerance decides');
  });

  it('treats a metric a candidate never recorded as a breach, and refuses a side named twice', () => {
    const empty: SampleSet = { ref: 'none', kind: 'campaign', runs: ['none-1'], metrics: {} };
    const r = evaluateMultiGate({ policy: policy('{}'), baseline: side('baseline'), candidates: [side('candidate-2'), empty], budgets: [] });
    assert.equal(rule(r, 'none', 'testAccuracy').verdict, 'fail');
    assert.match(rule(r, 'none', 'testAccuracy').reason, /the candidate none recorded no final value/);
    assert.throws(() => evaluateMultiGate({ policy: policy('{}'), baseline: side('baseline'), candidates: [side('baseline'), side('candidate')], budgets: [] }), /named once/);
    assert.throws(() => evaluateMultiGate({ policy: policy('{}'), baseline: side('baseline'), candidates: [side('candidate')], budgets: [] }), /at least two candidates/);
  });

  it('takes metric names as plain strings: "constructor" and "__proto__" are metrics like any other', () => {
    const p = parsePolicy('version: 1\ncandidates: {}\nrules:\n  - {metric: constructor, direction: higher-is-better}\n  - {metric: __proto__, direction: lower-is-better}\n');
    const named = (name: Group, withProto: boolean): SampleSet => ({ ...side(name), metrics: Object.fromEntries(withProto ? [['__proto__', ref.LOSS[name]]] : []) });
    const r = evaluateMultiGate({ policy: p, baseline: named('baseline', true), candidates: [named('candidate', true), named('candidate-2', false)], budgets: [] });
    assert.deepEqual(r.metrics.map((m) => m.groups.map((g) => g.n)), [[0, 0, 0], [5, 5, 0]]);
    assert.match(rule(r, 'candidate', 'constructor').reason, /the baseline recorded no final value for constructor/);
    assert.match(rule(r, 'candidate-2', '__proto__').reason, /the candidate candidate-2 recorded no final value for __proto__/);
    assert.equal(rule(r, 'candidate', '__proto__').verdict, 'fail', 'candidate\'s loss is worse, and no tolerance was given');
  });

  it('charges each candidate with its own runs\' budgets, and --strict fails soft breaches', () => {
    const budget = (run: string, breached: boolean) => ({ run, stage: 'train', budget: 'maxWallMs' as const, limit: 10, actual: breached ? 20 : 5, severity: 'soft' as const, breached, verdict: breached ? ('warn' as const) : ('pass' as const), reason: 'x' });
    const budgets = [budget('candidate-2-1', true), budget('candidate-3-1', false)];
    const lenient = gate(policy('{}'), ['candidate-2', 'candidate-3'], budgets);
    assert.deepEqual(lenient.results.map((c) => [c.ref, c.softBreaches]), [['candidate-2', 1], ['candidate-3', 0]]);
    const strict = gate(policy('{}'), ['candidate-2', 'candidate-3'], budgets, true);
    assert.equal(strict.results[0]!.verdict, 'fail');
  });

  describe('evidence and reports', () => {
    const p = policy('{omnibus: kruskal-wallis}');
    const report = gate(p);

    it('records MultiComparisonRecorded, MultiGateEvaluated and one AuditFinding per breach, all valid catalog events', () => {
      const events = multiGateEvents(report, p);
      assert.deepEqual(events.map((e) => e.type), ['MultiComparisonRecorded', 'MultiGateEvaluated', 'AuditFinding', 'AuditFinding', 'AuditFinding']);
      prepareBatch([{ stream: `comparison-${report.comparisonId}`, events }]);
      assert.deepEqual(events.slice(2).map((e) => `${e.data.runId} ${e.data.check} ${e.data.subject}`), ['candidate gate.regression metric:testAccuracy', 'candidate gate.regression metric:testLoss', 'candidate-3 gate.regression metric:testAccuracy']);
      const recorded = events[0]!.data as { policy: Record<string, unknown> };
      assert.deepEqual(recorded.policy.candidates, { compare: 'baseline', omnibus: 'kruskal-wallis', alpha: 0.05, power: 0.8 }, 'the settings used are recorded, defaults included');
      assert.deepEqual(multiGateEvents(report, p).map((e) => e.id), events.map((e) => e.id), 'identical reruns are idempotent');
      assert.ok(registry.has('MultiComparisonRecorded') && registry.has('MultiGateEvaluated'));
    });

    it('writes a JUnit suite per candidate and a Markdown section per metric with Holm p and intervals', () => {
      const xml = multiGateJunit(report);
      assert.match(xml, /<testsuites name="runledger gate" tests="6" failures="2" errors="0">/);
      assert.equal((xml.match(/<testsuite name="regression candidate(-\d)? vs baseline"/g) ?? []).length, 3);
      assert.match(xml, /<property name="familySize" value="6"\/>/);
      const md = multiGateMarkdown(report);
      assert.match(md, /^## runledger gate: ❌ fail/);
      assert.match(md, /### testAccuracy \(higher-is-better\)\n\nKruskal–Wallis H = 15\.36, df = 3, p = 0\.001531\./);
      assert.match(md, /\| candidate-3 \| 0\.9026 \(n=5\) \| 0\.8908 \(n=5\) \| -0\.0118 \| -1\.307% \| 0\.007937 \| 0\.03175 \* \| δ -0\.92 \[/);
      assert.match(md, /Power: with n = 5 repeats per side/);
    });

    it('writes the Tukey table in Markdown for anova and the candidate pairs for all-pairs', () => {
      assert.match(multiGateMarkdown(gate(policy('{omnibus: anova}'))), /Tukey HSD \(q critical 4\.046, df 16\):/);
      assert.match(multiGateMarkdown(gate(policy('{compare: all-pairs}'))), /\| candidate-2 − candidate \| 0\.007937 \| 0\.09524 \(powerless\) \|/);
    });
  });
});
