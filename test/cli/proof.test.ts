// `proof` and `verify` say what they were checked against: a signed checkpoint opened with the
// verifier key (anchored), or only the store's own hashes (anchored: false) — and a tampered stored
// leaf hash never prints "verified".
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openCheckpoint, signCheckpoint } from '../../src/integrity/checkpoint.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { generateNoteKey, parseSignerKey } from '../../src/integrity/note.js';
import { verifyConsistency, verifyInclusion } from '../../src/integrity/proof.js';
import { parseTlogProof, verifyTlogProof } from '../../src/integrity/tlog-proof.js';
import { freshHome, runCli } from '../support/cli.js';

interface InclusionReport {
  index: number;
  size: number;
  leafHash: string;
  root: string;
  proof: string[];
  verified: boolean;
  anchored: boolean;
  checkedAgainst: string;
  checkpoint: string | null;
  failure?: string;
}

interface VerifyReport {
  ok: boolean;
  anchored: boolean;
  anchoredEvents: number;
  unanchoredEvents: number | null;
  checkpoints: number;
}

const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const input = (n: number, from = 0) => Array.from({ length: n }, (_, i) => JSON.stringify({ stream: `p-${(from + i) % 4}`, type: 'custom.sample', data: { i: from + i } })).join('\n');

async function ledger(): Promise<{ env: Record<string, string>; db: string; vkey: string; origin: string }> {
  const home = freshHome('rl-proof-');
  const env = { RUNLEDGER_HOME: home };
  const init = await runCli(['init', '--json'], { env });
  assert.equal(init.code, 0, init.stderr);
  const { verifierKey, origin } = JSON.parse(init.stdout) as { verifierKey: string; origin: string };
  return { env, db: join(home, 'ledger.db'), vkey: verifierKey, origin };
}

async function run(env: Record<string, string>, ...args: string[]) {
  const res = await runCli(args, { env });
  return { ...res, json: <T>() => JSON.parse(res.stdout) as T };
}

function sql(db: string, work: (d: Database.Database) => void): void {
  const d = new Database(db);
  try {
    work(d);
  } finally {
    d.close();
  }
}

function canonicalAt(db: string, position: number): Buffer {
  let bytes: Buffer = Buffer.alloc(0);
  sql(db, (d) => (bytes = (d.prepare('SELECT canonical FROM events WHERE position = ?').get(position) as { canonical: Buffer }).canonical));
  return bytes;
}

function overwriteLeafHash(db: string, position: number): void {
  sql(db, (d) => d.prepare('UPDATE events SET leaf_hash = ? WHERE position = ?').run(Buffer.alloc(32, 0xab), position));
}

