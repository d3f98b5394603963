// MLflow's tracking API on serve, request by request, as an attacker with the token (or without it)
// would try it: MLflow's error shape on every refusal, params write-once, a batch all or nothing,
// nothing after a run ends, a deleted tag recorded (never erased), an experiment's run index
// believed only where the run's own signed environment agrees, artifacts re-hashed on download
// and paths that leave the run refused, unsupported endpoints NOT_IMPLEMENTED.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type DashboardServer } from '../../../src/server/app.js';
import { runStream } from '../../../src/governance/run-stream.js';
import { experimentIdFor, experimentStream } from '../../../src/server/mlflow/experiments.js';
import { freshLedger, type Ledger } from '../fixture.js';
import { answered, mlflowCall, refused, type Answer } from './http.js';

const TOKEN = 'mlflow-api-test-token-0123456789';


describe('MLflow tracking API on serve', function () {
  this.timeout(60_000);
  let ledger: Ledger;
  let server: DashboardServer;
  let readOnly: DashboardServer;

  const call = (method: string, path: string, body?: unknown, options: { token?: string | null; target?: DashboardServer } = {}): Promise<Answer> =>
    mlflowCall((options.target ?? server).url, method, path, body, options.token === undefined ? TOKEN : options.token);
  const ok = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => answered(await call(method, path, body), path);
  const revision = (runId: string) => ledger.store.streamRevision(runStream(runId));
  let experimentId: string;
  const newRun = async (name = 'r'): Promise<string> => {
    const created = await ok('POST', 'runs/create', { experiment_id: experimentId, run_name: name, tags: [{ key: 'mlflow.user', value: 'alice' }] });
    return (created.run as { info: { run_id: string } }).info.run_id;
  };
  const getRun = async (runId: string) =>
    ((await ok('GET', `runs/get?run_id=${runId}`)) as { run: { info: { status: string; run_name: string }; data: { params: { key: string; value: string }[]; tags: { key: string; value: string }[]; metrics: { key: string; value: number; step: number }[] } } }).run;

  before(async () => {
    ledger = await freshLedger();
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN });
    readOnly = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20 });
    experimentId = (await ok('POST', 'experiments/create', { name: 'exp/one', tags: [{ key: 'team', value: 'vision' }] })).experiment_id as string;
  });
  after(async () => {
    await server?.close();
    await readOnly?.close();
    await ledger?.close();
  });

  it('answers without the token 401 UNAUTHENTICATED, on a read-only server 403 PERMISSION_DENIED, in MLflow\'s shape', async () => {
    refused(await call('POST', 'runs/log-metric', {}, { token: null }), 401, 'UNAUTHENTICATED');
    refused(await call('GET', 'experiments/get?experiment_id=0', undefined, { token: 'not-the-token' }), 401, 'UNAUTHENTICATED');
    refused(await call('POST', 'experiments/create', { name: 'x' }, { target: readOnly }), 403, 'PERMISSION_DENIED');
  });

  it('creates, finds and lists experiments; a second create of a name is RESOURCE_ALREADY_EXISTS', async () => {
    const byName = (await ok('GET', `experiments/get-by-name?experiment_name=${encodeURIComponent('exp/one')}`)) as { experiment: { experiment_id: string; tags: unknown[] } };
    assert.equal(byName.experiment.experiment_id, experimentId);
    assert.deepEqual(byName.experiment.tags, [{ key: 'team', value: 'vision' }]);
    refused(await call('POST', 'experiments/create', { name: 'exp/one' }), 400, 'RESOURCE_ALREADY_EXISTS');
    refused(await call('GET', 'experiments/get-by-name?experiment_name=missing'), 404, 'RESOURCE_DOES_NOT_EXIST');
    const search = (await ok('POST', 'experiments/search', { max_results: 10 })) as { experiments: { experiment_id: string }[] };
    assert.deepEqual(search.experiments.map((e) => e.experiment_id), ['0', experimentId]);
    const filtered = (await ok('POST', 'experiments/search', { filter: "name LIKE 'exp/%' AND tags.team = 'vision'" })) as { experiments: { experiment_id: string }[] };
    assert.deepEqual(filtered.experiments.map((e) => e.experiment_id), [experimentId]);
    const none = (await ok('GET', `experiments/search?filter=${encodeURIComponent("name = 'x'")}`)) as { experiments: unknown[] };
    assert.deepEqual(none.experiments, []);
    refused(await call('POST', 'experiments/search', { filter: "metrics.loss < 1" }), 400, 'INVALID_PARAMETER_VALUE');
  });

  it('refuses experiment events through the write API, and answers its own artifact location for one written into the store by other means', async () => {
    const name = 'forged-location';
    const forged = { experimentId: experimentIdFor(name), name, artifactLocation: 's3://attacker/bucket', tags: {} };
    // The write API (and `runledger append`, and Kafka ingest: one door) refuses it: a name could be squatted.
    const res = await fetch(`${server.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
      body: JSON.stringify({ stream: experimentStream(experimentIdFor(name)), type: 'ExperimentCreated', data: forged }) + '\n',
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /experiment events \(stream \\"experiment-[0-9a-f]{16}\\", ExperimentCreated\) are recorded by the MLflow API/);
    assert.equal(await ledger.store.streamRevision(experimentStream(experimentIdFor(name))), -1);
    // Past every door, straight through the store port (as SQL could): read with checks, never trusted.
    await ledger.store.append(experimentStream(experimentIdFor(name)), [{ type: 'ExperimentCreated', data: forged }]);
    const got = (await ok('GET', `experiments/get-by-name?experiment_name=${name}`)) as { experiment: { artifact_location: string } };
    assert.equal(got.experiment.artifact_location, `mlflow-artifacts:/${experimentIdFor(name)}`);
  });

  it('keeps params write-once: the same value again is a no-op, another value is refused and not recorded', async () => {
    const runId = await newRun();
    await ok('POST', 'runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' });
    const at = await revision(runId);
    await ok('POST', 'runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' });
    assert.equal(await revision(runId), at, 'the same value again records nothing');
    refused(await call('POST', 'runs/log-parameter', { run_id: runId, key: 'lr', value: '0.2' }), 400, 'INVALID_PARAMETER_VALUE');
    refused(await call('POST', 'runs/log-batch', { run_id: runId, params: [{ key: 'lr', value: '0.3' }] }), 400, 'INVALID_PARAMETER_VALUE');
    assert.equal(await revision(runId), at);
    assert.deepEqual((await getRun(runId)).data.params, [{ key: 'lr', value: '0.1' }]);
  });

  it('applies a batch all or nothing: one bad metric name and none of it is recorded', async () => {
    const runId = await newRun();
    const at = await revision(runId);
    const answer = await call('POST', 'runs/log-batch', { run_id: runId, params: [{ key: 'a', value: '1' }], metrics: [{ key: 'good', value: 1, timestamp: 1, step: 0 }, { key: 'bad name!', value: 2, timestamp: 1, step: 0 }] });
    assert.match(refused(answer, 400, 'INVALID_PARAMETER_VALUE'), /bad name!/);
    refused(await call('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value: 'NaN', timestamp: 1, step: 0 }), 400, 'INVALID_PARAMETER_VALUE');
    refused(await call('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value: 1, timestamp: 1, step: -1 }), 400, 'INVALID_PARAMETER_VALUE');
    assert.equal(await revision(runId), at);
  });

  it("takes a log-batch as large as MLflow's own limit (1,000 metrics, over 64 KiB) and refuses a larger body with 413", async () => {
    const runId = await newRun();
    const metrics = Array.from({ length: 1000 }, (_, i) => ({ key: `validation/per_class_accuracy_${i % 10}`, value: i / 1000, timestamp: 1_700_000_000_000 + i, step: i }));
    assert.ok(JSON.stringify({ run_id: runId, metrics }).length > 64 * 1024);
    await ok('POST', 'runs/log-batch', { run_id: runId, metrics });
    const history = (await ok('GET', `metrics/get-history?run_id=${runId}&metric_key=validation/per_class_accuracy_3`)) as { metrics: unknown[] };
    assert.equal(history.metrics.length, 100);
    const at = await revision(runId);
    refused(await call('POST', 'runs/log-batch', { run_id: runId, params: [{ key: 'big', value: 'x'.repeat(1_000_001) }] }), 413, 'BAD_REQUEST');
    assert.equal(await revision(runId), at);
  });

  it('appends metrics (history by step, latest by step), accepts int64 as strings, and pages the history', async () => {
    const runId = await newRun();
    for (const [step, value] of [[0, 0.5], [2, 0.3], [1, 0.4]] as const) await ok('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value, timestamp: String(1000 + step), step: String(step) });
    const history = (await ok('GET', `metrics/get-history?run_id=${runId}&metric_key=loss&max_results=2`)) as { metrics: { value: number; step: number }[]; next_page_token: string };
    assert.deepEqual(history.metrics.map((m) => [m.step, m.value]), [[0, 0.5], [2, 0.3]]);
    const rest = (await ok('GET', `metrics/get-history?run_id=${runId}&metric_key=loss&max_results=2&page_token=${history.next_page_token}`)) as { metrics: { value: number; step: number }[]; next_page_token?: string };
    assert.deepEqual(rest.metrics.map((m) => [m.step, m.value]), [[1, 0.4]]);
    assert.equal(rest.next_page_token, undefined);
    assert.deepEqual((await getRun(runId)).data.metrics.map((m) => [m.key, m.step, m.value]), [['loss', 2, 0.3]]);
  });

  it('records a deleted tag as an event: the run no longer shows it, the log keeps its value', async () => {
    const runId = await newRun();
    await ok('POST', 'runs/set-tag', { run_id: runId, key: 'stage', value: 'draft' });
    await ok('POST', 'runs/delete-tag', { run_id: runId, key: 'stage' });
    assert.equal((await getRun(runId)).data.tags.find((t) => t.key === 'stage'), undefined);
    const events = await ledger.store.readStream(runStream(runId));
    assert.ok(events.some((e) => e.envelope.type === 'TagsSet' && (e.envelope.data as { tags: Record<string, string> }).tags.stage === 'draft'));
    assert.ok(events.some((e) => e.envelope.type === 'TagDeleted'));
    refused(await call('POST', 'runs/delete-tag', { run_id: runId, key: 'stage' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('ends a run with runs/update; nothing can be logged after, and its status cannot change again', async () => {
    const runId = await newRun();
    const ended = (await ok('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: 5 })) as { run_info: { status: string; end_time: number } };
    assert.equal(ended.run_info.status, 'FINISHED');
    const at = await revision(runId);
    refused(await call('POST', 'runs/log-metric', { run_id: runId, key: 'late', value: 1, timestamp: 1, step: 0 }), 400, 'INVALID_PARAMETER_VALUE');
    refused(await call('POST', 'runs/update', { run_id: runId, status: 'FAILED' }), 400, 'INVALID_STATE');
    assert.equal(await revision(runId), at);
    const killed = await newRun();
    assert.equal(((await ok('POST', 'runs/update', { run_id: killed, status: 'KILLED' })) as { run_info: { status: string } }).run_info.status, 'KILLED');
  });

  it("lists an experiment's runs only where the run's own signed environment names the experiment", async () => {
    const other = (await ok('POST', 'experiments/create', { name: 'exp/two' })).experiment_id as string;
    const mine = await newRun('mine');
    // An attacker with write access to the store adds a run of exp/one to exp/two's index.
    await ledger.store.append(experimentStream(other), [{ type: 'ExperimentRunAdded', data: { experimentId: other, runId: mine } }]);
    const listed = (await ok('POST', 'runs/search', { experiment_ids: [other] })) as { runs?: unknown[] };
    assert.deepEqual(listed.runs, []);
    const ours = (await ok('POST', 'runs/search', { experiment_ids: [experimentId], max_results: 1000 })) as { runs: { info: { run_id: string } }[] };
    assert.ok(ours.runs.some((r) => r.info.run_id === mine));
  });

  it('searches runs with MLflow\'s filter grammar (latest metric value, params, tags, attributes) and order_by, refusing what it cannot evaluate', async () => {
    const exp = (await ok('POST', 'experiments/create', { name: 'exp/search' })).experiment_id as string;
    const make = async (name: string, lr: string, losses: number[], status?: 'FINISHED') => {
      const runId = ((await ok('POST', 'runs/create', { experiment_id: exp, run_name: name, tags: [{ key: 'team', value: name === 'c' ? 'audio' : 'vision' }] })).run as { info: { run_id: string } }).info.run_id;
      await ok('POST', 'runs/log-batch', { run_id: runId, params: [{ key: 'lr', value: lr }], metrics: losses.map((value, step) => ({ key: 'loss', value, timestamp: 1000 + step, step })) });
      if (status) await ok('POST', 'runs/update', { run_id: runId, status });
      return runId;
    };
    // Run a's loss goes down to 0.2 (its latest value is what MLflow searches), b's ends at 0.6; c logs no loss.
    const a = await make('a', '0.1', [0.9, 0.2], 'FINISHED');
    const b = await make('b', '0.01', [0.5, 0.6]);
    const c = await make('c', '0.1', []);
    const found = async (filter: string, order_by?: string[]) =>
      ((await ok('POST', 'runs/search', { experiment_ids: [exp], filter, ...(order_by ? { order_by } : {}) })) as { runs?: { info: { run_id: string } }[] }).runs?.map((r) => r.info.run_id) ?? [];
    assert.deepEqual(await found('metrics.loss < 0.5'), [a], 'the latest value, not any value');
    assert.deepEqual(await found("params.lr = '0.1'", ['attributes.run_name ASC']), [a, c]);
    assert.deepEqual(await found("tags.team != 'audio' AND attributes.status = 'RUNNING'"), [b]);
    assert.deepEqual(await found("attributes.run_name LIKE '_'", ['metrics.loss DESC']), [b, a, c], 'a run without the metric sorts last');
    assert.deepEqual(await found("metrics.`loss` >= 0.2 AND run_id IN ('" + a + "', '" + c + "')"), [a]);
    assert.deepEqual(await found('params.missing IS NULL', ['params.lr ASC', 'attributes.run_name DESC']), [b, c, a]);
    for (const bad of ["metrics.loss < 'x'", "params.lr > '1'", "metrics.loss < 1 OR params.lr = '1'", "datasets.name = 'x'", "attributes.nope = 'x'", "metrics.loss <", "params.lr = 0.1", "tags.team IN ('a')"]) {
      const message = refused(await call('POST', 'runs/search', { experiment_ids: [exp], filter: bad }), 400, 'INVALID_PARAMETER_VALUE');
      assert.match(message, /^runs\/search: /, bad);
    }
    refused(await call('POST', 'runs/search', { experiment_ids: [exp], order_by: ['attributes.nope DESC'] }), 400, 'INVALID_PARAMETER_VALUE');
  });

  it('stores artifacts by digest, lists and downloads them, and refuses a download whose stored bytes changed', async () => {
    const runId = await newRun();
    const base = `${server.url}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const bytes = Buffer.from('{"f1": 0.9}\n');
    const put = await fetch(`${base}/reports/final.json`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: bytes });
    assert.equal(put.status, 200, await put.text());
    const list = (await (await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts?path=${experimentId}/${runId}/artifacts`, { headers: auth })).json()) as { files: unknown[] };
    assert.deepEqual(list.files, [{ path: 'reports', is_dir: true }]);
    const inner = (await (await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts?path=${experimentId}/${runId}/artifacts/reports`, { headers: auth })).json()) as { files: unknown[] };
    assert.deepEqual(inner.files, [{ path: 'final.json', is_dir: false, file_size: bytes.length }]);
    const got = await fetch(`${base}/reports/final.json`, { headers: auth });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), bytes);
    const recorded = (await ledger.store.readStream(runStream(runId))).find((e) => e.envelope.type === 'ArtifactRecorded')!.envelope.data as { digest: string };
    writeFileSync(join(ledger.home, 'artifacts', recorded.digest), '{"f1": 1.0}\n');
    const tampered = await fetch(`${base}/reports/final.json`, { headers: auth });
    refused({ status: tampered.status, json: (await tampered.json()) as Record<string, unknown> }, 409, 'RESOURCE_CONFLICT');
    // Encoded slashes reach the server as written (fetch would resolve a literal "..").
    for (const path of ['..%2F..%2Fetc%2Fpasswd', 'a%2F..%2F..%2Fb', 'a%5Cb', 'x%00y']) {
      const res = await fetch(`${base}/${path}`, { method: 'PUT', headers: auth, body: 'x' });
      refused({ status: res.status, json: (await res.json()) as Record<string, unknown> }, 400, 'INVALID_PARAMETER_VALUE');
    }
    const elsewhere = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/0/${runId}/artifacts/x.txt`, { method: 'PUT', headers: auth, body: 'x' });
    refused({ status: elsewhere.status, json: (await elsewhere.json()) as Record<string, unknown> }, 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('answers unsupported endpoints NOT_IMPLEMENTED and unknown ones ENDPOINT_NOT_FOUND', async () => {
    const runId = await newRun();
    assert.match(refused(await call('POST', 'runs/delete', { run_id: runId }), 501, 'NOT_IMPLEMENTED'), /never deleted/);
    refused(await call('POST', 'experiments/delete', { experiment_id: experimentId }), 501, 'NOT_IMPLEMENTED');
    refused(await call('GET', 'logged-models/search'), 404, 'ENDPOINT_NOT_FOUND');
    assert.equal((await getRun(runId)).info.status, 'RUNNING');
  });
});
