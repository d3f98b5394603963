// docs/bundle-format.md ends with an independent verifier in Python, written from the page alone.
// Running it against a real export keeps the page precise enough for an outside implementation.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportBundle } from '../../src/bundle/bundle.js';
import { repoRoot } from '../support/cli.js';
import { completedRun, openTestLedger, type TestLedger } from '../governance/fixture.js';

describe('the independent bundle verifier in docs/bundle-format.md', function () {
  this.timeout(60_000);
  let ledger: TestLedger;
  let script: string;
  const dir = mkdtempSync(join(tmpdir(), 'runledger-pyverify-'));

  before(async function () {
    const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.log('    skipped: needs python3 with the "cryptography" package (pip install cryptography)');
      this.skip();
    }
    const doc = readFileSync(join(repoRoot, 'docs', 'bundle-format.md'), 'utf8');
    const block = /```python\n([\s\S]*?)```/.exec(doc);
    assert.ok(block, 'docs/bundle-format.md has no python block');
    script = join(dir, 'verify_bundle.py');
    writeFileSync(script, block[1]!);
    ledger = await openTestLedger();
    await completedRun(ledger.store, 'r1');
    await ledger.checkpoint();
  });
  after(async () => {
    await ledger?.close();
  });

  it('accepts a bundle runledger exported, and rejects it with one byte changed', async () => {
    const { bundle } = await exportBundle(ledger.store, 'r1', [ledger.verifierKey]);
    const file = join(dir, 'r1.bundle');
    writeFileSync(file, bundle);
    const ok = spawnSync('python3', [script, file, ledger.verifierKey], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /independent verifier: OK r1 9 events/);

    const events = bundle.indexOf('\nevents ');
    const tampered = Buffer.from(bundle);
    tampered[events + 200]! ^= 0x01;
    writeFileSync(file, tampered);
    const bad = spawnSync('python3', [script, file, ledger.verifierKey], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
  });
});
