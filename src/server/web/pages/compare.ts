// Compare 2–50 runs (`#/compare?runs=a,b,c`, entries `campaign:NAME` expand to a campaign's runs):
// status, verification, plan, params, final and latest metrics and environment side by side, with
// "only differences"; the training curves overlaid (log scale, EMA smoothing, x = step or wall time).
// Every control is in the URL, so a link reopens the same comparison.
import uPlot from 'uplot';
import type { CompareRun, CompareView } from '../../api-types.js';
import { getJson } from '../api.js';
import { el, replaceChildren, section, type Child } from '../dom.js';
import { compact, digest, num, verificationBadge } from '../format.js';
import { touchesRun } from '../live.js';
import { coalesce, errorMessage, type Page } from '../page.js';
import { liveStatusBadge } from './runs.js';
import { campaignBoxes, parallelCoordinates, type PlotRun } from '../plots.js';

/** Distinct colours with at least 3:1 contrast on white, cycled past ten runs. */
const PALETTE = ['#1f5fa8', '#b3261e', '#2e7d32', '#6a3d9a', '#8a4b08', '#00695c', '#ad1457', '#37474f', '#5d4037', '#283593'];
const colour = (i: number): string => PALETTE[i % PALETTE.length]!;

type Value = string | number | boolean | null;
interface Row {
  group: string;
  label: string;
  values: Value[];
  /** How a value is shown (default: as text). */
  show?: (v: Value) => Child;
}

function flatten(prefix: string, value: unknown, out: Record<string, Value>): Record<string, Value> {
  if (value === null || typeof value !== 'object') out[prefix] = (value ?? null) as Value;
  else if (Array.isArray(value)) out[prefix] = JSON.stringify(value);
  else for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
  return out;
}

/** One row per key found in any run; a run without the key shows "—". */
function rowsOf(group: string, maps: Record<string, Value>[], show?: Row['show']): Row[] {
  const keys = [...new Set(maps.flatMap((m) => Object.keys(m)))].sort();
  return keys.map((k) => ({ group, label: k, values: maps.map((m) => (Object.hasOwn(m, k) ? m[k]! : null)), show }));
}

export function compareRows(runs: CompareRun[]): Row[] {
  const r = runs.map((c) => c.row);
  const hash = (v: Value): Child => (typeof v === 'string' ? digest(v) : '—');
  return [
    { group: 'Run', label: 'status', values: r.map((x) => (x.stage ? `${x.status} (${x.stage})` : x.status)) },
    { group: 'Run', label: 'verification', values: r.map((x) => x.verification), show: (v) => verificationBadge(v as CompareRun['row']['verification']) },
    { group: 'Run', label: 'campaign', values: r.map((x) => x.campaign) },
    { group: 'Run', label: 'backend', values: r.map((x) => x.backend) },
    { group: 'Run', label: 'seed', values: r.map((x) => x.seed) },
    { group: 'Plan', label: 'name', values: runs.map((c) => c.plan.name) },
    { group: 'Plan', label: 'governance plan hash', values: runs.map((c) => c.plan.governancePlanHash), show: hash },
    { group: 'Plan', label: 'execution plan hash', values: runs.map((c) => c.plan.executionPlanHash), show: hash },
    { group: 'Plan', label: 'config digest', values: runs.map((c) => c.plan.configDigest), show: hash },
    { group: 'Plan', label: 'stages', values: runs.map((c) => c.plan.stages.join(' → ') || null) },
    { group: 'Plan', label: 'gate policy', values: runs.map((c) => c.plan.gatePolicy) },
    ...rowsOf('Plan', runs.map((c) => flatten('', { seeds: c.plan.seeds, budgets: c.plan.budgets }, {}))),
    ...rowsOf('Params', r.map((x) => x.params)),
    ...rowsOf('Tags', r.map((x) => x.tags)),
    ...rowsOf('Final metrics', r.map((x) => x.final ?? {}), (v) => (typeof v === 'number' ? num(v) : '—')),
    ...rowsOf('Latest metrics (not final)', r.map((x) => (x.latest ? { step: x.latest.step, ...x.latest.values } : {})), (v) => (typeof v === 'number' ? num(v) : '—')),
    ...rowsOf('Environment', runs.map((c) => flatten('', c.environment ?? {}, {}))),
  ];
}

const differs = (row: Row): boolean => row.values.some((v) => JSON.stringify(v) !== JSON.stringify(row.values[0]));

