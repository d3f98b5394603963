// JUnit XML for CI systems (Jenkins, GitLab, GitHub test reporters, Azure): one <testsuite> for
// regression rules and one for budgets, one <testcase> per rule or budget, <failure> on a breach
// that fails the gate. Follows the de-facto schema (testsuites/testsuite/testcase/failure).
import type { BudgetOutcome } from './budgets.js';
import type { RuleOutcome } from './regression.js';
import type { GateReport } from './report.js';

export function gateJunit(report: GateReport): string {
  const failsGate = (verdict: string): boolean => verdict === 'fail' || (report.strict && verdict === 'warn');
  const ruleCases = report.rules.map((rule) => testcase('runledger.regression', ruleName(rule), rule.reason, rule.verdict, failsGate(rule.verdict)));
  const budgetCases = report.budgets.map((b) => testcase('runledger.budget', budgetName(b), b.reason, b.verdict, failsGate(b.verdict)));
  // Properties let a CI page link the result back to the recorded evidence.
  const properties = [
    ['comparisonId', report.comparisonId],
    ['policyHash', report.policyHash],
    ['baseline', `${report.baseline.kind}:${report.baseline.ref}`],
    ['candidate', `${report.candidate.kind}:${report.candidate.ref}`],
    ['verdict', report.verdict],
  ];
  const suites = [
    suite(`regression ${report.candidate.ref} vs ${report.baseline.ref}`, ruleCases, properties),
    suite(`budgets ${report.candidate.ref}`, budgetCases, properties),
  ];
  const tests = ruleCases.length + budgetCases.length;
  const failures = [...ruleCases, ...budgetCases].filter((c) => c.failed).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="runledger gate" tests="${tests}" failures="${failures}" errors="0">`,
    ...suites.map((s) => s.xml),
    '</testsuites>',
    '',
  ].join('\n');
}

function ruleName(rule: RuleOutcome): string {
  return `${rule.metric} (${rule.direction}, ${rule.severity})`;
}

function budgetName(b: BudgetOutcome): string {
  return `${b.run} ${b.stage} ${b.budget} (${b.severity})`;
}

interface Case {
  xml: string;
  failed: boolean;
}

function testcase(classname: string, name: string, reason: string, verdict: string, failed: boolean): Case {
  const open = `    <testcase classname="${esc(classname)}" name="${esc(name)}" time="0">`;
  const body = failed
    ? `      <failure message="${esc(reason)}" type="${verdict === 'fail' ? 'hard-breach' : 'soft-breach'}">${esc(reason)}</failure>`
    : `      <system-out>${esc(`${verdict.toUpperCase()}: ${reason}`)}</system-out>`;
  return { xml: [open, body, '    </testcase>'].join('\n'), failed };
}

function suite(name: string, cases: Case[], properties: string[][]): Case {
  const failures = cases.filter((c) => c.failed).length;
  const xml = [
    `  <testsuite name="${esc(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="0">`,
    '    <properties>',
    ...properties.map(([k, v]) => `      <property name="${esc(k!)}" value="${esc(v!)}"/>`),
    '    </properties>',
    ...cases.map((c) => c.xml),
    '  </testsuite>',
  ].join('\n');
  return { xml, failed: failures > 0 };
}

/** XML 1.0 §2.4 character escaping for attribute and text content; drops characters XML cannot carry. */
function esc(text: string): string {
  return text
    // eslint-disable-next-line no-control-regex -- XML 1.0 §2.2 Char: tab, LF and CR are the allowed controls
    .replace(/[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
