// The remote worker's link to a ledger through Kafka (src/kafka/remote-ledger.ts), attacked: the
// ledger's relay and ingester run in this process against a real broker; workers are links with
// mirrors of their own. What an untrusted, losing, forging or dead worker publishes must be refused by
// the ingester (and dead-lettered), never reach the ledger, and never keep the run from replaying.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';
import type { ProposedEvent } from '../../events/envelope.js';
import type { RunEnvironmentRecorded, TrainingCompleted } from '../../events/training.js';
import { IntegrityError } from '../../src/errors.js';
import { readPlanFile } from '../../src/governance/plan-file.js';
import { failRun, readRun } from '../../src/governance/recorder.js';
import { runIngest, type IngestReport, type Rejection } from '../../src/kafka/ingest.js';
import { runRelay, relayMessage } from '../../src/kafka/relay.js';
import { openRemoteLedger, type RemoteLedger } from '../../src/kafka/remote-ledger.js';
import { signEvent, workerKeyOf } from '../../src/ledger/worker-keys.js';
import { replayRun } from '../../src/replay/replay.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';
import type { CheckpointSigner } from '../../src/integrity/worker-signature.js';
import { asSigner } from '../../workers/checkpoint.js';
import { executeRun } from '../../workers/execute.js';
import { claimThrough, submitRun } from '../../workers/queue.js';
import { fixtureWorker, strangerWorker } from '../../bench/fixtures/worker-key.js';
import { openTestLedger, type TestLedger } from '../governance/fixture.js';
import { repoRoot } from '../support/cli.js';
import { kafkaBroker, readTopic, uniqueTopic, type KafkaBroker } from '../support/kafka.js';
import { signingKey, tempHome } from '../workers/fixture.js';

