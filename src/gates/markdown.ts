// Markdown summary for CI job pages and pull-request comments: the verdict, a table of metrics
// with deltas, intervals and verdicts, and a table of budgets.
import type { BudgetOutcome } from './budgets.js';
import type { Hypothesis, MultiGateReport } from './multi.js';
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

const OMNIBUS_NAME = { 'kruskal-wallis': 'Kruskal–Wallis', anova: 'one-way ANOVA' } as const;

/**
 * Markdown of a multi-candidate gate: the verdict per candidate, then per metric the omnibus test,
 * the power note and a row per candidate (Holm-adjusted p and effect size with interval); all-pairs
 * adds the candidate–candidate pairs, anova the Tukey HSD table.
 */
export function multiGateMarkdown(report: MultiGateReport): string {
  const side = (s: { ref: string; kind: string; runs: string[] }): string => `**${s.ref}** (${s.kind}, ${s.runs.length} run${plural(s.runs.length)})`;
  const how = report.settings.compare === 'baseline' ? 'each candidate against the baseline' : 'every pair of groups';
  const lines = [
    `## runledger gate: ${ICON[report.verdict]}`,
    '',
    `Candidates ${report.candidates.map(side).join(', ')} vs baseline ${side(report.baseline)}; ` +
      `${OMNIBUS_NAME[report.settings.omnibus]}, ${how}, Holm over ${report.family.size} test${plural(report.family.size)} at α = ${fmt(report.family.alpha)}; ` +
      `aggregation ${report.aggregation}; ${report.hardBreaches} hard and ${report.softBreaches} soft breach${report.softBreaches === 1 ? '' : 'es'}${report.strict ? '; strict mode' : ''}.`,
    '',
    '| Candidate | Verdict | Hard | Soft |',
    '|---|---|---:|---:|',
    ...report.results.map((c) => cells([c.ref, ICON[c.verdict]!, String(c.hardBreaches), String(c.softBreaches)])),
  ];
  for (const m of report.metrics) {
    lines.push('', `### ${m.metric} (${m.direction})`, '');
    if (m.omnibus?.kind === 'kruskal-wallis') lines.push(`Kruskal–Wallis H = ${fmt(m.omnibus.h)}, df = ${m.omnibus.df}, p = ${fmt(m.omnibus.pValue)}.`);
    else if (m.omnibus?.kind === 'anova') lines.push(`One-way ANOVA F(${m.omnibus.dfBetween}, ${m.omnibus.dfWithin}) = ${fmt(m.omnibus.f)}, p = ${fmt(m.omnibus.pValue)}.`);
    if (m.note) lines.push(`${m.note}.`);
    if (m.power) lines.push(`Power: ${m.power.text}.`);
    lines.push(
      '',
      '| Candidate | Baseline | Candidate | Δ | Δ % | p | Holm p | Effect [interval] | Severity | Verdict |',
      '|---|---:|---:|---:|---:|---:|---:|---|---|---|',
    );
    for (const c of report.results) {
      const r = c.rules.find((x) => x.metric === m.metric)!;
      const h = r.hypothesis === null ? null : report.hypotheses[r.hypothesis]!;
      lines.push(cells([c.ref, sideCell(r.baseline), sideCell(r.candidate), num(r.delta), pct(r.relativeDelta), h ? fmt(h.pValue) : '—', h ? holmCell(h) : '—', h ? effectCell(h) : '—', r.severity, ICON[r.verdict]!]));
    }
    const others = report.hypotheses.filter((h) => h.metric === m.metric && h.reference !== report.baseline.ref);
    if (others.length > 0) {
      lines.push('', '| Pair | p | Holm p | Effect [interval] |', '|---|---:|---:|---|', ...others.map((h) => cells([`${h.other} − ${h.reference}`, fmt(h.pValue), holmCell(h), effectCell(h)])));
    }
    if (m.tukey) {
      const t = m.tukey;
      lines.push(
        '',
        `Tukey HSD (q critical ${fmt(t.qCritical)}, df ${t.dfWithin}):`,
        '',
        `| Pair | Mean difference | ${Math.round(t.confidence * 100)}% simultaneous interval | Tukey p |`,
        '|---|---:|---|---:|',
        ...t.pairs.map((p) => cells([`${p.other} − ${p.reference}`, fmt(p.difference), `[${fmt(p.low)}, ${fmt(p.high)}]`, fmt(p.pValue)])),
      );
    }
  }
  if (report.budgets.length > 0) {
    lines.push('', '| Run | Stage | Budget | Limit | Actual | Severity | Verdict |', '|---|---|---|---:|---:|---|---|', ...report.budgets.map(budgetRow));
  }
  lines.push('', `Policy \`${report.policyHash.slice(0, 16)}…\` · comparison \`${report.comparisonId}\``, '');
  return lines.join('\n');
}

function holmCell(h: Hypothesis): string {
  return `${fmt(h.adjustedPValue)}${h.significant ? ' *' : ''}${h.powerless ? ' (powerless)' : ''}`;
}

function effectCell(h: Hypothesis): string {
  if (h.effect.kind === 'mean') {
    const d = h.effect.meanDifference;
    return `mean Δ ${fmt(d.estimate)} [${fmt(d.low)}, ${fmt(d.high)}]`;
  }
  const d = h.effect.cliffsDelta;
  const hl = h.effect.hodgesLehmann;
  const shift = hl.low === null || hl.high === null ? fmt(hl.estimate) : `${fmt(hl.estimate)} [${fmt(hl.low)}, ${fmt(hl.high)}]`;
  return `δ ${fmt(d.estimate)} [${fmt(d.low)}, ${fmt(d.high)}]; shift ${shift}`;
}

const num = (v: number | null): string => (v === null ? '—' : fmt(v));
const sideCell = (s: RuleOutcome['baseline']): string => (s.aggregate === null ? '—' : `${fmt(s.aggregate)} (n=${s.n})`);
const pct = (v: number | null): string => (v === null ? '—' : `${v >= 0 ? '+' : ''}${fmt(v * 100)}%`);

function ruleRow(r: RuleOutcome): string {
  let test = '—';
  if (r.test?.kind === 'bootstrap') test = `${Math.round(r.test.confidence * 100)}% CI [${fmt(r.test.low)}, ${fmt(r.test.high)}]`;
  else if (r.test?.kind === 'mann-whitney') test = `MWU p=${fmt(r.test.pValue)}, δ=${fmt(r.test.effectSize)}`;
  else if (r.testRequested !== 'none') test = `${r.testRequested}: n too small`;
  return cells([r.metric, r.direction, sideCell(r.baseline), sideCell(r.candidate), num(r.delta), pct(r.relativeDelta), test, r.severity, ICON[r.verdict]!]);
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
