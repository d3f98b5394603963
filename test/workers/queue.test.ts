import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readPlanFile } from '../../src/governance/plan-file.js';
import { readRun } from '../../src/governance/recorder.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { EventStore } from '../../src/store/port.js';
import { asSigner } from '../../workers/checkpoint.js';
import { workerKeyOf } from '../../src/ledger/worker-keys.js';
import type { ExecuteContext } from '../../workers/execute.js';
import { claimNext, runWorker, submitRun } from '../../workers/queue.js';
import { repoRoot } from '../support/cli.js';
import { signingKey, tempHome } from './fixture.js';

const PLAN = join(repoRoot, 'docs', 'examples', 'train.yaml');

describe('workers/queue', function () {
  this.timeout(60_000);
  let store: EventStore;
  let ctx: ExecuteContext;

  beforeEach(async () => {
    const home = tempHome();
    store = createSqliteStore({ path: join(home, 'ledger.db') });
    await store.init();
    ctx = { store, home, keys: { signer: asSigner(signingKey()) }, worker: 'w' };
  });

  afterEach(async () => {
    await store.close();
  });

  it('hands a submitted run to exactly one claimant, then reports the queue empty', async () => {
    const key = workerKeyOf(ctx.keys.signer);
    await submitRun(store, readPlanFile(PLAN), 'r1', { workerKeys: [key] });
    assert.deepEqual(await claimNext(store, 'w1', ctx.keys.signer), { runId: 'r1', backend: 'cpu' });
    assert.equal(await claimNext(store, 'w2', ctx.keys.signer), null);
    const claims = (await readRun(store, 'r1')).events.filter((e) => e.envelope.type === 'RunClaimed');
    assert.deepEqual(claims.map((e) => [e.envelope.schemaVersion, e.envelope.data.worker, e.envelope.data.publicKey]), [[2, 'w1', key]], 'one claim, signed by the claimant');
  });

  it('leaves a run to the workers its approval trusts: another worker key does not claim it', async () => {
    const key = workerKeyOf(ctx.keys.signer);
    await submitRun(store, readPlanFile(PLAN), 'r1', { workerKeys: [key] });
    assert.equal(await claimNext(store, 'w9', asSigner(signingKey())), null);
    assert.deepEqual(await claimNext(store, 'w1', ctx.keys.signer), { runId: 'r1', backend: 'cpu' });
  });

  it('ends a claimed run with RunFailed when its backend is not installed on the worker, instead of leaving it claimed', async function () {
    try {
      createRequire(import.meta.url).resolve('@tensorflow/tfjs-node-gpu');
      console.log('      @tensorflow/tfjs-node-gpu is installed here, so a missing backend cannot be observed');
      this.skip();
    } catch {
      // not installed: the case under test
    }
    await submitRun(store, readPlanFile(PLAN), 'g', { backend: 'tensorflow-gpu', workerKeys: [workerKeyOf(ctx.keys.signer)] });
    const finished: unknown[] = [];
    const executed = await runWorker(ctx, { untilIdle: true, onFinished: (o) => finished.push(o) });
    assert.deepEqual(executed, ['g']);
    assert.match(JSON.stringify(finished), /npm install @tensorflow\/tfjs-node-gpu/);
    const run = await readRun(store, 'g');
    assert.equal(run.state.status, 'failed');
    assert.equal(await claimNext(store, 'w2', ctx.keys.signer), null);
  });
});
