import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnavailableError } from '../../src/errors.js';
import { EVENT_ID_HEADER, relayConsumer, runRelay } from '../../src/kafka/relay.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { EventStore } from '../../src/store/port.js';
import { createTopic, kafkaBroker, readTopic, uniqueTopic, type KafkaBroker } from '../support/kafka.js';

const STREAMS = ['run-a', 'run-b', 'run-c'];

async function openLedger(dir: string): Promise<EventStore> {
  const store = createSqliteStore({ path: join(dir, 'ledger.db') });
  await store.init();
  return store;
}

/** Appends `count` events spread round-robin over STREAMS, one append each (interleaved store order). */
async function seed(store: EventStore, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await store.append(STREAMS[i % STREAMS.length]!, [{ id: randomUUID(), type: 'custom.sample', data: { i } }]);
  }
}

describe('kafka relay: unreachable broker', function () {
  this.timeout(30_000);
  let dir: string;
  let store: EventStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runledger-relay-'));
    store = await openLedger(dir);
    await seed(store, 3);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails with UnavailableError within seconds and leaves its stored position unset', async () => {
    const started = Date.now();
    await assert.rejects(runRelay({ store, brokers: ['127.0.0.1:1'], topic: 'nowhere', once: true }), (err: unknown) => {
      assert.ok(err instanceof UnavailableError, String(err));
      assert.match(err.message, /Kafka broker 127\.0\.0\.1:1 is unavailable/);
      return true;
    });
    assert.ok(Date.now() - started < 20_000, 'bounded retries');
    assert.equal(await store.getPosition(relayConsumer('nowhere')), undefined);
  });
});

describe('kafka relay (real broker)', function () {
  this.timeout(60_000);
  let kafka: KafkaBroker;
  let dir: string;
  let store: EventStore;

  before(async function () {
    const found = await kafkaBroker();
    if ('skip' in found) {
      console.log(`      skipping Kafka relay tests: ${found.skip}`);
      this.skip();
    }
    kafka = found;
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runledger-relay-'));
    store = await openLedger(dir);
  });
  afterEach(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every event once, in stream order, keyed by stream with the event-id header and the stored canonical bytes', async () => {
    const topic = uniqueTopic('relay');
    await createTopic(kafka.brokers, topic, 3);
    await seed(store, 30);
    const report = await runRelay({ store, brokers: kafka.brokers, topic, once: true, batchSize: 7 });
    assert.equal(report.sent, 30);

    const recorded = await store.readAll();
    const messages = await readTopic(kafka.brokers, topic);
    assert.equal(messages.length, recorded.length);
    const byId = new Map(messages.map((m) => [m.headers[EVENT_ID_HEADER], m]));
    assert.equal(byId.size, recorded.length, 'no event id twice');
    for (const event of recorded) {
      const message = byId.get(event.envelope.id);
      assert.ok(message, `event ${event.envelope.id} was delivered`);
      assert.equal(message.key, event.envelope.stream);
      assert.ok(message.value.equals(event.canonical), `value of ${event.envelope.id} is the stored canonical bytes`);
    }
    // One partition per stream, and within it the stream's revisions in order.
    for (const stream of STREAMS) {
      const ofStream = messages.filter((m) => m.key === stream);
      assert.equal(new Set(ofStream.map((m) => m.partition)).size, 1, `${stream} lives on one partition`);
      assert.deepEqual(
        ofStream.map((m) => (JSON.parse(m.value.toString()) as { revision: number }).revision),
        ofStream.map((_, i) => i),
      );
    }
    assert.equal(await store.getPosition(relayConsumer(topic)), recorded[recorded.length - 1]!.position);
  });

  it('resumes from its stored position after a restart without re-sending', async () => {
    const topic = uniqueTopic('relay-resume');
    await createTopic(kafka.brokers, topic, 1);
    await seed(store, 5);
    assert.equal((await runRelay({ store, brokers: kafka.brokers, topic, once: true })).sent, 5);
    await seed(store, 4, 5);
    const second = await runRelay({ store, brokers: kafka.brokers, topic, once: true });
    assert.equal(second.sent, 4);
    const third = await runRelay({ store, brokers: kafka.brokers, topic, once: true });
    assert.equal(third.sent, 0);

    const messages = await readTopic(kafka.brokers, topic);
    const recorded = await store.readAll();
    assert.deepEqual(
      messages.map((m) => m.headers[EVENT_ID_HEADER]),
      recorded.map((e) => e.envelope.id),
    );
  });

  it('follows the ledger live until aborted, sending events appended while it runs', async () => {
    const topic = uniqueTopic('relay-live');
    await createTopic(kafka.brokers, topic, 1);
    await seed(store, 2);
    const controller = new AbortController();
    let acknowledged = 0;
    const running = runRelay({ store, brokers: kafka.brokers, topic, signal: controller.signal, onProgress: (sent) => (acknowledged = sent) });
    await seed(store, 3, 2);
    const deadline = Date.now() + 20_000;
    while (acknowledged < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    const report = await running;
    assert.equal(report.sent, 5);
    assert.equal((await readTopic(kafka.brokers, topic)).length, 5);
  });
});
