// Run detail: provenance, stage timeline against the plan, telemetry charts with budget lines,
// signed checkpoints, gate verdicts and findings. Live: new samples extend the charts in place.
import type { MetricSeriesPoint, RunDetail, StageView, TelemetryPoint, TelemetryView } from '../../api-types.js';
import { getJson, runPath } from '../api.js';
import { TELEMETRY_CHARTS, TelemetryChart } from '../charts.js';
import { el, replaceChildren, section, table, type Child } from '../dom.js';
import { bytes, digest, ms, num, percent, statusBadge, verdictBadge, verificationBadge, when } from '../format.js';
import { touchesRun } from '../live.js';
import { coalesce, errorMessage, type Page } from '../page.js';
import { replayPanel } from './verification.js';

export async function runPage(main: HTMLElement, runId: string): Promise<Page> {
  let detail: RunDetail;
  try {
    detail = await getJson<RunDetail>(runPath(runId));
  } catch (err) {
    replaceChildren(main, el('h1', {}, `Run ${runId}`), errorMessage(err));
    return {};
  }
  const heading = el('div', { class: 'run-heading' });
  const provenance = el('div');
  const stages = el('div');
  const checkpoints = el('div');
  const gates = el('div');
  const metricsTable = el('div');
  const metricCharts = el('div', { class: 'chart-grid' });
  const paramsAndTags = el('div');
  const environment = el('div');
  const charts = TELEMETRY_CHARTS.map((spec) => new TelemetryChart(spec));
  const chartNote = el('p', { class: 'chart-note' });
  const stagePicker = el('select', { id: 'telemetry-stage' });
  const stageField = el('p', { class: 'stage-picker', hidden: true }, el('label', { for: 'telemetry-stage' }, 'Stage '), stagePicker);
  replaceChildren(
    main,
    heading,
    section('Provenance', 'provenance-title', provenance),
    section('Params and tags', 'params-title', paramsAndTags),
    section('Metrics', 'metrics-title', metricsTable, metricCharts),
    section('Stages against the plan', 'stages-title', stages),
    section('Telemetry', 'telemetry-title', stageField, chartNote, el('div', { class: 'chart-grid' }, charts.map((c) => c.figure))),
    section('Checkpoints', 'checkpoints-title', checkpoints),
    section('Gates and findings', 'gates-title', gates),
    section('Environment', 'environment-title', environment),
    section('Replay', 'replay-title', replayPanel(runId)),
  );

  const renderDetail = (d: RunDetail): void => {
    replaceChildren(
      heading,
      el('h1', {}, `Run ${d.runId} `, statusBadge(d.status), ' ', verificationBadge(d.verification)),
      d.failure ? el('p', { class: 'error', role: 'alert' }, d.failure) : null,
    );
    replaceChildren(provenance, provenanceList(d));
    replaceChildren(stages, stageTimeline(d.stages));
    replaceChildren(checkpoints, checkpointTable(d));
    replaceChildren(gates, gateSection(d));
    replaceChildren(paramsAndTags, paramsSection(d));
    replaceChildren(metricsTable, latestMetricsTable(d));
    replaceChildren(environment, environmentList(d.environment));
  };
  renderDetail(detail);

  // One chart per logged metric name (any name), in name order; the series grow as points arrive.
  const series = new Map<string, MetricSeriesPoint[]>();
  const metricChart = new Map<string, TelemetryChart<MetricSeriesPoint>>();
  const drawMetrics = (): void => {
    for (const [name, pts] of [...series].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, MAX_METRIC_CHARTS)) {
      let chart = metricChart.get(name);
      if (!chart) {
        chart = new TelemetryChart<MetricSeriesPoint>({ key: `metric-${name}`, title: `${name} by step`, series: [{ label: name, value: (p) => p.value, color: '#1f5fa8' }] });
        metricChart.set(name, chart);
        metricCharts.append(chart.figure);
      }
      chart.setPoints([...pts].sort((a, b) => a.step - b.step), {});
    }
  };

  let points: TelemetryPoint[] = [];
  let budgets: TelemetryView['budgets'] = {};
  let stage: string | null = null;
  const drawCharts = (): void => {
    chartNote.textContent = points.length
      ? `${points.length} telemetry samples of stage ${stage}. Dashed red lines are the stage's budgets from the approved plan.`
      : 'No telemetry recorded for this run yet; charts fill in as samples arrive.';
    for (const chart of charts) chart.setPoints(points, budgets);
  };
  const loadTelemetry = async (): Promise<void> => {
    const after = points.length ? points[points.length - 1]!.step : -1;
    const query = new URLSearchParams({ after: String(after), ...(stage ? { stage } : {}) });
    const view = await getJson<TelemetryView>(`${runPath(runId, '/telemetry')}?${query}`);
    budgets = view.budgets;
    stage = view.stage;
    if (after < 0) series.clear();
    for (const [name, pts] of Object.entries(view.metrics)) series.set(name, [...(series.get(name) ?? []), ...pts]);
    drawMetrics();
    if (view.stages.length > 1 && stagePicker.options.length !== view.stages.length) {
      replaceChildren(stagePicker, view.stages.map((s) => el('option', { value: s, selected: s === stage }, s)));
      stageField.hidden = false;
    }
    if (view.points.length || after < 0) {
      points = points.concat(view.points);
      drawCharts();
    }
  };
  stagePicker.addEventListener('change', () => {
    stage = stagePicker.value;
    points = [];
    series.clear();
    void loadTelemetry();
  });
  await loadTelemetry().catch(() => drawCharts());

  const refresh = coalesce(async () => {
    await loadTelemetry();
    detail = await getJson<RunDetail>(runPath(runId));
    renderDetail(detail);
  });
  return {
    onChange: (change) => {
      if (touchesRun(change, runId) || change.topics.includes('gates') || change.topics.includes('verification')) refresh();
    },
    dispose: () => [...charts, ...metricChart.values()].forEach((c) => c.destroy()),
  };
}