describe('runledger proof and verify: what the answer was checked against', function () {
  this.timeout(120_000);

  it('proves inclusion from the event bytes to the signed checkpoint, and says so', async () => {
    const { env, db, vkey } = await ledger();
    assert.equal((await runCli(['append', '-'], { env, input: input(20) })).code, 0);
    const cp = (await run(env, 'checkpoint', '--json')).json<{ root: string; note: string }>();
    const res = await run(env, 'proof', 'inclusion', '--index', '3', '--json');
    assert.equal(res.code, 0, res.stderr);
    const p = res.json<InclusionReport>();
    assert.deepEqual([p.verified, p.anchored, p.size, p.root, p.checkpoint], [true, true, 20, cp.root, cp.note]);
    assert.match(p.checkedAgainst, /^signed checkpoint 1 \(size 20\), opened with the verifier key$/);
    const signed = openCheckpoint(p.checkpoint!, [vkey]);
    verifyInclusion(3, 20, leafHash(canonicalAt(db, 3)), p.proof.map(hex), signed.root);
    const text = await run(env, 'proof', 'inclusion', '--index', '3');
    assert.match(text.stdout, /: verified against signed checkpoint 1 \(size 20\)/);
  });

  it('does not print verified after one stored leaf_hash is overwritten (the proven leaf or a sibling)', async () => {
    const { env, db } = await ledger();
    assert.equal((await runCli(['append', '-'], { env, input: input(20) })).code, 0);
    assert.equal((await run(env, 'checkpoint')).code, 0);
    // Events after the checkpoint: a root recomputed from the store's leaves would then include the tampered one.
    assert.equal((await runCli(['append', '-'], { env, input: input(5, 20) })).code, 0);
    overwriteLeafHash(db, 3);
    const own = await run(env, 'proof', 'inclusion', '--index', '3', '--json');
    assert.equal(own.code, 1, own.stderr);
    const report = own.json<InclusionReport>();
    assert.equal(report.verified, false);
    assert.match(report.failure!, /stored leaf hash abab.* of leaf 3 is not the hash of its canonical bytes/);
    const text = await run(env, 'proof', 'inclusion', '--index', '3');
    assert.equal(text.code, 1);
    assert.match(text.stdout, /NOT VERIFIED/);
    assert.doesNotMatch(text.stdout, /: verified/);
    // Leaf 2 is leaf 3's sibling: its stored hash is in leaf 3's proof, which then misses the signed root.
    const sibling = await run(env, 'proof', 'inclusion', '--index', '2', '--json');
    assert.equal(sibling.code, 1);
    const fresh = await ledger();
    assert.equal((await runCli(['append', '-'], { env: fresh.env, input: input(20) })).code, 0);
    assert.equal((await run(fresh.env, 'checkpoint')).code, 0);
    overwriteLeafHash(fresh.db, 2);
    const viaSibling = await run(fresh.env, 'proof', 'inclusion', '--index', '3', '--json');
    assert.equal(viaSibling.code, 1, viaSibling.stderr);
    assert.equal(viaSibling.json<InclusionReport>().verified, false);
    assert.match(viaSibling.json<InclusionReport>().failure!, /leads to root [0-9a-f]{64}, not [0-9a-f]{64}/);
    const consistency = await run(fresh.env, 'proof', 'consistency', '--from', '0', '--json');
    assert.equal(consistency.code, 0, 'from the empty tree there is nothing to compare');
  });

  it('says anchored: false when no signed checkpoint has that size, and when there is no verifier key', async () => {
    const { env, db } = await ledger();
    assert.equal((await runCli(['append', '-'], { env, input: input(20) })).code, 0);
    assert.equal((await run(env, 'checkpoint')).code, 0);
    const res = await run(env, 'proof', 'inclusion', '--index', '3', '--size', '19', '--json');
    assert.equal(res.code, 0, res.stderr);
    const p = res.json<InclusionReport>();
    assert.deepEqual([p.verified, p.anchored, p.checkpoint], [true, false, null]);
    assert.match(p.checkedAgainst, /no signed checkpoint has size 19: the root was recomputed from the store's leaf hashes and no key vouches for it/);
    const text = await run(env, 'proof', 'inclusion', '--index', '3', '--size', '19');
    assert.match(text.stdout, /verified only against the store's own root, NOT ANCHORED/);
    const keyless = { RUNLEDGER_HOME: freshHome('rl-proof-nokey-'), RUNLEDGER_STORE: `sqlite:${db}` };
    const unchecked = (await run(keyless, 'proof', 'inclusion', '--index', '3', '--json')).json<InclusionReport>();
    assert.deepEqual([unchecked.verified, unchecked.anchored], [true, false]);
    assert.match(unchecked.checkedAgainst, /^no verifier key \(pass --key\), so the signature of checkpoint 1 \(size 20\) was not checked/);
    const tlog = await run(env, 'proof', 'inclusion', '--index', '3', '--size', '19', '--format', 'tlog-proof');
    assert.equal(tlog.code, 2);
    assert.match(tlog.stderr, /--format tlog-proof needs a signed checkpoint of the tree: no signed checkpoint has size 19/);
  });

  it('refuses a checkpoint the verifier key did not sign (exit 1), and checks against the key given with --key', async () => {
    const { env, db, origin } = await ledger();
    assert.equal((await runCli(['append', '-'], { env, input: input(20) })).code, 0);
    const other = generateNoteKey(origin);
    let root = '';
    assert.equal((await run(env, 'checkpoint')).code, 0);
    sql(db, (d) => {
      const row = d.prepare('SELECT root FROM checkpoints').get() as { root: string };
      root = row.root;
      d.prepare('UPDATE checkpoints SET note = ?').run(signCheckpoint(origin, 20, hex(root), parseSignerKey(other.signerKey)));
    });
    const res = await run(env, 'proof', 'inclusion', '--index', '3', '--json');
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /checkpoint 1 \(size 20\) does not verify with the verifier key/);
    const withOther = await run(env, 'proof', 'inclusion', '--index', '3', '--json', '--key', other.verifierKey);
    assert.equal(withOther.code, 0, withOther.stderr);
    assert.equal(withOther.json<InclusionReport>().anchored, true);
  });

  it('prints a C2SP tlog-proof an outside verifier checks from the event bytes and the verifier key', async () => {
    const { env, db, vkey, origin } = await ledger();
    assert.equal((await runCli(['append', '-'], { env, input: input(21) })).code, 0);
    const cp = (await run(env, 'checkpoint', '--json')).json<{ note: string }>();
    const res = await run(env, 'proof', 'inclusion', '--index', '5', '--format', 'tlog-proof');
    assert.equal(res.code, 0, res.stderr);
    assert.ok(res.stdout.startsWith('c2sp.org/tlog-proof@v1\nindex 5\n'), res.stdout);
    assert.ok(res.stdout.endsWith(`\n\n${cp.note}`));
    const parsed = parseTlogProof(res.stdout);
    assert.equal(parsed.proof.length, 5);
    const checkpoint = verifyTlogProof(res.stdout, leafHash(canonicalAt(db, 5)), [vkey], origin);
    assert.equal(checkpoint.size, 21);
    assert.throws(() => verifyTlogProof(res.stdout, leafHash(canonicalAt(db, 6)), [vkey], origin), /inclusion proof of leaf 5 leads to root/);
    overwriteLeafHash(db, 5);
    const tampered = await run(env, 'proof', 'inclusion', '--index', '5', '--format', 'tlog-proof');
    assert.equal(tampered.code, 1);
    assert.equal(tampered.stdout, '');
  });

  it('checks consistency proofs against both signed roots', async () => {
    const { env, db } = await ledger();
    assert.equal((await runCli(['append', '-'], { env, input: input(10) })).code, 0);
    const first = (await run(env, 'checkpoint', '--json')).json<{ root: string }>();
    assert.equal((await runCli(['append', '-'], { env, input: input(13, 10) })).code, 0);
    const second = (await run(env, 'checkpoint', '--json')).json<{ root: string }>();
    const res = await run(env, 'proof', 'consistency', '--from', '10', '--json');
    assert.equal(res.code, 0, res.stderr);
    const c = res.json<{ from: number; to: number; fromRoot: string; toRoot: string; proof: string[]; anchored: boolean; verified: boolean }>();
    assert.deepEqual([c.verified, c.anchored, c.fromRoot, c.toRoot, c.to], [true, true, first.root, second.root, 23]);
    verifyConsistency(10, 23, hex(first.root), hex(second.root), c.proof.map(hex));
    const loose = await run(env, 'proof', 'consistency', '--from', '7', '--json');
    assert.equal(loose.json<{ anchored: boolean }>().anchored, false);
    overwriteLeafHash(db, 12);
    const tampered = await run(env, 'proof', 'consistency', '--from', '10', '--json');
    assert.equal(tampered.code, 1);
    assert.equal(tampered.json<{ verified: boolean }>().verified, false);
  });

  it('verify says anchored: false with no checkpoint or with events after the last one; --strict exits 1', async () => {
    const { env } = await ledger();
    assert.equal((await runCli(['append', '-'], { env, input: input(12) })).code, 0);
    const none = await run(env, 'verify', '--json');
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(pick(none.json<VerifyReport>()), { ok: true, anchored: false, anchoredEvents: 0, unanchoredEvents: 12, checkpoints: 0 });
    const noneText = await run(env, 'verify');
    assert.match(noneText.stdout, /^OK but NOT ANCHORED: 12 events in 4 streams recompute consistently, but the ledger has no signed checkpoint, so no key vouches for any of them/);
    assert.equal((await run(env, 'verify', '--strict')).code, 1);

    assert.equal((await run(env, 'checkpoint')).code, 0);
    const covered = await run(env, 'verify', '--json', '--strict');
    assert.equal(covered.code, 0, covered.stderr);
    assert.deepEqual(pick(covered.json<VerifyReport>()), { ok: true, anchored: true, anchoredEvents: 12, unanchoredEvents: 0, checkpoints: 1 });
    assert.match((await run(env, 'verify')).stdout, /^OK, anchored: 12 events in 4 streams, every one inside signed checkpoint 1 \(size 12\)/);

    assert.equal((await runCli(['append', '-'], { env, input: input(3, 12) })).code, 0);
    const after = await run(env, 'verify', '--json');
    assert.equal(after.code, 0);
    assert.deepEqual(pick(after.json<VerifyReport>()), { ok: true, anchored: false, anchoredEvents: 12, unanchoredEvents: 3, checkpoints: 1 });
    assert.match((await run(env, 'verify')).stdout, /3 of them came after the latest signed checkpoint \(size 12\)/);
    const strict = await run(env, 'verify', '--strict');
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, /--strict: not anchored, exit 1/);
  });
});

function pick(r: VerifyReport): VerifyReport {
  return { ok: r.ok, anchored: r.anchored, anchoredEvents: r.anchoredEvents, unanchoredEvents: r.unanchoredEvents, checkpoints: r.checkpoints };
}
