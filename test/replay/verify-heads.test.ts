// The stream-head check of `verifyLedger` with worker threads: each worker looks up a share of the
// streams' last events in the ledger file with the store's own stream read, and the main thread
// reads through the store from the first head a worker did not confirm. Tampering is by SQL on the
// file (the attacker's write access); the heads are what the verified log's bytes say.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { leafHash } from '../../src/integrity/hasher.js';
import { verifyLedger } from '../../src/replay/ledger-verification.js';
import { VerifyPool } from '../../src/replay/verify-pool.js';
import type { StreamHead } from '../../src/replay/verify-worker.js';
import { eachTestLedger } from '../governance/fixture.js';

describe('stream heads checked by worker threads', function () {
  this.timeout(60_000);
  const current = eachTestLedger();
  let pool: VerifyPool | undefined;
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  const STREAMS = 9;
  /** STREAMS streams of 1–3 events each, checkpointed; their heads as the log's bytes have them, in order of first appearance. */
  const populate = async (): Promise<StreamHead[]> => {
    const { store } = current();
    for (let s = 0; s < STREAMS; s++) {
      await store.append(`s-${s}`, Array.from({ length: 1 + (s % 3) }, (_, n) => ({ type: 'custom.note', data: { s, n } })));
    }
    await current().checkpoint();
    const heads: StreamHead[] = [];
    for (let s = 0; s < STREAMS; s++) {
      const events = await store.readStream(`s-${s}`);
      const last = events.at(-1)!;
      heads.push({ stream: `s-${s}`, revision: last.envelope.revision, leafHash: leafHash(last.canonical).toString('hex') });
    }
    return heads;
  };
  const file = (): string => join(current().dir, 'ledger.db');
  const tamper = (sql: string, ...params: unknown[]): void => {
    const db = new Database(file());
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
  };

  it('confirms every head of an honest file, and stops at the first head of either share whose read does not reach it', async () => {
    const heads = await populate();
    pool = new VerifyPool(2);
    assert.equal(await pool.confirmedHeads(file(), heads), STREAMS);
    // A head the log does not have (a later revision) and one whose leaf hash differs: the count stops there.
    for (const at of [1, 7]) {
      const wrong = heads.map((h, i) => (i === at ? { ...h, revision: h.revision + 1 } : h));
      assert.equal(await pool.confirmedHeads(file(), wrong), at, `a head past the stream's end at ${at}`);
      const other = heads.map((h, i) => (i === at ? { ...h, leafHash: heads[(i + 1) % STREAMS]!.leafHash } : h));
      assert.equal(await pool.confirmedHeads(file(), other), at, `a head with another event's hash at ${at}`);
    }
    // The row moved out of its stream by SQL, in the second worker's share.
    tamper("UPDATE events SET stream = 'elsewhere' WHERE stream = 's-6'");
    assert.equal(await pool.confirmedHeads(file(), heads), 6);
  });

  it('does not count a head check as a thread that checked the log', async () => {
    const heads = await populate();
    pool = new VerifyPool(2);
    const before = pool.checkedBatches();
    await pool.confirmedHeads(file(), heads);
    assert.deepEqual(pool.checkedBatches(), before);
  });

  it('reports the same first hidden stream with two workers as with one, whichever share it is in', async () => {
    await populate();
    for (const stream of ['s-1', 's-7']) {
      tamper(`UPDATE events SET stream = ? WHERE stream = ?`, `${stream}-moved`, stream);
      const reports = [];
      for (const workers of [1, 2]) {
        const report = await verifyLedger(current().store, { verifierKeys: [current().verifierKey], workers, parallelFrom: 0 });
        assert.equal(report.ok, false, `verify with ${workers} worker(s) passed a store whose index hides ${stream}`);
        reports.push(report.firstDivergence);
      }
      assert.equal(reports[0]?.check, 'stream');
      assert.equal(reports[0]?.stream, stream);
      assert.deepEqual(reports[1], reports[0]);
      tamper(`UPDATE events SET stream = ? WHERE stream = ?`, stream, `${stream}-moved`);
    }
    const honest = await verifyLedger(current().store, { verifierKeys: [current().verifierKey], workers: 2, parallelFrom: 0 });
    assert.equal(honest.ok, true, honest.firstDivergence?.message);
  });
});