const MAX_METRIC_CHARTS = 24;

function paramsSection(d: RunDetail): HTMLElement {
  const params = Object.entries(d.params);
  const tags = Object.entries(d.tags);
  return el(
    'div',
    {},
    table(`${params.length} param${params.length === 1 ? '' : 's'} (write-once)`, ['Param', 'Value'], params.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]), { rowHeaders: true }),
    table(`${tags.length} tag${tags.length === 1 ? '' : 's'}`, ['Tag', 'Value'], tags.map(([k, v]) => [k, v]), { rowHeaders: true }),
  );
}

function latestMetricsTable(d: RunDetail): HTMLElement {
  const names = Object.keys(d.latestMetrics).sort();
  const finals = Object.keys(d.metrics ?? {}).filter((k) => !Object.hasOwn(d.latestMetrics, k)).sort();
  return table(
    'Final metrics (the latest point of each name; a trained run\'s held-out metrics)',
    ['Metric', 'Value', 'Step', 'Logged'],
    [
      ...names.map((k) => {
        const m = d.latestMetrics[k]!;
        return [k, num(d.metrics?.[k] ?? m.value), String(m.step), when(new Date(m.timestamp).toISOString())];
      }),
      ...finals.map((k) => [k, num(d.metrics![k]), '—', '—']),
    ],
    { rowHeaders: true },
  );
}

/** The environment as recorded: scalar facts in a list, nested ones (OS, CPU, git, GPUs, client facts) as JSON. */
function environmentList(env: Record<string, unknown> | null): HTMLElement {
  if (!env) return el('p', {}, 'No environment recorded for this run.');
  return dl(Object.entries(env).map(([k, v]): [string, Child] => [k, v === null ? '—' : typeof v === 'object' ? el('code', {}, JSON.stringify(v)) : String(v)]));
}

function dl(entries: [string, Child][]): HTMLElement {
  return el('dl', { class: 'facts' }, entries.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));
}

function provenanceList(d: RunDetail): HTMLElement {
  const t = d.training;
  return dl([
    ['Plan', d.plan ?? '—'],
    ['Approver', d.approver ?? '—'],
    ['Governance plan hash', digest(d.governancePlanHash)],
    ['Execution plan hash', digest(d.executionPlanHash)],
    ['Campaign', d.campaign ?? '—'],
    ['Backend', t ? `${t.backend.name} (tfjs ${t.backend.tfjsVersion}, ${t.backend.threads ?? '?'} thread${t.backend.threads === 1 ? '' : 's'}${t.backend.simd ? ', SIMD' : ''})` : (d.backend ?? '—')],
    ['Seed', d.seed === null ? '—' : String(d.seed)],
    ['Dataset', t ? el('span', {}, `${t.dataset.package}@${t.dataset.version} (${t.dataset.trainSize} train / ${t.dataset.testSize} test) `, digest(t.dataset.digest)) : '—'],
    ['Config digest', digest(t?.configDigest)],
    ['Worker', t?.worker ?? '—'],
    ['Resumed from', t?.resumedFrom ? el('span', {}, `epoch ${t.resumedFrom.epoch}, `, digest(t.resumedFrom.digest)) : 'no'],
    ['Training wall time', ms(t?.wallMs)],
    ['Final test accuracy', percent(d.metrics?.testAccuracy)],
    ['Final test loss', num(d.metrics?.testLoss)],
    ['Run summary digest', digest(d.summaryDigest)],
  ]);
}

