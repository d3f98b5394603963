// A run's lineage — plan → stages → checkpoints → retrains and replays → gates — as a graph
// (cytoscape, keyboard-driven like the experiment graph) and, the same nodes, as a nested list of links.
import cytoscape from 'cytoscape';
import type { GraphView, RunDetail } from '../api-types.js';
import { el } from './dom.js';
import { keyboard } from './pages/graph.js';

const KIND_COLOURS: Record<string, string> = { plan: '#37474f', stage: '#1f5fa8', checkpoint: '#2e7d32', run: '#6a3d9a', gate: '#b3261e' };

interface LineageNode {
  id: string;
  kind: 'plan' | 'stage' | 'checkpoint' | 'run' | 'gate';
  label: string;
  href: string | null;
}

/** Nodes and edges of one run's lineage; `graph` (the experiment graph) gives its related runs. */
export function lineage(d: RunDetail, graph: GraphView): { nodes: LineageNode[]; edges: GraphView['edges'] } {
  const nodes: LineageNode[] = [];
  const edges: GraphView['edges'] = [];
  const link = (source: string, target: string, relation: string): void => {
    edges.push({ id: `${relation}:${source}->${target}`, source, target, relation, deltas: {} });
  };
  const plan = `plan:${d.plan ?? 'unapproved'}`;
  nodes.push({ id: plan, kind: 'plan', label: `plan ${d.plan ?? '(not approved)'}`, href: null });
  for (const s of d.stages) {
    nodes.push({ id: `stage:${s.id}`, kind: 'stage', label: `stage ${s.id} (${s.status})`, href: null });
    if (s.dependsOn.length === 0) link(plan, `stage:${s.id}`, 'runs');
    for (const dep of s.dependsOn) link(`stage:${dep}`, `stage:${s.id}`, 'then');
  }
  const training = d.training?.stageId ?? d.stages.find((s) => s.status === 'running')?.id ?? null;
  for (const c of d.checkpointList) {
    const id = `checkpoint:${c.digest}`;
    nodes.push({ id, kind: 'checkpoint', label: `checkpoint epoch ${c.epoch} (${c.digest.slice(0, 8)})`, href: `/api/runs/${encodeURIComponent(d.runId)}/files/${c.digest}` });
    link(training ? `stage:${training}` : plan, id, 'wrote');
  }
  const self = `run:${d.runId}`;
  for (const e of graph.edges) {
    if (e.relation !== 'replay-of' && e.relation !== 'resumed-from') continue;
    const other = e.source === self ? e.target : e.target === self ? e.source : null;
    if (!other || !other.startsWith('run:') || nodes.some((n) => n.id === other)) continue;
    const name = other.slice(4);
    nodes.push({ id: other, kind: 'run', label: `${e.source === self ? `${e.relation} run` : `run ${name} is ${e.relation}`} ${e.source === self ? name : 'this run'}`, href: `#/runs/${encodeURIComponent(name)}` });
    const last = d.checkpointList.length ? `checkpoint:${d.checkpointList[d.checkpointList.length - 1]!.digest}` : plan;
    link(last, other, e.relation);
  }
  for (const g of d.gates) {
    const id = `gate:${g.comparisonId}`;
    nodes.push({ id, kind: 'gate', label: `gate ${g.verdict} vs ${g.baseline}`, href: `#/comparisons/${g.comparisonId}` });
    link(d.checkpointList.length ? `checkpoint:${d.checkpointList[d.checkpointList.length - 1]!.digest}` : plan, id, 'judged by');
  }
  return { nodes, edges };
}

/** The lineage drawn; returns the cytoscape instance (to destroy) and the keyboard-accessible list. */
export function lineageView(d: RunDetail, graph: GraphView): { figure: HTMLElement; list: HTMLElement; draw: () => cytoscape.Core } {
  const { nodes, edges } = lineage(d, graph);
  const note = el('p', { id: 'lineage-focus', class: 'muted', 'aria-live': 'polite' }, 'Focus the lineage graph and use the arrow keys to walk it; Enter follows a node.');
  const canvas = el('div', { class: 'graph-canvas lineage-canvas', id: 'lineage', role: 'application', tabindex: 0, 'aria-roledescription': 'graph', 'aria-label': `Lineage of run ${d.runId}. Arrow keys move between nodes, Enter follows one; the same nodes are listed below.`, 'aria-describedby': 'lineage-focus', 'data-nodes': nodes.length });
  const children = (id: string): LineageNode[] => edges.filter((e) => e.source === id).map((e) => nodes.find((n) => n.id === e.target)!).filter(Boolean);
  const seen = new Set<string>();
  const item = (n: LineageNode): HTMLElement => {
    seen.add(n.id);
    const kids = children(n.id).filter((k) => !seen.has(k.id));
    return el('li', { 'data-lineage': n.kind }, n.href ? el('a', { href: n.href }, n.label) : n.label, kids.length ? el('ul', {}, kids.map(item)) : null);
  };
  const list = el('ul', { class: 'lineage-list', id: 'lineage-list', 'aria-label': `Lineage of run ${d.runId} as a list` }, item(nodes[0]!));
  const follow = (id: string): void => {
    const href = nodes.find((n) => n.id === id)?.href;
    if (href?.startsWith('#')) location.hash = href;
    else if (href) location.href = href;
  };
  const draw = (): cytoscape.Core => {
    const cy = cytoscape({
      container: canvas,
      elements: [
        ...nodes.map((n) => ({ data: { id: n.id, label: n.label, color: KIND_COLOURS[n.kind] } })),
        ...edges.map((e) => ({ data: { id: e.id, source: e.source, target: e.target, label: e.relation } })),
      ],
      style: [
        { selector: 'node', style: { 'background-color': 'data(color)', label: 'data(label)', 'font-size': 11, 'text-valign': 'bottom', 'text-margin-y': 4, width: 18, height: 18 } },
        { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#f9a825' } },
        { selector: 'edge', style: { 'line-color': '#90a4ae', 'target-arrow-color': '#90a4ae', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', width: 2, label: 'data(label)', 'font-size': 9 } },
      ],
      layout: { name: 'breadthfirst', directed: true, spacingFactor: 1.1, padding: 20 },
      minZoom: 0.3,
      maxZoom: 2.5,
    });
    cy.on('tap', 'node', (event) => follow(String(event.target.id())));
    const asGraph: GraphView = { nodes: nodes.map((n) => ({ id: n.id, kind: 'run', label: n.label, status: null })), edges };
    keyboard(canvas, cy, asGraph, note, follow);
    return cy;
  };
  return { figure: el('div', {}, canvas, note), list, draw };
}
