// Comparisons: baseline against candidate per metric, with aggregates, deltas, intervals or
// test statistics, and the gate's verdict for each rule.
import type { ComparisonView } from '../../api-types.js';
import { getJson } from '../api.js';
import { el, replaceChildren, section, table } from '../dom.js';
import { num, verdictBadge, when } from '../format.js';
import { coalesce, errorMessage, type Page } from '../page.js';

export async function comparisonsPage(main: HTMLElement, focus?: string): Promise<Page> {
  const host = el('div');
  replaceChildren(
    main,
    el('h1', {}, 'Comparisons'),
    el('p', { class: 'lede' }, 'Recorded by "runledger compare" and "runledger gate": each is replayable evidence, with the verdict of every rule.'),
    host,
  );
  const load = async (): Promise<void> => {
    try {
      const { comparisons } = await getJson<{ comparisons: ComparisonView[] }>('/api/comparisons');
      replaceChildren(host, comparisons.length ? comparisons.map(comparisonSection) : el('p', {}, 'No comparisons recorded yet. Try "runledger gate --baseline A --candidate B".'));
      if (focus) document.getElementById(`cmp-${focus}`)?.scrollIntoView();
    } catch (err) {
      replaceChildren(host, errorMessage(err));
    }
  };
  await load();
  const refresh = coalesce(load);
  return { onChange: (change) => change.topics.includes('comparisons') && refresh() };
}

function side(s: ComparisonView['baseline']): string {
  return `${s.kind} ${s.ref} (${s.runs.length} run${s.runs.length === 1 ? '' : 's'})`;
}

function interval(m: ComparisonView['metrics'][number]): string {
  if (m.interval) return `${Math.round(m.interval.confidence * 100)}% CI [${num(m.interval.low)}, ${num(m.interval.high)}]`;
  if (m.pValue !== null) return `p = ${num(m.pValue, 3)}, effect ${num(m.effectSize, 3)}`;
  return '—';
}

function comparisonSection(c: ComparisonView): HTMLElement {
  const id = `cmp-${c.comparisonId}`;
  return el(
    'div',
    { id, class: 'comparison' },
    section(
      `${c.baseline.ref} → ${c.candidate.ref}`,
      `${id}-title`,
      el('p', {}, 'Verdict: ', verdictBadge(c.verdict), ` · baseline ${side(c.baseline)} · candidate ${side(c.candidate)} · ${c.aggregation} · recorded ${when(c.recordedAt)}`),
      table(
        `Metrics of comparison ${c.comparisonId.slice(0, 12)}`,
        ['Metric', 'Direction', 'Baseline', 'Candidate', 'Delta', 'Relative', 'Interval / test', 'Rule', 'Verdict'],
        c.metrics.map((m) => [
          m.metric,
          m.direction === 'higher-is-better' ? 'higher is better' : 'lower is better',
          `${num(m.baseline.aggregate)} (n=${m.baseline.n})`,
          `${num(m.candidate.aggregate)} (n=${m.candidate.n})`,
          num(m.delta),
          m.relativeDelta === null ? '—' : `${(m.relativeDelta * 100).toFixed(2)}%`,
          interval(m),
          m.severity ? el('span', { class: 'detail' }, `${m.severity}${m.reason ? `: ${m.reason}` : ''}`) : '—',
          verdictBadge(m.verdict),
        ]),
        { rowHeaders: true },
      ),
    ),
  );
}
