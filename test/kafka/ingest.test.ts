import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KEY_STREAM } from '../../events/ledger.js';
import { guardedAppend, readRun } from '../../src/governance/guarded-append.js';
import { decodeMessage, runIngest } from '../../src/kafka/ingest.js';
import { relayMessage } from '../../src/kafka/relay.js';
import { prepareBatch, sealEvent } from '../../src/store/seal.js';
import { runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { forgeries } from '../support/forge.js';
import { fixtureWorker } from '../../bench/fixtures/worker-key.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import type { EventStore } from '../../src/store/port.js';
import { createTopic, kafkaBroker, readTopic, uniqueTopic, type KafkaBroker } from '../support/kafka.js';

interface Outgoing {
  key?: string;
  value: string;
  headers?: Record<string, string>;
}

const publisher = join(dirname(fileURLToPath(import.meta.url)), 'publisher.js');

/** Publishes from a separate process, as a remote worker would. */
function publish(brokers: string, topic: string, messages: Outgoing[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [publisher, brokers, topic], { stdio: ['pipe', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited ${code}: ${stderr}`))));
    child.stdin.end(JSON.stringify(messages));
  });
}

function event(stream: string, i: number, id: string = randomUUID()): Outgoing {
  return { key: stream, value: JSON.stringify({ stream, id, type: 'custom.sample', data: { i }, metadata: { actor: 'worker-7' } }) };
}

describe('kafka ingest: message decoding', () => {
  const good = { stream: 's', id: randomUUID(), type: 'custom.sample', data: { x: 1 } };
  const message = (value: unknown, key: string | null = 's') => ({
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: {},
  });

  it('accepts a proposed event with an id and keeps its stream', () => {
    const decoded = decodeMessage(message(good));
    assert.ok(typeof decoded !== 'string', String(decoded));
    assert.equal(decoded.stream, 's');
    assert.equal(decoded.event.id, good.id);
  });

  it('refuses a proposed event without an id, since its retries could not be idempotent', () => {
    const { id, ...noId } = good;
    void id;
    assert.match(String(decodeMessage(message(noId))), /field id/);
  });

  it('refuses a value that is not JSON and a key that is not the stream', () => {
    assert.match(String(decodeMessage(message('{"stream":'))), /not JSON/);
    assert.match(String(decodeMessage(message(good, 'other'))), /key "other" is not the event's stream "s"/);
  });
});

describe('kafka ingest (real broker)', function () {
  this.timeout(60_000);
  let kafka: KafkaBroker;
  let dir: string;
  let store: EventStore;

  before(async function () {
    const found = await kafkaBroker();
    if ('skip' in found) {
      console.log(`      skipping Kafka ingest tests: ${found.skip}`);
      this.skip();
    }
    kafka = found;
  });
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runledger-ingest-'));
    store = createSqliteStore({ path: join(dir, 'ledger.db') });
    await store.init();
  });
  afterEach(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('appends events published by another process, each stream in publish order', async () => {
    const topic = uniqueTopic('ingest');
    await createTopic(kafka.brokers, topic, 2);
    const sent = Array.from({ length: 12 }, (_, i) => event(`w-${i % 3}`, i));
    await publish(kafka.list, topic, sent);

    const report = await runIngest({ store, brokers: kafka.brokers, topic, group: uniqueTopic('g'), once: true });
    assert.deepEqual({ appended: report.appended, duplicates: report.duplicates, rejected: report.rejected }, { appended: 12, duplicates: 0, rejected: [] });
    for (const stream of ['w-0', 'w-1', 'w-2']) {
      const events = await store.readStream(stream);
      assert.deepEqual(
        events.map((e) => e.envelope.data.i),
        sent.filter((m) => m.key === stream).map((m) => (JSON.parse(m.value) as { data: { i: number } }).data.i),
      );
      assert.ok(events.every((e) => e.envelope.metadata.actor === 'worker-7'));
    }
  });

  it('does not duplicate a re-delivered message, and a second run of the same group finds nothing new', async () => {
    const topic = uniqueTopic('ingest-dup');
    await createTopic(kafka.brokers, topic, 1);
    const once = event('s', 1);
    await publish(kafka.list, topic, [once, event('s', 2), once]);
    const group = uniqueTopic('g');

    const first = await runIngest({ store, brokers: kafka.brokers, topic, group, once: true });
    assert.equal(first.appended, 2);
    assert.equal(first.duplicates, 1);
    assert.equal((await store.readStream('s')).length, 2);

    // Offsets were committed after the appends: the same group has nothing left.
    const again = await runIngest({ store, brokers: kafka.brokers, topic, group, once: true });
    assert.equal(again.appended + again.duplicates + again.rejected.length, 0);

    // A new group re-reads everything (a full re-delivery): all duplicates, nothing appended.
    const replay = await runIngest({ store, brokers: kafka.brokers, topic, group: uniqueTopic('g'), once: true });
    assert.deepEqual([replay.appended, replay.duplicates], [0, 3]);
    assert.equal((await store.readStream('s')).length, 2);
  });

  it('stops without committing when the store is unavailable, so the next run appends every message', async () => {
    const topic = uniqueTopic('ingest-down');
    await createTopic(kafka.brokers, topic, 1);
    await publish(kafka.list, topic, [event('d', 0), event('d', 1)]);
    const group = uniqueTopic('g');
    const path = join(dir, 'ledger.db');
    await store.close();
    await assert.rejects(runIngest({ store, brokers: kafka.brokers, topic, group, once: true }), /is closed/);

    store = createSqliteStore({ path });
    const retried = await runIngest({ store, brokers: kafka.brokers, topic, group, once: true });
    assert.equal(retried.appended, 2);
    assert.deepEqual((await store.readStream('d')).map((e) => e.envelope.data.i), [0, 1]);
  });

  it('follows a topic that does not exist yet and appends what is published until aborted', async () => {
    const topic = uniqueTopic('ingest-live');
    const controller = new AbortController();
    let appended = 0;
    const group = uniqueTopic('g');
    const running = runIngest({ store, brokers: kafka.brokers, topic, group, signal: controller.signal });
    const deadline = Date.now() + 20_000;
    // Publish once the ingester has created the topic and joined its group.
    let published = false;
    while (Date.now() < deadline && appended < 2) {
      if (!published) {
        try {
          await publish(kafka.list, topic, [event('live', 0), event('live', 1)]);
          published = true;
        } catch {
          // topic not there yet
        }
      }
      await new Promise((r) => setTimeout(r, 100));
      appended = (await store.readStream('live')).length;
    }
    controller.abort();
    const report = await running;
    assert.equal(report.appended, 2);
    assert.deepEqual((await store.readStream('live')).map((e) => e.envelope.data.i), [0, 1]);
  });

  it('reports and dead-letters malformed messages and still appends every good one', async () => {
    const topic = uniqueTopic('ingest-bad');
    const deadLetterTopic = `${topic}-dlq`;
    await createTopic(kafka.brokers, topic, 1);
    await createTopic(kafka.brokers, deadLetterTopic, 1);
    const bad: Outgoing[] = [
      { key: 's', value: 'not json' },
      { key: 's', value: JSON.stringify({ stream: 's', type: 'custom.sample', data: {} }) }, // no id
      { key: 's', value: JSON.stringify({ stream: 's', id: randomUUID(), type: 'no such type!', data: {} }) },
    ];
    await publish(kafka.list, topic, [event('s', 0), bad[0]!, event('s', 1), bad[1]!, bad[2]!, event('s', 2)]);

    const seen: string[] = [];
    const report = await runIngest({ store, brokers: kafka.brokers, topic, group: uniqueTopic('g'), deadLetterTopic, once: true, onRejected: (r) => seen.push(r.offset) });
    assert.equal(report.appended, 3);
    assert.deepEqual(report.rejected.map((r) => r.offset), ['1', '3', '4']);
    assert.deepEqual(seen, ['1', '3', '4']);
    assert.match(report.rejected[0]!.reason, /not JSON/);
    assert.match(report.rejected[1]!.reason, /field id/);
    assert.deepEqual((await store.readStream('s')).map((e) => e.envelope.data.i), [0, 1, 2]);

    const dead = await readTopic(kafka.brokers, deadLetterTopic);
    assert.deepEqual(dead.map((m) => m.value.toString()), bad.map((m) => m.value));
    assert.deepEqual(dead.map((m) => m.headers['source-offset']), ['1', '3', '4']);
    assert.ok(dead.every((m) => m.headers['runledger-error'] && m.headers['source-topic'] === topic));
  });

  describe('forged events: the same write rules as runledger append', () => {
    // Run a: a completed, genuinely signed run; run b: the same cut before TrainingCompleted (training).
    const runA = runStreamEvents({ runId: 'a' });
    const runB = runStreamEvents({ runId: 'b' }).filter((e) => !['TrainingCompleted', 'StageCompleted', 'RunCompleted'].includes(e.type) || (e.type === 'StageCompleted' && e.data.stageId === 'prepare'));
    const checkpointOf = (events: typeof runA) => events.find((e) => e.type === 'CheckpointWritten')!.data as { digest: string; epoch: number; step: number; metrics: { trainLoss: number; trainAccuracy: number; testLoss: number; testAccuracy: number } };
    const proposed = (stream: string, event: { id: string; type: string; data: unknown; metadata?: unknown }): Outgoing => ({ key: stream, value: JSON.stringify({ stream, ...event }) });

    beforeEach(async () => {
      // Whole runs, plans included, as a relayed copy brings them: every event checked.
      await guardedAppend(store, [{ stream: 'run-a', events: runA }], { allowGovernance: true });
      await guardedAppend(store, [{ stream: 'run-b', events: runB }], { allowGovernance: true });
    });

    it('rejects and dead-letters every forged training event type on a running and on a completed run, and governance events proposed by a worker', async () => {
      const topic = uniqueTopic('ingest-forged');
      const deadLetterTopic = `${topic}-dlq`;
      await createTopic(kafka.brokers, topic, 1);
      await createTopic(kafka.brokers, deadLetterTopic, 1);
      const forged = [
        ...forgeries({ runId: 'a', trustedKey: fixtureWorker.publicKey, checkpoint: checkpointOf(runA) }).map((f) => proposed('run-a', f.event)),
        ...forgeries({ runId: 'b', trustedKey: fixtureWorker.publicKey, checkpoint: checkpointOf(runB) }).map((f) => proposed('run-b', f.event)),
        proposed('run-b', { id: randomUUID(), type: 'StageCompleted', data: { runId: 'b', stageId: 'train', attempt: 1, outputs: {}, wallMs: 1, memoryDeltaBytes: null, throughput: null } }),
      ];
      const before = [(await readRun(store, 'a')).revision, (await readRun(store, 'b')).revision];
      await publish(kafka.list, topic, forged);

      const report = await runIngest({ store, brokers: kafka.brokers, topic, group: uniqueTopic('g'), deadLetterTopic, once: true });
      assert.equal(report.appended, 0);
      assert.equal(report.rejected.length, forged.length);
      assert.ok(report.rejected.slice(0, 5).every((r) => /\(rule run-ended\)$/.test(r.reason)), JSON.stringify(report.rejected.slice(0, 5)));
      assert.ok(report.rejected.slice(5, 10).every((r) => /\(rule worker-signature\)$/.test(r.reason)), JSON.stringify(report.rejected.slice(5, 10)));
      assert.match(report.rejected[10]!.reason, /StageCompleted events are recorded by "runledger plan approve"/);
      assert.deepEqual([(await readRun(store, 'a')).revision, (await readRun(store, 'b')).revision], before, 'nothing was written');

      const dead = await readTopic(kafka.brokers, deadLetterTopic);
      assert.deepEqual(dead.map((m) => m.value.toString()), forged.map((m) => m.value));
    });

    it('checks relayed envelopes in full: a genuine run copies over, a forged copy chained to its head is rejected', async () => {
      const topic = uniqueTopic('ingest-relayed');
      await createTopic(kafka.brokers, topic, 1);
      // An attacker seals a TrainingCompleted for run a at its next revision, chained to its real head.
      const head = (await store.readStream('run-a')).at(-1)!;
      const forgery = forgeries({ runId: 'a', trustedKey: fixtureWorker.publicKey, checkpoint: checkpointOf(runA) }).find((f) => f.event.type === 'TrainingCompleted')!.event;
      // And a relayed plan event that names another run: a stage of run zz started on run a's stream.
      const stage = { id: randomUUID(), type: 'StageStarted', data: { runId: 'zz', stageId: 'train', attempt: 2, inputs: {} } };
      const sealed = prepareBatch([{ stream: 'run-a', events: [forgery, stage] }], { actor: 'mallory' })[0]!.events.map((e) =>
        sealEvent('run-a', head.envelope.revision + 1, head.leafHash, e, new Date().toISOString()),
      );
      const genuine = await store.readStream('run-a');
      const messages = [...genuine.map(relayMessage), ...sealed.map((e) => ({ key: 'run-a', value: e.canonical, headers: { 'event-id': e.envelope.id } }))];
      await publish(
        kafka.list,
        topic,
        messages.map((m) => ({ key: m.key, value: m.value.toString('utf8'), headers: m.headers })),
      );

      const copy = createSqliteStore({ path: join(dir, 'copy.db') });
      await copy.init();
      try {
        const report = await runIngest({ store: copy, brokers: kafka.brokers, topic, group: uniqueTopic('g'), once: true });
        assert.equal(report.appended, genuine.length, JSON.stringify(report.rejected));
        assert.equal(report.rejected.length, 2);
        assert.match(report.rejected[0]!.reason, /run a has already completed; only AuditFinding may follow its end; nothing was recorded \(rule run-ended\)/);
        assert.match(report.rejected[1]!.reason, /StageStarted names run zz, not a; nothing was recorded \(rule run-id\)/);
        assert.deepEqual((await copy.readStream('run-a')).map((e) => e.leafHash), genuine.map((e) => e.leafHash), 'the genuine copy is byte-identical');
      } finally {
        await copy.close();
      }
    });

    it('refuses key history, model registry and experiment events, proposed or relayed: each ledger records its own', async () => {
      const topic = uniqueTopic('ingest-keys-models');
      await createTopic(kafka.brokers, topic, 1);
      // Relay-shaped envelopes at revision 0 of the key stream and of a model stream (what an attacker
      // with the topic, or another ledger's relay, would send), and the same as proposed events.
      const rotation = { id: randomUUID(), type: 'LedgerKeyRotated', data: { previousKey: 'runledger+0123abcd+AAAA', key: 'runledger+4567cdef+BBBB', statement: 'runledger\n' } };
      const version = { id: randomUUID(), type: 'ModelAliasSet', data: { model: 'm', alias: 'prod', version: 1, previousVersion: null, reason: 'promoted' } };
      // An experiment name squatted from the topic: the first ExperimentCreated of its stream would be the experiment.
      const experiment = { id: randomUUID(), type: 'ExperimentCreated', data: { experimentId: 'e1', name: 'iris', artifactLocation: 'mlflow-artifacts:/e1', tags: { owner: 'mallory' } } };
      const relayed = [
        { stream: KEY_STREAM, event: rotation },
        { stream: 'model-m', event: version },
        { stream: 'experiment-e1', event: experiment },
      ].map(({ stream, event }) => {
        const [e] = prepareBatch([{ stream, events: [event] }], { actor: 'mallory' })[0]!.events;
        const sealedEvent = sealEvent(stream, 0, null, e!, new Date().toISOString());
        return { key: stream, value: sealedEvent.canonical.toString('utf8'), headers: { 'event-id': sealedEvent.envelope.id } };
      });
      const messages = [
        ...relayed,
        proposed(KEY_STREAM, { ...rotation, id: randomUUID() }),
        proposed('model-m', { ...version, id: randomUUID() }),
        proposed('lab-x', { ...version, id: randomUUID() }),
        proposed('experiment-e2', { ...experiment, id: randomUUID(), data: { ...experiment.data, experimentId: 'e2' } }),
        proposed('lab-y', { ...experiment, id: randomUUID() }),
      ];
      await publish(kafka.list, topic, messages);

      const report = await runIngest({ store, brokers: kafka.brokers, topic, group: uniqueTopic('g'), once: true });
      assert.equal(report.appended, 0, JSON.stringify(report));
      assert.deepEqual(
        report.rejected.map((r) =>
          /recorded by "runledger keys rotate"/.test(r.reason) ? 'keys' : /recorded by "runledger model" \(register, alias, tag, describe\)/.test(r.reason) ? 'model' : /recorded by the MLflow API of "runledger serve"/.test(r.reason) ? 'experiment' : r.reason,
        ),
        ['keys', 'model', 'experiment', 'keys', 'model', 'model', 'experiment', 'experiment'],
      );
      assert.deepEqual(await store.readStream('experiment-e1'), [], 'no experiment stream was written');
      assert.deepEqual(await store.readStream(KEY_STREAM), [], 'no key history was written');
      assert.deepEqual(await store.readStream('model-m'), [], 'no model stream was written');
    });
  });
});
