// Concurrency and faults against a real PostgreSQL: many writer processes, a transaction that takes
// its position first but commits last, a subscriber whose connection is killed, integrators racing.
import assert from 'node:assert/strict';
import { CompactRange } from '../../src/integrity/compact-range.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { createPostgresStore, ledgerSql, writeBatch } from '../../src/store/postgres/index.js';
import type { RecordedEvent, TreeState } from '../../src/store/port.js';
import { nowIso, prepareBatch } from '../../src/store/seal.js';
import { assertChainsValid, assertStoreVerifies, events, take } from './conformance.js';
import { pgTestDatabase, type PgTestDatabase } from './pg-database.js';
import { runWriter, type WriterReport } from './pg-writer-process.js';

const database = pgTestDatabase('postgres concurrency suites');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(20);
  }
}

const tagOf = (e: RecordedEvent) => e.envelope.data.tag;

describe('postgres store under concurrency and faults', function () {
  let db: PgTestDatabase;
  before(async function () {
    const started = await database();
    if (!started) return this.skip();
    db = started;
  });
  after(async function () {
    await db?.stop();
  });

  it('8 writer processes x 1,000 events into 16 streams: 8,000 events, no duplicates, valid chains, one unforked tree, a live subscriber saw each once in integration order', async function () {
    this.timeout(120_000);
    const writers = 8;
    const perWriter = 1_000;
    const total = writers * perWriter;
    const { store, url, cleanup } = await db.store();

    const received: RecordedEvent[] = [];
    let subscriberError: unknown;
    const subscription = store.subscribe({ pollMs: 500 }).subscribe({ next: (e) => received.push(e), error: (e) => (subscriberError = e) });

    // Two integrators, each with its own connections, racing each other while the writers run.
    const integrators = [createPostgresStore({ url, poolSize: 2 }), createPostgresStore({ url, poolSize: 2 })];
    const states: TreeState[] = [];
    let writing = true;
    const loops = integrators.map(async (integrator) => {
      while (writing) {
        states.push(await integrator.integrate());
        await pause(25);
      }
    });

    let reports: WriterReport[];
    try {
      reports = await Promise.all(Array.from({ length: writers }, (_, w) => runWriter(url, w, perWriter)));
    } finally {
      writing = false;
      await Promise.all(loops);
    }
    states.push(await integrators[0]!.integrate(), await integrators[1]!.integrate());
    await Promise.all(integrators.map((i) => i.close()));

    await waitUntil(() => received.length >= total || subscriberError !== undefined, 30_000, `the subscriber to receive ${total} events`);
    await pause(700); // anything delivered twice would arrive within a poll interval
    subscription.unsubscribe();
    assert.equal(subscriberError, undefined);

    // Exactly the acknowledged events, each once.
    assert.ok(reports.every((r) => r.finished), 'every writer finished');
    const acknowledged = reports.flatMap((r) => r.acknowledged);
    assert.equal(acknowledged.length, total);
    const all = await store.readAll();
    assert.equal(all.length, total);
    const ids = all.map((e) => e.envelope.id);
    assert.equal(new Set(ids).size, total, 'no duplicate ids');
    assert.deepEqual([...ids].sort(), [...acknowledged].sort(), 'every acknowledged event is stored, nothing else');
    assertChainsValid(all);
    const streams = await store.listStreams();
    assert.equal(streams.length, 16);
    assert.equal(streams.reduce((n, s) => n + s.revision + 1, 0), total);
    assert.ok(reports.some((r) => r.conflicts > 0), 'writers really contended on the shared streams');

    // The subscriber: every event once, in integration order.
    assert.equal(received.length, total, 'no event delivered twice');
    const log = await store.readLog();
    assert.deepEqual(log.map((e) => e.index), [...Array(total).keys()], 'leaf indices are dense');
    assert.deepEqual(received.map((e) => e.envelope.id), log.map((e) => e.envelope.id), 'subscriber order is integration order');

    // No fork: every tree state either integrator returned is a prefix of the final tree.
    const bySize = new Map<number, TreeState>(states.map((s) => [s.size, s]));
    assert.ok(bySize.size > 2, `integrators advanced in several steps (${bySize.size})`);
    const range = CompactRange.empty();
    const check = (size: number) => {
      const state = bySize.get(size);
      if (state) assert.deepEqual(state.range, range.hashes().map((h) => h.toString('hex')), `tree state of size ${size} is a prefix of the final tree`);
    };
    check(0);
    for (const e of log) {
      range.append(leafHash(e.canonical));
      check(range.size);
    }
    assert.equal(range.size, total);
    assert.deepEqual(await store.treeState(), { size: total, range: range.hashes().map((h) => h.toString('hex')) });
    await assertStoreVerifies(store, total);
    await cleanup();
  });

  it('writer processes killed mid-append lose no acknowledged event and leave no partial batch', async function () {
    this.timeout(60_000);
    const { store, url, cleanup } = await db.store();
    // Kill times spread so some writers die early, some late, most while a transaction is open.
    const reports = await Promise.all([0, 1, 2, 3].map((w) => runWriter(url, w, 100_000, 1_500 + 700 * w)));
    const all = await store.readAll();
    assert.ok(all.length > 0, 'the writers got some events in before being killed');
    assert.ok(reports.every((r) => !r.finished), 'every writer was killed mid-run');
    const stored = new Set(all.map((e) => e.envelope.id));
    for (const r of reports) {
      for (const id of r.acknowledged) assert.ok(stored.has(id), `writer ${r.writer}: acknowledged event ${id} is stored`);
      // Batches are atomic and sequential per writer, so its stored i values are exactly 0..n-1 for
      // n = acknowledged, or one more whole batch committed whose acknowledgement was lost.
      const mine = all.filter((e) => e.envelope.data.writer === r.writer).map((e) => e.envelope.data.i as number);
      mine.sort((a, b) => a - b);
      assert.deepEqual(mine, [...Array(mine.length).keys()], `writer ${r.writer}: no partial or missing batch`);
      assert.ok(mine.length === r.acknowledgedUpTo || mine.length - r.acknowledgedUpTo === 25, `writer ${r.writer}: at most one unacknowledged batch`);
    }
    assertChainsValid(all);
    const integrated = await store.integrate();
    assert.equal(integrated.size, all.length, 'the integrator takes over everything committed');
    await assertStoreVerifies(store, all.length);
    await cleanup();
  });

  it('delivers to a live subscriber a transaction that took its position first but committed last', async function () {
    const { store, schema, cleanup } = await db.store();
    await store.append('before', events(1, 'before'));
    const received: RecordedEvent[] = [];
    const subscription = store.subscribe({ pollMs: 50 }).subscribe((e) => received.push(e));
    await waitUntil(() => received.length === 1, 5_000, 'the first event');

    // The store's own append code, on a connection whose transaction we hold open.
    const slow = await db.client();
    await slow.query('BEGIN');
    const held = await writeBatch(slow, ledgerSql(schema), prepareBatch([{ stream: 'slow', events: events(1, 'slow') }]), nowIso());
    const fast = await store.append('fast', events(2, 'fast'));
    assert.ok(held.positions[0]! < fast.positions[0]!, 'the held transaction took the lower position');

    await pause(400);
    assert.deepEqual(received.map(tagOf), ['before'], 'nothing past the open transaction is delivered while it is open');
    assert.deepEqual((await store.readAll()).map(tagOf), ['before'], 'readAll holds back the same way');

    await slow.query('COMMIT');
    await slow.end();
    await waitUntil(() => received.length === 4, 5_000, 'the late commit and what followed it');
    await pause(150);
    subscription.unsubscribe();
    assert.deepEqual(received.map(tagOf), ['before', 'slow', 'fast', 'fast']);
    assert.deepEqual(received.map((e) => e.position), [...received.map((e) => e.position)].sort((a, b) => a - b));

    await store.integrate();
    assert.deepEqual((await store.readLog()).map((e) => e.envelope.id), received.map((e) => e.envelope.id));
    await assertStoreVerifies(store, 4);
    await cleanup();
  });

  it('resumes a subscriber whose connection was killed (pg_terminate_backend) without loss or duplicates', async function () {
    this.timeout(60_000);
    const { store, cleanup } = await db.store();
    const admin = await db.client();
    // Waits for the subscriber's own connection (it catches up through the pool while opening it).
    const killSubscriber = async () => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const killed = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = 'runledger-subscriber' AND datname = current_database()`,
        );
        if (killed.rowCount !== 0 || Date.now() > deadline) return killed.rowCount;
        await pause(20);
      }
    };

    await store.append('s', events(5, 'before'));
    const received: RecordedEvent[] = [];
    let failure: unknown;
    // Positions are stored in delivery order, one write after the other, as a relay would.
    let stored: Promise<void> = Promise.resolve();
    // A poll interval far beyond the test: after a kill, only the reconnect and NOTIFY can deliver.
    const subscription = store.subscribe({ pollMs: 600_000 }).subscribe({
      next: (e) => {
        received.push(e);
        stored = stored.then(() => store.setPosition('relay', e.position));
      },
      error: (e) => (failure = e),
    });
    await waitUntil(() => received.length === 5, 5_000, 'catch-up');

    assert.equal(await killSubscriber(), 1, 'one subscriber connection was killed');
    await store.append('s', events(5, 'during-reconnect'));
    await waitUntil(() => received.length >= 10, 20_000, 'events appended while the subscriber reconnected');

    await pause(100);
    assert.equal(await killSubscriber(), 1, 'the subscriber reconnected and was killed again');
    await pause(300);
    await store.append('t', events(3, 'after-second-kill'));
    await waitUntil(() => received.length >= 13, 20_000, 'events after the second kill');
    await pause(200);
    subscription.unsubscribe();
    assert.equal(failure, undefined);

    const all = await store.readAll();
    assert.deepEqual(received.map((e) => e.envelope.id), all.map((e) => e.envelope.id), 'each event once, in order');
    assert.deepEqual(received.map(tagOf), [...Array(5).fill('before'), ...Array(5).fill('during-reconnect'), ...Array(3).fill('after-second-kill')]);

    // A new subscriber (another process, a restart) resumes from the stored position.
    await stored;
    assert.equal(await store.getPosition('relay'), all.at(-1)!.position);
    await store.append('s', events(2, 'while-down'));
    const resumed = await take(store.subscribe({ after: (await store.getPosition('relay'))! }), 2);
    assert.deepEqual(resumed.map(tagOf), ['while-down', 'while-down']);
    await admin.end();
    await cleanup();
  });
});
