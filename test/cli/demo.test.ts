// `npm start` runs the demo: with RUNLEDGER_HOME set it fills that home (so `serve` shows it),
// and it refuses to mix demo runs into a home that already holds a ledger.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freshHome, repoRoot, runCli } from '../support/cli.js';

describe('runledger demo', function () {
  this.timeout(300_000);

  it('fills RUNLEDGER_HOME when it is set and empty, then refuses to run again there (exit 2)', async () => {
    const home = freshHome('runledger-demo-test-');
    const env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined, CI: '1' };
    const first = await runCli(['demo', '--repeats', '2'], { env });
    assert.equal(first.code, 0, first.stderr);
    assert.ok(existsSync(join(home, 'ledger.db')), 'the ledger is in RUNLEDGER_HOME');
    const events = await runCli(['events', '--stream', 'run-baseline-1', '--json'], { env });
    assert.equal(events.code, 0, events.stderr);
    assert.ok((JSON.parse(events.stdout) as { count: number }).count > 5);
    const verified = await runCli(['verify', '--json'], { env });
    assert.equal(verified.code, 0, verified.stdout);

    const again = await runCli(['demo', '--repeats', '2'], { env });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds a ledger/);
  });

  it('prints "Next:" commands that run as written after npm ci (npx runledger, exit codes as stated)', async () => {
    const home = freshHome('runledger-demo-next-');
    const env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: undefined, CI: '1' };
    const demo = await runCli(['demo', '--repeats', '2'], { env });
    assert.equal(demo.code, 0, demo.stderr);
    const next = demo.stdout.split('\nDone in ')[1]!.split('\n').slice(1).filter((l) => l.trim() !== '');
    assert.ok(next.length >= 5, demo.stdout);
    for (const line of next) {
      const [command, why] = line.trim().split(/\s+# /) as [string, string];
      assert.match(command, /^npx runledger --home \S+ /, line);
      if (/ serve$/.test(command)) continue; // runs until Ctrl-C
      const expected = Number(/^exits (\d+)/.exec(why)?.[1] ?? 0);
      // From the repository, as a user who ran npm ci would: runledger itself is not on PATH.
      const res = spawnSync('bash', ['-c', command], { cwd: repoRoot, env: { ...process.env, ...env, RUNLEDGER_HOME: undefined }, encoding: 'utf8', timeout: 120_000 });
      assert.equal(res.status, expected, `${command}\n${res.stdout.slice(-500)}\n${res.stderr.slice(-500)}`);
    }
  });
});
