// End to end through the CLI, as an operator would: ledger A → relay → topic → ingest → ledger B.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { freshHome, runCli } from '../support/cli.js';
import { createTopic, kafkaBroker, uniqueTopic, type KafkaBroker } from '../support/kafka.js';

const events = [
  { stream: 'w-1', type: 'custom.sample', data: { step: 1, loss: 0.9 } },
  { stream: 'w-2', type: 'custom.sample', data: { step: 1, loss: 0.8 } },
  { stream: 'w-1', type: 'custom.sample', data: { step: 2, loss: 0.5 } },
  { stream: 'w-1', type: 'custom.sample', data: { step: 3, loss: 0.25 } },
  { stream: 'w-2', type: 'custom.sample', data: { step: 2, loss: 0.4 } },
];
const ndjson = events.map((e) => JSON.stringify(e)).join('\n') + '\n';

interface EventRow {
  position: number;
  index: number | null;
  leafHash: string;
  [field: string]: unknown;
}

async function envelopes(home: string): Promise<Omit<EventRow, 'position' | 'index'>[]> {
  const listed = await runCli(['--home', home, 'events', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  return (JSON.parse(listed.stdout) as { events: EventRow[] }).events.map(({ position, index, ...rest }) => (void position, void index, rest));
}

describe('kafka end to end (CLI)', function () {
  this.timeout(60_000);
  const homes: string[] = [];
  const home = (): string => {
    const dir = freshHome('runledger-kafka-e2e-');
    homes.push(dir);
    return dir;
  };
  after(() => homes.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('exits 3 with one sentence when the broker is unreachable, and 2 when none is named', async () => {
    const a = home();
    assert.equal((await runCli(['--home', a, 'init'])).code, 0);
    const down = await runCli(['--home', a, 'relay', '--brokers', '127.0.0.1:1', '--topic', 't', '--once'], { env: { KAFKA_BROKERS: undefined } });
    assert.equal(down.code, 3);
    assert.equal(down.stderr.trim().split('\n').length, 1);
    assert.match(down.stderr, /^runledger: Kafka broker 127\.0\.0\.1:1 is unavailable/);
    const none = await runCli(['--home', a, 'ingest', '--topic', 't', '--once'], { env: { KAFKA_BROKERS: undefined } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no Kafka broker: pass --brokers host:port or set KAFKA_BROKERS/);
  });

  describe('with a real broker', () => {
    let kafka: KafkaBroker;
    before(async function () {
      const found = await kafkaBroker();
      if ('skip' in found) {
        console.log(`      skipping Kafka end-to-end tests: ${found.skip}`);
        this.skip();
      }
      kafka = found;
    });

    it('ledger A → relay → topic → ingest → ledger B gives byte-identical events and B verifies; a diverging copy is refused', async () => {
      const topic = uniqueTopic('e2e');
      await createTopic(kafka.brokers, topic, 2);
      const env = { KAFKA_BROKERS: kafka.list };
      const a = home();
      const b = home();
      for (const h of [a, b]) assert.equal((await runCli(['--home', h, 'init'], { env })).code, 0);
      const appended = await runCli(['--home', a, 'append', '-'], { input: ndjson, env });
      assert.equal(appended.code, 0, appended.stderr);

      const relayed = await runCli(['--home', a, 'relay', '--topic', topic, '--once', '--json'], { env });
      assert.equal(relayed.code, 0, relayed.stderr);
      assert.equal((JSON.parse(relayed.stdout) as { sent: number }).sent, events.length);

      const ingested = await runCli(['--home', b, 'ingest', '--topic', topic, '--group', uniqueTopic('b'), '--once', '--json'], { env });
      assert.equal(ingested.code, 0, ingested.stderr);
      const report = JSON.parse(ingested.stdout) as { appended: number; rejected: unknown[] };
      assert.deepEqual([report.appended, report.rejected.length], [events.length, 0]);

      // Same envelopes (ids, revisions, recordedAt, prevHash chain) and the same leaf hashes.
      assert.deepEqual(await envelopes(b), await envelopes(a));
      assert.equal((await runCli(['--home', b, 'checkpoint'], { env })).code, 0);
      const verified = await runCli(['--home', b, 'verify', '--json'], { env });
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.equal((JSON.parse(verified.stdout) as { ok: boolean }).ok, true);

      // Ledger C already holds its own w-1 history: copying A's w-1 there would fork the chain.
      const c = home();
      assert.equal((await runCli(['--home', c, 'init'], { env })).code, 0);
      await runCli(['--home', c, 'append', '-'], { input: `${JSON.stringify(events[0])}\n`, env });
      const forked = await runCli(['--home', c, 'ingest', '--topic', topic, '--group', uniqueTopic('c'), '--once', '--json'], { env });
      assert.equal(forked.code, 0, forked.stderr);
      const refused = JSON.parse(forked.stdout) as { appended: number; rejected: { key: string; reason: string }[] };
      assert.equal(refused.appended, 2, 'w-2 copies over');
      assert.deepEqual(refused.rejected.map((r) => r.key), ['w-1', 'w-1', 'w-1']);
      assert.match(refused.rejected[0]!.reason, /stream "w-1" is at revision 0, expected no_stream/);
      assert.match(refused.rejected[1]!.reason, /stream "w-1" revision 0 here has leaf hash [0-9a-f]{64}, but the relayed event chains to [0-9a-f]{64}: copying it would fork the stream/);
      assert.match(forked.stderr, /runledger: rejected .*@\d+: stream "w-1"/);
    });
  });
});
