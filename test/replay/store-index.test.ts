// What the store's own indexes say — which stream a row belongs to, how large the tree is — is not
// evidence: an attacker with write access to the database changes those columns, not the bytes.
// Every verdict here comes from the canonical bytes and the signed checkpoints.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { recordFinding } from '../../src/governance/recorder.js';
import { replayRun } from '../../src/replay/replay.js';
import { writeBundle } from '../../src/bundle/bundle.js';
import { verifyLedger } from '../../src/replay/ledger-verification.js';
import { VerificationCache } from '../../src/server/verification.js';
import { verifiedState } from '../../src/gates/evidence.js';
import { loadVerifierKey } from '../../src/ledger/keys.js';
import { catchUp } from '../../projections/catch-up.js';
import { runSummaryProjection } from '../../projections/run-summary.js';
import type { EventStore } from '../../src/store/port.js';
import { completedRun, openTestLedger, type TestLedger } from '../governance/fixture.js';
import { freshLedger, populate, raw } from '../server/fixture.js';
import { webAssets } from '../server/web-assets.js';
import { startServer } from '../../src/server/app.js';
import type { ReplayView } from '../../src/server/api-types.js';

describe('verification against a store whose indexes lie', function () {
  this.timeout(60_000);
  let ledger: TestLedger;
  beforeEach(async () => {
    ledger = await openTestLedger();
  });
  afterEach(async () => {
    await ledger.close();
  });

  /** Runs `change` on the ledger's SQLite file (the attacker's write access). */
  const tamper = (change: (db: Database.Database) => void): void => {
    const db = new Database(join(ledger.dir, 'ledger.db'));
    try {
      change(db);
    } finally {
      db.close();
    }
  };

  /**
   * `runledger verify`, single-threaded and with two worker threads reading the file (whatever the
   * ledger's size: parallelFrom 0), names the stream whose index hides its last event, in the same words.
   */
  const assertVerifyFinds = async (stream: string, revision: number): Promise<void> => {
    const divergences = [];
    for (const workers of [1, 2]) {
      const report = await verifyLedger(ledger.store, { verifierKeys: [ledger.verifierKey], workers, parallelFrom: 0 });
      assert.equal(report.ok, false, `verify with ${workers} worker(s) passed a store whose index hides events`);
      assert.deepEqual([report.firstDivergence?.check, report.firstDivergence?.stream, report.firstDivergence?.revision], ['stream', stream, revision], report.firstDivergence?.message);
      assert.equal(report.anchored, false);
      assert.equal(report.workers.requested, workers);
      divergences.push(report.firstDivergence);
    }
    assert.deepEqual(divergences[1], divergences[0]);
  };

  /**
   * Plain `runledger replay` (no --full), `export`, the public API's verifyRun and `model register`
   * (all one replayRun) read the log's bytes after the run's last event and fail at the first hidden revision.
   */
  const assertReplayFinds = async (runId: string, revision: number): Promise<void> => {
    const plain = await replayRun(ledger.store, runId, { verifierKeys: [ledger.verifierKey] });
    assert.equal(plain.ok, false, 'replay verified a run the store had cut short');
    assert.deepEqual([plain.firstDivergence?.check, plain.firstDivergence?.stream, plain.firstDivergence?.revision], ['chain', `run-${runId}`, revision], plain.firstDivergence?.message);
    assert.equal(plain.manifest, null);
    const written: Buffer[] = [];
    await assert.rejects(writeBundle(ledger.store, runId, [ledger.verifierKey], (chunk) => void written.push(chunk)), /does not verify, so no bundle was written/);
    assert.equal(written.length, 0, 'export wrote bundle bytes for a run the store had cut short');
  };

  it('fails verify and replay --full when the stream column hides the last events of a run, naming the first hidden one', async () => {
    await completedRun(ledger.store, 'r1');
    await recordFinding(ledger.store, { runId: 'r1', severity: 'hard', check: 'budget', message: 'over budget', subject: 'stage:train', details: {} });
    await ledger.checkpoint();
    const honest = await replayRun(ledger.store, 'r1', { verifierKeys: [ledger.verifierKey], fullLog: true });
    assert.equal(honest.ok, true, honest.firstDivergence?.message);
    const finding = honest.evidence.at(-1)!;
    const findingId = (JSON.parse(finding.canonical.toString('utf8')) as { id: string }).id;

    // The finding's bytes, leaf hash and tree stay as signed; only the row's stream column moves.
    tamper((db) => db.prepare("UPDATE events SET stream = 'elsewhere' WHERE id = ?").run(findingId));
    const full = await replayRun(ledger.store, 'r1', { verifierKeys: [ledger.verifierKey], fullLog: true });
    assert.equal(full.ok, false, 'replay --full verified a run the store had cut short');
    assert.equal(full.firstDivergence?.check, 'log');
    assert.equal(full.firstDivergence?.stream, 'run-r1');
    assert.equal(full.firstDivergence?.revision, honest.evidence.length - 1);
    assert.match(full.firstDivergence?.message ?? '', /revision 9/);
    await assertVerifyFinds('run-r1', 9);
    await assertReplayFinds('r1', 9);
  });

  it('fails verify and replay --full when revision columns hide the last event of a run behind its predecessor', async () => {
    await completedRun(ledger.store, 'r1');
    await recordFinding(ledger.store, { runId: 'r1', severity: 'hard', check: 'budget', message: 'over budget', subject: 'stage:train', details: {} });
    await ledger.checkpoint();
    // The last event drops out of `revision >= 0`; the one before takes its revision, so the stream's
    // highest revision column still says 9.
    tamper((db) => {
      db.prepare("UPDATE events SET revision = -1 WHERE stream = 'run-r1' AND revision = 9").run();
      db.prepare("UPDATE events SET revision = 9 WHERE stream = 'run-r1' AND revision = 8").run();
    });
    const full = await replayRun(ledger.store, 'r1', { verifierKeys: [ledger.verifierKey], fullLog: true });
    assert.equal(full.ok, false, 'replay --full verified a run the store had cut short');
    assert.equal(full.firstDivergence?.check, 'log');
    assert.equal(full.firstDivergence?.revision, 9);
    await assertVerifyFinds('run-r1', 9);
    await assertReplayFinds('r1', 9);
  });

  it('counts as anchored only the events it verified under a signed checkpoint, not the size the store claims for its tree', async () => {
    await completedRun(ledger.store, 'r1');
    await ledger.checkpoint();
    const signed = (await ledger.store.treeState()).size;
    await ledger.store.append('other', [{ type: 'custom.note', data: { n: 1 } }, { type: 'custom.note', data: { n: 2 } }]);
    // A server store keeps its tree size in a row of its own (PostgreSQL's tree table): set back to the signed size.
    const lying = new Proxy(ledger.store, {
      get(target, name, receiver) {
        if (name === 'treeState') return async () => ({ ...(await target.treeState()), size: signed });
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as EventStore;
    const report = await verifyLedger(lying, { verifierKeys: [ledger.verifierKey], workers: 1 });
    assert.equal(report.ok, true, report.firstDivergence?.message);
    assert.equal(report.events, signed + 2);
    assert.equal(report.anchored, false, 'two events after the latest checkpoint were reported anchored');
    assert.equal(report.unanchoredEvents, 2);
  });

  it('never badges a run verified, replays it ok on the dashboard or gates on it, when the store\'s stream read returns fewer events than the log holds for it', async () => {
    const served = await freshLedger();
    try {
      await populate(served);
      const rows = (await served.store.readStream('run-cand-1')).length;
      const last = rows - 1;
      const badge = async () => (await new VerificationCache(served.store, served.home).runs([{ runId: 'cand-1', revision: last }]))[0]!;
      assert.equal((await badge()).badge, 'verified');
      // The dashboard's revision comes from the live projection of the log's bytes; the replay reads the stream by its column.
      const db = new Database(join(served.home, 'ledger.db'));
      try {
        db.prepare("UPDATE events SET stream = 'elsewhere' WHERE stream = 'run-cand-1' AND revision = ?").run(last);
      } finally {
        db.close();
      }
      const result = await badge();
      assert.equal(result.badge, 'failed', result.detail);
      assert.equal(result.divergence?.revision, last);
      assert.equal(result.verifiedEvents, last);
      // The dashboard's replay view says what its badge says.
      const server = await startServer({ store: served.store, home: served.home, port: 0, assetsDir: await webAssets() });
      try {
        const reply = await raw(server, '/api/runs/cand-1/replay');
        assert.equal(reply.status, 200, reply.body);
        const view = JSON.parse(reply.body) as ReplayView;
        assert.equal(view.ok, false, 'the replay view passed a run whose badge failed');
        assert.deepEqual([view.firstDivergence?.check, view.firstDivergence?.revision], ['chain', last]);
      } finally {
        await server.close();
      }
      // The gates judge by the same replay, and take the run's events from the same projection.
      const { state } = await catchUp(served.store, served.home, runSummaryProjection, { rebuild: true, persist: false });
      await assert.rejects(verifiedState(served.store, state, ['cand-1'], { verifierKeys: [loadVerifierKey(served.home)] }), (err: Error) => {
        assert.match(err.message, /run cand-1 does not verify \(check chain\).*revision \d+ onward is hidden/);
        return true;
      });
    } finally {
      await served.close();
    }
  });
});
