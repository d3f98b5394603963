// Every command that opens a checkpoint note rejects one with a second, garbage signature line by
// the trusted key (signed-note: every signature of a known key MUST be verified). Forging that line
// needs no key: anyone who can write the store's checkpoints table or a bundle file can add it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeBundle, readBundle } from '../../src/bundle/format.js';
import { canonicalBytes } from '../../src/integrity/canonical.js';
import { parseVerifierKey } from '../../src/integrity/note.js';
import { freshHome, repoRoot, runCli } from '../support/cli.js';

/** A signature line with the trusted key's name and key id and 64 bytes of garbage. */
function garbageLine(vkey: string): string {
  const key = parseVerifierKey(vkey);
  const id = Buffer.alloc(4);
  id.writeUInt32BE(key.keyId, 0);
  return `\u2014 ${key.name} ${Buffer.concat([id, Buffer.alloc(64, 0x5a)]).toString('base64')}\n`;
}

describe('a checkpoint note with a second, invalid signature by the trusted key', function () {
  this.timeout(120_000);
  const home = freshHome('runledger-note-');
  const env = { RUNLEDGER_HOME: home };
  let vkey: string;
  let bundle: Buffer;

  before(async () => {
    const init = await runCli(['init', '--json'], { env });
    assert.equal(init.code, 0, init.stderr);
    vkey = (JSON.parse(init.stdout) as { verifierKey: string }).verifierKey;
    const approve = await runCli(['plan', 'approve', join(repoRoot, 'docs', 'examples', 'plan.yaml'), '--run', 'r1'], { env });
    assert.equal(approve.code, 0, approve.stderr);
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    const file = join(home, 'r1.bundle');
    const exported = await runCli(['export', 'r1', '--out', file], { env });
    assert.equal(exported.code, 0, exported.stderr);
    bundle = readFileSync(file);
    // Honest state first: every command accepts it.
    for (const args of [['verify'], ['replay', 'r1'], ['verify-bundle', file, '--key', vkey]]) {
      const ok = await runCli(args, { env });
      assert.equal(ok.code, 0, `${args.join(' ')}: ${ok.stderr}${ok.stdout}`);
    }
  });

  it('is rejected by verify-bundle (forged bundle, every digest recomputed)', async () => {
    const s = readBundle(bundle).sections;
    const note = s.checkpoint.toString('utf8') + garbageLine(vkey);
    const manifest = JSON.parse(s.manifest.toString('utf8')) as { checkpoint: { note: string } };
    manifest.checkpoint.note = note;
    const file = join(home, 'forged.bundle');
    writeFileSync(file, encodeBundle({ ...s, checkpoint: Buffer.from(note), manifest: canonicalBytes(manifest) }));
    const res = await runCli(['verify-bundle', file, '--key', vkey, '--json'], { env });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const d = (JSON.parse(res.stdout) as { firstDivergence: { check: string; section: string; message: string } }).firstDivergence;
    assert.equal(d.check, 'checkpoint');
    assert.equal(d.section, 'checkpoint');
    assert.match(d.message, /trusted key\) on signature line 2 does not verify/);
  });

  it('is rejected by verify and replay (checkpoints table rewritten)', async () => {
    const db = new Database(join(home, 'ledger.db'));
    try {
      const row = db.prepare('SELECT seq, note FROM checkpoints ORDER BY seq DESC LIMIT 1').get() as { seq: number; note: string };
      db.prepare('UPDATE checkpoints SET note = ? WHERE seq = ?').run(row.note + garbageLine(vkey), row.seq);
    } finally {
      db.close();
    }
    const verify = await runCli(['verify', '--json'], { env });
    assert.equal(verify.code, 1, verify.stdout + verify.stderr);
    const v = (JSON.parse(verify.stdout) as { firstDivergence: { check: string; message: string } }).firstDivergence;
    assert.equal(v.check, 'checkpoint');
    assert.match(v.message, /trusted key\) on signature line 2 does not verify/);
    const replay = await runCli(['replay', 'r1', '--json'], { env });
    assert.equal(replay.code, 1, replay.stdout + replay.stderr);
    const r = (JSON.parse(replay.stdout) as { firstDivergence: { check: string; message: string } }).firstDivergence;
    assert.equal(r.check, 'checkpoint');
    assert.match(r.message, /trusted key\) on signature line 2 does not verify/);
  });
});
