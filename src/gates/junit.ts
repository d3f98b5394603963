// JUnit XML for CI systems (Jenkins, GitLab, GitHub test reporters, Azure): one <testsuite> for
// regression rules and one for budgets, one <testcase> per rule or budget, <failure> on a breach
// that fails the gate. Follows the de-facto schema (testsuites/testsuite/testcase/failure).
import type { BudgetOutcome } from './budgets.js';
import type { RuleOutcome } from './regression.js';
import type { MultiGateReport } from './multi.js';
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
  return document([
    suite(`regression ${report.candidate.ref} vs ${report.baseline.ref}`, ruleCases, properties),
    suite(`budgets ${report.candidate.ref}`, budgetCases, properties),
  ]);
}

/**
 * JUnit XML of a multi-candidate gate: one <testsuite> of regression rules per candidate, one for
 * the budgets of every candidate's runs; properties add the candidates, the omnibus test and the
 * Holm family size.
 */
export function multiGateJunit(report: MultiGateReport): string {
  const failsGate = (verdict: string): boolean => verdict === 'fail' || (report.strict && verdict === 'warn');
  const properties = [
    ['comparisonId', report.comparisonId],
    ['policyHash', report.policyHash],
    ['baseline', `${report.baseline.kind}:${report.baseline.ref}`],
    ['candidates', report.candidates.map((c) => `${c.kind}:${c.ref}`).join(',')],
    ['omnibus', report.settings.omnibus],
    ['compare', report.settings.compare],
    ['familySize', String(report.family.size)],
    ['familyAlpha', String(report.family.alpha)],
    ['verdict', report.verdict],
  ];
  const suites = report.results.map((c) =>
    suite(
      `regression ${c.ref} vs ${report.baseline.ref}`,
      c.rules.map((rule) => testcase('runledger.regression', ruleName(rule), rule.reason, rule.verdict, failsGate(rule.verdict))),
      properties,
    ),
  );
  suites.push(suite(`budgets ${report.candidates.map((c) => c.ref).join(', ')}`, report.budgets.map((b) => testcase('runledger.budget', budgetName(b), b.reason, b.verdict, failsGate(b.verdict))), properties));
  return document(suites);
}

function document(suites: Suite[]): string {
  const tests = suites.reduce((n, s) => n + s.tests, 0);
  const failures = suites.reduce((n, s) => n + s.failures, 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="runledger gate" tests="${tests}" failures="${failures}" errors="0">`,
    ...suites.map((s) => s.xml),
    '</testsuites>',
    '',
  ].join('\n');
}

function ruleName(rule: Pick<RuleOutcome, 'metric' | 'direction' | 'severity'>): string {
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

interface Suite {
  xml: string;
  tests: number;
  failures: number;
}

function suite(name: string, cases: Case[], properties: string[][]): Suite {
  const failures = cases.filter((c) => c.failed).length;
  const xml = [
    `  <testsuite name="${esc(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="0" time="0">`,
    '    <properties>',
    ...properties.map(([k, v]) => `      <property name="${esc(k!)}" value="${esc(v!)}"/>`),
    '    </properties>',
    ...cases.map((c) => c.xml),
    '  </testsuite>',
  ].join('\n');
  return { xml, tests: cases.length, failures };
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