function sideBySide(runs: CompareRun[], onlyDifferences: boolean): HTMLElement {
  const rows = compareRows(runs).filter((row) => !onlyDifferences || differs(row));
  const groups = [...new Set(rows.map((r) => r.group))];
  return el(
    'div',
    { class: 'table-wrap compare-table', role: 'region', 'aria-label': 'Runs side by side', tabindex: 0 },
    el(
      'table',
      { id: 'compare-table', 'data-rows': rows.length },
      el('caption', {}, onlyDifferences ? `${rows.length} fields that differ between ${runs.length} runs` : `${rows.length} fields of ${runs.length} runs`),
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Field'), runs.map((c, i) => el('th', { scope: 'col', class: 'run-col' }, el('span', { class: 'swatch', 'data-colour': i % PALETTE.length }), el('a', { href: `#/runs/${encodeURIComponent(c.row.runId)}` }, c.row.runId))))),
      groups.map((g) =>
        el(
          'tbody',
          { 'data-group': g },
          el('tr', { class: 'group-row' }, el('th', { scope: 'rowgroup', colspan: runs.length + 1 }, g)),
          rows
            .filter((r) => r.group === g)
            .map((r) => {
              const diff = differs(r);
              return el(
                'tr',
                { 'data-field': `${g}:${r.label}`, class: diff ? 'differs' : 'same' },
                el('th', { scope: 'row' }, r.label, diff ? el('span', { class: 'visually-hidden' }, ' (differs)') : null),
                r.values.map((v) => el('td', {}, v === null ? '—' : r.show ? r.show(v) : String(v))),
              );
            }),
        ),
      ),
      rows.length === 0 ? el('tbody', {}, el('tr', {}, el('td', { colspan: runs.length + 1, class: 'empty' }, 'These runs do not differ in any field.'))) : null,
    ),
  );
}

/** Exponential moving average (the TensorBoard slider): s₀ = v₀, sᵢ = w·sᵢ₋₁ + (1−w)·vᵢ. */
export function ema(values: (number | null)[], weight: number): (number | null)[] {
  let last: number | null = null;
  return values.map((v) => {
    if (v === null) return null;
    last = last === null ? v : weight * last + (1 - weight) * v;
    return last;
  });
}

interface CurveOptions {
  metric: string;
  log: boolean;
  smoothing: number;
  x: 'step' | 'time';
}

