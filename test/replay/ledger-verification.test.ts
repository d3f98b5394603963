// verifyLedger's choice of threads: below `parallelFrom` events one thread, from it the workers;
// `workers.used` counts the threads that actually checked events (the pool's own counts), and the
// rest of the report is the single-threaded one either way, on the SQLite file's ranges and on the
// main thread's read of a store the workers cannot open.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PARALLEL_FROM_EVENTS, verifyLedger, type LedgerVerification } from '../../src/replay/ledger-verification.js';
import { VerifyPool } from '../../src/replay/verify-parallel.js';
import type { EventStore } from '../../src/store/port.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { freshHome, runCli } from '../support/cli.js';

const N = 2500;

/** The store as one without a file for the workers (as PostgreSQL and KurrentDB are): batches go through the main thread's read. */
function withoutRangeFile(store: EventStore): EventStore {
  return new Proxy(store, {
    get: (target, key) => {
      if (key === 'rangeReadPath') return undefined;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function withoutWorkers(r: LedgerVerification): Omit<LedgerVerification, 'workers'> {
  const { workers: _, ...rest } = r;
  return rest;
}

describe('verifyLedger: the threads it uses', function () {
  this.timeout(120_000);
  let store: EventStore;
  let verifierKeys: string[];
  let pool: VerifyPool;

  before(async () => {
    const home = freshHome();
    const env = { RUNLEDGER_HOME: home };
    const input = Array.from({ length: N }, (_, i) => JSON.stringify({ stream: `t-${i % 11}`, type: 'custom.sample', data: { i } })).join('\n');
    for (const args of [['init'], ['append', '-'], ['checkpoint']]) assert.equal((await runCli(args, { env, input })).code, 0);
    verifierKeys = [(await runCli(['keys', 'show'], { env })).stdout.trim()];
    store = createSqliteStore({ path: join(home, 'ledger.db'), readonly: true });
    pool = new VerifyPool(2);
    while (pool.readyWorkers < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  });
  after(async () => {
    await pool.close();
    await store.close();
  });

  for (const [name, of] of [['the SQLite file read in ranges by the workers', (s: EventStore) => s], ['a store without a file for the workers', withoutRangeFile]] as const) {
    describe(name, () => {
      it('counts in `used` exactly the threads that checked events, and reports what one thread reports', async () => {
        const target = of(store);
        const single = await verifyLedger(target, { verifierKeys, workers: 1 });
        assert.equal(single.ok, true);
        assert.deepEqual(single.workers, { requested: 1, used: 1, reason: 'as-requested', parallelFrom: PARALLEL_FROM_EVENTS });
        const before = pool.checkedBatches();
        const parallel = await verifyLedger(target, { verifierKeys, pool, parallelFrom: 0 });
        const checked = pool.checkedBatches().filter((n, i) => n > before[i]!).length;
        assert.equal(checked, 2, 'both ready threads checked events');
        assert.deepEqual(parallel.workers, { requested: 2, used: checked, reason: 'as-requested', parallelFrom: 0 });
        assert.deepEqual(withoutWorkers(parallel), withoutWorkers(single));
        // Four threads for three batches of 1024 (2500 events): one of them is idle, and `used` says 3.
        const four = new VerifyPool(4);
        try {
          while (four.readyWorkers < 4) await new Promise((resolve) => setTimeout(resolve, 5));
          const spread = await verifyLedger(target, { verifierKeys, pool: four, parallelFrom: 0 });
          assert.deepEqual(spread.workers, { requested: 4, used: 3, reason: 'as-requested', parallelFrom: 0 });
          assert.equal(four.checkedBatches().filter((n) => n > 0).length, 3);
          assert.deepEqual(withoutWorkers(spread), withoutWorkers(single));
        } finally {
          await four.close();
        }
      });

      it('leaves the threads idle below parallelFrom and says so', async () => {
        const target = of(store);
        const single = await verifyLedger(target, { verifierKeys, workers: 1 });
        const before = pool.checkedBatches();
        const small = await verifyLedger(target, { verifierKeys, pool, parallelFrom: N + 1 });
        assert.deepEqual(pool.checkedBatches(), before, 'no thread checked a batch');
        assert.deepEqual(small.workers, { requested: 2, used: 1, reason: 'small-ledger', parallelFrom: N + 1 });
        assert.deepEqual(withoutWorkers(small), withoutWorkers(single));
        // The default threshold: a ledger of N events is below it.
        assert.ok(N < PARALLEL_FROM_EVENTS);
        assert.equal((await verifyLedger(target, { verifierKeys, workers: 2 })).workers.reason, 'small-ledger');
        assert.equal((await verifyLedger(target, { verifierKeys, pool, parallelFrom: N })).workers.used, 2, 'from parallelFrom events on, the threads');
      });
    });
  }
});
