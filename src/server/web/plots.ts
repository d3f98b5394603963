// Hand-written SVG plots for the compare view (no library fits small enough): parallel coordinates of
// params → a metric, and a box plot with the points strip per campaign. Presentation attributes only
// (no style attributes: the CSP forbids them); each figure carries a text summary.
import { el } from './dom.js';
import { num } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...children: (SVGElement | string)[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

export interface PlotRun {
  id: string;
  colour: string;
  campaign: string | null;
  params: Record<string, string | number | boolean>;
  metric: number | null;
}

/** An axis over numbers, or over the distinct texts in order of first appearance. */
function axis(values: (string | number | boolean | undefined | null)[]): { at: (v: unknown) => number | null; ticks: [string, number][] } {
  const present = values.filter((v): v is string | number | boolean => v !== undefined && v !== null);
  if (present.length && present.every((v) => typeof v === 'number')) {
    const nums = present as number[];
    const lo = Math.min(...nums);
    const hi = Math.max(...nums);
    const at = (v: unknown): number | null => (typeof v === 'number' ? (hi === lo ? 0.5 : (v - lo) / (hi - lo)) : null);
    return { at, ticks: hi === lo ? [[num(lo), 0.5]] : [[num(lo), 0], [num(hi), 1]] };
  }
  const texts = [...new Set(present.map(String))];
  const at = (v: unknown): number | null => (v === undefined || v === null ? null : texts.length === 1 ? 0.5 : texts.indexOf(String(v)) / (texts.length - 1));
  return { at, ticks: texts.map((t, i) => [t, texts.length === 1 ? 0.5 : i / (texts.length - 1)]) };
}

/** One vertical axis per param that differs between the runs, then the metric; a polyline per run. */
export function parallelCoordinates(runs: PlotRun[], metric: string): HTMLElement {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort().filter((k) => new Set(runs.map((r) => JSON.stringify(r.params[k] ?? null))).size > 1);
  const dims = [...keys.map((k) => ({ label: k, values: runs.map((r) => r.params[k]) })), { label: metric, values: runs.map((r) => r.metric) }];
  const W = Math.max(320, dims.length * 130);
  const H = 260;
  const top = 24;
  const bottom = 40;
  const x = (i: number): number => (dims.length === 1 ? W / 2 : 50 + (i * (W - 100)) / (dims.length - 1));
  const y = (t: number): number => top + (1 - t) * (H - top - bottom);
  const axes = dims.map((d) => axis(d.values));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': 'parallel-title', class: 'svg-plot', id: 'parallel' });
  dims.forEach((d, i) => {
    root.append(svg('line', { x1: x(i), x2: x(i), y1: y(0), y2: y(1), stroke: '#555', 'stroke-width': 1 }));
    root.append(svg('text', { x: x(i), y: H - 12, 'text-anchor': 'middle', 'font-size': 12, fill: '#1a1a1a' }, d.label));
    for (const [label, t] of axes[i]!.ticks.slice(0, 8)) root.append(svg('text', { x: x(i) + 4, y: y(t) + 4, 'font-size': 10, fill: '#4d4d4d' }, label));
  });
  for (const r of runs) {
    const points = dims.map((d, i) => [x(i), axes[i]!.at(d.values[runs.indexOf(r)])] as const).filter(([, t]) => t !== null).map(([px, t]) => `${px},${y(t!)}`);
    if (points.length < 1) continue;
    root.append(svg('polyline', { points: points.join(' '), fill: 'none', stroke: r.colour, 'stroke-width': 2, 'data-run': r.id }, svg('title', {}, `${r.id}: ${dims.map((d) => `${d.label} ${String(d.values[runs.indexOf(r)] ?? '—')}`).join(', ')}`)));
  }
  const summary = keys.length
    ? `Params that differ (${keys.join(', ')}) against ${metric}, one line per run.`
    : `The runs share every param; only ${metric} is drawn.`;
  return el('figure', { class: 'chart', 'data-axes': dims.length }, el('figcaption', { id: 'parallel-title' }, `Parallel coordinates: params → ${metric}`), root, el('p', { class: 'chart-summary' }, summary));
}

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  return sorted[lo]! + (sorted[Math.min(sorted.length - 1, lo + 1)]! - sorted[lo]!) * (at - lo);
}

/** Per campaign (runs outside one grouped as "no campaign"): a box (quartiles, median, min–max whiskers) and every run as a point. */
export function campaignBoxes(runs: PlotRun[], metric: string): HTMLElement {
  const groups = new Map<string, PlotRun[]>();
  for (const r of runs) if (r.metric !== null) groups.set(r.campaign ?? 'no campaign', [...(groups.get(r.campaign ?? 'no campaign') ?? []), r]);
  const names = [...groups.keys()].sort();
  const all = runs.flatMap((r) => (r.metric === null ? [] : [r.metric]));
  const W = Math.max(320, names.length * 140 + 80);
  const H = 260;
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const y = (v: number): number => 20 + (1 - (hi === lo ? 0.5 : (v - lo) / (hi - lo))) * (H - 60);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': 'boxes-title', class: 'svg-plot', id: 'campaign-boxes' });
  if (all.length) {
    root.append(svg('text', { x: 4, y: y(hi) + 4, 'font-size': 10, fill: '#4d4d4d' }, num(hi)), svg('text', { x: 4, y: y(lo) + 4, 'font-size': 10, fill: '#4d4d4d' }, num(lo)));
  }
  const lines: string[] = [];
  names.forEach((name, i) => {
    const members = groups.get(name)!;
    const values = members.map((m) => m.metric!).sort((a, b) => a - b);
    const cx = 80 + i * 140 + 50;
    const [q1, med, q3] = [quantile(values, 0.25), quantile(values, 0.5), quantile(values, 0.75)];
    root.append(
      svg('line', { x1: cx, x2: cx, y1: y(values[0]!), y2: y(values[values.length - 1]!), stroke: '#555' }),
      svg('rect', { x: cx - 30, width: 60, y: y(q3), height: Math.max(1, y(q1) - y(q3)), fill: '#e5eefc', stroke: '#1f5fa8', 'data-campaign': name }),
      svg('line', { x1: cx - 30, x2: cx + 30, y1: y(med), y2: y(med), stroke: '#0d3d8c', 'stroke-width': 3 }),
      svg('text', { x: cx, y: H - 18, 'text-anchor': 'middle', 'font-size': 12, fill: '#1a1a1a' }, `${name} (n=${values.length})`),
    );
    members.forEach((m, j) => root.append(svg('circle', { cx: cx - 20 + ((j * 40) / Math.max(1, members.length - 1 || 1)) , cy: y(m.metric!), r: 4, fill: m.colour, 'data-run': m.id }, svg('title', {}, `${m.id}: ${num(m.metric)}`))));
    lines.push(`${name}: n=${values.length}, median ${num(med)}, quartiles ${num(q1)}–${num(q3)}, range ${num(values[0])}–${num(values[values.length - 1])}`);
  });
  return el('figure', { class: 'chart', 'data-groups': names.length }, el('figcaption', { id: 'boxes-title' }, `${metric} per campaign`), root, el('p', { class: 'chart-summary' }, lines.length ? `${lines.join('; ')}.` : `No run has a value of ${metric}.`));
}
