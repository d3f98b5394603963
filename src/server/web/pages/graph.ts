// The experiment graph (cytoscape), as the comparison-graph projection builds it: runs and campaigns
// as nodes, typed edges (repeat-of, baseline-of, replay-of, resumed-from, compared-with) with deltas.
// The same graph is listed as a table for keyboard and screen-reader users.
import cytoscape from 'cytoscape';
import type { GraphView } from '../../api-types.js';
import { getJson } from '../api.js';
import { el, replaceChildren, section, table } from '../dom.js';
import { num } from '../format.js';
import { coalesce, errorMessage, type Page } from '../page.js';

const STATUS_COLORS: Record<string, string> = {
  completed: '#2e7d32',
  failed: '#b3261e',
  recorded: '#1f5fa8',
};

const EDGE_COLORS: Record<string, string> = {
  'repeat-of': '#9e9e9e',
  'compared-with': '#b3261e',
  'baseline-of': '#1f5fa8',
  'replay-of': '#00695c',
  'resumed-from': '#8a4b08',
};

export async function graphPage(main: HTMLElement): Promise<Page> {
  const canvas = el('div', {
    class: 'graph-canvas',
    id: 'graph',
    role: 'application',
    tabindex: 0,
    'aria-roledescription': 'graph',
    'aria-label': 'Experiment graph. Arrow keys move between nodes, Enter opens the run; the same nodes and edges are listed in the table below.',
    'aria-describedby': 'graph-focus',
  });
  const focusNote = el('p', { id: 'graph-focus', class: 'muted', 'aria-live': 'polite' }, 'Focus the graph and use the arrow keys to walk its nodes.');
  const listing = el('div');
  const legend = el(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    Object.keys(STATUS_COLORS).map((status) => el('li', { class: `node-${status}` }, `${status} run`)),
    el('li', { class: 'node-campaign' }, 'campaign'),
    Object.keys(EDGE_COLORS).map((relation) => el('li', { class: `edge-${relation}` }, relation)),
  );
  replaceChildren(
    main,
    el('h1', {}, 'Experiment graph'),
    el('p', { class: 'lede' }, 'Campaigns group their runs; comparisons link baselines to candidates with metric deltas. Select a run to open it.'),
    section('Graph', 'graph-title', legend, canvas, focusNote),
    section('Edges', 'edges-title', listing),
  );
  let cy: cytoscape.Core | undefined;
  const load = async (): Promise<void> => {
    try {
      const graph = await getJson<GraphView>('/api/graph');
      canvas.dataset.nodes = String(graph.nodes.length);
      cy?.destroy();
      cy = draw(canvas, graph);
      keyboard(canvas, cy, graph, focusNote);
      replaceChildren(listing, edgeTable(graph));
    } catch (err) {
      replaceChildren(listing, errorMessage(err));
    }
  };
  await load();
  const refresh = coalesce(load);
  return { onChange: (change) => change.topics.includes('graph') && refresh(), dispose: () => cy?.destroy() };
}

function draw(container: HTMLElement, graph: GraphView): cytoscape.Core {
  const cy = cytoscape({
    container,
    elements: [
      ...graph.nodes.map((n) => ({
        data: { id: n.id, label: n.label, kind: n.kind, color: n.kind === 'campaign' ? '#37474f' : (STATUS_COLORS[n.status ?? ''] ?? '#757575') },
      })),
      // A comparison is one baseline-of edge and its mirror compared-with: draw the one that carries the deltas.
      ...graph.edges.filter((e) => e.relation !== 'baseline-of' || !graph.edges.some((m) => m.relation === 'compared-with' && m.source === e.target && m.target === e.source)).map((e) => ({
        data: {
          id: e.id,
          source: e.source,
          target: e.target,
          label: e.relation === 'repeat-of' ? '' : `${e.relation}${deltaText(e.deltas) ? `\n${deltaText(e.deltas)}` : ''}`,
          color: EDGE_COLORS[e.relation] ?? '#616161',
        },
      })),
    ],
    style: [
      {
        selector: 'node',
        style: {
          'background-color': 'data(color)',
          label: 'data(label)',
          color: '#1a1a1a',
          'font-size': 12,
          'text-valign': 'bottom',
          'text-margin-y': 4,
          width: 22,
          height: 22,
        },
      },
      { selector: 'node:selected', style: { 'border-width': 4, 'border-color': '#f9a825' } },
      { selector: 'node[kind = "campaign"]', style: { shape: 'round-rectangle', width: (node: cytoscape.NodeSingular) => Math.max(46, String(node.data('label')).length * 8 + 16), height: 26, 'text-valign': 'center', color: '#ffffff', 'font-weight': 'bold' } },
      {
        selector: 'edge',
        style: {
          'line-color': 'data(color)',
          'target-arrow-color': 'data(color)',
          'target-arrow-shape': 'triangle',
          'curve-style': 'bezier',
          width: 2,
          label: 'data(label)',
          'font-size': 10,
          'text-wrap': 'wrap',
          'text-background-color': '#ffffff',
          'text-background-opacity': 0.85,
        },
      },
    ],
    layout: { name: 'cose', animate: false, randomize: false, nodeRepulsion: () => 60_000, idealEdgeLength: () => 90, nodeOverlap: 30, componentSpacing: 80, padding: 30 },
    minZoom: 0.3,
    maxZoom: 2.5,
    wheelSensitivity: 0.3,
  });
  cy.on('tap', 'node[kind = "run"]', (event) => {
    location.hash = `#/runs/${encodeURIComponent(String(event.target.data('label')))}`;
  });
  return cy;
}

