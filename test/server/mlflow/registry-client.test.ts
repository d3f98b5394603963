// The stock MLflow client (mlflow-skinny, pinned), unchanged, against `runledger serve --token`'s
// model registry: create a registered model, register a completed run as a version, set an alias
// and read it back by alias; then `runledger checkpoint` and `runledger model history --json` show
// the alias change with its actor, the MLflow reason and an inclusion proof. Skips loudly where the
// virtualenv with mlflow is missing.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { runCli } from '../../support/cli.js';
import { MLFLOW_VERSION, pythonWith } from '../../support/python.js';
import { MLFLOW_TEST_TOKEN, python, serve } from '../../support/mlflow-serve.js';
import { MLFLOW_ALIAS_REASON } from '../../../src/server/mlflow/registry.js';
import { freshLedger, populate } from '../fixture.js';

const SNIPPET = `
import json
from mlflow import MlflowClient
c = MlflowClient()
created = c.create_registered_model("iris")
mv = c.create_model_version("iris", "runs:/base-1/model", "base-1")
c.set_registered_model_alias("iris", "production", mv.version)
got = c.get_model_version_by_alias("iris", "production")
print(json.dumps({"created": created.name, "version": mv.version, "run_id": mv.run_id, "status": mv.status, "by_alias": got.version, "aliases": list(got.aliases)}))
`;

// A user's own training script: log a model directory as artifacts, then register it the MLflow way.
const ARTIFACT_SNIPPET = `
import json, os, tempfile
import mlflow
from mlflow import MlflowClient
mlflow.set_experiment("user-training")
with mlflow.start_run() as run:
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "MLmodel"), "w") as f: f.write("flavors: {}\\n")
    with open(os.path.join(d, "model.pkl"), "wb") as f: f.write(b"weights")
    mlflow.log_artifacts(d, artifact_path="model")
run_id = run.info.run_id
mv = MlflowClient().create_model_version("user-model", f"runs:/{run_id}/model", run_id)
print(json.dumps({"version": mv.version, "run_id": mv.run_id == run_id, "source": mv.source == f"runs:/{run_id}/model"}))
`;

// The searches a user's MLflow code runs against the registry (MLflow 3 adds a "not a prompt" tag clause to
// search_registered_models), and the deprecated get_latest_versions, which answers stage None.
const SEARCH_SNIPPET = `
import json
from mlflow import MlflowClient
c = MlflowClient()
models = [m.name for m in c.search_registered_models()]
like = [m.name for m in c.search_registered_models(filter_string="name LIKE 'ir%'")]
versions = [(v.name, v.version) for v in c.search_model_versions("name='iris'")]
by_run = [(v.name, v.version) for v in c.search_model_versions("run_id='base-1'")]
latest = [v.version for v in c.get_latest_versions("iris")]
print(json.dumps({"models": models, "like": like, "versions": versions, "by_run": by_run, "latest": latest}))
`;

// Registry tags and descriptions the MLflow way: each a ledger event with actor serve.
const TAGS_SNIPPET = `
import json
from mlflow import MlflowClient
c = MlflowClient()
c.set_registered_model_tag("iris", "team", "vision")
c.set_model_version_tag("iris", "1", "validation", "passed")
c.update_registered_model("iris", description="Iris classifier")
c.update_model_version("iris", "1", description="the first")
m = c.get_registered_model("iris")
v = c.get_model_version("iris", "1")
found = [(x.name, x.version) for x in c.search_model_versions("tags.validation = 'passed'")]
c.delete_registered_model_tag("iris", "team")
print(json.dumps({"model_tags": m.tags, "description": m.description, "version_tags": v.tags, "version_description": v.description, "found": found, "after_delete": c.get_registered_model("iris").tags}))
`;

