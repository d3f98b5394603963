// A rotated ledger survives backup/restore and migrate: its key history (the LedgerKeyRotated event
// and the transition checkpoint signed by both keys) is copied, and the copy verifies with the old
// key, the new key or both. A backup whose header drops or invents a rotation does not restore.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { keyPaths } from '../../src/ledger/keys.js';
import { freshHome, runCli } from '../support/cli.js';

const events = (stream: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => JSON.stringify({ stream, type: 'custom.sample', data: { i: from + i } })).join('\n');

/** Rewrites a backup's header line and recomputes its (unsigned) end-line digest, as an attacker could. */
function rewriteHeader(file: string, out: string, edit: (header: Record<string, unknown>) => void): void {
  const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n');
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  edit(header);
  lines[0] = JSON.stringify(header);
  const endAt = lines.findIndex((l) => l.startsWith('{"end":'));
  const body = lines.slice(0, endAt).map((l) => `${l}\n`).join('');
  const end = JSON.parse(lines[endAt]!) as { end: { events: number; sha256: string } };
  end.end.sha256 = createHash('sha256').update(body).digest('hex');
  lines[endAt] = JSON.stringify(end);
  writeFileSync(out, gzipSync(Buffer.from(lines.join('\n'))));
}

describe('backup, restore and migrate of a rotated ledger', function () {
  this.timeout(180_000);
  let home: string;
  let env: Record<string, string>;
  let oldKey: string;
  let newKey: string;
  let file: string;

  before(async () => {
    home = freshHome('rl-rotated-copy-');
    env = { RUNLEDGER_HOME: home };
    assert.equal((await runCli(['init'], { env })).code, 0);
    assert.equal((await runCli(['append', '-'], { env, input: events('lab-a', 5) })).code, 0);
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    oldKey = readFileSync(keyPaths(home).verifier, 'utf8').trim();
    const rotated = await runCli(['keys', 'rotate'], { env });
    assert.equal(rotated.code, 0, rotated.stderr);
    newKey = readFileSync(keyPaths(home).verifier, 'utf8').trim();
    assert.equal((await runCli(['append', '-'], { env, input: events('lab-a', 4, 5) })).code, 0);
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    file = join(home, 'ledger.backup');
    const backup = await runCli(['backup', '--out', file, '--verify', '--key', oldKey, '--json'], { env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal((JSON.parse(backup.stdout) as { verification: { ok: boolean } }).verification.ok, true);
  });

  it('writes the rotation statement into the backup header', () => {
    const header = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8').split('\n')[0]!) as { keyRotations?: string[] };
    assert.equal(header.keyRotations?.length, 1);
  });

  for (const [label, keys] of [
    ['the old key', () => [oldKey]],
    ['the new key', () => [newKey]],
    ['both keys', () => [oldKey, newKey]],
  ] as const) {
    it(`restores it and the restore verifies with ${label}`, async () => {
      const db = join(freshHome('rl-restored-'), 'ledger.db');
      const restored = await runCli(['restore', file, '--to', `sqlite:${db}`, '--key', ...keys(), '--json'], { env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal((JSON.parse(restored.stdout) as { checkpoints: number }).checkpoints, 3);
      const verify = await runCli(['--store', `sqlite:${db}`, 'verify', '--key', ...keys()], { env });
      assert.equal(verify.code, 0, verify.stderr);
    });
  }

  it('refuses a backup whose header drops the rotation, naming the rotation event', async () => {
    const forged = join(home, 'dropped.backup');
    rewriteHeader(file, forged, (h) => delete h.keyRotations);
    const db = join(freshHome('rl-restored-'), 'ledger.db');
    const restored = await runCli(['restore', forged, '--to', `sqlite:${db}`, '--key', oldKey], { env });
    assert.equal(restored.code, 1, restored.stderr);
    assert.match(restored.stderr, /LedgerKeyRotated is not rotation 1 of the 0 rotations/);
  });

  it('refuses a backup whose header lists a rotation the events do not hold', async () => {
    const forged = join(home, 'doubled.backup');
    rewriteHeader(file, forged, (h) => {
      const list = h.keyRotations as string[];
      h.keyRotations = [list[0]!, list[0]!];
    });
    const db = join(freshHome('rl-restored-'), 'ledger.db');
    const restored = await runCli(['restore', forged, '--to', `sqlite:${db}`, '--key', oldKey], { env });
    assert.equal(restored.code, 1, restored.stderr);
    assert.match(restored.stderr, /rotation|key/i);
  });

  it('migrates it, and the copy verifies with the old key and with the new key', async () => {
    const db = join(freshHome('rl-migrated-'), 'ledger.db');
    const migrated = await runCli(['migrate', '--to', `sqlite:${db}`, '--key', oldKey, '--json'], { env });
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.equal((JSON.parse(migrated.stdout) as { checkpoints: number }).checkpoints, 3);
    for (const key of [oldKey, newKey]) {
      const verify = await runCli(['--store', `sqlite:${db}`, 'verify', '--key', key], { env });
      assert.equal(verify.code, 0, verify.stderr);
    }
  });
});
