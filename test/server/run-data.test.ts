// The dashboard API over a run logged from user code: params, tags, every metric name (latest point
// and series by step) and the recorded environment — not only a built-in trainer's four metrics.
import assert from 'node:assert/strict';
import { startRun as startApiRun } from '../../src/runs/run.js';
import { startServer, type DashboardServer } from '../../src/server/app.js';
import type { RunDetail, RunRow, TelemetryView } from '../../src/server/api-types.js';
import { freshLedger, raw, type Ledger } from './fixture.js';
import { webAssets } from './web-assets.js';

async function json<T>(server: DashboardServer, path: string): Promise<T> {
  const reply = await raw(server, path);
  assert.equal(reply.status, 200, `${path}: ${reply.body}`);
  return JSON.parse(reply.body) as T;
}

describe('dashboard API: runs logged through the run API', function () {
  this.timeout(60_000);
  let ledger: Ledger;
  let server: DashboardServer;

  before(async () => {
    ledger = await freshLedger();
    const run = await startApiRun({ store: ledger.store, home: ledger.home, actor: 'alice' }, { runId: 'ext', external: { name: 'bert' }, params: { lr: 0.001, frozen: false }, tags: { team: 'nlp' }, environment: { python: '3.11.9', gpu: 'A100' } });
    await run.logMetrics({ f1: 0.7, 'val/loss': 0.4 }, { step: 1, timestamp: 1_700_000_000_000 });
    await run.logMetrics({ f1: 0.8 }, { step: 2, timestamp: 1_700_000_000_500 });
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, assetsDir: await webAssets(), pollMs: 20 });
  });
  after(async () => {
    await server?.close();
    await ledger?.close();
  });

  it('lists the run with its final metrics by name', async () => {
    const rows = await json<RunRow[] | { runs: RunRow[] }>(server, '/api/runs');
    const row = (Array.isArray(rows) ? rows : rows.runs).find((r) => r.runId === 'ext')!;
    assert.deepEqual(row.metrics, { f1: 0.8, 'val/loss': 0.4 });
  });

  it('serves params, tags, the latest point of every metric and the environment with its source', async () => {
    const d = await json<RunDetail>(server, '/api/runs/ext');
    assert.deepEqual(d.params, { frozen: false, lr: 0.001 });
    assert.deepEqual(d.tags, { team: 'nlp' });
    assert.deepEqual(d.latestMetrics, { f1: { value: 0.8, step: 2, timestamp: 1_700_000_000_500 }, 'val/loss': { value: 0.4, step: 1, timestamp: 1_700_000_000_000 } });
    const env = d.environment as { source: string; python: string; client: Record<string, unknown>; host: string; node: string };
    assert.equal(env.source, 'typescript');
    assert.equal(env.python, '3.11.9');
    assert.deepEqual(env.client, { python: '3.11.9', gpu: 'A100' });
    assert.equal(env.node, process.version);
  });

  it('serves each metric as a series by step, and only the points after a step', async () => {
    const all = await json<TelemetryView>(server, '/api/runs/ext/telemetry');
    assert.deepEqual(Object.keys(all.metrics), ['f1', 'val/loss']);
    assert.deepEqual(all.metrics.f1!.map((p) => [p.step, p.value]), [[1, 0.7], [2, 0.8]]);
    const tail = await json<TelemetryView>(server, '/api/runs/ext/telemetry?after=1');
    assert.deepEqual(tail.metrics, { f1: [{ step: 2, value: 0.8, timestamp: 1_700_000_000_500, stage: 'train' }] });
  });
});
