// Markdown summary for CI job pages and pull-request comments: the verdict, a table of metrics
// with deltas, intervals and verdicts, and a table of budgets.
import type { BudgetOutcome } from './budgets.js';
import { fmt, type RuleOutcome } from './regression.js';
import type { GateReport } from './report.js';

const ICON: Record<string, string> = { pass: '✅ pass', warn: '⚠️ warn', fail: '❌ fail' };

export function gateMarkdown(report: GateReport): string {
  const lines = [
    `## runledger gate: ${ICON[report.verdict]}`,
    '',
    `Candidate **${report.candidate.ref}** (${report.candidate.kind}, ${report.candidate.runs.length} run${plural(report.candidate.runs.length)}) ` +
      `vs baseline **${report.baseline.ref}** (${report.baseline.kind}, ${report.baseline.runs.length} run${plural(report.baseline.runs.length)}); ` +
      `aggregation ${report.aggregation}; ${report.hardBreaches} hard and ${report.softBreaches} soft breach${report.softBreaches === 1 ? '' : 'es'}` +
      `${report.strict ? '; strict mode' : ''}.`,
    '',
    '| Metric | Direction | Baseline | Candidate | Δ | Δ % | Interval / test | Severity | Verdict |',
    '|---|---|---:|---:|---:|---:|---|---|---|',
    ...report.rules.map(ruleRow),
  ];
  if (report.budgets.length > 0) {
    lines.push('', '| Run | Stage | Budget | Limit | Actual | Severity | Verdict |', '|---|---|---|---:|---:|---|---|', ...report.budgets.map(budgetRow));
  }
  lines.push('', `Policy \`${report.policyHash.slice(0, 16)}…\` · comparison \`${report.comparisonId}\``, '');
  return lines.join('\n');
}

function ruleRow(r: RuleOutcome): string {
  const num = (v: number | null): string => (v === null ? '—' : fmt(v));
  const side = (s: RuleOutcome['baseline']): string => (s.aggregate === null ? '—' : `${fmt(s.aggregate)} (n=${s.n})`);
  let test = '—';
  if (r.test?.kind === 'bootstrap') test = `${Math.round(r.test.confidence * 100)}% CI [${fmt(r.test.low)}, ${fmt(r.test.high)}]`;
  else if (r.test?.kind === 'mann-whitney') test = `MWU p=${fmt(r.test.pValue)}, δ=${fmt(r.test.effectSize)}`;
  else if (r.testRequested !== 'none') test = `${r.testRequested}: n too small`;
  const pct = r.relativeDelta === null ? '—' : `${r.relativeDelta >= 0 ? '+' : ''}${fmt(r.relativeDelta * 100)}%`;
  return cells([r.metric, r.direction, side(r.baseline), side(r.candidate), num(r.delta), pct, test, r.severity, ICON[r.verdict]!]);
}

function budgetRow(b: BudgetOutcome): string {
  return cells([b.run, b.stage, b.budget, fmt(b.limit), b.actual === null ? '—' : fmt(b.actual), b.severity, ICON[b.verdict]!]);
}

/** GFM table cells: a pipe inside a cell must be escaped. */
function cells(values: string[]): string {
  return `| ${values.map((v) => v.replace(/\|/g, '\\|')).join(' | ')} |`;
}

function plural(n: number): string {
  return n === 1 ? '' : 's';
}
