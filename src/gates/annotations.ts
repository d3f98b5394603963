// GitHub Actions annotations for a gate report (`runledger gate --github`): one workflow command
// per rule or budget that did not pass — `::error` when it fails the gate, `::warning` otherwise.
// Workflow command syntax and escaping: docs.github.com "Workflow commands for GitHub Actions" and
// @actions/core's escapeData/escapeProperty. Escaping CR and LF also keeps text recorded in the
// ledger (metric names, reasons) from starting a workflow command of its own.
import type { GateReport } from './report.js';

export function githubAnnotations(report: GateReport): string[] {
  const failsGate = (verdict: string): boolean => verdict === 'fail' || (report.strict && verdict === 'warn');
  const items = [
    ...report.rules.map((r) => ({ verdict: r.verdict, title: `runledger gate: ${r.metric} (${r.severity})`, message: r.reason })),
    ...report.budgets.map((b) => ({ verdict: b.verdict, title: `runledger gate: budget ${b.run}/${b.stage} ${b.budget} (${b.severity})`, message: b.reason })),
  ];
  const against = `${report.candidate.kind} ${report.candidate.ref} vs baseline ${report.baseline.kind} ${report.baseline.ref}`;
  return items
    .filter((i) => i.verdict !== 'pass')
    .map((i) => `::${failsGate(i.verdict) ? 'error' : 'warning'} title=${escapeProperty(i.title)}::${escapeData(`${i.message} (${against}, comparison ${report.comparisonId})`)}`);
}

function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
