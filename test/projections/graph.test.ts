import assert from 'node:assert/strict';
import { buildGraph, comparisonGraphProjection, graphArtifacts, nodeId } from '../../projections/comparison-graph.js';
import { foldAll } from '../../projections/projection.js';
import { runSummaryProjection } from '../../projections/run-summary.js';
import { campaignStreamEvents, fakeDigest, interleave, metrics, runStreamEvents, sealStreams, type Streams } from '../../bench/fixtures/projection-log.js';

function ledger(overrides: { candidateAccuracy?: number } = {}): Streams {
  const streams: Streams = {};
  const base = ['b1', 'b2', 'b3'];
  const cand = ['c1', 'c2', 'c3'];
  base.forEach((r, i) => (streams[`run-${r}`] = runStreamEvents({ runId: r, seed: i + 1, metrics: metrics(0.9 + i * 0.01) })));
  cand.forEach((r, i) => (streams[`run-${r}`] = runStreamEvents({ runId: r, seed: i + 1, metrics: metrics((overrides.candidateAccuracy ?? 0.8) + i * 0.01) })));
  // r-resume continued from b1's checkpoint; r-replay re-executed b2 (recorded by RunLinked).
  streams['run-r-resume'] = runStreamEvents({ runId: 'r-resume', resumedFromDigest: fakeDigest('ckpt-b1'), metrics: metrics(0.91) });
  streams['run-r-replay'] = runStreamEvents({ runId: 'r-replay', metrics: metrics(0.91), checkpointDigest: fakeDigest('ckpt-b2') });
  streams['links-r-replay'] = [{ type: 'RunLinked', data: { relation: 'replay-of', from: { kind: 'run', id: 'r-replay' }, to: { kind: 'run', id: 'b2' }, note: '' } }];
  streams['campaign-base'] = campaignStreamEvents('base', base);
  streams['campaign-cand'] = campaignStreamEvents('cand', cand);
  const side = (ref: string, runs: string[]) => ({ ref, kind: 'campaign', runs });
  streams['comparison-0123456789abcdef0123456789abcdef'] = [
    {
      type: 'ComparisonRecorded',
      data: {
        comparisonId: '0123456789abcdef0123456789abcdef',
        baseline: side('base', base),
        candidate: side('cand', cand),
        policyHash: fakeDigest('policy'),
        policy: { version: 1 },
        aggregation: 'mean',
        metrics: [
          {
            metric: 'testAccuracy',
            direction: 'higher-is-better',
            baseline: { n: 3, aggregate: 0.91, values: [0.9, 0.91, 0.92] },
            candidate: { n: 3, aggregate: 0.81, values: [0.8, 0.81, 0.82] },
            delta: -0.1,
            relativeDelta: -0.1 / 0.91,
            test: null,
          },
        ],
      },
    },
    {
      type: 'RegressionGateEvaluated',
      data: { comparisonId: '0123456789abcdef0123456789abcdef', policyHash: fakeDigest('policy'), strict: false, verdict: 'fail', hardBreaches: 1, softBreaches: 0, rules: [], budgets: [] },
    },
  ];
  return streams;
}

