// `npm start` runs the demo: with RUNLEDGER_HOME set it fills that home (so `serve` shows it),
// and it refuses to mix demo runs into a home that already holds a ledger.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freshHome, runCli } from '../support/cli.js';

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
});