/** The runs' curves on one x axis: the union of their x values, each run null where it has no sample. */
export function alignCurves(runs: CompareRun[], o: CurveOptions): uPlot.AlignedData {
  const per = runs.map((c) => {
    const curve = c.curves[o.metric];
    if (!curve) return new Map<number, number>();
    const t0 = curve.time[0] ?? 0;
    const xs = o.x === 'step' ? curve.step : curve.time.map((t) => (t - t0) / 1000);
    const smoothed = ema(curve.value, o.smoothing);
    return new Map(xs.map((x, i) => [x, smoothed[i]!]));
  });
  const xs = [...new Set(per.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  // A log scale cannot show zero or less: those points are left out rather than drawn wrong.
  return [xs, ...per.map((m) => xs.map((x) => { const v = m.get(x); return v === undefined || (o.log && v <= 0) ? null : v; }))];
}

class CurveChart {
  readonly figure: HTMLElement;
  private readonly host: HTMLElement;
  private readonly summary: HTMLElement;
  private plot: uPlot | undefined;
  private readonly resize: ResizeObserver;

  constructor() {
    this.host = el('div', { class: 'plot', role: 'img', 'aria-labelledby': 'compare-curves-caption' });
    this.summary = el('p', { class: 'chart-summary', id: 'compare-curves-summary' });
    this.figure = el('figure', { class: 'chart', id: 'compare-curves', 'data-series': 0 }, el('figcaption', { id: 'compare-curves-caption' }, 'Training curves'), this.host, this.summary);
    this.resize = new ResizeObserver(() => this.plot && this.plot.setSize({ width: this.width(), height: 320 }));
    this.resize.observe(this.figure);
  }

  private width(): number {
    return Math.max(260, Math.floor(this.figure.clientWidth || 800) - 8);
  }

  draw(runs: CompareRun[], o: CurveOptions): void {
    const data = alignCurves(runs, o);
    this.plot?.destroy();
    this.plot = new uPlot(
      {
        width: this.width(),
        height: 320,
        scales: { x: { time: false }, y: o.log ? { distr: 3 } : {} },
        axes: [
          { label: o.x === 'step' ? 'step' : 'seconds since the first sample', stroke: '#333' },
          { label: o.metric, stroke: '#333', size: 64, values: (_u, ticks) => ticks.map((t) => compact(t)) },
        ],
        // Sparse curves (a few logged points) get their points drawn: a single point has no line to show.
        series: [{ label: o.x }, ...runs.map((c, i) => ({ label: c.row.runId, stroke: colour(i), fill: undefined, width: 2, spanGaps: true, points: { show: data[0].length <= 60, size: 6, fill: colour(i) } }))],
        legend: { live: true },
      },
      data,
      this.host,
    );
    const drawn = runs.filter((c) => c.curves[o.metric]);
    this.figure.dataset.series = String(drawn.length);
    this.figure.dataset.scale = o.log ? 'log' : 'linear';
    this.figure.dataset.x = o.x;
    this.figure.dataset.smoothing = String(o.smoothing);
    const last = (c: CompareRun): string => {
      const v = ema(c.curves[o.metric]!.value, o.smoothing);
      return `${c.row.runId} ${num(v[v.length - 1])} at step ${c.curves[o.metric]!.step.at(-1)}`;
    };
    this.summary.textContent = drawn.length
      ? `${o.metric} of ${drawn.length} run${drawn.length === 1 ? '' : 's'} by ${o.x === 'step' ? 'step' : 'wall time'}, ${o.log ? 'log' : 'linear'} scale${o.smoothing > 0 ? `, smoothed (EMA ${o.smoothing})` : ''}; latest: ${drawn.map(last).join('; ')}.`
      : `No run has ${o.metric} samples yet.`;
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }
}

export async function comparePage(main: HTMLElement, query: URLSearchParams): Promise<Page> {
  const refs = (query.get('runs') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const state = {
    diff: query.get('diff') === '1',
    metric: query.get('metric') ?? 'loss',
    log: query.get('log') === '1',
    smoothing: Math.min(0.99, Math.max(0, Number(query.get('smooth') ?? 0) || 0)),
    x: (query.get('x') === 'time' ? 'time' : 'step') as CurveOptions['x'],
    /** The final metric the parallel coordinates and campaign boxes show. */
    target: query.get('target') ?? 'testAccuracy',
  };
  if (refs.length < 2) {
    replaceChildren(main, el('h1', {}, 'Compare runs'), el('p', {}, 'Select at least two runs on the ', el('a', { href: '#/runs' }, 'runs page'), ' (or a campaign: ', el('code', {}, '#/compare?runs=campaign:NAME,…'), ') to compare them.'));
    return {};
  }
  const save = (): void => {
    const q = new URLSearchParams({ runs: refs.join(',') });
    if (state.diff) q.set('diff', '1');
    if (state.metric !== 'loss') q.set('metric', state.metric);
    if (state.log) q.set('log', '1');
    if (state.smoothing > 0) q.set('smooth', String(state.smoothing));
    if (state.x !== 'step') q.set('x', state.x);
    if (state.target !== 'testAccuracy') q.set('target', state.target);
    history.replaceState(null, '', `#/compare?${q}`);
  };

  let view: CompareView;
  try {
    view = await getJson<CompareView>(`/api/compare?${new URLSearchParams({ runs: refs.join(',') })}`);
  } catch (err) {
    replaceChildren(main, el('h1', {}, 'Compare runs'), errorMessage(err));
    return {};
  }

  const summary = el('div');
  const tableHost = el('div');
  const chart = new CurveChart();
  const onlyDiff = el('input', { type: 'checkbox', id: 'only-differences', checked: state.diff });
  const metric = el('select', { id: 'curve-metric' });
  const log = el('input', { type: 'checkbox', id: 'curve-log', checked: state.log });
  const smoothing = el('input', { type: 'range', id: 'curve-smoothing', min: 0, max: 0.99, step: 0.01, value: state.smoothing, 'aria-describedby': 'curve-smoothing-value' });
  const smoothingValue = el('output', { id: 'curve-smoothing-value', for: 'curve-smoothing' }, String(state.smoothing));
  const xAxis = el('select', { id: 'curve-x' }, el('option', { value: 'step', selected: state.x === 'step' }, 'step'), el('option', { value: 'time', selected: state.x === 'time' }, 'wall time'));

  const target = el('select', { id: 'plot-metric' });
  const plots = el('div', { class: 'chart-grid' });
  const drawPlots = (): void => {
    const finals = [...new Set(view.runs.flatMap((c) => Object.keys(c.row.final ?? {})))].sort();
    if (!finals.includes(state.target) && finals.length) state.target = finals[0]!;
    replaceChildren(target, finals.map((m) => el('option', { value: m, selected: m === state.target }, m)));
    const runs: PlotRun[] = view.runs.map((c, i) => ({ id: c.row.runId, colour: colour(i), campaign: c.row.campaign, params: c.row.params, metric: c.row.final?.[state.target] ?? null }));
    replaceChildren(plots, finals.length ? [parallelCoordinates(runs, state.target), campaignBoxes(runs, state.target)] : el('p', {}, 'No run has final metrics yet: the plots use final values only.'));
  };

  const render = (): void => {
    const runs = view.runs;
    drawPlots();
    replaceChildren(
      summary,
      el(
        'ul',
        { class: 'compare-runs' },
        runs.map((c, i) =>
          el(
            'li',
            { 'data-run': c.row.runId },
            el('span', { class: 'swatch', 'data-colour': i % PALETTE.length, 'aria-hidden': 'true' }),
            el('a', { href: `#/runs/${encodeURIComponent(c.row.runId)}` }, c.row.runId),
            ' ',
            liveStatusBadge(c.row),
            ' ',
            el('span', { title: c.verificationDetail }, verificationBadge(c.row.verification)),
          ),
        ),
      ),
      view.missing.length ? el('p', { class: 'error', role: 'alert' }, `Not in this ledger: ${view.missing.join(', ')}.`) : null,
    );
    replaceChildren(tableHost, sideBySide(runs, state.diff));
    const metrics = [...new Set(runs.flatMap((c) => Object.keys(c.curves)))].sort();
    if (!metrics.includes(state.metric) && metrics.length) state.metric = metrics[0]!;
    replaceChildren(metric, metrics.map((m) => el('option', { value: m, selected: m === state.metric }, m)));
    chart.draw(runs, state);
  };

  replaceChildren(
    main,
    el('h1', {}, `Compare ${view.runs.length} runs`),
    summary,
    section(
      'Side by side',
      'compare-fields-title',
      el('p', { class: 'controls' }, el('label', {}, onlyDiff, ' Only differences')),
      tableHost,
    ),
    section(
      'Curves',
      'compare-curves-title',
      el(
        'p',
        { class: 'controls' },
        el('label', { for: 'curve-metric' }, 'Metric '),
        metric,
        ' ',
        el('label', { for: 'curve-x' }, 'x axis '),
        xAxis,
        ' ',
        el('label', {}, log, ' Log scale'),
        ' ',
        el('label', { for: 'curve-smoothing' }, 'Smoothing (EMA) '),
        smoothing,
        ' ',
        smoothingValue,
      ),
      chart.figure,
    ),
    section(
      'Params → metric, and campaigns',
      'compare-plots-title',
      el('p', { class: 'controls' }, el('label', { for: 'plot-metric' }, 'Final metric '), target),
      plots,
    ),
  );
  render();
  save();

  onlyDiff.addEventListener('change', () => {
    state.diff = onlyDiff.checked;
    replaceChildren(tableHost, sideBySide(view.runs, state.diff));
    save();
  });
  const redraw = (): void => {
    state.metric = metric.value;
    state.log = log.checked;
    state.smoothing = Number(smoothing.value);
    state.x = xAxis.value === 'time' ? 'time' : 'step';
    smoothingValue.textContent = String(state.smoothing);
    chart.draw(view.runs, state);
    save();
  };
  for (const control of [metric, log, xAxis]) control.addEventListener('change', redraw);
  target.addEventListener('change', () => {
    state.target = target.value;
    drawPlots();
    save();
  });
  smoothing.addEventListener('input', redraw);

  const refresh = coalesce(async () => {
    view = await getJson<CompareView>(`/api/compare?${new URLSearchParams({ runs: refs.join(',') })}`);
    render();
  });
  return {
    onChange: (change) => view.runs.some((c) => touchesRun(change, c.row.runId)) && refresh(),
    dispose: () => chart.destroy(),
  };
}
