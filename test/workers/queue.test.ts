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
import { forgeIntoSqlite } from '../support/forge.js';
import { openTestLedger } from '../governance/fixture.js';
import { fixtureWorker } from '../../bench/fixtures/worker-key.js';
import type { RunEnvironmentRecorded } from '../../events/training.js';
import { signEvent } from '../../src/ledger/worker-keys.js';
import { replayRun } from '../../src/replay/replay.js';
import { executeRun } from '../../workers/execute.js';
import { signingKey, tempHome } from './fixture.js';
import { rmSync } from 'node:fs';

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

  it('replay refuses a training event of a claimed run signed by another trusted key than the claimant, written straight into the file (rule claimant)', async function () {
    this.timeout(120_000);
    const ledger = await openTestLedger();
    const home = tempHome();
    try {
      const claimant = ctx.keys.signer;
      await submitRun(ledger.store, readPlanFile(PLAN), 'c', { workerKeys: [workerKeyOf(claimant), fixtureWorker.publicKey] });
      assert.ok(await claimNext(ledger.store, 'wa', claimant));
      await executeRun({ store: ledger.store, home, keys: { signer: claimant }, worker: 'wa' }, 'c', { stopAfterEpoch: 2 });
      await ledger.checkpoint();
      assert.equal((await replayRun(ledger.store, 'c', { verifierKeys: [ledger.verifierKey] })).ok, true, 'the genuine run replays');
      // The other trusted worker (it lost the claim) records its environment, bypassing every door.
      const environment = (await ledger.store.readStream('run-c')).find((e) => e.envelope.type === 'RunEnvironmentRecorded')!;
      const { publicKey: _p, signature: _s, ...data } = environment.envelope.data as RunEnvironmentRecorded;
      forgeIntoSqlite(join(ledger.dir, 'ledger.db'), 'run-c', { type: 'RunEnvironmentRecorded', data: signEvent<RunEnvironmentRecorded>(fixtureWorker.signer, 'RunEnvironmentRecorded', data) });
      await ledger.checkpoint();
      const replayed = await replayRun(ledger.store, 'c', { verifierKeys: [ledger.verifierKey] });
      assert.equal(replayed.ok, false);
      assert.deepEqual([replayed.firstDivergence?.check, replayed.firstDivergence?.rule], ['write-rule', 'claimant'], replayed.firstDivergence?.message);
    } finally {
      await ledger.close();
      rmSync(home, { recursive: true, force: true });
    }
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
