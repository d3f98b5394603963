// Known answers: the digests and artifact bytes of a fixed fixture log, pinned from the plain-object
// implementation (before the state moved to persistent maps). Replay manifests record these digests
// and dashboards compare them, so any change of the JSON form shows up here first.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catchUp } from '../../projections/catch-up.js';
import { comparisonGraphProjection, graphArtifacts } from '../../projections/comparison-graph.js';
import { foldAll } from '../../projections/projection.js';
import { runReport, runSummaryProjection } from '../../projections/run-summary.js';
import { snapshotPath, writeArtifacts } from '../../projections/snapshots.js';
import { sha256Hex } from '../../src/integrity/hasher.js';
import { openStore } from '../../src/store/open.js';
import { campaignStreamEvents, fakeDigest, interleave, metrics, runStreamEvents, sealStreams, type Streams } from '../../bench/fixtures/projection-log.js';

/** Every kind of fact both projections keep: runs, campaigns with completions, links, a comparison and its gates, findings. */
export function pinnedLedger(): Streams {
  const streams: Streams = {};
  const base = ['b1', 'b2', 'b3'];
  const cand = ['c1', 'c2', 'c3'];
  base.forEach((r, i) => (streams[`run-${r}`] = runStreamEvents({ runId: r, seed: i + 1, metrics: metrics(0.9 + i * 0.01), budgets: { train: { maxWallMs: 40 } } })));
  cand.forEach((r, i) => (streams[`run-${r}`] = runStreamEvents({ runId: r, seed: i + 1, metrics: metrics(0.8 + i * 0.01), throughput: null })));
  streams['run-b1']!.push({ type: 'AuditFinding', data: { runId: 'b1', severity: 'soft', check: 'budget.maxWallMs', message: 'train took 50 ms', subject: 'stage:train', details: { limit: 40 } } });
  streams['run-r-resume'] = runStreamEvents({ runId: 'r-resume', resumedFromDigest: fakeDigest('ckpt-b1'), metrics: metrics(0.91) });
  streams['run-r-replay'] = runStreamEvents({ runId: 'r-replay', metrics: metrics(0.91), checkpointDigest: fakeDigest('ckpt-b2') });
  streams['links-r-replay'] = [{ type: 'RunLinked', data: { relation: 'replay-of', from: { kind: 'run', id: 'r-replay' }, to: { kind: 'run', id: 'b2' }, note: '' } }];
  streams['campaign-base'] = campaignStreamEvents('base', base);
  const [started, completed] = campaignStreamEvents('cand', cand);
  streams['campaign-cand'] = [
    started!,
    ...cand.map((runId, i) => ({ type: 'CampaignRunCompleted', data: { campaign: 'cand', runId, seed: i + 1, finalCheckpoint: fakeDigest(`ckpt-${runId}`), metrics: metrics(0.8 + i * 0.01) } })),
    completed!,
  ];
  const side = (ref: string, runs: string[]) => ({ ref, kind: 'campaign', runs });
  const comparisonId = '0123456789abcdef0123456789abcdef';
  const gate = (strict: boolean, verdict: string) => ({
    type: 'RegressionGateEvaluated',
    data: { comparisonId, policyHash: fakeDigest('policy'), strict, verdict, hardBreaches: verdict === 'fail' ? 1 : 0, softBreaches: 0, rules: [], budgets: [] },
  });
  streams[`comparison-${comparisonId}`] = [
    {
      type: 'ComparisonRecorded',
      data: {
        comparisonId,
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
    gate(false, 'pass'),
    gate(true, 'fail'),
  ];
  return streams;
}

const PINNED = {
  runSummary: 'ce90c8c5b63b6938c0aa51af2f10da784c17c0cc269b57d466061d88258d4402',
  comparisonGraph: 'd35ae0db13fca9098a0151a4477f88401d42df5f3cd24e17756b663eb16181bc',
  /** SHA-256 over the sorted "path sha256" lines of the graph artifacts (what `project rebuild` reports). */
  artifacts: '9885deee59fdfc067909783d5a4e58185fe9ab33f4f1845c3831cec653b963fe',
  /** What a replay manifest records as projections.runSummary for run b1. */
  provenanceB1: 'fb119b1edc0f72039664eab58068f62e299aaa3aee3015ad5f8aa71e97c5912b',
  /** SHA-256 of the snapshot files `catchUp` writes. */
  runSummarySnapshot: '5090e18fb76f2b7e6298f42148161cee68d3e1081a5a082c1633f184ccf7d700',
  comparisonGraphSnapshot: 'e7fb10bea772badb9f504567dc1c76db7af50149ca5adf21818dcf49f826dee6',
};

describe('projections/pinned digests', () => {
  const sealed = sealStreams(pinnedLedger());

  it('folds the fixture log to the pinned run-summary and comparison-graph digests under any interleaving', async () => {
    for (const seed of [0, 1, 7]) {
      const events = interleave(sealed, seed);
      assert.equal((await foldAll(runSummaryProjection, events)).digest, PINNED.runSummary, `run-summary, order ${seed}`);
      assert.equal((await foldAll(comparisonGraphProjection, events)).digest, PINNED.comparisonGraph, `comparison-graph, order ${seed}`);
    }
  });

  it('renders the pinned artifact bytes and the pinned provenance digest of a run', async () => {
    const events = interleave(sealed, 3);
    const graph = await foldAll(comparisonGraphProjection, events);
    const lines = graphArtifacts(graph.state).map((a) => `${a.path} ${sha256Hex(a.bytes)}`);
    assert.equal(sha256Hex(lines.sort().join('\n')), PINNED.artifacts);
    const summaries = await foldAll(runSummaryProjection, events);
    assert.equal(runReport(summaries.state, 'b1')!.provenanceDigest, PINNED.provenanceB1);
  });

  it('writes pinned snapshot bytes and artifacts through catchUp against a real store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runledger-pinned-'));
    const store = await openStore(`sqlite:${join(dir, 'ledger.db')}`);
    try {
      for (const [stream, events] of Object.entries(pinnedLedger())) await store.append(stream, events);
      const summary = await catchUp(store, dir, runSummaryProjection);
      const graph = await catchUp(store, dir, comparisonGraphProjection);
      assert.equal(summary.digest, PINNED.runSummary);
      assert.equal(graph.digest, PINNED.comparisonGraph);
      assert.equal(writeArtifacts(dir, graphArtifacts(graph.state)).digest, PINNED.artifacts);
      const snapshot = (name: string): string => sha256Hex(readFileSync(snapshotPath(dir, name)));
      assert.equal(snapshot(runSummaryProjection.name), PINNED.runSummarySnapshot);
      assert.equal(snapshot(comparisonGraphProjection.name), PINNED.comparisonGraphSnapshot);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
