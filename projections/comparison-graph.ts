// The experiment comparison graph: nodes are runs and campaigns; typed edges (baseline-of,
// replay-of, resumed-from, repeat-of, compared-with) carry metric deltas. The projection state
// holds only facts, each keyed by the stream it came from; edges and deltas are derived when the
// artifact is rendered, so neither depends on which stream's events arrived first.
import type { ComparisonRecordedData, RegressionGateEvaluatedData, RunLinkedData } from '../events/comparison.js';
import type { CampaignStarted, CheckpointWritten, Metrics, TrainingCompleted, TrainingStarted } from '../events/training.js';
import type { MetricsLogged } from '../events/runs.js';
import { canonicalBytes } from '../src/integrity/canonical.js';
import { PersistentMap } from './persistent-map.js';
import type { Projection } from './projection.js';
import { eventData, finalMetrics, latestMetrics, RUN_STREAM_PREFIX, type LatestMetric } from './run-summary.js';

export const GRAPH_SCHEMA = 'runledger.comparison-graph/v1';
export const DELTA_INDEX_SCHEMA = 'runledger.delta-index/v1';

export type EdgeType = 'baseline-of' | 'replay-of' | 'resumed-from' | 'repeat-of' | 'compared-with';
export type NodeKind = 'run' | 'campaign';

export interface GraphRun {
  status: string;
  /** Final metrics, as the run summary's finalMetrics: logged metrics' latest values, the trainer's TrainingCompleted metrics over them. */
  metrics: Record<string, number> | null;
  resumedFromCheckpoints: string[];
  /** Set once the run logged metrics (MetricsLogged): the latest point per name, and the trainer's metrics they merge with. */
  logged?: Record<string, LatestMetric>;
  training?: Metrics | null;
}

export interface GraphComparison {
  baseline: string;
  candidate: string;
  metrics: Record<string, { delta: number | null; relativeDelta: number | null }>;
  verdict: string | null;
}

export interface GraphLink {
  relation: RunLinkedData['relation'];
  from: string;
  to: string;
}

/** Persistent maps, so an event costs O(log n) however many runs the ledger holds. */
export interface GraphState {
  runs: PersistentMap<GraphRun>;
  campaigns: PersistentMap<{ runs: string[] }>;
  /** Checkpoint digest → the run that wrote it (resolves resumed-from edges). */
  checkpointOwners: PersistentMap<string>;
  /** RunLinked facts, keyed by `relation from to` (a set: recording a link twice changes nothing). */
  links: PersistentMap<GraphLink>;
  comparisons: PersistentMap<GraphComparison>;
}

/** The JSON form (digested, snapshotted): the same maps as plain objects. */
export interface GraphStateJson {
  runs: Record<string, GraphRun>;
  campaigns: Record<string, { runs: string[] }>;
  checkpointOwners: Record<string, string>;
  links: Record<string, GraphLink>;
  comparisons: Record<string, GraphComparison>;
}

export const emptyGraph: GraphState = {
  runs: PersistentMap.empty(),
  campaigns: PersistentMap.empty(),
  checkpointOwners: PersistentMap.empty(),
  links: PersistentMap.empty(),
  comparisons: PersistentMap.empty(),
};

export const nodeId = (kind: NodeKind, id: string): string => `${kind}:${id}`;

const RUN_END: Record<string, string> = { RunCompleted: 'completed', RunFailed: 'failed' };