const PLAN = join(repoRoot, 'docs', 'examples', 'train.yaml');

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('remote ledger link (Kafka), adversarial', function () {
  this.timeout(180_000);
  let kafka: KafkaBroker;
  let ledger: TestLedger;
  let relayTopic: string;
  let ingestTopic: string;
  let deadLetter: string;
  let producer: Producer;
  let relay: { stop(): Promise<void> };
  let ingest: { stop(): Promise<IngestReport>; rejected: Rejection[] };
  const cleanup: (() => Promise<unknown>)[] = [];
  const homes: string[] = [];
  const signerA = asSigner(signingKey());
  const signerB: CheckpointSigner = fixtureWorker.signer;

  const startRelay = (): { stop(): Promise<void> } => {
    const controller = new AbortController();
    const done = runRelay({ store: ledger.store, brokers: kafka.brokers, topic: relayTopic, signal: controller.signal });
    return { stop: async () => (controller.abort(), void (await done)) };
  };

  /** A worker: its own home, in-memory mirror and link. */
  const link = async (): Promise<{ link: RemoteLedger; home: string; mirror: EventStore }> => {
    const mirror = await openStore('sqlite::memory:');
    const l = await openRemoteLedger({ brokers: kafka.brokers, relayTopic, ingestTopic, mirror, answerTimeoutMs: 30_000 });
    cleanup.push(async () => (await l.close(), await mirror.close()));
    const home = tempHome();
    homes.push(home);
    return { link: l, home, mirror };
  };

  /** Publishes a proposed event on the ingest topic, as any client with write access can. */
  const publish = async (stream: string, event: ProposedEvent & { id: string }): Promise<void> => {
    await producer.send({ topic: ingestTopic, acks: -1, messages: [{ key: stream, value: Buffer.from(JSON.stringify({ stream, ...event })) }] });
  };
  const ids = async (runId: string): Promise<Set<string>> => new Set((await ledger.store.readStream(`run-${runId}`)).map((e) => e.envelope.id));

  before(async function () {
    const found = await kafkaBroker();
    if ('skip' in found) {
      console.log(`      skipping remote-ledger tests: ${found.skip}`);
      this.skip();
    }
    kafka = found;
  });

  beforeEach(async () => {
    ledger = await openTestLedger();
    relayTopic = uniqueTopic('rl-events');
    ingestTopic = uniqueTopic('rl-ingest');
    deadLetter = uniqueTopic('rl-dead');
    producer = new Kafka({ clientId: 'rl-attacker', brokers: kafka.brokers, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    relay = startRelay();
    const controller = new AbortController();
    const rejected: Rejection[] = [];
    const done = runIngest({
      store: ledger.store,
      brokers: kafka.brokers,
      topic: ingestTopic,
      group: uniqueTopic('rl-group'),
      deadLetterTopic: deadLetter,
      signal: controller.signal,
      onRejected: (r) => rejected.push(r),
    });
    ingest = { rejected, stop: async () => (controller.abort(), done) };
  });

  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c().catch(() => undefined);
    await relay.stop().catch(() => undefined);
    await ingest.stop().catch(() => undefined);
    await producer.disconnect();
    await ledger.close();
    homes.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });

  it('lets the ledger decide a claim race, and refuses what a losing, an untrusted or a forging worker publishes; a re-delivery is recorded once', async () => {
    const keyA = workerKeyOf(signerA);
    const keyB = workerKeyOf(signerB);
    await submitRun(ledger.store, readPlanFile(PLAN), 'race', { workerKeys: [keyA, keyB] });
    const [a, b] = await Promise.all([link(), link()]);

    // Lost claim: both trusted workers claim the run at once; the ledger records one, and each learns which.
    await Promise.all([a.link.sync(), b.link.sync()]);
    const lost: string[] = [];
    const claims = await Promise.all(
      [
        [a, signerA, 'worker-a'],
        [b, signerB, 'worker-b'],
      ].map(([w, signer, name]) => claimThrough((w as typeof a).link, name as string, signer as CheckpointSigner, (runId) => lost.push(`${name as string}:${runId}`))),
    );
    assert.deepEqual(claims.map((c) => c !== null).sort(), [false, true], `exactly one claim won: ${JSON.stringify(claims)}`);
    assert.deepEqual(lost, [claims[0] ? 'worker-b:race' : 'worker-a:race'], 'the loser learned it lost');
    const [winner, loser] = claims[0] ? [{ ...a, signer: signerA, name: 'worker-a' }, { ...b, signer: signerB }] : [{ ...b, signer: signerB, name: 'worker-b' }, { ...a, signer: signerA }];
    const recordedClaims = (await ledger.store.readStream('run-race')).filter((e) => e.envelope.type === 'RunClaimed');
    assert.equal(recordedClaims.length, 1);
    assert.equal(recordedClaims[0]!.envelope.data.publicKey, workerKeyOf(winner.signer));
    await until('the losing claim to be refused', () => ingest.rejected.some((r) => /already has a RunClaimed event.*\(rule once\)/.test(r.reason)));

    // The winner trains through its link, then stops mid-run (the train stage stays open).
    await executeRun({ store: winner.link.store, home: winner.home, keys: { signer: winner.signer }, worker: winner.name }, 'race', { stopAfterEpoch: 2 });
    await winner.link.settle('run-race');
    const before = await ids('race');

    // The loser (a key the approval trusts) records its environment anyway: rule claimant.
    const environment = (await ledger.store.readStream('run-race')).find((e) => e.envelope.type === 'RunEnvironmentRecorded')!;
    const { publicKey: _p, signature: _s, ...environmentData } = environment.envelope.data as RunEnvironmentRecorded;
    const byLoser = { id: randomUUID(), type: 'RunEnvironmentRecorded', data: signEvent<RunEnvironmentRecorded>(loser.signer, 'RunEnvironmentRecorded', environmentData) };
    // A worker the approval does not trust signs a claim-free TrainingCompleted of its own.
    const last = (await readRun(ledger.store, 'race')).rules.checkpoint!;
    const completed = { runId: 'race', stageId: 'train', epochs: last.epoch, steps: last.step, finalCheckpoint: last.digest, metrics: { ...last.metrics }, wallMs: 5 };
    const byStranger = { id: randomUUID(), type: 'TrainingCompleted', data: signEvent<TrainingCompleted>(strangerWorker.signer, 'TrainingCompleted', completed) };
    // The winner's own key, but the data changed under the signature: a forged TrainingCompleted.
    const genuine = signEvent<TrainingCompleted>(winner.signer, 'TrainingCompleted', completed);
    const forged = { id: randomUUID(), type: 'TrainingCompleted', data: { ...genuine, metrics: { ...genuine.metrics, testAccuracy: 1 } } };
    for (const e of [byLoser, byStranger, forged]) await publish('run-race', e);
    await until('three refusals', () => ingest.rejected.length >= 4);
    const reasons = ingest.rejected.slice(-3).map((r) => r.reason);
    assert.match(reasons[0]!, /RunEnvironmentRecorded is signed by worker key .*, but run race was claimed by worker key .* \(rule claimant\)/);
    assert.match(reasons[1]!, /TrainingCompleted is signed by worker key .*, which the approval of run race does not trust/);
    assert.match(reasons[2]!, /TrainingCompleted has a signature that does not verify under worker key/);
    assert.deepEqual(await ids('race'), before, 'nothing of them was recorded');

    // Duplicate delivery: the winner's last envelope, published twice more, is recorded once.
    const tail = (await ledger.store.readStream('run-race')).at(-1)!;
    await producer.send({ topic: ingestTopic, acks: -1, messages: [relayMessage(tail), relayMessage(tail)] });

    // The winner resumes and completes; the ledger verifies the run.
    await executeRun({ store: winner.link.store, home: winner.home, keys: { signer: winner.signer }, worker: winner.name }, 'race', { resume: true });
    await winner.link.settle('run-race');
    const report = await ingest.stop();
    assert.equal(report.duplicates, 2, 're-delivered twice, recorded once');
    const events = await ledger.store.readStream('run-race');
    assert.equal(events.filter((e) => e.envelope.id === tail.envelope.id).length, 1);
    assert.equal(events.at(-1)!.envelope.type, 'RunCompleted');
    for (const e of [byLoser, byStranger, forged]) assert.ok(!events.some((r) => r.envelope.id === e.id), `${e.type} ${e.id} never recorded`);
    await ledger.checkpoint();
    const replayed = await replayRun(ledger.store, 'race', { verifierKeys: [ledger.verifierKey] });
    assert.equal(replayed.ok, true, replayed.firstDivergence?.message);

    // Every refusal went to the dead-letter topic unchanged, with its reason.
    const dead = await readTopic(kafka.brokers, deadLetter);
    assert.deepEqual(
      dead.map((m) => (JSON.parse(m.value.toString()) as { id: string }).id).filter((id) => [byLoser, byStranger, forged].some((e) => e.id === id)),
      [byLoser.id, byStranger.id, forged.id],
    );
    assert.ok(dead.every((m) => m.headers['runledger-error']));
  });

  it('ends a run whose worker died with `run fail`: what the worker records after it is refused, the worker learns so, and no worker claims the run again', async () => {
    const keyA = workerKeyOf(signerA);
    await submitRun(ledger.store, readPlanFile(PLAN), 'dies', { workerKeys: [keyA, workerKeyOf(signerB)] });
    const a = await link();
    assert.ok(await claimThrough(a.link, 'worker-a', signerA));
    await executeRun({ store: a.link.store, home: a.home, keys: { signer: signerA }, worker: 'worker-a' }, 'dies', { stopAfterEpoch: 2 });
    await a.link.settle('run-dies');

    // The worker stops answering; the operator ends the run. (The relay is paused so the worker cannot
    // see the failure before it records again: the race an operator and a stalled worker can have.)
    await relay.stop();
    await failRun(ledger.store, 'dies', 'worker-a stopped answering', 'operator');
    const { publicKey: _p, signature: _s, ...environmentData } = (await ledger.store.readStream('run-dies')).find((e) => e.envelope.type === 'RunEnvironmentRecorded')!.envelope.data as RunEnvironmentRecorded;
    const late: ProposedEvent = { type: 'RunEnvironmentRecorded', data: signEvent<RunEnvironmentRecorded>(signerA, 'RunEnvironmentRecorded', environmentData) };
    await a.link.store.append('run-dies', [late]);
    await until('the late event to be refused', () => ingest.rejected.some((r) => r.key === 'run-dies'));
    assert.match(ingest.rejected.find((r) => r.key === 'run-dies')!.reason, /stream "run-dies" is at revision \d+, expected \d+/);

    relay = startRelay();
    await assert.rejects(a.link.settle('run-dies'), (err: unknown) => err instanceof IntegrityError && /the ledger refused what this worker recorded on "run-dies"/.test(err.message));
    await assert.rejects(a.link.store.append('run-dies', [late]), /no longer matches what this worker recorded/);

    // A fresh worker sees a failed run: nothing to claim.
    const b = await link();
    assert.equal(await claimThrough(b.link, 'worker-b', signerB), null);
    assert.equal((await readRun(b.link.store, 'dies')).state.status, 'failed');
    await ledger.checkpoint();
    const replayed = await replayRun(ledger.store, 'dies', { verifierKeys: [ledger.verifierKey] });
    assert.equal(replayed.ok, true, replayed.firstDivergence?.message);
    assert.equal((await ledger.store.readStream('run-dies')).at(-1)!.envelope.type, 'RunFailed');
  });

  it('never executes a run whose relayed copy does not verify: a forged execution plan on the relay topic is refused by the mirror, and nothing is claimed', async () => {
    // A run approved elsewhere, its execution plan then altered under its recorded hash, published on the relay topic.
    const elsewhere = await openTestLedger();
    cleanup.push(() => elsewhere.close());
    await submitRun(elsewhere.store, readPlanFile(PLAN), 'forged', { workerKeys: [workerKeyOf(signerA)] });
    const messages = [...(await elsewhere.store.readStream('run-forged')), ...(await elsewhere.store.readStream('training-queue'))].map(relayMessage);
    const plan = JSON.parse(messages[1]!.value.toString()) as { type: string; data: { plan: { stages: { description?: string }[] } } };
    assert.equal(plan.type, 'ExecutionPlanRecorded');
    plan.data.plan.stages[1]!.description = 'train on whatever mallory likes';
    messages[1] = { ...messages[1]!, value: Buffer.from(JSON.stringify(plan)) };
    await producer.send({ topic: relayTopic, acks: -1, messages });

    const refused: string[] = [];
    const mirror = await openStore('sqlite::memory:');
    const l = await openRemoteLedger({ brokers: kafka.brokers, relayTopic, ingestTopic, mirror, onRefused: (stream, reason) => refused.push(`${stream}: ${reason}`) });
    cleanup.push(async () => (await l.close(), await mirror.close()));
    assert.equal(await claimThrough(l, 'worker-a', signerA), null, 'nothing to claim');
    assert.equal(refused.length, 1, refused.join('\n'));
    assert.match(refused[0]!, /^run-forged: .*\(rule plan-hash\)/);
    assert.equal((await mirror.readStream('run-forged')).length, 1, 'the mirror kept the approval only');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(ingest.rejected, [], 'no claim was published');
    assert.equal((await ledger.store.readStream('run-forged')).length, 0);
  });
});