describe('projections/comparison-graph', () => {
  const sealed = sealStreams(ledger());

  it('produces byte-identical state, digest and artifacts under 25 shuffled arrival orders across streams', async () => {
    const reference = await foldAll(comparisonGraphProjection, interleave(sealed, 0));
    const referenceFiles = graphArtifacts(reference.state);
    const orders = new Set<string>();
    for (let seed = 1; seed <= 25; seed++) {
      const events = interleave(sealed, seed);
      orders.add(events.map((e) => e.envelope.stream).join(','));
      const result = await foldAll(comparisonGraphProjection, events);
      assert.equal(result.digest, reference.digest, `arrival order ${seed}`);
      const files = graphArtifacts(result.state);
      assert.deepEqual(files.map((f) => f.path), referenceFiles.map((f) => f.path));
      files.forEach((f, i) => assert.ok(f.bytes.equals(referenceFiles[i]!.bytes), `${f.path} under order ${seed}`));
      const summary = await foldAll(runSummaryProjection, events);
      assert.equal(summary.digest, (await foldAll(runSummaryProjection, interleave(sealed, 0))).digest);
    }
    assert.ok(orders.size > 20, 'the shuffles really produced different arrival orders');
  });

  it('changes the digest and the artifacts when one recorded metric changes', async () => {
    const a = await foldAll(comparisonGraphProjection, interleave(sealed, 0));
    const b = await foldAll(comparisonGraphProjection, interleave(sealStreams(ledger({ candidateAccuracy: 0.7 })), 0));
    assert.notEqual(a.digest, b.digest);
    const fa = graphArtifacts(a.state).find((f) => f.path === 'runs/c1/deltas.json')!;
    const fb = graphArtifacts(b.state).find((f) => f.path === 'runs/c1/deltas.json')!;
    assert.ok(!fa.bytes.equals(fb.bytes));
  });

  it('draws every edge type with metric deltas (source minus target)', async () => {
    const { state } = await foldAll(comparisonGraphProjection, interleave(sealed, 3));
    const graph = buildGraph(state);
    const types = new Set(graph.edges.map((e) => e.type));
    assert.deepEqual([...types].sort(), ['baseline-of', 'compared-with', 'repeat-of', 'replay-of', 'resumed-from']);
    const resumed = graph.edges.find((e) => e.type === 'resumed-from')!;
    assert.deepEqual([resumed.from, resumed.to], [nodeId('run', 'r-resume'), nodeId('run', 'b1')]);
    assert.ok(Math.abs(resumed.deltas.testAccuracy!.delta - (0.91 - 0.9)) < 1e-12);
    const compared = graph.edges.find((e) => e.type === 'compared-with')!;
    assert.equal(compared.verdict, 'fail');
    assert.equal(compared.deltas.testAccuracy!.delta, -0.1); // the comparison's own recorded delta
    const campaign = graph.nodes.find((n) => n.id === 'campaign:base')!;
    assert.ok(Math.abs(campaign.metrics.testAccuracy! - 0.91) < 1e-12);
    assert.equal(graph.edges.filter((e) => e.type === 'repeat-of').length, 6);
    // nodes and edges are sorted
    assert.deepEqual(graph.nodes.map((n) => n.id), [...graph.nodes.map((n) => n.id)].sort());
  });

  it("writes each run's component graph and delta index as schema-versioned JCS files", async () => {
    const { state } = await foldAll(comparisonGraphProjection, interleave(sealed, 0));
    const files = graphArtifacts(state);
    const deltas = JSON.parse(files.find((f) => f.path === 'runs/c2/deltas.json')!.bytes.toString('utf8'));
    assert.equal(deltas.schema, 'runledger.delta-index/v1');
    assert.deepEqual(deltas.entries.map((e: { type: string; other: string }) => `${e.type} ${e.other}`), ['repeat-of campaign:cand']);
    const graph = JSON.parse(files.find((f) => f.path === 'runs/c2/graph.json')!.bytes.toString('utf8'));
    assert.equal(graph.schema, 'runledger.comparison-graph/v1');
    assert.ok(graph.nodes.some((n: { id: string }) => n.id === 'campaign:base'), 'the neighbourhood reaches the baseline through the comparison');
    const ids = graph.nodes.map((n: { id: string }) => n.id);
    assert.ok(!ids.includes('run:c1') && !ids.includes('run:b1'), 'sibling and baseline runs stay out: the file is O(degree)');
    assert.deepEqual(
      graph.edges.map((e: { type: string; from: string; to: string }) => `${e.from} ${e.type} ${e.to}`),
      ['campaign:base baseline-of campaign:cand', 'campaign:cand compared-with campaign:base', 'run:c2 repeat-of campaign:cand'],
    );
  });
});
