// Telemetry charts (uPlot, canvas): one figure per measure, the stage budget drawn as a dashed
// line, a text summary for screen readers and a data table of the latest samples.
import uPlot from 'uplot';
import type { StageBudgetView, TelemetryPoint } from '../api-types.js';
import { el, replaceChildren, table } from './dom.js';
import { compact, num } from './format.js';

/** What a chart plots: points by step, of one stage (telemetry samples, or a logged metric's points). */
export interface StepPoint {
  step: number;
  stage?: string;
}

export interface SeriesSpec<P extends StepPoint = TelemetryPoint> {
  label: string;
  value: (p: P) => number | null;
  color: string;
  /** Right-hand axis (e.g. accuracy next to loss). */
  right?: boolean;
}

export interface ChartSpec<P extends StepPoint = TelemetryPoint> {
  key: string;
  title: string;
  series: SeriesSpec<P>[];
  /** The stage budget drawn as a horizontal line, if the plan sets one. */
  budget?: (budget: StageBudgetView) => { label: string; value: number } | null;
  format?: (value: number) => string;
}

const BUDGET_COLOR = '#b3261e';
const TABLE_ROWS = 8;

export class TelemetryChart<P extends StepPoint = TelemetryPoint> {
  readonly figure: HTMLElement;
  private readonly plotHost: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly tableHost: HTMLElement;
  private plot: uPlot | undefined;
  private budgetLine: { label: string; value: number } | null = null;
  private points: P[] = [];
  private readonly resize: ResizeObserver;

  constructor(private readonly spec: ChartSpec<P>) {
    const titleId = `chart-${spec.key.replace(/[^A-Za-z0-9_-]/g, '_')}-title`;
    this.plotHost = el('div', { class: 'plot', role: 'img', 'aria-labelledby': titleId });
    this.summary = el('p', { class: 'chart-summary' });
    this.tableHost = el('div');
    this.figure = el(
      'figure',
      { class: 'chart', 'data-chart': spec.key, 'data-points': 0 },
      el('figcaption', { id: titleId }, spec.title),
      this.plotHost,
      this.summary,
      el('details', {}, el('summary', {}, `Latest ${TABLE_ROWS} samples as a table`), this.tableHost),
    );
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.figure);
  }

  /** Replaces the series with `points` (sorted by step); budgets come from the approved plan. */
  setPoints(points: P[], budgets: Record<string, StageBudgetView>): void {
    this.points = points;
    const stage = points[points.length - 1]?.stage;
    const budget = stage ? budgets[stage] : undefined;
    this.budgetLine = budget && this.spec.budget ? this.spec.budget(budget) : null;
    const xs = points.map((p) => p.step);
    const data: uPlot.AlignedData = [
      xs,
      ...this.spec.series.map((s) => points.map((p) => s.value(p))),
      ...(this.budgetLine ? [xs.map(() => this.budgetLine!.value)] : []),
    ];
    const seriesCount = this.spec.series.length + (this.budgetLine ? 1 : 0);
    if (!this.plot || this.plot.series.length - 1 !== seriesCount) {
      this.plot?.destroy();
      this.plot = new uPlot(this.options(), data, this.plotHost);
    } else {
      this.plot.setData(data);
    }
    this.figure.dataset.points = String(points.length);
    this.describe();
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
  }

  private width(): number {
    return Math.max(260, Math.floor(this.figure.clientWidth || 600) - 8);
  }

  private fit(): void {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 4) this.plot.setSize({ width: this.width(), height: 220 });
  }

  private options(): uPlot.Options {
    const hasRight = this.spec.series.some((s) => s.right);
    return {
      width: this.width(),
      height: 220,
      scales: { x: { time: false } },
      axes: [
        { label: 'step', stroke: '#333' },
        { stroke: '#333', values: (_u, ticks) => ticks.map((t) => compact(t)), size: 60 },
        ...(hasRight ? [{ scale: 'right', side: 1 as const, stroke: '#333', grid: { show: false } }] : []),
      ],
      series: [
        { label: 'step' },
        ...this.spec.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.right ? 'right' : 'y', spanGaps: true })),
        ...(this.budgetLine ? [{ label: this.budgetLine.label, stroke: BUDGET_COLOR, width: 2, dash: [8, 6], points: { show: false } }] : []),
      ],
      legend: { live: true },
    };
  }

  private describe(): void {
    const last = this.points[this.points.length - 1];
    const fmt = this.spec.format ?? ((v: number) => num(v));
    const parts = this.spec.series.map((s) => {
      const v = last ? s.value(last) : null;
      return `${s.label} ${v === null ? 'not recorded' : fmt(v)}`;
    });
    this.summary.textContent = last
      ? `${this.points.length} samples up to step ${last.step}; latest: ${parts.join(', ')}${this.budgetLine ? `; ${this.budgetLine.label}` : ''}.`
      : 'No samples yet.';
    const rows = this.points.slice(-TABLE_ROWS).map((p) => [String(p.step), ...this.spec.series.map((s) => { const v = s.value(p); return v === null ? '—' : fmt(v); })]);
    replaceChildren(this.tableHost, table(`${this.spec.title}: latest samples`, ['step', ...this.spec.series.map((s) => s.label)], rows, { rowHeaders: true }));
  }
}

export const TELEMETRY_CHARTS: ChartSpec[] = [
  {
    key: 'loss',
    title: 'Loss and accuracy by step',
    series: [
      { label: 'loss', value: (p) => p.loss, color: '#1f5fa8' },
      { label: 'accuracy', value: (p) => p.accuracy, color: '#2e7d32', right: true },
    ],
  },
  {
    key: 'throughput',
    title: 'Throughput (examples per second)',
    series: [{ label: 'examples/s', value: (p) => p.examplesPerSec, color: '#6a3d9a' }],
    budget: (b) => (b.minThroughput !== undefined ? { label: `budget: at least ${num(b.minThroughput)} examples/s`, value: b.minThroughput } : null),
  },
  {
    key: 'memory',
    title: 'Memory delta (bytes)',
    series: [{ label: 'memory delta', value: (p) => p.memoryDeltaBytes, color: '#8a4b08' }],
    budget: (b) => (b.maxMemoryDeltaBytes !== undefined ? { label: `budget: at most ${num(b.maxMemoryDeltaBytes)} bytes`, value: b.maxMemoryDeltaBytes } : null),
  },
  {
    key: 'step-time',
    title: 'Step wall time (ms)',
    series: [{ label: 'step ms', value: (p) => p.stepWallMs, color: '#00695c' }],
  },
];