export const comparisonGraphProjection: Projection<GraphState> = {
  name: 'comparison-graph',
  version: 1,
  initial: emptyGraph,
  evolve(state, event) {
    const { stream, type } = event.envelope;
    if (stream.startsWith(RUN_STREAM_PREFIX)) {
      const runId = stream.slice(RUN_STREAM_PREFIX.length);
      const known = state.runs.get(runId);
      const run = known ?? { status: 'recorded', metrics: null, resumedFromCheckpoints: [] };
      switch (type) {
        case 'TrainingCompleted': {
          const training = (eventData(event) as TrainingCompleted).metrics;
          const next: GraphRun = run.logged ? { ...run, training, metrics: finalMetrics(run.logged, training) } : { ...run, metrics: training };
          return { ...state, runs: state.runs.set(runId, next) };
        }
        case 'MetricsLogged': {
          const training = run.logged ? (run.training ?? null) : (run.metrics as Metrics | null);
          const logged = latestMetrics(run.logged ?? {}, (eventData(event) as MetricsLogged).metrics);
          return { ...state, runs: state.runs.set(runId, { ...run, logged, training, metrics: finalMetrics(logged, training) }) };
        }
        case 'TrainingStarted': {
          const from = (eventData(event) as TrainingStarted).resumedFrom;
          const next = from ? { ...run, resumedFromCheckpoints: [...run.resumedFromCheckpoints, from.digest] } : run;
          return { ...state, runs: state.runs.set(runId, next) };
        }
        case 'CheckpointWritten': {
          const { digest } = eventData(event) as CheckpointWritten;
          // A digest is content: the first writer (by run id) owns it whatever the arrival order.
          const owner = state.checkpointOwners.get(digest);
          const runs = known ? state.runs : state.runs.set(runId, run);
          if (owner !== undefined && owner <= runId) return { ...state, runs };
          return { ...state, runs, checkpointOwners: state.checkpointOwners.set(digest, runId) };
        }
        default: {
          const status = RUN_END[type];
          if (status) return { ...state, runs: state.runs.set(runId, { ...run, status }) };
          return known ? state : { ...state, runs: state.runs.set(runId, run) };
        }
      }
    }
    switch (type) {
      case 'CampaignStarted': {
        const d = eventData(event) as CampaignStarted;
        return { ...state, campaigns: state.campaigns.set(d.campaign, { runs: d.runs.map((r) => r.runId) }) };
      }
      case 'RunLinked': {
        const d = eventData(event) as RunLinkedData;
        const from = nodeId(d.from.kind, d.from.id);
        const to = nodeId(d.to.kind, d.to.id);
        return { ...state, links: state.links.set(`${d.relation} ${from} ${to}`, { relation: d.relation, from, to }) };
      }
      case 'ComparisonRecorded': {
        const d = eventData(event) as ComparisonRecordedData;
        const metrics = Object.fromEntries(d.metrics.map((m) => [m.metric, { delta: m.delta, relativeDelta: m.relativeDelta }]));
        const prior = state.comparisons.get(d.comparisonId);
        return {
          ...state,
          comparisons: state.comparisons.set(d.comparisonId, {
            baseline: nodeId(d.baseline.kind, d.baseline.ref),
            candidate: nodeId(d.candidate.kind, d.candidate.ref),
            metrics,
            verdict: prior?.verdict ?? null,
          }),
        };
      }
      case 'RegressionGateEvaluated': {
        const d = eventData(event) as RegressionGateEvaluatedData;
        const c = state.comparisons.get(d.comparisonId);
        return c ? { ...state, comparisons: state.comparisons.set(d.comparisonId, { ...c, verdict: d.verdict }) } : state;
      }
      default:
        return state;
    }
  },
  toJSON: (state): GraphStateJson => ({
    runs: state.runs.toJSON(),
    campaigns: state.campaigns.toJSON(),
    checkpointOwners: state.checkpointOwners.toJSON(),
    links: state.links.toJSON(),
    comparisons: state.comparisons.toJSON(),
  }),
  fromJSON(json) {
    const j = json as GraphStateJson;
    return {
      runs: PersistentMap.fromObject(j.runs),
      campaigns: PersistentMap.fromObject(j.campaigns),
      checkpointOwners: PersistentMap.fromObject(j.checkpointOwners),
      links: PersistentMap.fromObject(j.links),
      comparisons: PersistentMap.fromObject(j.comparisons),
    };
  },
};

export interface MetricDelta {
  /** Value at the edge's source node. */
  from: number;
  to: number;
  /** from - to: how the source differs from the target. */
  delta: number;
  relative: number | null;
}

export interface GraphNode {
  id: string;
  kind: NodeKind;
  name: string;
  /** Recorded in the ledger; false for a node only referenced by an edge. */
  known: boolean;
  status: string | null;
  /** Final metrics; for a campaign the mean over its runs that have them. */
  metrics: Record<string, number>;
  runs?: string[];
}

export interface GraphEdge {
  type: EdgeType;
  from: string;
  to: string;
  deltas: Record<string, MetricDelta>;
  comparisonId?: string;
  verdict?: string | null;
}

