// Workers on other machines (docs/kafka.md, "Workers on other machines"): two `runledger worker
// --brokers` processes, each with a home (and so a worker key) of its own and no access to the
// ledger's store, execute submitted runs through a real broker — the ledger's `relay` feeds them,
// its `ingest` appends what they record — and the ledger then verifies: `verify`, `replay` of every
// run, and the dashboard's badge logic (replayRun).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, freshHome, repoRoot, runCli, type CliResult } from '../support/cli.js';
import { kafkaBroker, uniqueTopic, type KafkaBroker } from '../support/kafka.js';
import { loadVerifierKey } from '../../src/ledger/keys.js';
import { replayRun } from '../../src/replay/replay.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';

const PLAN = join(repoRoot, 'docs', 'examples', 'train.yaml');
const RUNS = ['rw1', 'rw2', 'rw3', 'rw4'];

interface Service {
  child: ChildProcess;
  stderr: () => string;
  stop(): Promise<number | null>;
}

/** A long-running CLI command (relay, ingest), stopped with SIGTERM as an operator would. */
function serve(args: string[], env: Record<string, string>): Service {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

function ok(res: CliResult, what: string): string {
  assert.equal(res.code, 0, `${what}: ${res.stderr}${res.stdout}`);
  return res.stdout;
}

describe('remote workers through Kafka (worker --brokers)', function () {
  this.timeout(300_000);
  let kafka: KafkaBroker;
  const homes: string[] = [];
  const services: Service[] = [];

  before(async function () {
    const found = await kafkaBroker();
    if ('skip' in found) {
      console.log(`      skipping remote-worker tests: ${found.skip}`);
      this.skip();
    }
    kafka = found;
  });
  afterEach(async () => Promise.all(services.splice(0).map((s) => s.stop())));
  after(() => homes.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const home = (): string => {
    const dir = freshHome('runledger-remote-worker-');
    homes.push(dir);
    return dir;
  };
  /** A ledger home and two worker homes (each with its worker key), and fresh topics. */
  const setup = async () => {
    const env = { KAFKA_BROKERS: kafka.list };
    const ledger = home();
    const workerHomes = [home(), home()] as const;
    ok(await runCli(['--home', ledger, 'init'], { env }), 'init');
    const keys = await Promise.all(workerHomes.map(async (h) => (JSON.parse(ok(await runCli(['--home', h, 'keys', 'show', '--worker', '--json'], { env }), 'keys show')) as { publicKey: string }).publicKey));
    return { env, relayTopic: uniqueTopic('rw-events'), ingestTopic: uniqueTopic('rw-ingest'), ledger, workerHomes, keys };
  };

  it('exits 3 with one sentence when the broker is unreachable, and 2 for a bad topic name, before claiming anything', async () => {
    const h = home();
    const down = await runCli(['--home', h, 'worker', '--brokers', '127.0.0.1:1', '--until-idle'], { env: { KAFKA_BROKERS: undefined } });
    assert.equal(down.code, 3, down.stderr);
    assert.match(down.stderr, /^runledger: Kafka broker 127\.0\.0\.1:1 is unavailable/);
    assert.equal(down.stderr.trim().split('\n').length, 1);
    const bad = await runCli(['--home', h, 'worker', '--brokers', '127.0.0.1:1', '--relay-topic', 'no/such', '--until-idle']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--relay-topic: "no\/such" is not a valid Kafka topic name/);
  });

  it('two worker processes with homes and keys of their own execute four runs into one ledger, which verifies and replays every run', async () => {
    const { env, relayTopic, ingestTopic, ledger, workerHomes: [h1, h2], keys } = await setup();
    assert.notEqual(keys[0], keys[1], 'separate homes, separate worker keys');
    for (const run of RUNS) ok(await runCli(['--home', ledger, 'submit', '--plan', PLAN, '--run', run, '--worker-key', ...keys], { env }), `submit ${run}`);

    const deadLetter = uniqueTopic('rw-dead');
    // What is queued is on the relay topic before any worker looks (--until-idle: idle is an empty queue there).
    ok(await runCli(['--home', ledger, 'relay', '--topic', relayTopic, '--once'], { env }), 'relay --once');
    const relay = serve(['--home', ledger, 'relay', '--topic', relayTopic], env);
    const ingest = serve(['--home', ledger, 'ingest', '--topic', ingestTopic, '--group', uniqueTopic('rw-group'), '--dead-letter', deadLetter], env);
    services.push(relay, ingest);

    // Each worker stops after two runs: four runs, two workers, so each executes exactly two.
    const worker = (h: string, id: string) =>
      runCli(['--home', h, 'worker', '--brokers', kafka.list, '--relay-topic', relayTopic, '--ingest-topic', ingestTopic, '--id', id, '--until-idle', '--max-runs', '2', '--json'], { env, timeoutMs: 240_000 });
    const results = await Promise.all([worker(h1, 'remote-1'), worker(h2, 'remote-2')]);
    const reports = results.map((r, i) => JSON.parse(ok(r, `worker ${i + 1}`)) as { worker: string; executed: { runId: string; status?: string; error?: string }[] });
    for (const r of reports) {
      assert.equal(r.executed.length, 2, `${r.worker} executed two runs: ${JSON.stringify(r.executed)}`);
      for (const e of r.executed) assert.equal(e.status, 'completed', `${r.worker} ${e.runId}: ${e.error ?? ''}`);
    }
    assert.deepEqual(reports.flatMap((r) => r.executed.map((e) => e.runId)).sort(), RUNS);
    await relay.stop();
    assert.equal(await ingest.stop(), 0, ingest.stderr());
    // What the ingester refused, if anything, is a losing claim (a race both workers entered): rule once.
    const rejected = ingest.stderr().split('\n').filter((line) => line.includes('rejected'));
    for (const line of rejected) assert.match(line, /already has a RunClaimed event; nothing was recorded \(rule once\)/);

    ok(await runCli(['--home', ledger, 'checkpoint'], { env }), 'checkpoint');
    const verified = JSON.parse(ok(await runCli(['--home', ledger, 'verify', '--json'], { env }), 'verify')) as { ok: boolean };
    assert.equal(verified.ok, true);
    for (const run of RUNS) ok(await runCli(['--home', ledger, 'replay', run], { env }), `replay ${run}`);

    // Each run was claimed once, by one of the two keys, and that key signed every training event of it.
    const store = createSqliteStore({ path: join(ledger, 'ledger.db'), readonly: true });
    try {
      const claimedBy = new Map<string, string>();
      for (const run of RUNS) {
        const events = await store.readStream(`run-${run}`);
        const claims = events.filter((e) => e.envelope.type === 'RunClaimed');
        assert.equal(claims.length, 1, `${run} claimed once`);
        const claimant = claims[0]!.envelope.data.publicKey as string;
        assert.ok(keys.includes(claimant));
        claimedBy.set(run, claimant);
        const signers = new Set(events.filter((e) => typeof e.envelope.data.signature === 'string').map((e) => e.envelope.data.publicKey));
        assert.deepEqual([...signers], [claimant], `${run}: every signed event by its claimant`);
        assert.equal(events.at(-1)!.envelope.type, 'RunCompleted');
        const replayed = await replayRun(store, run, { verifierKeys: [loadVerifierKey(ledger)] });
        assert.equal(replayed.ok, true, `${run}: ${replayed.firstDivergence?.message ?? ''}`);
      }
      assert.deepEqual(new Set(claimedBy.values()), new Set(keys), 'both workers executed runs');
    } finally {
      await store.close();
    }
  });

  it('a worker process killed mid-run: the run stays claimed until `run fail` on the ledger; then no worker claims it, and the ledger verifies and replays it', async () => {
    const { env, relayTopic, ingestTopic, ledger, workerHomes: [h1, h2], keys } = await setup();
    // A long run (minutes), so the worker is surely killed in the middle of it.
    const plan = join(ledger, 'long.yaml');
    writeFileSync(plan, readFileSync(PLAN, 'utf8').replace('epochs: 6', 'epochs: 20000').replace('maxWallMs: 120000', 'maxWallMs: 3600000'));
    ok(await runCli(['--home', ledger, 'submit', '--plan', plan, '--run', 'dies', '--worker-key', ...keys], { env }), 'submit');
    ok(await runCli(['--home', ledger, 'relay', '--topic', relayTopic, '--once'], { env }), 'relay --once');
    const relay = serve(['--home', ledger, 'relay', '--topic', relayTopic], env);
    const ingest = serve(['--home', ledger, 'ingest', '--topic', ingestTopic, '--group', uniqueTopic('rw-group')], env);
    services.push(relay, ingest);
    const workerArgs = (h: string, id: string) => ['--home', h, 'worker', '--brokers', kafka.list, '--relay-topic', relayTopic, '--ingest-topic', ingestTopic, '--id', id, '--until-idle', '--json'];
    const victim = serve(workerArgs(h1, 'victim'), env);
    services.push(victim);

    const types = async (): Promise<string[]> => {
      const store = createSqliteStore({ path: join(ledger, 'ledger.db'), readonly: true });
      try {
        return (await store.readStream('run-dies')).map((e) => e.envelope.type);
      } finally {
        await store.close();
      }
    };
    const deadline = Date.now() + 120_000;
    while (!(await types()).includes('CheckpointWritten')) {
      assert.ok(Date.now() < deadline, `the victim never recorded a checkpoint: ${victim.stderr()}`);
      assert.equal(victim.child.exitCode, null, `the victim exited early: ${victim.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    victim.child.kill('SIGKILL');
    await victim.stop();
    const atDeath = await types();
    assert.ok(!atDeath.includes('RunFailed') && !atDeath.includes('RunCompleted'), 'the run is left claimed and running');

    // Another worker does not take a claimed run, however long it has been silent.
    const idle = JSON.parse(ok(await runCli(workerArgs(h2, 'survivor'), { env, timeoutMs: 120_000 }), 'survivor')) as { executed: unknown[] };
    assert.deepEqual(idle.executed, []);

    // The operator ends it; the ledger then verifies, and the run replays as failed.
    ok(await runCli(['--home', ledger, 'run', 'fail', 'dies', '--reason', 'worker victim was killed'], { env }), 'run fail');
    const after = JSON.parse(ok(await runCli(workerArgs(h2, 'survivor'), { env, timeoutMs: 120_000 }), 'survivor again')) as { executed: unknown[] };
    assert.deepEqual(after.executed, [], 'nobody claims a failed run');
    await relay.stop();
    assert.equal(await ingest.stop(), 0, ingest.stderr());
    ok(await runCli(['--home', ledger, 'checkpoint'], { env }), 'checkpoint');
    assert.equal((JSON.parse(ok(await runCli(['--home', ledger, 'verify', '--json'], { env }), 'verify')) as { ok: boolean }).ok, true);
    const replayed = JSON.parse(ok(await runCli(['--home', ledger, 'replay', 'dies', '--json'], { env }), 'replay')) as { ok: boolean };
    assert.equal(replayed.ok, true);
    assert.equal((await types()).at(-1), 'RunFailed');
  });
});
