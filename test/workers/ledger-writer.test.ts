import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { InputError } from '../../src/errors.js';
import { hashPlan, PlanFile } from '../../src/governance/plan.js';
import { approvePlan, recordStage } from '../../src/governance/recorder.js';
import { workerKeyOf } from '../../src/ledger/worker-keys.js';
import { openStore } from '../../src/store/open.js';
import { asSigner } from '../../workers/checkpoint.js';
import { startLedgerWriter, writerStoreUrl } from '../../workers/ledger-writer.js';
import { train } from '../../workers/trainer.js';
import { openTestLedger, type TestLedger } from '../governance/fixture.js';
import { signingKey, smallConfig, tempHome } from './fixture.js';

describe('workers/ledger-writer', function () {
  this.timeout(60_000);
  const config = smallConfig({ epochs: 3, telemetryEvery: 2 });
  const plan = hashPlan(PlanFile.parse({ governance: { name: 'writer', approver: 'alice', training: config }, execution: { stages: [{ id: 'train' }] } }));
  const trusted = signingKey();
  let ledger: TestLedger;
  const url = (): string => writerStoreUrl(ledger.store)!;

  beforeEach(async () => {
    ledger = await openTestLedger();
  });
  afterEach(async () => {
    await ledger.close();
  });

  async function runningRun(run: string): Promise<void> {
    await approvePlan(ledger.store, plan, run, { workerKeys: [workerKeyOf(asSigner(trusted))] });
    await recordStage(ledger.store, run, 'train', 'start');
  }

  it('acknowledges the batches of a run only once they are durable: another connection reads every event, in the order trained', async () => {
    await runningRun('w1');
    const writer = startLedgerWriter(url());
    const handed: string[] = [];
    const sink = writer.sink('run-w1', 'worker-a');
    const result = await train({
      run: 'w1',
      stage: 'train',
      config,
      home: tempHome(),
      signingKey: trusted,
      commitIntervalMs: 0,
      sink: { ...sink, append: (batch) => (handed.push(...batch.map((e) => `${e.type}`)), sink.append(batch)) },
    });
    assert.ok(result.completed);
    const reader = await openStore(url());
    try {
      const recorded = (await reader.readStream('run-w1')).map((e) => e.envelope);
      const training = recorded.slice(recorded.findIndex((e) => e.type === 'RunEnvironmentRecorded'));
      assert.deepEqual(training.map((e) => e.type), handed);
      assert.ok(training.every((e) => e.metadata.actor === 'worker-a'));
      assert.ok(writer.doorMs > 0);
    } finally {
      await reader.close();
      await writer.close();
    }
  });

  it('refuses through the door with its typed error and rule, records nothing of the batch, and refuses every later batch of that stream', async () => {
    await runningRun('w2');
    const writer = startLedgerWriter(url());
    try {
      const before = (await ledger.store.readStream('run-w2')).length;
      // Signed by a key the approval does not trust: the door's signature rule refuses it.
      await assert.rejects(
        train({ run: 'w2', stage: 'train', config, home: tempHome(), signingKey: signingKey(), sink: writer.sink('run-w2', 'worker-a') }),
        (err: unknown) => err instanceof InputError && /nothing was recorded/.test(err.message) && err.location.stream === 'run-w2',
      );
      // Properly signed events after the refusal would leave a gap where the refused ones belonged.
      await assert.rejects(train({ run: 'w2', stage: 'train', config, home: tempHome(), signingKey: trusted, sink: writer.sink('run-w2', 'worker-a') }), InputError);
      assert.equal((await ledger.store.readStream('run-w2')).length, before, 'nothing recorded after the refusal');
    } finally {
      await writer.close();
    }
  });

  it('fails the run loudly when the store fails mid-run: what was committed is a gapless prefix of what was trained, nothing after the failure', async () => {
    await runningRun('w3');
    const before = (await ledger.store.readStream('run-w3')).length;
    // The store starts failing once four events of the run are in: a disk that fills up mid-run.
    const db = new Database(url().slice('sqlite:'.length));
    db.exec(`CREATE TRIGGER fail_w3 BEFORE INSERT ON events WHEN NEW.stream = 'run-w3' AND (SELECT count(*) FROM events WHERE stream = 'run-w3') >= ${before + 4}
             BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END`);
    db.close();
    const writer = startLedgerWriter(url());
    const handed: string[] = [];
    const sink = writer.sink('run-w3', 'worker-a');
    try {
      await assert.rejects(
        train({
          run: 'w3',
          stage: 'train',
          config,
          home: tempHome(),
          signingKey: trusted,
          commitIntervalMs: 0,
          sink: { ...sink, append: (batch) => (handed.push(...batch.map((e) => e.type)), sink.append(batch)) },
        }),
        (err: unknown) => err instanceof Error && /simulated disk failure/.test(err.message),
      );
      const recorded = (await ledger.store.readStream('run-w3')).map((e) => e.envelope).slice(before);
      assert.ok(recorded.length > 0, 'a batch was committed before the failure (the failure is mid-run)');
      assert.ok(recorded.length < handed.length, 'the events from the failed batch on are not recorded');
      assert.deepEqual(recorded.map((e) => e.revision), recorded.map((_, i) => before + i), 'gapless, in order');
      assert.deepEqual(recorded.map((e) => e.type), handed.slice(0, recorded.length), 'the prefix handed over, in the order trained');
    } finally {
      await writer.close();
    }
  });

  it('is not offered for a ledger another thread cannot open (an in-memory SQLite database)', async () => {
    const memory = await openStore('sqlite::memory:');
    try {
      assert.equal(writerStoreUrl(memory), null);
      assert.equal(writerStoreUrl(ledger.store), ledger.store.displayUrl);
    } finally {
      await memory.close();
    }
  });
});
