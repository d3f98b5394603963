// Signing-key files: atomic, private whatever the umask, and a broken one named in the error.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKeyFile, ensureSigningKey, keyPaths, loadSigner, KeyFileError } from '../../src/ledger/keys.js';
import { freshHome, runCli } from '../support/cli.js';

describe('ledger/keys', () => {
  it('creates the key 0600 in a 0700 directory even under umask 000', () => {
    const home = mkdtempSync(join(tmpdir(), 'rl-keys-'));
    const old = process.umask(0o000);
    try {
      ensureSigningKey(home, 'example.com/log');
    } finally {
      process.umask(old);
    }
    const paths = keyPaths(home);
    assert.equal(statSync(paths.signer).mode & 0o777, 0o600);
    assert.equal(statSync(paths.dir).mode & 0o777, 0o700);
    // No temp files are left behind.
    assert.deepEqual(readdirSync(paths.dir).sort(), ['signing.key', 'signing.vkey']);
  });

  it('names an empty key file (left by a crash of an older version) instead of failing anonymously', () => {
    const home = mkdtempSync(join(tmpdir(), 'rl-keys-'));
    const { dir, signer } = keyPaths(home);
    mkdirSync(dir, { recursive: true });
    writeFileSync(signer, '');
    assert.throws(() => ensureSigningKey(home, 'example.com/log'), (err: unknown) => err instanceof KeyFileError && err.message.includes(signer) && /empty/.test(err.message));
    assert.throws(() => loadSigner(home), KeyFileError);
    writeFileSync(signer, 'PRIVATE+KEY+garbage');
    assert.throws(() => loadSigner(home), (err: unknown) => err instanceof KeyFileError && err.message.includes(signer));
  });

  it('never lets two racing creators overwrite each other: both end with the same key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rl-keys-race-'));
    const file = join(dir, 'k', 'worker.key');
    const script = `import('${new URL('../../src/ledger/keys.js', import.meta.url).href}').then(m => process.send(m.ensureKeyFile(${JSON.stringify(file)}, 'w').verifierKey))`;
    const runs = Array.from({ length: 6 }, () => new Promise<string>((resolve, reject) => {
      const child = fork('--input-type=module', [], { execArgv: ['--input-type=module', '-e', script] });
      child.once('message', (m) => resolve(String(m)));
      child.once('error', reject);
    }));
    const keys = await Promise.all(runs);
    assert.equal(new Set(keys).size, 1, `creators disagree: ${keys.join(', ')}`);
    assert.equal(ensureKeyFile(file, 'w').verifierKey, keys[0]);
    assert.ok(readFileSync(file, 'utf8').startsWith('PRIVATE+KEY+w+'));
  });

  it('init reports a broken key file with exit 2 and its path', async () => {
    const home = freshHome();
    const env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    writeFileSync(keyPaths(home).signer, '');
    const again = await runCli(['init'], { env });
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, new RegExp(`key file ${keyPaths(home).signer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is unusable`));
    assert.doesNotMatch(again.stderr, /internal error/);
  });
});
