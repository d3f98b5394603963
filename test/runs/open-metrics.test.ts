// Open metrics end to end (issue 11, item 2): runs logged from user code with a custom metric `f1`
// are projected with their params, tags and final metrics, and `runledger gate` with a policy on `f1`
// fails a regressed candidate (exit 1) and passes a better one, from the verified replay of each run.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { project } from '../../projections/projection.js';
import { runReport, runSummaryProjection } from '../../projections/run-summary.js';
import { buildGraph, comparisonGraphProjection } from '../../projections/comparison-graph.js';
import { startRun, type RunApiContext } from '../../src/runs/run.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';
import { freshHome, runCli, type CliResult } from '../support/cli.js';

const POLICY = ['version: 1', 'seed: 1', 'aggregation: mean', 'minRepeats: 5', 'rules:', '  - metric: f1', '    direction: higher-is-better', '    absolute: 0.02', '    severity: hard', ''].join('\n');

describe('open metrics: a custom metric through projections, compare and gate', function () {
  this.timeout(180_000);
  let home: string;
  let store: EventStore;
  let ctx: RunApiContext;
  const cli = (args: string[]): Promise<CliResult> => runCli(['--home', home, ...args], { env: { RUNLEDGER_HOME: undefined, RUNLEDGER_STORE: undefined, CI: '1' } });

  before(async () => {
    home = freshHome('runledger-open-metrics-');
    assert.equal((await cli(['init'])).code, 0);
    store = await openStore(`sqlite:${join(home, 'ledger.db')}`);
    ctx = { store, home, actor: 'alice' };
    const logged = async (runId: string, points: [number, number][]): Promise<void> => {
      const run = await startRun(ctx, { runId, external: { name: 'f1-model' }, params: { lr: 0.1, layers: 3, augment: true }, tags: { team: 'nlp' } });
      // Steps out of order: the latest value is the one at the highest step, not the last logged.
      for (const [step, f1] of points) await run.logMetrics({ f1, 'val/loss': 1 - f1 }, { step, timestamp: 1_700_000_000_000 + step });
      await run.end();
    };
    await logged('base', [[0, 0.5], [2, 0.8], [1, 0.6]]);
    await logged('worse', [[0, 0.5], [3, 0.7]]);
    await logged('better', [[0, 0.5], [3, 0.85]]);
    writeFileSync(join(home, 'f1.yaml'), POLICY);
  });
  after(async () => {
    await store.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('projects params, tags and the latest value of every metric name as the final metrics', async () => {
    let state = runSummaryProjection.initial;
    let graph = comparisonGraphProjection.initial;
    for (const event of await store.readAll()) {
      state = runSummaryProjection.evolve(state, event);
      graph = comparisonGraphProjection.evolve(graph, event);
    }
    const report = runReport(state, 'base')!;
    assert.deepEqual(report.finalMetrics, { f1: 0.8, 'val/loss': 1 - 0.8 });
    assert.deepEqual(report.params, { augment: true, layers: 3, lr: 0.1 });
    assert.deepEqual(report.tags, { team: 'nlp' });
    const node = buildGraph(graph).nodes.find((n) => n.name === 'worse')!;
    assert.deepEqual(node.metrics, { f1: 0.7, 'val/loss': 1 - 0.7 });
    assert.equal(typeof project, 'function');
  });

  it('runledger runs lists the final metrics by name', async () => {
    const res = await cli(['runs']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^base\s+completed\s+f1-model\s+f1 0\.8 val\/loss 0\.2\s/m);
  });

  it('gate on f1: a regressed candidate fails (exit 1), a better one passes (exit 0)', async () => {
    const worse = await cli(['gate', '--baseline', 'base', '--candidate', 'worse', '--policy', join(home, 'f1.yaml'), '--json']);
    assert.equal(worse.code, 1, worse.stderr + worse.stdout);
    const report = JSON.parse(worse.stdout) as { verdict: string; rules: { metric: string; verdict: string }[] };
    assert.equal(report.verdict, 'fail');
    assert.deepEqual(report.rules.map((r) => [r.metric, r.verdict]), [['f1', 'fail']]);
    const better = await cli(['gate', '--baseline', 'base', '--candidate', 'better', '--policy', join(home, 'f1.yaml'), '--json']);
    assert.equal(better.code, 0, better.stderr + better.stdout);
    assert.equal((JSON.parse(better.stdout) as { verdict: string }).verdict, 'pass');
  });

  it('compare without a policy compares every metric both sides logged', async () => {
    const res = await cli(['compare', '--baseline', 'base', '--candidate', 'better', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as { rules: { metric: string; direction: string }[] };
    assert.deepEqual(report.rules.map((r) => [r.metric, r.direction]), [['f1', 'higher-is-better'], ['val/loss', 'lower-is-better']]);
  });
});
