// GitHub Actions annotations for a gate report (`runledger gate --github`): one workflow command
// per rule or budget that did not pass — `::error` when it fails the gate, `::warning` otherwise.
// Workflow command syntax and escaping: docs.github.com "Workflow commands for GitHub Actions" and
// @actions/core's escapeData/escapeProperty. Escaping CR and LF also keeps text recorded in the
// ledger (metric names, reasons) from starting a workflow command of its own.
import type { MultiGateReport } from './multi.js';
import type { GateReport } from './report.js';

/** Annotations of a two-sample gate or of a multi-candidate gate (each candidate's rules by name). */
export function githubAnnotations(report: GateReport | MultiGateReport): string[] {
  const failsGate = (verdict: string): boolean => verdict === 'fail' || (report.strict && verdict === 'warn');
  const baseline = `baseline ${report.baseline.kind} ${report.baseline.ref}`;
  const rules =
    'results' in report
      ? report.results.flatMap((c) => c.rules.map((r) => ({ verdict: r.verdict, title: `runledger gate: ${r.metric} of ${c.ref} (${r.severity})`, message: r.reason, against: `${c.kind} ${c.ref} vs ${baseline}` })))
      : report.rules.map((r) => ({ verdict: r.verdict, title: `runledger gate: ${r.metric} (${r.severity})`, message: r.reason, against: `${report.candidate.kind} ${report.candidate.ref} vs ${baseline}` }));
  const budgets = report.budgets.map((b) => ({ verdict: b.verdict, title: `runledger gate: budget ${b.run}/${b.stage} ${b.budget} (${b.severity})`, message: b.reason, against: `run ${b.run}` }));
  return [...rules, ...budgets]
    .filter((i) => i.verdict !== 'pass')
    .map((i) => `::${failsGate(i.verdict) ? 'error' : 'warning'} title=${escapeProperty(i.title)}::${escapeData(`${i.message} (${i.against}, comparison ${report.comparisonId})`)}`);
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
