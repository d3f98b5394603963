// Chaos: PostgreSQL itself is SIGKILLed mid-work (a server of this suite's own, durable, loopback)
// while writer processes append and the integrator checkpoints through the CLI. After the restart
// (crash recovery replays the WAL) nothing the store acknowledged is lost or doubled, each tree size
// was signed at most once, the signer's own state still extends, and work resumes to a verified,
// anchored log.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startCrashablePostgres, type CrashablePostgres } from '../../infra/services/postgres.js';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import { freshHome, runCli, type CliResult } from '../support/cli.js';
import { runWriter } from './pg-writer-process.js';

const PER_WRITER = 4_000;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface CheckpointJson {
  created: boolean;
  size: number;
  root: string;
}

describe('PostgreSQL killed mid-work (chaos)', function () {
  this.timeout(240_000);
  let server: CrashablePostgres | undefined;
  let home: string;

  before(async function () {
    this.timeout(120_000);
    const started = await startCrashablePostgres();
    if ('skip' in started) {
      console.log(`    skipping the PostgreSQL crash suite: ${started.skip}`);
      return this.skip();
    }
    server = started;
    home = freshHome('runledger-pg-crash-');
  });
  after(async () => {
    await server?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('loses nothing acknowledged, doubles nothing, signs each size once, and resumes after a SIGKILL of the server', async function () {
    const pg = server!;
    const url = `${pg.adminUrl}?schema=chaos`;
    const env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: url };
    const init = await runCli(['init'], { env });
    assert.equal(init.code, 0, init.stderr);

    // The integrator: `runledger checkpoint` in a loop, as a cron job or sidecar would run it.
    const runs: CliResult[] = [];
    let integrating = true;
    const integrator = (async () => {
      while (integrating) {
        runs.push(await runCli(['checkpoint', '--json'], { env }));
        await pause(100);
      }
    })();

    const writers = [0, 1, 2].map((w) => runWriter(url, w, PER_WRITER, undefined, { PG_WRITER_RETRY: '1' }));
    // Kill once the integrator has signed at least once, while the writers are still writing.
    for (const deadline = Date.now() + 60_000; !runs.some((r) => r.code === 0); ) {
      if (Date.now() > deadline) throw new Error(`no checkpoint was signed within 60 s: ${runs.at(-1)?.stderr ?? 'none ran'}`);
      await pause(50);
    }
    await pg.kill();
    const writing = await Promise.race([Promise.all(writers).then(() => false), pause(0).then(() => true)]);
    assert.ok(writing, 'the writers were still writing when the server was killed (raise their event count)');

    // While the server is down the signer refuses to work: exit 3, the store is unavailable.
    const down = await runCli(['checkpoint', '--json'], { env });
    assert.equal(down.code, 3, `checkpoint with the server down: ${down.stderr}`);
    assert.match(down.stderr, /PostgreSQL at .* is unavailable/);
    await pause(1_000);
    await pg.restart();

    const reports = await Promise.all(writers);
    integrating = false;
    await integrator;
    for (const report of reports) assert.ok(report.finished, `writer ${report.writer} finished after the restart`);

    const final = await runCli(['checkpoint', '--json'], { env });
    assert.equal(final.code, 0, final.stderr);
    const signed = [...runs, final].filter((r) => r.code === 0).map((r) => JSON.parse(r.stdout) as CheckpointJson);
    // Every failure of the loop was the outage (exit 3), never a refusal to sign (exit 1).
    for (const r of runs.filter((r) => r.code !== 0)) assert.equal(r.code, 3, r.stderr);

    const store = createPostgresStore({ url });
    try {
      const all = await store.readAll({ after: -1 });
      const acknowledged = reports.flatMap((r) => r.acknowledged);
      assert.equal(acknowledged.length, 3 * PER_WRITER);
      const stored = new Map<string, number>();
      for (const e of all) stored.set(e.envelope.id, (stored.get(e.envelope.id) ?? 0) + 1);
      const lost = acknowledged.filter((id) => stored.get(id) !== 1);
      assert.deepEqual(lost, [], 'every acknowledged event is stored exactly once');
      assert.equal(all.length, acknowledged.length, 'nothing unacknowledged was stored besides');

      // One signature per size: stored checkpoints strictly grow, and every signed size has one root.
      const checkpoints = await store.checkpoints();
      const sizes = checkpoints.map((c) => c.size);
      assert.deepEqual(sizes, [...new Set(sizes)].sort((a, b) => a - b), 'checkpoint sizes strictly increase');
      const rootBySize = new Map<number, string>();
      for (const c of [...checkpoints, ...signed]) {
        const seen = rootBySize.get(c.size);
        assert.ok(seen === undefined || seen === c.root, `size ${c.size} was signed with two roots`);
        rootBySize.set(c.size, c.root);
      }
      assert.equal(checkpoints.at(-1)!.size, all.length, 'the last checkpoint covers the whole log');
    } finally {
      await store.close();
    }

    const verify = await runCli(['verify', '--strict', '--json', '--workers', '1'], { env });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const report = JSON.parse(verify.stdout) as { ok: boolean; events: number; anchored: boolean };
    assert.equal(report.ok, true);
    assert.equal(report.anchored, true);
    assert.equal(report.events, 3 * PER_WRITER);
  });
});
