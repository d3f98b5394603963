// The issue's acceptance run against PostgreSQL, through the CLI as a user drives it: init, four
// `runledger append` processes in parallel, checkpoint, verify. Also openStore's URL wiring.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { openStore } from '../../src/store/open.js';
import { freshHome, runCli } from '../support/cli.js';
import { events } from './conformance.js';
import { pgTestDatabase, type PgTestDatabase } from './pg-database.js';

const database = pgTestDatabase('postgres CLI suite');

describe('runledger CLI on a PostgreSQL store', function () {
  let db: PgTestDatabase;
  let home: string;
  before(async function () {
    const started = await database();
    if (!started) return this.skip();
    db = started;
  });
  beforeEach(() => (home = freshHome()));
  afterEach(() => rmSync(home, { recursive: true, force: true }));
  after(async function () {
    await db?.stop();
  });

  it('opens postgres:// and postgresql:// URLs through openStore, creating the schema', async function () {
    for (const scheme of ['postgres', 'postgresql']) {
      const url = `${db.url.replace(/^postgres:/, `${scheme}:`)}?schema=open_${scheme}`;
      const store = await openStore(url);
      assert.equal(store.kind, 'postgres');
      assert.equal(store.displayUrl.includes(new URL(db.url).password), false, 'no password in displayUrl');
      await store.append('s', events(1, scheme));
      assert.equal((await store.readAll()).length, 1);
      await store.close();
    }
  });

  it('init, four parallel appenders, checkpoint and verify: exit 0 with every event', async function () {
    this.timeout(120_000);
    const perWriter = 500;
    const env = { RUNLEDGER_STORE: `${db.url}?schema=cli_${Date.now()}`, RUNLEDGER_HOME: home };
    const init = await runCli(['init'], { env });
    assert.equal(init.code, 0, init.stderr);
    assert.equal(init.stdout.includes(new URL(db.url).password), false, 'init never prints the password');

    const appends = await Promise.all(
      [1, 2, 3, 4].map((w) => {
        const lines = Array.from({ length: perWriter }, (_, i) => JSON.stringify({ stream: `w${w}-${i % 10}`, type: 'custom.sample', data: { i } }));
        return runCli(['append', '-'], { env, input: `${lines.join('\n')}\n` });
      }),
    );
    for (const a of appends) assert.equal(a.code, 0, a.stderr);

    const checkpoint = await runCli(['checkpoint', '--json'], { env });
    assert.equal(checkpoint.code, 0, checkpoint.stderr);
    assert.equal(JSON.parse(checkpoint.stdout).size, 4 * perWriter);

    const verify = await runCli(['verify', '--json'], { env });
    assert.equal(verify.code, 0, verify.stderr || verify.stdout);
    const report = JSON.parse(verify.stdout) as { ok: boolean; events: number; treeSize: number; pendingEvents: number };
    assert.equal(report.ok, true);
    assert.equal(report.events, 4 * perWriter);
    assert.equal(report.treeSize, 4 * perWriter);
    assert.equal(report.pendingEvents, 0);

    // Recorded after the checkpoint: not integrated until the next one, and verify says how many.
    const late = Array.from({ length: 7 }, (_, i) => JSON.stringify({ stream: 'late', type: 'custom.sample', data: { i } }));
    assert.equal((await runCli(['append', '-'], { env, input: late.join('\n') })).code, 0);
    const again = JSON.parse((await runCli(['verify', '--json'], { env })).stdout) as { ok: boolean; treeSize: number; pendingEvents: number };
    assert.equal(again.ok, true);
    assert.equal(again.treeSize, 4 * perWriter);
    assert.equal(again.pendingEvents, 7);
  });

  it('exits 3 naming the server when PostgreSQL cannot be reached', async function () {
    const env = { RUNLEDGER_STORE: 'postgres://alice:hunter22@127.0.0.1:1/ledger', RUNLEDGER_HOME: home };
    const result = await runCli(['init'], { env });
    assert.equal(result.code, 3);
    assert.match(result.stderr, /127\.0\.0\.1:1\/ledger/);
    assert.equal(`${result.stdout}${result.stderr}`.includes('hunter22'), false);
  });
});