export interface Graph {
  schema: typeof GRAPH_SCHEMA;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function metricsOf(m: Record<string, number> | null): Record<string, number> {
  return m ? { ...m } : {};
}

/** Node and edge lists in a total order that depends only on their content. */
export function buildGraph(state: GraphState): Graph {
  const nodes = new Map<string, GraphNode>();
  for (const runId of state.runs.sortedKeys()) {
    const r = state.runs.get(runId)!;
    nodes.set(nodeId('run', runId), { id: nodeId('run', runId), kind: 'run', name: runId, known: true, status: r.status, metrics: metricsOf(r.metrics) });
  }
  for (const name of state.campaigns.sortedKeys()) {
    const runs = [...state.campaigns.get(name)!.runs].sort(byString);
    const withMetrics = runs.map((r) => state.runs.get(r)?.metrics).filter((m): m is Record<string, number> => !!m);
    const metrics: Record<string, number> = {};
    if (withMetrics.length > 0) {
      for (const key of Object.keys(withMetrics[0]!).sort(byString)) {
        const values = withMetrics.map((m) => (m as Record<string, number>)[key]).filter((v): v is number => typeof v === 'number');
        if (values.length === withMetrics.length) metrics[key] = values.reduce((a, b) => a + b, 0) / values.length;
      }
    }
    nodes.set(nodeId('campaign', name), { id: nodeId('campaign', name), kind: 'campaign', name, known: true, status: null, metrics, runs });
  }

  const edges: GraphEdge[] = [];
  const edge = (type: EdgeType, from: string, to: string, extra: Partial<GraphEdge> = {}): void => {
    edges.push({ type, from, to, deltas: {}, ...extra });
  };
  for (const [name, campaign] of state.campaigns) {
    for (const runId of campaign.runs) edge('repeat-of', nodeId('run', runId), nodeId('campaign', name));
  }
  for (const [runId, run] of state.runs) {
    for (const digest of run.resumedFromCheckpoints) {
      const owner = state.checkpointOwners.get(digest);
      if (owner !== undefined && owner !== runId) edge('resumed-from', nodeId('run', runId), nodeId('run', owner));
    }
  }
  for (const link of state.links.values()) edge(link.relation, link.from, link.to);
  for (const [comparisonId, c] of state.comparisons) {
    edge('baseline-of', c.baseline, c.candidate, { comparisonId });
    edge('compared-with', c.candidate, c.baseline, { comparisonId, verdict: c.verdict });
  }

  // Endpoints never recorded themselves still appear, marked unknown.
  for (const e of edges) {
    for (const id of [e.from, e.to]) {
      if (nodes.has(id)) continue;
      const [kind, ...rest] = id.split(':');
      nodes.set(id, { id, kind: kind as NodeKind, name: rest.join(':'), known: false, status: null, metrics: {} });
    }
  }
  for (const e of edges) {
    if (e.type === 'compared-with') {
      // The comparison's own aggregates (its policy's aggregation), not the node means.
      const recorded = state.comparisons.get(e.comparisonId!)!.metrics;
      e.deltas = deltas(nodes.get(e.from)!.metrics, nodes.get(e.to)!.metrics, recorded);
    } else {
      e.deltas = deltas(nodes.get(e.from)!.metrics, nodes.get(e.to)!.metrics);
    }
  }
  edges.sort((a, b) => byString(a.type, b.type) || byString(a.from, b.from) || byString(a.to, b.to) || byString(a.comparisonId ?? '', b.comparisonId ?? ''));
  return { schema: GRAPH_SCHEMA, nodes: [...nodes.values()].sort((a, b) => byString(a.id, b.id)), edges };
}

function deltas(
  from: Record<string, number>,
  to: Record<string, number>,
  recorded?: Record<string, { delta: number | null; relativeDelta: number | null }>,
): Record<string, MetricDelta> {
  const out: Record<string, MetricDelta> = {};
  for (const metric of Object.keys(from).sort(byString)) {
    const f = from[metric]!;
    const t = to[metric];
    if (t === undefined) continue;
    const r = recorded?.[metric];
    const delta = r?.delta ?? f - t;
    out[metric] = { from: f, to: t, delta, relative: r ? r.relativeDelta : t === 0 ? null : delta / Math.abs(t) };
  }
  return out;
}

/**
 * A graph's edges by endpoint (positions in `graph.edges`, ascending), and its nodes by id: built
 * once, it makes each neighbourhood cost O(its size) instead of a scan of every edge and node, so
 * writing the artifacts of n runs is no longer O(n × edges).
 */
export interface GraphIndex {
  /** Edges other than `repeat-of`, under each of their endpoints. */
  edges: Map<string, number[]>;
  /** `repeat-of` edges, under each of their endpoints. */
  repeats: Map<string, number[]>;
  nodes: Map<string, GraphNode>;
}

export function indexGraph(graph: Graph): GraphIndex {
  const index: GraphIndex = { edges: new Map(), repeats: new Map(), nodes: new Map(graph.nodes.map((n) => [n.id, n])) };
  graph.edges.forEach((e, i) => {
    const map = e.type === 'repeat-of' ? index.repeats : index.edges;
    for (const id of e.from === e.to ? [e.from] : [e.from, e.to]) {
      const list = map.get(id);
      if (list) list.push(i);
      else map.set(id, [i]);
    }
  });
  return index;
}

/** Positions of every edge touching `id`, ascending. */
function touching(index: GraphIndex, id: string): number[] {
  return [...(index.edges.get(id) ?? []), ...(index.repeats.get(id) ?? [])].sort((a, b) => a - b);
}

/**
 * The neighbourhood of a node: what a run's graph.json shows. Every edge touching the node, and
 * every edge touching one of its neighbours except the other members of a campaign (their
 * `repeat-of` edges), so the file stays O(degree) even for a campaign of thousands of runs while
 * still reaching, say, the baseline campaign a run's campaign was compared with.
 */
export function neighbourhood(graph: Graph, id: string, index: GraphIndex = indexGraph(graph)): Graph {
  const direct = touching(index, id);
  const neighbours = new Set(direct.flatMap((i) => [graph.edges[i]!.from, graph.edges[i]!.to]).filter((n) => n !== id));
  // A neighbour's `repeat-of` edges are left out unless they start at `id` (and then they are direct).
  const positions = new Set(direct);
  for (const n of neighbours) for (const i of index.edges.get(n) ?? []) positions.add(i);
  const edges = [...positions].sort((a, b) => a - b).map((i) => graph.edges[i]!);
  const ids = [...new Set([id, ...edges.flatMap((e) => [e.from, e.to])])].sort(byString);
  return { schema: graph.schema, nodes: ids.flatMap((n) => index.nodes.get(n) ?? []), edges };
}

export interface DeltaIndex {
  schema: typeof DELTA_INDEX_SCHEMA;
  run: string;
  /** Every edge touching the run, as seen from the run. */
  entries: { type: EdgeType; direction: 'out' | 'in'; other: string; comparisonId: string | null; verdict: string | null; deltas: Record<string, MetricDelta> }[];
}

export function deltaIndex(graph: Graph, runId: string, index: GraphIndex = indexGraph(graph)): DeltaIndex {
  const id = nodeId('run', runId);
  const entries = touching(index, id)
    .map((i) => graph.edges[i]!)
    .map((e) => ({
      type: e.type,
      direction: e.from === id ? ('out' as const) : ('in' as const),
      other: e.from === id ? e.to : e.from,
      comparisonId: e.comparisonId ?? null,
      verdict: e.verdict ?? null,
      deltas: e.deltas,
    }));
  return { schema: DELTA_INDEX_SCHEMA, run: runId, entries };
}

export interface Artifact {
  /** Path relative to the home, `/`-separated. */
  path: string;
  bytes: Buffer;
}

/**
 * The files the graph projection persists: `runs/<run>/graph.json` (the run's neighbourhood) and
 * `runs/<run>/deltas.json` (its delta index), each exactly its RFC 8785 bytes, so a rebuild writes
 * byte-identical files and a file's SHA-256 is the digest of its JSON value.
 */
export function graphArtifacts(state: GraphState): Artifact[] {
  const graph = buildGraph(state);
  const index = indexGraph(graph);
  return state.runs
    .sortedKeys()
    .flatMap((runId) => [
      { path: `runs/${runId}/graph.json`, bytes: jcsFile(neighbourhood(graph, nodeId('run', runId), index)) },
      { path: `runs/${runId}/deltas.json`, bytes: jcsFile(deltaIndex(graph, runId, index)) },
    ]);
}

function jcsFile(value: unknown): Buffer {
  return canonicalBytes(value);
}
