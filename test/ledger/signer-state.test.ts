// The signer's own state: `checkpoint` signs only trees that extend the last checkpoint its key
// signed, whatever the store says — wiped, rewritten consistently, or holding checkpoints of its own.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { canonicalize } from '../../src/integrity/canonical.js';
import { openCheckpoint } from '../../src/integrity/checkpoint.js';
import { CompactRange } from '../../src/integrity/compact-range.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { createCheckpoint } from '../../src/ledger/checkpoint.js';
import { keyPaths } from '../../src/ledger/keys.js';
import { ensureOrigin } from '../../src/ledger/origin.js';
import { ensureLedgerSigner, loadLedgerSigner, readSignerState } from '../../src/ledger/signer-state.js';
import { openStore } from '../../src/store/open.js';
import { freshHome, runCli } from '../support/cli.js';

interface CheckpointReport {
  created: boolean;
  size: number;
  root: string;
  note: string;
  previousSize: number;
  restored: boolean;
  adopted: { size: number; root: string; from: string } | null;
}

const events = (stream: string, n: number, tag = 'x') => Array.from({ length: n }, (_, i) => JSON.stringify({ stream: `${stream}-${i % 3}`, type: 'custom.sample', data: { i, tag } })).join('\n');

async function ledger(n = 20): Promise<{ home: string; env: Record<string, string>; db: string }> {
  const home = freshHome('rl-signer-');
  const env = { RUNLEDGER_HOME: home };
  assert.equal((await runCli(['init'], { env })).code, 0);
  if (n > 0) assert.equal((await runCli(['append', '-'], { env, input: events('s', n) })).code, 0);
  return { home, env, db: join(home, 'ledger.db') };
}

async function checkpoint(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stderr: string; report: CheckpointReport }> {
  const res = await runCli(['checkpoint', '--json', ...args], { env });
  return { code: res.code, stderr: res.stderr, report: (res.code === 0 ? JSON.parse(res.stdout) : null) as CheckpointReport };
}

/** What an attacker with write access to ledger.db does to start a fresh history. */
function wipe(db: string): void {
  exec(db, `DELETE FROM events; DELETE FROM checkpoints; UPDATE tree SET size = 0, range = x'' WHERE singleton = 0;`);
}

/**
 * A consistent forgery: one event's bytes rewritten with its leaf hash, the tree row and every
 * checkpoint's root column to match. Only the signature over the old root is left as it was.
 */
function forge(db: string, position: number): void {
  const sql = new Database(db);
  const row = sql.prepare('SELECT canonical FROM events WHERE position = ?').get(position) as { canonical: Buffer };
  const envelope = JSON.parse(row.canonical.toString('utf8')) as { data: { tag: string } };
  envelope.data.tag = 'forged';
  const canonical = Buffer.from(canonicalize(envelope));
  sql.prepare('UPDATE events SET canonical = ?, leaf_hash = ? WHERE position = ?').run(canonical, leafHash(canonical), position);
  const leaves = (sql.prepare('SELECT leaf_hash FROM events ORDER BY position').all() as { leaf_hash: Buffer }[]).map((r) => r.leaf_hash);
  const range = CompactRange.empty();
  for (const leaf of leaves) range.append(leaf);
  sql.prepare('UPDATE tree SET size = ?, range = ? WHERE singleton = 0').run(range.size, Buffer.concat(range.hashes()));
  for (const cp of sql.prepare('SELECT seq, size FROM checkpoints').all() as { seq: number; size: number }[]) {
    const prefix = CompactRange.empty();
    for (const leaf of leaves.slice(0, cp.size)) prefix.append(leaf);
    sql.prepare('UPDATE checkpoints SET root = ? WHERE seq = ?').run(prefix.root().toString('hex'), cp.seq);
  }
  sql.close();
}

function exec(db: string, statements: string): void {
  const sql = new Database(db);
  sql.exec(statements);
  sql.close();
}