/**
 * The canvas is not a DOM tree, so the keyboard drives cytoscape's selection: arrows step through the
 * nodes in the projection's order (Home/End: first/last), Enter opens the selected run, and a live
 * region reads out the node with its edges.
 */
export function keyboard(container: HTMLElement, cy: cytoscape.Core, graph: GraphView, note: HTMLElement, open?: (id: string) => void): void {
  const ids = graph.nodes.map((n) => n.id);
  let at = -1;
  const describe = (id: string): string => {
    const node = graph.nodes.find((n) => n.id === id)!;
    const edges = graph.edges.filter((e) => e.source === id || e.target === id).map((e) => (e.source === id ? `${e.relation} ${e.target}` : `${e.source} ${e.relation} this`));
    const name = node.label.startsWith(`${node.kind} `) || open ? node.label : `${node.kind} ${node.label}`;
    return `${name}${node.status ? ` (${node.status})` : ''}, node ${ids.indexOf(id) + 1} of ${ids.length}${edges.length ? `: ${edges.join('; ')}` : ''}.`;
  };
  const select = (i: number): void => {
    at = (i + ids.length) % ids.length;
    cy.$(':selected').unselect();
    const node = cy.getElementById(ids[at]!);
    node.select();
    cy.animate({ center: { eles: node } }, { duration: 0 });
    container.dataset.selected = ids[at];
    note.textContent = describe(ids[at]!);
  };
  container.addEventListener('keydown', (event) => {
    if (ids.length === 0) return;
    const moves: Record<string, () => number> = {
      ArrowRight: () => at + 1,
      ArrowDown: () => at + 1,
      ArrowLeft: () => (at < 0 ? ids.length - 1 : at - 1),
      ArrowUp: () => (at < 0 ? ids.length - 1 : at - 1),
      Home: () => 0,
      End: () => ids.length - 1,
    };
    const move = moves[event.key];
    if (move) {
      event.preventDefault();
      select(move());
    } else if (event.key === 'Enter' && at >= 0) {
      event.preventDefault();
      const id = ids[at]!;
      if (open) open(id);
      else if (id.startsWith('run:')) location.hash = `#/runs/${encodeURIComponent(id.slice(4))}`;
    }
  });
}

function deltaText(deltas: Record<string, number>): string {
  return Object.entries(deltas)
    .slice(0, 2)
    .map(([metric, delta]) => `Δ${metric} ${delta >= 0 ? '+' : ''}${num(delta, 3)}`)
    .join(', ');
}

function nodeLink(id: string): HTMLElement | string {
  const [kind, name] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
  return kind === 'run' ? el('a', { href: `#/runs/${encodeURIComponent(name)}` }, `run ${name}`) : `${kind} ${name}`;
}

function edgeTable(graph: GraphView): HTMLElement {
  return table(
    `${graph.nodes.length} nodes, ${graph.edges.length} edges`,
    ['From', 'Relation', 'To', 'Metric deltas'],
    graph.edges.map((e) => [
      nodeLink(e.source),
      e.relation,
      nodeLink(e.target),
      Object.keys(e.deltas).length ? Object.entries(e.deltas).map(([m, d]) => `${m} ${d >= 0 ? '+' : ''}${num(d, 3)}`).join('; ') : '—',
    ]),
  );
}
