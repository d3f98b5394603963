// MLflow's Model Registry API on serve, request by request: MLflow's shapes and error shape, the
// token, versions only from verified runs with a signed checkpoint (an MLflow run that logged no
// checkpoint is refused), aliases recorded with actor and reason, and reads that answer from the
// verified history — so a registration forged straight into the store is refused on read.
import assert from 'node:assert/strict';
import { startServer, type DashboardServer } from '../../../src/server/app.js';
import { readModelHistory } from '../../../src/registry/model-history.js';
import { modelStream } from '../../../src/registry/model-rules.js';
import { runStream } from '../../../src/governance/run-stream.js';
import { loadVerifierKey } from '../../../src/ledger/keys.js';
import { MLFLOW_ALIAS_REASON } from '../../../src/server/mlflow/registry.js';
import { freshLedger, populate, type Ledger } from '../fixture.js';
import { answered, mlflowCall, refused, type Answer } from './http.js';

const TOKEN = 'mlflow-registry-test-token-0123456789';

interface VersionJson {
  name: string;
  version: string;
  run_id: string;
  status: string;
  source: string;
  user_id: string;
  aliases: string[];
  creation_timestamp: number;
}

describe('MLflow model registry API on serve', function () {
  this.timeout(120_000);
  let ledger: Ledger;
  let server: DashboardServer;

  const call = (method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<Answer> => mlflowCall(server.url, method, path, body, token);
  const ok = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => answered(await call(method, path, body), path);

  before(async () => {
    ledger = await freshLedger();
    await populate(ledger);
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN });
  });
  after(async () => {
    await server?.close();
    await ledger?.close();
  });

  it('refuses registry endpoints without the token (401) and on a read-only server (403), in MLflow\'s shape, and writes nothing', async () => {
    refused(await call('POST', 'model-versions/create', { name: 'iris', run_id: 'base-1', source: 's' }, null), 401, 'UNAUTHENTICATED');
    refused(await call('GET', 'registered-models/get?name=iris', undefined, null), 401, 'UNAUTHENTICATED');
    refused(await call('POST', 'registered-models/alias', { name: 'iris', alias: 'production', version: '1' }, 'wrong-token-wrong-token-wrong-token'), 401, 'UNAUTHENTICATED');
    const readOnly = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20 });
    try {
      const res = await fetch(`${readOnly.url}/api/2.0/mlflow/model-versions/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'iris', run_id: 'base-1', source: 's' }) });
      refused({ status: res.status, json: (await res.json()) as Record<string, unknown> }, 403, 'PERMISSION_DENIED');
    } finally {
      await readOnly.close();
    }
    assert.equal(await ledger.store.streamRevision(modelStream('iris')), -1);
  });

  it('creates a registered model without recording anything, and refuses a second create once it has versions', async () => {
    const created = (await ok('POST', 'registered-models/create', { name: 'iris' })).registered_model as { name: string; latest_versions: unknown[] };
    assert.equal(created.name, 'iris');
    assert.deepEqual(created.latest_versions, []);
    assert.equal(await ledger.store.streamRevision(modelStream('iris')), -1);
    refused(await call('GET', 'registered-models/get?name=iris'), 404, 'RESOURCE_DOES_NOT_EXIST');
    refused(await call('POST', 'registered-models/create', { name: 'iris', tags: [{ key: 'bad key!', value: 'x' }] }), 400, 'INVALID_PARAMETER_VALUE');
    assert.equal(await ledger.store.streamRevision(modelStream('iris')), -1, 'a refused tag writes nothing');
    refused(await call('POST', 'registered-models/create', { name: 'no spaces allowed' }), 400, 'INVALID_PARAMETER_VALUE');
  });

  it('registers a verified run\'s signed checkpoint as version 1 and answers it in MLflow\'s ModelVersion shape', async () => {
    const v = (await ok('POST', 'model-versions/create', { name: 'iris', source: 'runs:/base-1/model', run_id: 'base-1' })).model_version as VersionJson;
    assert.equal(v.name, 'iris');
    assert.equal(v.version, '1');
    assert.equal(v.run_id, 'base-1');
    assert.equal(v.status, 'READY');
    assert.match(v.source, /^runledger:checkpoint\/[0-9a-f]{64}$/);
    assert.equal(v.user_id, 'serve');
    assert.ok(v.creation_timestamp > 0);
    const got = (await ok('GET', 'model-versions/get?name=iris&version=1')).model_version as VersionJson;
    assert.deepEqual(got, v);
    refused(await call('POST', 'registered-models/create', { name: 'iris' }), 400, 'RESOURCE_ALREADY_EXISTS');
    refused(await call('GET', 'model-versions/get?name=iris&version=2'), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('refuses a version of a run that has not completed, or does not exist, and writes nothing', async () => {
    const before = await ledger.store.streamRevision(modelStream('iris'));
    refused(await call('POST', 'model-versions/create', { name: 'iris', source: 's', run_id: 'cand-1' }), 409, 'RESOURCE_CONFLICT');
    refused(await call('POST', 'model-versions/create', { name: 'iris', source: 's', run_id: 'no-such-run' }), 400, 'INVALID_PARAMETER_VALUE');
    refused(await call('POST', 'model-versions/create', { name: 'iris', source: 's' }), 400, 'INVALID_PARAMETER_VALUE');
    assert.equal(await ledger.store.streamRevision(modelStream('iris')), before);
  });

  it('refuses a version of an MLflow run, which has no signed checkpoint, with a message that says so', async () => {
    const experimentId = (await ok('POST', 'experiments/create', { name: 'reg' })).experiment_id as string;
    const runId = ((await ok('POST', 'runs/create', { experiment_id: experimentId })).run as { info: { run_id: string } }).info.run_id;
    await ok('POST', 'runs/update', { run_id: runId, status: 'FINISHED' });
    const message = refused(await call('POST', 'model-versions/create', { name: 'mlflow-model', source: `runs:/${runId}/model`, run_id: runId }), 400, 'INVALID_PARAMETER_VALUE');
    assert.match(message, /no signed checkpoint/);
    assert.equal(await ledger.store.streamRevision(modelStream('mlflow-model')), -1);
  });

  it('registers the artifacts an MLflow run logged under the source path (runs:/<run>/<path>) as an artifact version', async () => {
    const experimentId = (await ok('POST', 'experiments/create', { name: 'reg-artifacts' })).experiment_id as string;
    const runId = ((await ok('POST', 'runs/create', { experiment_id: experimentId })).run as { info: { run_id: string } }).info.run_id;
    const base = `${server.url}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts`;
    for (const [path, body] of [['model/MLmodel', 'flavors: {}\n'], ['model/model.pkl', 'weights'], ['eval.txt', 'f1 0.9']] as const) {
      const put = await fetch(`${base}/${path}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' }, body });
      assert.equal(put.status, 200, await put.text());
    }
    await ok('POST', 'runs/update', { run_id: runId, status: 'FINISHED' });
    // A source naming another run is refused; one naming a path the run logged nothing under finds no checkpoint either.
    refused(await call('POST', 'model-versions/create', { name: 'user-model', source: `runs:/base-1/model`, run_id: runId }), 400, 'INVALID_PARAMETER_VALUE');
    assert.match(refused(await call('POST', 'model-versions/create', { name: 'user-model', source: `runs:/${runId}/mod`, run_id: runId }), 400, 'INVALID_PARAMETER_VALUE'), /no signed checkpoint/);
    const v = (await ok('POST', 'model-versions/create', { name: 'user-model', source: `mlflow-artifacts:/${experimentId}/${runId}/artifacts/model`, run_id: runId })).model_version as VersionJson;
    assert.equal(v.version, '1');
    assert.equal(v.source, `runs:/${runId}/model`);
    const history = await readModelHistory(ledger.store, 'user-model', { verifierKeys: [loadVerifierKey(ledger.home)] });
    assert.equal(history.ok, true, history.firstDivergence?.message);
    assert.deepEqual(history.versions[0]!.artifact?.files.map((f) => f.path), ['model/MLmodel', 'model/model.pkl']);
  });

  it('sets, moves and deletes an alias, each an event with actor serve and the MLflow reason, in store order', async () => {
    await ok('POST', 'model-versions/create', { name: 'iris', source: 's', run_id: 'base-2' });
    assert.deepEqual(await ok('POST', 'registered-models/alias', { name: 'iris', alias: 'production', version: '1' }), {});
    const byAlias = (await ok('GET', 'registered-models/get-model-version-by-alias?name=iris&alias=production')).model_version as VersionJson;
    assert.equal(byAlias.version, '1');
    assert.deepEqual(byAlias.aliases, ['production']);
    assert.deepEqual((await ok('GET', 'registered-models/alias?name=iris&alias=production')).model_version, byAlias, 'GET registered-models/alias is the path the client calls');
    const revision = await ledger.store.streamRevision(modelStream('iris'));
    await ok('POST', 'registered-models/alias', { name: 'iris', alias: 'production', version: 1 });
    assert.equal(await ledger.store.streamRevision(modelStream('iris')), revision, 'setting an alias to the version it holds records nothing');
    await ok('POST', 'registered-models/alias', { name: 'iris', alias: 'production', version: '2' });
    await ok('POST', 'registered-models/alias', { name: 'iris', alias: 'staging', version: '1' });
    assert.deepEqual(await ok('DELETE', 'registered-models/alias', { name: 'iris', alias: 'staging' }), {});
    refused(await call('DELETE', 'registered-models/alias', { name: 'iris', alias: 'staging' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    refused(await call('POST', 'registered-models/alias', { name: 'iris', alias: 'production', version: '9' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    refused(await call('POST', 'registered-models/alias', { name: 'iris', alias: 'latest', version: '1' }), 400, 'INVALID_PARAMETER_VALUE');
    refused(await call('GET', 'registered-models/get-model-version-by-alias?name=iris&alias=staging'), 404, 'RESOURCE_DOES_NOT_EXIST');
    const events = await ledger.store.readStream(modelStream('iris'));
    assert.deepEqual(
      events.map((e) => [e.envelope.type, e.envelope.metadata.actor, (e.envelope.data as { reason?: string }).reason ?? null]),
      [
        ['ModelVersionRegistered', 'serve', null],
        ['ModelVersionRegistered', 'serve', null],
        ['ModelAliasSet', 'serve', MLFLOW_ALIAS_REASON],
        ['ModelAliasSet', 'serve', MLFLOW_ALIAS_REASON],
        ['ModelAliasSet', 'serve', MLFLOW_ALIAS_REASON],
        ['ModelAliasDeleted', 'serve', 'deleted through the MLflow API (registered-models/alias)'],
      ],
    );
    const model = (await ok('GET', 'registered-models/get?name=iris')).registered_model as { aliases: unknown; latest_versions: VersionJson[] };
    assert.deepEqual(model.aliases, [{ alias: 'production', version: '2' }]);
    assert.equal(model.latest_versions[0]!.version, '2');
  });

  it('searches registered models and versions with MLflow\'s filter grammar and order_by, and answers get-latest-versions', async () => {
    const models = async (filter?: string, order?: string) =>
      ((await ok('GET', `registered-models/search?${filter !== undefined ? `filter=${encodeURIComponent(filter)}` : ''}${order ? `&order_by=${encodeURIComponent(order)}` : ''}`)).registered_models as { name: string }[]).map((m) => m.name);
    assert.deepEqual(await models(), ['iris', 'user-model'], 'in name order');
    // What an MLflow 3 client sends with every search_registered_models call: no model here is a prompt.
    assert.deepEqual(await models("tags.`mlflow.prompt.is_prompt` != 'true'"), ['iris', 'user-model']);
    assert.deepEqual(await models("name = 'iris'"), ['iris']);
    assert.deepEqual(await models("name LIKE 'user-%' AND tag.`mlflow.prompt.is_prompt` != 'true'"), ['user-model']);
    assert.deepEqual(await models("name ILIKE 'IRIS'"), ['iris']);
    assert.deepEqual(await models("tags.team = 'x'"), [], 'no model has that tag');
    assert.deepEqual(await models(undefined, 'name DESC'), ['user-model', 'iris']);
    for (const bad of ["name = 'iris' OR name = 'x'", 'metrics.loss > 1', "owner = 'me'", "name > 'a'", "name = 'unterminated"]) refused(await call('GET', `registered-models/search?filter=${encodeURIComponent(bad)}`), 400, 'INVALID_PARAMETER_VALUE');

    const versions = async (filter: string, extra = '') =>
      ((await ok('GET', `model-versions/search?filter=${encodeURIComponent(filter)}${extra}`)).model_versions as VersionJson[]).map((v) => `${v.name}/${v.version}`);
    assert.deepEqual(await versions("name = 'iris'"), ['iris/2', 'iris/1'], 'newest first (MLflow\'s default order)');
    assert.deepEqual(await versions("run_id = 'base-1'"), ['iris/1']);
    assert.deepEqual(await versions("run_id IN ('base-1', 'base-2') AND version_number > 1"), ['iris/2']);
    assert.deepEqual(await versions("name = 'iris'", `&order_by=${encodeURIComponent('version_number ASC')}`), ['iris/1', 'iris/2']);
    const first = await ok('GET', `model-versions/search?filter=${encodeURIComponent("name = 'iris'")}&max_results=1`);
    assert.deepEqual((first.model_versions as VersionJson[]).map((v) => v.version), ['2']);
    const second = await ok('GET', `model-versions/search?filter=${encodeURIComponent("name = 'iris'")}&max_results=1&page_token=${first.next_page_token as string}`);
    assert.deepEqual((second.model_versions as VersionJson[]).map((v) => v.version), ['1']);
    refused(await call('GET', `model-versions/search?filter=${encodeURIComponent("run_id LIKE 5")}`), 400, 'INVALID_PARAMETER_VALUE');

    const latest = async (body: Record<string, unknown>) => ((await ok('POST', 'registered-models/get-latest-versions', body)).model_versions as VersionJson[]).map((v) => v.version);
    assert.deepEqual(await latest({ name: 'iris' }), ['2']);
    assert.deepEqual(await latest({ name: 'iris', stages: ['None'] }), ['2']);
    assert.deepEqual(await latest({ name: 'iris', stages: ['Production'] }), [], 'stages are not recorded: aliases are');
    refused(await call('POST', 'registered-models/get-latest-versions', { name: 'iris', stages: ['Live'] }), 400, 'INVALID_PARAMETER_VALUE');
    refused(await call('POST', 'registered-models/get-latest-versions', { name: 'nobody' }), 404, 'RESOURCE_DOES_NOT_EXIST');
  });

  it('records registry tags and descriptions (set-tag, delete-tag, update, create) as events with actor serve, and searches by them', async () => {
    const revision = () => ledger.store.streamRevision(modelStream('iris'));
    const before = await revision();
    assert.deepEqual(await ok('POST', 'registered-models/set-tag', { name: 'iris', key: 'team', value: 'vision' }), {});
    assert.deepEqual(await ok('POST', 'model-versions/set-tag', { name: 'iris', version: '2', key: 'validation', value: 'passed' }), {});
    await ok('POST', 'registered-models/set-tag', { name: 'iris', key: 'team', value: 'vision' });
    assert.equal(await revision(), before + 2, 'the same value again records nothing');
    const model = (await ok('PATCH', 'registered-models/update', { name: 'iris', description: 'Iris classifier' })).registered_model as { description: string; tags: unknown };
    assert.deepEqual([model.description, model.tags], ['Iris classifier', [{ key: 'team', value: 'vision' }]]);
    const v1 = (await ok('PATCH', 'model-versions/update', { name: 'iris', version: '1', description: 'the first' })).model_version as VersionJson & { description: string; tags: unknown };
    assert.deepEqual([v1.description, v1.tags], ['the first', []]);
    const v2 = (await ok('GET', 'model-versions/get?name=iris&version=2')).model_version as VersionJson & { tags: unknown };
    assert.deepEqual(v2.tags, [{ key: 'validation', value: 'passed' }]);
    const names = (answer: Record<string, unknown>, field: string) => (answer[field] as { name: string; version?: string }[]).map((x) => (x.version ? `${x.name}/${x.version}` : x.name));
    assert.deepEqual(names(await ok('GET', `registered-models/search?filter=${encodeURIComponent("tags.team = 'vision'")}`), 'registered_models'), ['iris']);
    assert.deepEqual(names(await ok('GET', `model-versions/search?filter=${encodeURIComponent("tags.validation = 'passed'")}`), 'model_versions'), ['iris/2']);
    assert.deepEqual(await ok('DELETE', 'registered-models/delete-tag', { name: 'iris', key: 'team' }), {});
    refused(await call('DELETE', 'registered-models/delete-tag', { name: 'iris', key: 'team' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    refused(await call('DELETE', 'model-versions/delete-tag', { name: 'iris', version: '9', key: 'validation' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    refused(await call('POST', 'model-versions/set-tag', { name: 'iris', version: '1', key: 'bad key!', value: 'x' }), 400, 'INVALID_PARAMETER_VALUE');
    refused(await call('POST', 'registered-models/set-tag', { name: 'nobody', key: 'k', value: 'v' }), 404, 'RESOURCE_DOES_NOT_EXIST');
    const events = (await ledger.store.readStream(modelStream('iris'))).slice(before + 1);
    assert.deepEqual(
      events.map((e) => [e.envelope.type, e.envelope.metadata.actor, (e.envelope.data as { version: number | null }).version]),
      [
        ['ModelTagSet', 'serve', null],
        ['ModelTagSet', 'serve', 2],
        ['ModelDescriptionSet', 'serve', null],
        ['ModelDescriptionSet', 'serve', 1],
        ['ModelTagDeleted', 'serve', null],
      ],
    );
    // A model created with tags and a description exists from that moment; its first version carries its own tags.
    const created = (await ok('POST', 'registered-models/create', { name: 'described', tags: [{ key: 'team', value: 'audio' }], description: 'speech' })).registered_model as { tags: unknown; description: string; latest_versions: unknown[] };
    assert.deepEqual([created.tags, created.description, created.latest_versions], [[{ key: 'team', value: 'audio' }], 'speech', []]);
    refused(await call('POST', 'registered-models/create', { name: 'described' }), 400, 'RESOURCE_ALREADY_EXISTS');
    const registered = (await ok('POST', 'model-versions/create', { name: 'described', source: 's', run_id: 'base-1', tags: [{ key: 'stage', value: 'candidate' }] })).model_version as VersionJson & { tags: unknown };
    assert.deepEqual([registered.version, registered.tags], ['1', [{ key: 'stage', value: 'candidate' }]]);
    const history = await readModelHistory(ledger.store, 'described', { verifierKeys: [loadVerifierKey(ledger.home)] });
    assert.equal(history.ok, true, history.firstDivergence?.message);
    assert.deepEqual(history.entries.map((e) => e.change), ['tag-set', 'description-set', 'registered', 'tag-set']);
  });

  it('refuses to read a model whose registration was forged straight into the store (an MLflow run\'s event as the evidence)', async () => {
    const experimentId = (await ok('POST', 'experiments/create', { name: 'forge' })).experiment_id as string;
    const runId = ((await ok('POST', 'runs/create', { experiment_id: experimentId })).run as { info: { run_id: string } }).info.run_id;
    await ok('POST', 'runs/update', { run_id: runId, status: 'FINISHED' });
    const [real] = await ledger.store.readStream(modelStream('iris'), { limit: 1 });
    const [runEvent] = await ledger.store.readStream(runStream(runId), { limit: 1 });
    const forged = {
      ...(real!.envelope.data as Record<string, unknown>),
      model: 'forged',
      version: 1,
      runId,
      source: { stream: runEvent!.envelope.stream, revision: 0, eventId: runEvent!.envelope.id, index: 0 },
    };
    await ledger.store.append(modelStream('forged'), [{ type: 'ModelVersionRegistered', data: forged, metadata: { actor: 'attacker' } }]);
    const history = await readModelHistory(ledger.store, 'forged', { verifierKeys: [loadVerifierKey(ledger.home)] });
    assert.equal(history.ok, false);
    assert.equal(history.firstDivergence?.check, 'registration');
    const message = refused(await call('GET', 'model-versions/get?name=forged&version=1'), 409, 'INVALID_STATE');
    assert.match(message, /does not verify/);
    refused(await call('GET', 'registered-models/get-model-version-by-alias?name=forged&alias=production'), 409, 'INVALID_STATE');
    // A search that reaches the forged model refuses, naming it; one whose filter names only verified models answers.
    assert.match(refused(await call('GET', 'registered-models/search'), 409, 'INVALID_STATE'), /model forged does not verify/);
    assert.match(refused(await call('GET', `model-versions/search?filter=${encodeURIComponent("run_id = 'base-1'")}`), 409, 'INVALID_STATE'), /model forged does not verify/);
    refused(await call('POST', 'registered-models/get-latest-versions', { name: 'forged' }), 409, 'INVALID_STATE');
    const iris = (await ok('GET', `model-versions/search?filter=${encodeURIComponent("name = 'iris'")}`)).model_versions as VersionJson[];
    assert.deepEqual(iris.map((v) => v.version), ['2', '1']);
  });
});
