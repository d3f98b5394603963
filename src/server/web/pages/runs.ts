// Runs list: status, plan, backend, progress, key metrics and the verification badge of every run.
import type { RunRow } from '../../api-types.js';
import { getJson } from '../api.js';
import { el, replaceChildren, table } from '../dom.js';
import { num, percent, shortWhen, statusBadge, verificationBadge } from '../format.js';
import { coalesce, errorMessage, type Page } from '../page.js';

export async function runsPage(main: HTMLElement): Promise<Page> {
  const host = el('div');
  replaceChildren(
    main,
    el('h1', {}, 'Runs'),
    el('p', { class: 'lede' }, 'Every governed run in the ledger, newest activity first. The list updates live as events are recorded.'),
    host,
  );
  const load = async (): Promise<void> => {
    try {
      const { runs } = await getJson<{ runs: RunRow[] }>('/api/runs');
      replaceChildren(host, runsTable(runs));
    } catch (err) {
      replaceChildren(host, errorMessage(err));
    }
  };
  await load();
  const refresh = coalesce(load);
  return { onChange: (change) => change.topics.includes('runs') && refresh() };
}

function progress(run: RunRow): HTMLElement | string {
  if (run.step === null) return '—';
  if (!run.totalSteps) return `step ${run.step}`;
  return el(
    'span',
    { class: 'progress' },
    el('progress', { max: run.totalSteps, value: Math.min(run.step, run.totalSteps), 'aria-label': `run ${run.runId} progress` }),
    ` ${num(run.step)} / ${num(run.totalSteps)}`,
  );
}

/** A trained run's held-out accuracy; otherwise the first metrics by name, whatever they are called. */
function finalMetrics(metrics: RunRow['metrics']): string {
  if (!metrics) return '—';
  if (metrics.testAccuracy !== undefined) return `test accuracy ${percent(metrics.testAccuracy)}`;
  const names = Object.keys(metrics).sort();
  const shown = names.slice(0, 2).map((k) => `${k} ${num(metrics[k])}`).join(', ');
  return names.length > 2 ? `${shown} (+${names.length - 2})` : shown || '—';
}

export function runsTable(runs: RunRow[]): HTMLElement {
  return table(
    `${runs.length} run${runs.length === 1 ? '' : 's'}`,
    ['Run', 'Status', 'Plan', 'Backend', 'Training step', 'Latest loss', 'Final metrics', 'Check\u00adpoints', 'Findings', 'Verification', 'Updated'],
    runs.map((r) => [
      el(
        'span',
        { class: 'run-cell' },
        el('a', { href: `#/runs/${encodeURIComponent(r.runId)}`, 'data-run': r.runId }, r.runId),
        r.campaign ? el('span', { class: 'muted small' }, `campaign ${r.campaign}`) : null,
      ),
      statusBadge(r.status),
      r.plan ?? '—',
      r.backend ?? '—',
      progress(r),
      el('span', { 'data-field': 'loss' }, num(r.lastLoss)),
      finalMetrics(r.metrics),
      String(r.checkpoints),
      r.findings.hard + r.findings.soft > 0 ? `${r.findings.hard} hard, ${r.findings.soft} soft` : '—',
      verificationBadge(r.verification),
      shortWhen(r.updatedAt),
    ]),
    { rowHeaders: true, className: 'runs-table' },
  );
}