function stageTimeline(stages: StageView[]): HTMLElement {
  if (stages.length === 0) return el('p', {}, 'No execution plan recorded yet.');
  return el(
    'ol',
    { class: 'timeline' },
    stages.map((s) => {
      const budget = s.budget;
      const wall = s.wallMs;
      const overWall = budget?.maxWallMs !== undefined && wall !== null && wall > budget.maxWallMs;
      return el(
        'li',
        { class: `stage stage-${s.status}`, 'data-stage': s.id },
        el('div', { class: 'stage-head' }, el('strong', {}, s.id), ' ', statusBadge(s.status), s.attempts > 1 ? ` attempt ${s.attempts}` : ''),
        s.dependsOn.length ? el('p', { class: 'muted' }, `after ${s.dependsOn.join(', ')}`) : null,
        el(
          'p',
          {},
          `wall time ${ms(wall)}`,
          budget?.maxWallMs !== undefined ? ` of budget ${ms(budget.maxWallMs)} ` : ' ',
          budget?.maxWallMs !== undefined && wall !== null
            ? el('meter', { min: 0, max: budget.maxWallMs, high: budget.maxWallMs * 0.9, optimum: 0, value: Math.min(wall, budget.maxWallMs), 'aria-label': `stage ${s.id} wall time against its budget` })
            : null,
          overWall ? el('strong', { class: 'over' }, ' over budget') : null,
        ),
        el(
          'p',
          { class: 'muted' },
          `memory Δ ${bytes(s.memoryDeltaBytes)}${budget?.maxMemoryDeltaBytes !== undefined ? ` (budget ${bytes(budget.maxMemoryDeltaBytes)})` : ''}; throughput ${num(s.throughput)}${budget?.minThroughput !== undefined ? ` (budget ≥ ${num(budget.minThroughput)})` : ''}`,
        ),
        s.failure ? el('p', { class: 'error' }, s.failure) : null,
      );
    }),
  );
}

function checkpointTable(d: RunDetail): HTMLElement {
  return table(
    `${d.checkpointList.length} signed checkpoint${d.checkpointList.length === 1 ? '' : 's'}`,
    ['Epoch', 'Step', 'Digest (SHA-256)', 'Size', 'Signature', 'Train loss', 'Test accuracy', 'Recorded'],
    d.checkpointList.map((c) => [
      String(c.epoch),
      String(c.step),
      digest(c.digest, 16),
      bytes(c.bytes),
      c.signatureValid === null
        ? el('span', { class: 'badge badge-unsigned' }, 'not checked (no key)')
        : c.signatureValid
          ? el('span', { class: 'badge badge-verified' }, 'valid')
          : el('span', { class: 'badge badge-failed' }, 'INVALID'),
      num(c.metrics.trainLoss),
      percent(c.metrics.testAccuracy),
      when(c.recordedAt),
    ]),
    { rowHeaders: true },
  );
}

function gateSection(d: RunDetail): HTMLElement {
  return el(
    'div',
    {},
    table(
      'Gate verdicts with this run as candidate',
      ['Comparison', 'Baseline', 'Verdict', 'Hard breaches', 'Soft breaches', 'Recorded'],
      d.gates.map((g) => [
        el('a', { href: `#/comparisons/${g.comparisonId}` }, g.comparisonId.slice(0, 12)),
        g.baseline,
        verdictBadge(g.verdict),
        String(g.hardBreaches),
        String(g.softBreaches),
        when(g.recordedAt),
      ]),
      { rowHeaders: true },
    ),
    table(
      'Audit findings',
      ['Severity', 'Check', 'Subject', 'Finding', 'Recorded'],
      d.findingList.map((f) => [el('span', { class: `badge severity-${f.severity}` }, f.severity), f.check, f.subject ?? 'run', el('span', { class: 'detail' }, f.message), when(f.recordedAt)]),
    ),
  );
}
