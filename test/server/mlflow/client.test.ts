// The stock MLflow client (mlflow-skinny, pinned), unchanged, against `runledger serve --token`:
// docs/examples/mlflow_log.py logs params, 1,000 metric steps, tags and an artifact; then the
// ledger's own tools take over — checkpoint, replay (verified), export + verify-bundle (verified),
// gate on the custom metric f1 — and what the script logged is read back value for value, through
// MLflow's metrics/get-history and from the run's events in the exported bundle. Skips loudly,
// with the reason and the command that enables it, where the virtualenv with mlflow is missing.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeBundle } from '../../../src/bundle/format.js';
import { freshHome, repoRoot, runCli } from '../../support/cli.js';
import { MLFLOW_VERSION, pythonWith } from '../../support/python.js';
import { MLFLOW_TEST_TOKEN as TOKEN, python, serve } from '../../support/mlflow-serve.js';

const SCRIPT = join(repoRoot, 'docs', 'examples', 'mlflow_log.py');

interface Summary {
  run_id: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: { loss: number[]; f1: number; accuracy: number };
  artifact: { path: string; bytes: number };
}

describe('the stock MLflow client against serve', function () {
  this.timeout(600_000);
  const probe = pythonWith(['mlflow'], `assert mlflow.__version__ == ${JSON.stringify(MLFLOW_VERSION)}, "mlflow " + mlflow.__version__ + " is not the pinned ${MLFLOW_VERSION}"`);
  let home: string;
  let server: { child: ChildProcess; url: string } | undefined;
  let baseline: Summary;
  let candidate: Summary;
  const env = (): Record<string, string> => ({ RUNLEDGER_HOME: home });
  const cli = (args: string[]) => runCli(args, { env: env() });

  before(async function () {
    if (!probe.ok) {
      console.log(`      SKIPPED: the MLflow client suite needs mlflow-skinny ${MLFLOW_VERSION}: ${probe.reason}`);
      this.skip();
    }
    home = freshHome('runledger-mlflow-');
    const init = await cli(['init']);
    assert.equal(init.code, 0, init.stderr);
    server = await serve(home);
    const mlflowEnv = { MLFLOW_TRACKING_URI: server.url, MLFLOW_TRACKING_TOKEN: TOKEN, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' };
    const run = async (quality: string): Promise<Summary> => {
      const out = join(home, `summary-${quality}.json`);
      const res = await python([SCRIPT, '--experiment', 'iris-mlflow', '--quality', quality, '--summary', out], mlflowEnv);
      assert.equal(res.code, 0, `mlflow_log.py failed: ${res.stderr.slice(-2000)}`);
      return JSON.parse(readFileSync(out, 'utf8')) as Summary;
    };
    baseline = await run('1.0');
    candidate = await run('0.9');
    const checkpoint = await cli(['checkpoint']);
    assert.equal(checkpoint.code, 0, checkpoint.stderr);
  });
  after(() => {
    server?.child.kill('SIGTERM');
  });

  it('logged 1,000 metric steps, params, tags and an artifact through the unchanged client', () => {
    assert.equal(baseline.metrics.loss.length, 1000);
    assert.match(baseline.run_id, /^[0-9a-f]{32}$/);
    assert.notEqual(baseline.run_id, candidate.run_id);
  });

  it("MlflowClient.search_runs filters and orders by MLflow's grammar, and a filter it cannot evaluate fails at once", async () => {
    const snippet = `
import json
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
c = MlflowClient()
exp = c.get_experiment_by_name("iris-mlflow")
best = c.search_runs([exp.experiment_id], filter_string="metrics.f1 > 0 and attributes.status = 'FINISHED'", order_by=["metrics.f1 DESC"])
none = c.search_runs([exp.experiment_id], filter_string="metrics.f1 > 2")
try:
    c.search_runs([exp.experiment_id], filter_string="metrics.f1 > 0 OR params.x = '1'")
    refused = None
except MlflowException as e:
    refused = e.error_code
print(json.dumps({"ids": [r.info.run_id for r in best], "f1": [r.data.metrics["f1"] for r in best], "none": len(none), "refused": refused}))
`;
    const res = await python(['-c', snippet], { MLFLOW_TRACKING_URI: server!.url, MLFLOW_TRACKING_TOKEN: TOKEN, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' });
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { ids: string[]; f1: number[]; none: number; refused: string | null };
    const expected = [baseline, candidate].sort((a, b) => b.metrics.f1 - a.metrics.f1);
    assert.notEqual(baseline.metrics.f1, candidate.metrics.f1);
    assert.deepEqual(out, { ids: expected.map((r) => r.run_id), f1: expected.map((r) => r.metrics.f1), none: 0, refused: 'INVALID_PARAMETER_VALUE' });
  });

  it('replay verifies the MLflow run against the signed checkpoint', async () => {
    const res = await cli(['replay', baseline.run_id, '--json']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as { ok: boolean; status: string };
    assert.equal(report.ok, true, res.stdout.slice(0, 2000));
    assert.equal(report.status, 'completed');
  });

  it('metrics/get-history answers every step, value for value, in the order logged', async () => {
    const url = `${server!.url}/api/2.0/mlflow/metrics/get-history?run_id=${baseline.run_id}&metric_key=loss`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    const { metrics } = (await res.json()) as { metrics: { key: string; value: number; step: number }[] };
    assert.deepEqual(metrics.map((m) => m.value), baseline.metrics.loss);
    assert.deepEqual(metrics.map((m) => m.step), baseline.metrics.loss.map((_, i) => i));
    const run = (await (await fetch(`${server!.url}/api/2.0/mlflow/runs/get?run_id=${baseline.run_id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      run: { info: { status: string }; data: { params: { key: string; value: string }[]; tags: { key: string; value: string }[]; metrics: { key: string; value: number }[] } };
    };
    assert.equal(run.run.info.status, 'FINISHED');
    assert.deepEqual(Object.fromEntries(run.run.data.params.map((p) => [p.key, p.value])), baseline.params);
    const tags = Object.fromEntries(run.run.data.tags.map((t) => [t.key, t.value]));
    for (const [k, v] of Object.entries(baseline.tags)) assert.equal(tags[k], v, `tag ${k}`);
    assert.equal(run.run.data.metrics.find((m) => m.key === 'f1')?.value, baseline.metrics.f1);
  });

  it('export + verify-bundle verify the run, and its events carry exactly the logged metrics and the artifact digest', async () => {
    const file = join(home, 'mlflow.bundle');
    const exported = await cli(['export', baseline.run_id, '--out', file]);
    assert.equal(exported.code, 0, exported.stderr);
    const verified = await cli(['verify-bundle', file, '--json']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { ok: boolean }).ok, true);
    const events = decodeBundle(readFileSync(file))
      .events.toString('utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; data: Record<string, unknown> });
    const points = events.filter((e) => e.type === 'MetricsLogged').flatMap((e) => e.data.metrics as { key: string; value: number; step: number }[]);
    assert.deepEqual(points.filter((p) => p.key === 'loss').map((p) => p.value), baseline.metrics.loss);
    assert.deepEqual(points.filter((p) => p.key === 'f1').map((p) => p.value), [baseline.metrics.f1]);
    const params = Object.assign({}, ...events.filter((e) => e.type === 'ParamsLogged').map((e) => e.data.params as Record<string, string>));
    assert.deepEqual(params, baseline.params);
    const artifact = events.find((e) => e.type === 'ArtifactRecorded');
    assert.ok(artifact, 'the artifact is recorded in the run');
    assert.equal(artifact.data.path, baseline.artifact.path);
    assert.equal(artifact.data.bytes, baseline.artifact.bytes);
    const stored = readFileSync(join(home, 'artifacts', artifact.data.digest as string));
    assert.equal(createHash('sha256').update(stored).digest('hex'), artifact.data.digest);
    // And the client's own download path answers the same bytes.
    const download = await fetch(`${server!.url}/api/2.0/mlflow-artifacts/artifacts/${(await experimentOf(baseline.run_id))}/${baseline.run_id}/artifacts/${baseline.artifact.path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), stored);
  });

  async function experimentOf(runId: string): Promise<string> {
    const res = await fetch(`${server!.url}/api/2.0/mlflow/runs/get?run_id=${runId}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return ((await res.json()) as { run: { info: { experiment_id: string } } }).run.info.experiment_id;
  }

  it('gate on the custom metric f1 fails the candidate that logged a lower f1, and passes the baseline against itself', async () => {
    const policy = join(home, 'f1-policy.yaml');
    writeFileSync(policy, 'version: 1\nrules:\n  - metric: f1\n    direction: higher-is-better\n    absolute: 0.01\n    severity: hard\n');
    const same = await cli(['gate', '--baseline', baseline.run_id, '--candidate', baseline.run_id, '--policy', policy, '--json']);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    const worse = await cli(['gate', '--baseline', baseline.run_id, '--candidate', candidate.run_id, '--policy', policy, '--json']);
    assert.equal(worse.code, 1, worse.stdout + worse.stderr);
    assert.match(worse.stdout, /"f1"/);
  });

  it("the dashboard's run page shows the MLflow run: its params, tags and the latest value of every metric", async () => {
    const res = await fetch(`${server!.url}/api/runs/${baseline.run_id}`);
    assert.equal(res.status, 200);
    const detail = (await res.json()) as { params: Record<string, unknown>; tags: Record<string, string>; latestMetrics: Record<string, { value: number; step: number }> };
    assert.deepEqual(detail.params, baseline.params);
    for (const [k, v] of Object.entries(baseline.tags)) assert.equal(detail.tags[k], v, `tag ${k}`);
    assert.equal(detail.latestMetrics.f1?.value, baseline.metrics.f1);
    assert.deepEqual(detail.latestMetrics.loss, { ...detail.latestMetrics.loss, value: baseline.metrics.loss.at(-1), step: 999 });
  });

  it('refuses a write without the token: 401 and one sentence in MLflow\'s error shape', async () => {
    const res = await fetch(`${server!.url}/api/2.0/mlflow/runs/log-metric`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    const body = (await res.json()) as Record<string, string>;
    assert.deepEqual(Object.keys(body).sort(), ['error_code', 'message']);
    assert.equal(body.error_code, 'UNAUTHENTICATED');
    assert.ok(!body.message!.includes('\n'));
  });
});
