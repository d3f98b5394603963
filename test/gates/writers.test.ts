import assert from 'node:assert/strict';
import { gateJunit } from '../../src/gates/junit.js';
import { gateMarkdown } from '../../src/gates/markdown.js';
import { parsePolicy } from '../../src/gates/policy.js';
import { evaluateGate, type GateReport } from '../../src/gates/report.js';

function report(strict = false): GateReport {
  const policy = parsePolicy(
    'version: 1\nrules:\n' +
      '  - {metric: accuracy, direction: higher-is-better, absolute: 0.01}\n' +
      '  - {metric: "loss<&>", direction: lower-is-better, relative: 1%, severity: soft}\n' +
      '  - {metric: f1, direction: higher-is-better}\n',
  );
  return evaluateGate({
    policy,
    strict,
    baseline: { ref: 'base', kind: 'run', runs: ['base'], metrics: { accuracy: [0.9], 'loss<&>': [0.3], f1: [0.5] } },
    candidate: { ref: 'cand|x', kind: 'run', runs: ['cand|x'], metrics: { accuracy: [0.8], 'loss<&>': [0.4], f1: [0.6] } },
    budgets: [{ run: 'cand|x', stage: 'train', budget: { maxWallMs: 10 }, observed: { wallMs: 5, memoryDeltaBytes: null, throughputPerSec: null } }],
  });
}

describe('gates/writers', () => {
  it('writes JUnit XML with one testcase per rule and budget and a failure element per hard breach', () => {
    const xml = gateJunit(report());
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="runledger gate" tests="4" failures="1" errors="0">/);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 4);
    assert.equal((xml.match(/<failure /g) ?? []).length, 1);
    assert.match(xml, /<testcase classname="runledger.regression" name="accuracy \(higher-is-better, hard\)" time="0">\n\s+<failure message="worse by 0.1/);
    assert.match(xml, /name="loss&lt;&amp;&gt; \(lower-is-better, soft\)"/);
    assert.match(xml, /<system-out>WARN: /);
    assert.match(xml, new RegExp(`<property name="comparisonId" value="${report().comparisonId}"/>`));
    assert.ok(!/<[^>]*[<&](?!amp;|lt;|gt;|quot;|apos;)/.test(xml.replace(/^<\?xml[^>]*>/, '')), 'no raw < or & inside markup');
    // every opened element is closed
    for (const tag of ['testsuites', 'testsuite', 'testcase', 'properties']) {
      assert.equal((xml.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length, (xml.match(new RegExp(`</${tag}>`, 'g')) ?? []).length, tag);
    }
  });

  it('turns soft breaches into JUnit failures under --strict', () => {
    const xml = gateJunit(report(true));
    assert.match(xml, /failures="2"/);
    assert.match(xml, /type="soft-breach"/);
  });

  it('writes a Markdown table of metrics, deltas, intervals and verdicts, escaping pipes', () => {
    const md = gateMarkdown(report());
    assert.match(md, /^## runledger gate: ❌ fail/);
    assert.match(md, /\| Metric \| Direction \| Baseline \| Candidate \| Δ \| Δ % \| Interval \/ test \| Severity \| Verdict \|/);
    assert.match(md, /\| accuracy \| higher-is-better \| 0.9 \(n=1\) \| 0.8 \(n=1\) \| -0.1 \| -11.11% \| bootstrap: n too small \| hard \| ❌ fail \|/);
    assert.match(md, /\| f1 .* \| ✅ pass \|/);
    assert.match(md, /\*\*cand\|x\*\*/);
    assert.match(md, /\| cand\\\|x \| train \| maxWallMs \| 10 \| 5 \| hard \| ✅ pass \|/);
  });
});