function count(db: string, table: string): number {
  const sql = new Database(db);
  try {
    return (sql.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    sql.close();
  }
}

describe('ledger/signer-state: the signer never endorses a fork', function () {
  this.timeout(120_000);

  it('keeps the last signed checkpoint beside the key, 0600, and signs only extensions of it', async () => {
    const { home, env } = await ledger(20);
    const state = keyPaths(home).state;
    assert.equal(statSync(state).mode & 0o777, 0o600);
    const first = await checkpoint(env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.report.previousSize, 0);
    assert.equal(readFileSync(state, 'utf8'), first.report.note);
    assert.equal((await runCli(['append', '-'], { env, input: events('t', 5) })).code, 0);
    const second = await checkpoint(env);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual([second.report.created, second.report.size, second.report.previousSize], [true, 25, 20]);
    assert.equal(readFileSync(state, 'utf8'), second.report.note);
    const again = await checkpoint(env);
    assert.deepEqual([again.report.created, again.report.size, again.report.restored], [false, 25, false]);
  });

  it('refuses to sign a wiped store refilled with 12 other events (exit 1, naming both sizes and roots)', async () => {
    const { env, db } = await ledger(20);
    const signed = await checkpoint(env);
    assert.equal(signed.code, 0, signed.stderr);
    wipe(db);
    assert.equal((await runCli(['append', '-'], { env, input: events('other', 12, 'y') })).code, 0);
    const res = await checkpoint(env);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /size 12, root [0-9a-f]{64}/);
    assert.match(res.stderr, new RegExp(`size 20, root ${signed.report.root}`));
    assert.equal(count(db, 'checkpoints'), 0, 'nothing was signed or stored');
  });

  it('refuses a wiped store refilled with more events than were signed (the consistency proof fails)', async () => {
    const { env, db } = await ledger(20);
    assert.equal((await checkpoint(env)).code, 0);
    wipe(db);
    assert.equal((await runCli(['append', '-'], { env, input: events('other', 33, 'y') })).code, 0);
    const res = await checkpoint(env);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /size 33, root [0-9a-f]{64}\) does not extend the last checkpoint this key signed \(size 20/);
  });

  it('refuses a consistent forgery of the store: event, leaf hash, tree row and root column rewritten', async () => {
    const { env, db } = await ledger(20);
    assert.equal((await checkpoint(env)).code, 0);
    forge(db, 7);
    assert.equal((await runCli(['append', '-'], { env, input: events('late', 4) })).code, 0);
    const res = await checkpoint(env);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /does not extend the last checkpoint this key signed \(size 20/);
    // Without new events the forged tree has the signed size but not the signed root.
    const { env: env2, db: db2 } = await ledger(20);
    assert.equal((await checkpoint(env2)).code, 0);
    forge(db2, 3);
    const same = await checkpoint(env2);
    assert.equal(same.code, 1, same.stderr);
    assert.match(same.stderr, /has the size of the last checkpoint this key signed \(size 20/);
  });

  it('refuses to sign new leaves that are not the hashes of the stored events, even with the tree row to match', async () => {
    const { env, db } = await ledger(20);
    assert.equal((await checkpoint(env)).code, 0);
    assert.equal((await runCli(['append', '-'], { env, input: events('late', 4) })).code, 0);
    const sql = new Database(db);
    sql.prepare('UPDATE events SET leaf_hash = ? WHERE position = 22').run(Buffer.alloc(32, 7));
    const range = CompactRange.empty();
    for (const r of sql.prepare('SELECT leaf_hash FROM events ORDER BY position').all() as { leaf_hash: Buffer }[]) range.append(r.leaf_hash);
    sql.prepare('UPDATE tree SET range = ? WHERE singleton = 0').run(Buffer.concat(range.hashes()));
    sql.close();
    const res = await checkpoint(env);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /refusing to sign: leaf 22 \(event [0-9a-f-]+, stream "late-2" revision 0\) has stored leaf hash 0707.*, but its canonical bytes hash to [0-9a-f]{64}/);
  });

  it('refuses a missing signer state (exit 2) unless told to adopt, and adopts only notes the key signed', async () => {
    const { home, env, db } = await ledger(20);
    const first = await checkpoint(env);
    const kept = join(home, 'published.note');
    writeFileSync(kept, first.report.note);
    unlinkSync(keyPaths(home).state);
    assert.equal((await runCli(['append', '-'], { env, input: events('t', 3) })).code, 0);
    const refused = await checkpoint(env);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /signer state .*signing\.state is missing.*--adopt/);
    const init = await runCli(['init'], { env });
    assert.match(init.stdout, /signer state .* is missing: the next checkpoint needs --adopt/);

    // A checkpoint row signed by another key is not adopted.
    const sql = new Database(db);
    const good = sql.prepare('SELECT note FROM checkpoints ORDER BY seq DESC LIMIT 1').get() as { note: string };
    const other = await ledger(1);
    const foreign = (await checkpoint(other.env)).report;
    sql.prepare('UPDATE checkpoints SET note = ? WHERE seq = (SELECT max(seq) FROM checkpoints)').run(foreign.note);
    const wrongKey = await checkpoint(env, '--adopt');
    assert.equal(wrongKey.code, 1, wrongKey.stderr);
    assert.match(wrongKey.stderr, /cannot adopt the store's latest checkpoint \(size 20\): it is not a checkpoint signed by this home's key/);
    assert.equal(existsSync(keyPaths(home).state), false);
    sql.prepare('UPDATE checkpoints SET note = ? WHERE seq = (SELECT max(seq) FROM checkpoints)').run(good.note);
    sql.close();

    const adopted = await checkpoint(env, '--adopt');
    assert.equal(adopted.code, 0, adopted.stderr);
    assert.deepEqual(adopted.report.adopted, { size: 20, root: first.report.root, from: "the store's latest checkpoint" });
    assert.deepEqual([adopted.report.created, adopted.report.size], [true, 23]);
    const twice = await checkpoint(env, '--adopt');
    assert.equal(twice.code, 2, 'a state that exists is never replaced by --adopt');

    // After a wipe, adopting the note the operator kept still refuses the fork.
    unlinkSync(keyPaths(home).state);
    wipe(db);
    assert.equal((await runCli(['append', '-'], { env, input: events('other', 12, 'y') })).code, 0);
    const fork = await checkpoint(env, '--adopt', kept);
    assert.equal(fork.code, 1, fork.stderr);
    assert.match(fork.stderr, /size 12, root [0-9a-f]{64}\) is smaller than the last checkpoint this key signed \(size 20/);
    assert.equal(readFileSync(keyPaths(home).state, 'utf8'), first.report.note, 'the adopted note is remembered');
  });

  it('stores the remembered checkpoint again after a crash between the signer state and the store', async () => {
    const { home, env, db } = await ledger(20);
    const signed = await checkpoint(env);
    // The crash: the state was written, the checkpoint row never was.
    exec(db, 'DELETE FROM checkpoints');
    const again = await checkpoint(env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual([again.report.created, again.report.restored, again.report.note], [false, true, signed.report.note]);
    assert.equal((await runCli(['verify'], { env })).code, 0);
    // The same after new events: the remembered note is stored, then the new one.
    exec(db, 'DELETE FROM checkpoints');
    assert.equal((await runCli(['append', '-'], { env, input: events('t', 4) })).code, 0);
    const grown = await checkpoint(env);
    assert.deepEqual([grown.report.created, grown.report.restored, grown.report.size], [true, true, 24]);
    const sql = new Database(db);
    const rows = sql.prepare('SELECT size FROM checkpoints ORDER BY seq').all() as { size: number }[];
    sql.close();
    assert.deepEqual(rows.map((r) => r.size), [20, 24]);
    assert.equal(readFileSync(keyPaths(home).state, 'utf8'), grown.report.note);
  });

  it('refuses a stale signer state (restored from a backup) and a state the key did not sign', async () => {
    const { home, env } = await ledger(20);
    assert.equal((await checkpoint(env)).code, 0);
    const state = keyPaths(home).state;
    const backup = join(home, 'state.bak');
    copyFileSync(state, backup);
    assert.equal((await runCli(['append', '-'], { env, input: events('t', 4) })).code, 0);
    assert.equal((await checkpoint(env)).code, 0);
    copyFileSync(backup, state);
    const stale = await checkpoint(env);
    assert.equal(stale.code, 1, stale.stderr);
    assert.match(stale.stderr, /latest checkpoint has size 24 .* beyond the last checkpoint this key signed \(size 20.*stale/);
    writeFileSync(state, readFileSync(state, 'utf8').replace(/\n20\n/, '\n24\n'));
    const forged = await checkpoint(env);
    assert.equal(forged.code, 1, forged.stderr);
    assert.match(forged.stderr, /signer state .*signing\.state is not a checkpoint signed by this home's key/);
  });

  it('serialises concurrent signers: in one process and across processes, the state ends at the latest checkpoint', async () => {
    const { home, env, db } = await ledger(0);
    const store = await openStore(`sqlite:${db}`);
    try {
      const { origin } = await ensureOrigin(store);
      const signer = loadLedgerSigner(home);
      const rounds = Array.from({ length: 8 }, async (_, i) => {
        await store.append(`c-${i}`, [{ type: 'custom.sample', data: { i } }]);
        return createCheckpoint(store, signer, origin);
      });
      await Promise.all(rounds);
      const head = readSignerState(signer)!;
      const stored = await store.checkpoints();
      assert.equal(head.size, 8);
      assert.equal(stored.at(-1)!.note, head.note);
      assert.deepEqual(stored.map((c) => c.size), [...stored.map((c) => c.size)].sort((a, b) => a - b));
    } finally {
      await store.close();
    }
    // A lock left by a process that died is removed; four CLI signers at once all succeed.
    writeFileSync(`${keyPaths(home).state}.lock`, `999999999 ${hostname()}\n`);
    const runs = Array.from({ length: 4 }, (_, i) =>
      runCli(['append', '-'], { env, input: events(`p${i}`, 3) }).then(() => runCli(['checkpoint', '--json'], { env })),
    );
    for (const res of await Promise.all(runs)) assert.equal(res.code, 0, res.stderr);
    const sql = new Database(db);
    const last = sql.prepare('SELECT note, size FROM checkpoints ORDER BY seq DESC LIMIT 1').get() as { note: string; size: number };
    sql.close();
    assert.equal(last.size, 20);
    assert.equal(readFileSync(keyPaths(home).state, 'utf8'), last.note);
    assert.equal(existsSync(`${keyPaths(home).state}.lock`), false);
  });

  it('a new key starts from the empty tree; an existing key without state is reported, never given one', async () => {
    const home = freshHome('rl-signer-');
    const first = ensureLedgerSigner(home, 'example.com/log');
    assert.equal(first.state, 'created');
    const head = readSignerState(loadLedgerSigner(home))!;
    assert.equal(head.size, 0);
    assert.equal(openCheckpoint(head.note, [first.verifierKey]).origin, 'example.com/log');
    unlinkSync(keyPaths(home).state);
    assert.equal(ensureLedgerSigner(home, 'example.com/log').state, 'missing');
    assert.equal(existsSync(keyPaths(home).state), false);
  });
});