describe('the stock MLflow client against serve\'s model registry', function () {
  this.timeout(300_000);
  const probe = pythonWith(['mlflow'], `assert mlflow.__version__ == ${JSON.stringify(MLFLOW_VERSION)}, "mlflow " + mlflow.__version__ + " is not the pinned ${MLFLOW_VERSION}"`);
  let home: string;
  let server: { child: ChildProcess; url: string } | undefined;

  before(async function () {
    if (!probe.ok) {
      console.log(`      SKIPPED: the MLflow registry client suite needs mlflow-skinny ${MLFLOW_VERSION}: ${probe.reason}`);
      this.skip();
    }
    const ledger = await freshLedger();
    await populate(ledger);
    await ledger.close();
    home = ledger.home;
    server = await serve(home);
  });
  after(() => {
    server?.child.kill('SIGTERM');
  });

  it('creates a model, registers a version, sets an alias and reads it back through MlflowClient', async () => {
    const res = await python(['-c', SNIPPET], { MLFLOW_TRACKING_URI: server!.url, MLFLOW_TRACKING_TOKEN: MLFLOW_TEST_TOKEN, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' });
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.deepEqual(out, { created: 'iris', version: '1', run_id: 'base-1', status: 'READY', by_alias: '1', aliases: ['production'] });
  });

  it('registers the model directory a user\'s MLflow run logged as artifacts (runs:/<run>/model), and model history verifies it', async () => {
    const res = await python(['-c', ARTIFACT_SNIPPET], { MLFLOW_TRACKING_URI: server!.url, MLFLOW_TRACKING_TOKEN: MLFLOW_TEST_TOKEN, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' });
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    assert.deepEqual(JSON.parse(res.stdout.trim().split('\n').pop()!), { version: '1', run_id: true, source: true });
    const env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    const history = await runCli(['model', 'history', 'user-model', '--json'], { env });
    assert.equal(history.code, 0, history.stderr);
    const parsed = JSON.parse(history.stdout) as { ok: boolean; versions: { kind: string; artifact: { path: string; files: { path: string }[] } | null }[] };
    assert.equal(parsed.ok, true);
    assert.deepEqual(parsed.versions.map((v) => [v.kind, v.artifact?.path, v.artifact?.files.map((f) => f.path)]), [['artifact', 'model', ['model/MLmodel', 'model/model.pkl']]]);
  });

  it('model history --json shows the alias change with actor, reason and an inclusion proof after checkpoint', async () => {
    const env = { RUNLEDGER_HOME: home };
    const checkpoint = await runCli(['checkpoint'], { env });
    assert.equal(checkpoint.code, 0, checkpoint.stderr);
    const res = await runCli(['model', 'history', 'iris', '--json'], { env });
    assert.equal(res.code, 0, res.stderr);
    const history = JSON.parse(res.stdout) as { ok: boolean; anchored: boolean; aliases: Record<string, number>; entries: { change: string; actor: string; reason: string | null; inclusion: { proof: string[] } | null }[] };
    assert.equal(history.ok, true);
    assert.equal(history.anchored, true);
    assert.deepEqual(history.aliases, { production: 1 });
    assert.deepEqual(history.entries.map((e) => [e.change, e.actor, e.reason]), [
      ['registered', 'serve', null],
      ['alias-set', 'serve', MLFLOW_ALIAS_REASON],
    ]);
    assert.ok(history.entries.every((e) => e.inclusion !== null && Array.isArray(e.inclusion.proof)));
  });

  it('searches registered models and versions and gets the latest version through MlflowClient', async () => {
    const res = await python(['-c', SEARCH_SNIPPET], { MLFLOW_TRACKING_URI: server!.url, MLFLOW_TRACKING_TOKEN: MLFLOW_TEST_TOKEN, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' });
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    assert.deepEqual(JSON.parse(res.stdout.trim().split('\n').pop()!), { models: ['iris', 'user-model'], like: ['iris'], versions: [['iris', '1']], by_run: [['iris', '1']], latest: ['1'] });
  });

  it('sets and deletes registry tags and descriptions through MlflowClient, each a ModelTag/Description event with actor serve', async () => {
    const res = await python(['-c', TAGS_SNIPPET], { MLFLOW_TRACKING_URI: server!.url, MLFLOW_TRACKING_TOKEN: MLFLOW_TEST_TOKEN, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' });
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    assert.deepEqual(JSON.parse(res.stdout.trim().split('\n').pop()!), {
      model_tags: { team: 'vision' },
      description: 'Iris classifier',
      version_tags: { validation: 'passed' },
      version_description: 'the first',
      found: [['iris', '1']],
      after_delete: {},
    });
    const env = { RUNLEDGER_HOME: home };
    const history = JSON.parse((await runCli(['model', 'history', 'iris', '--json'], { env })).stdout) as { ok: boolean; entries: { change: string; actor: string }[] };
    assert.equal(history.ok, true);
    assert.deepEqual(history.entries.slice(-5).map((e) => [e.change, e.actor]), [
      ['tag-set', 'serve'],
      ['tag-set', 'serve'],
      ['description-set', 'serve'],
      ['description-set', 'serve'],
      ['tag-deleted', 'serve'],
    ]);
  });
});
