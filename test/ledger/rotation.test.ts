// Key rotation: `keys rotate` retires the signing key verifiably — a LedgerKeyRotated event whose
// statement both keys signed, and a transition checkpoint signed by both — and verification accepts
// each key only for the tree sizes it was valid for, whoever rewrote the store.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_STREAM } from '../../events/ledger.js';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { signRotationStatement } from '../../src/integrity/key-rotation.js';
import { generateNoteKey, openNote, parseNote, parseSignerKey, verifierKeyOf } from '../../src/integrity/note.js';
import { createCheckpoint, treeRoot } from '../../src/ledger/checkpoint.js';
import { keyPaths } from '../../src/ledger/keys.js';
import { requireOrigin } from '../../src/ledger/origin.js';
import { readLogPages } from '../../src/ledger/read.js';
import { rotateKey, type RotationStep } from '../../src/ledger/rotation.js';
import { loadLedgerSigner } from '../../src/ledger/signer-state.js';
import { readRotationStatements } from '../../src/replay/key-history.js';
import { verifyLog } from '../../src/replay/verify-log.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore, StoredCheckpoint } from '../../src/store/port.js';
import { freshHome, repoRoot, runCli } from '../support/cli.js';

const events = (stream: string, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ stream, type: 'custom.sample', data: { i } })).join('\n');

async function ledger(n = 6): Promise<{ home: string; env: Record<string, string>; db: string; oldKey: string; oldSigner: string }> {
  const home = freshHome('rl-rotate-');
  const env = { RUNLEDGER_HOME: home };
  assert.equal((await runCli(['init'], { env })).code, 0);
  assert.equal((await runCli(['append', '-'], { env, input: events('s', n) })).code, 0);
  assert.equal((await runCli(['checkpoint'], { env })).code, 0);
  return { home, env, db: join(home, 'ledger.db'), oldKey: readFileSync(keyPaths(home).verifier, 'utf8').trim(), oldSigner: readFileSync(keyPaths(home).signer, 'utf8') };
}

async function json<T>(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string; out: T }> {
  const res = await runCli([...args, '--json'], { env });
  return { code: res.code, stderr: res.stderr, out: (res.stdout.trim().startsWith('{') ? JSON.parse(res.stdout) : null) as T };
}

async function withStore<T>(db: string, work: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await openStore(`sqlite:${db}`);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Verifies the store's log with `keys`, with the store's own checkpoints or a replacement list. */
async function verifyWith(store: EventStore, keys: string[], checkpoints?: StoredCheckpoint[]) {
  return verifyLog(readLogPages(store), { checkpoints: checkpoints ?? (await store.checkpoints()), verifierKeys: keys, origin: await requireOrigin(store), rotations: await readRotationStatements(store) });
}

/** For every size: one root and one set of ledger-key signature lines (witness lines may be added). */
function assertSignedOncePerSize(checkpoints: StoredCheckpoint[], ledgerKeyNames: Set<string>): void {
  const bySize = new Map<number, string>();
  for (const c of checkpoints) {
    const parsed = parseNote(c.note);
    const ledgerLines = parsed.signatures.filter((s) => ledgerKeyNames.has(s.name)).map((s) => s.base64).join(',');
    const identity = `${parsed.text}|${ledgerLines}`;
    const seen = bySize.get(c.size);
    assert.ok(seen === undefined || seen === identity, `size ${c.size} was signed twice differently`);
    bySize.set(c.size, identity);
  }
}

describe('ledger/rotation: keys rotate', function () {
  this.timeout(180_000);

  it('signs the transition with both keys, and verify, replay keys and proof accept the old key, the new key or both', async () => {
    const { home, env, oldKey } = await ledger();
    const rotated = await json<{ previousKey: string; key: string; transition: { size: number; note: string } }>(['keys', 'rotate'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(rotated.out.previousKey, oldKey);
    const newKey = readFileSync(keyPaths(home).verifier, 'utf8').trim();
    assert.equal(rotated.out.key, newKey);
    assert.notEqual(newKey, oldKey);
    assert.equal(rotated.out.transition.size, 7, 'the 6 events and the rotation event');
    assert.equal(openNote(rotated.out.transition.note, [oldKey, newKey]).verified.length, 2, 'one note, two signature lines');
    assert.ok(!existsSync(keyPaths(home).rotation));
    assert.equal(readFileSync(keyPaths(home).state, 'utf8'), rotated.out.transition.note, 'the signer state is the transition note');

    assert.equal((await runCli(['append', '-'], { env, input: events('t', 3) })).code, 0);
    const after = await json<{ size: number; note: string }>(['checkpoint'], env);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(parseNote(after.out.note).signatures.length, 1, 'after the transition only the new key signs');
    for (const keys of [[oldKey], [newKey], [oldKey, newKey]]) {
      const res = await json<{ ok: boolean; anchored: boolean; checkpoints: number; keyRotations: number }>(['verify', ...keys.flatMap((k) => ['--key', k])], env);
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual([res.out.ok, res.out.anchored, res.out.keyRotations], [true, true, 1]);
    }
    const history = await json<{ keys: { key: string; fromSize: number; toSize: number | null }[] }>(['keys', 'history', '--key', oldKey], env);
    assert.deepEqual(history.out.keys, [
      { key: oldKey, fromSize: 0, toSize: 7, transitionCheckpoint: null },
      { key: newKey, fromSize: 7, toSize: null, transitionCheckpoint: 2 },
    ]);
    // proof against the latest (new-key) checkpoint and against the old key's checkpoint, trusting only the old key
    const latest = await json<{ anchored: boolean; verified: boolean }>(['proof', 'inclusion', '--index', '2', '--key', oldKey], env);
    assert.deepEqual([latest.code, latest.out.anchored, latest.out.verified], [0, true, true]);
    const early = await json<{ anchored: boolean; verified: boolean }>(['proof', 'inclusion', '--index', '2', '--size', '6', '--key', newKey], env);
    assert.deepEqual([early.code, early.out.anchored, early.out.verified], [0, true, true]);
  });

  it('refuses a checkpoint the old key signed after its transition, and one the new key signed before it', async () => {
    const { home, env, db, oldSigner } = await ledger();
    assert.equal((await runCli(['keys', 'rotate'], { env })).code, 0);
    assert.equal((await runCli(['append', '-'], { env, input: events('t', 3) })).code, 0);
    const newSigner = readFileSync(keyPaths(home).signer, 'utf8');
    await withStore(db, async (store) => {
      const origin = await requireOrigin(store);
      const tree = await store.integrate();
      const root = treeRoot(tree);
      const oldKey = verifierKeyOf(oldSigner);
      // A stolen old key signs the grown tree: valid signature, wrong epoch.
      const late: StoredCheckpoint = { size: tree.size, root: root.toString('hex'), note: signCheckpoint(origin, tree.size, root, parseSignerKey(oldSigner)), createdAt: new Date().toISOString() };
      const lateReport = await verifyWith(store, [oldKey], [...(await store.checkpoints()), late]);
      assert.equal(lateReport.ok, false);
      assert.equal(lateReport.firstDivergence?.check, 'key');
      assert.match(lateReport.firstDivergence!.message, /Checkpoint 3 \(tree size 10\) is signed by key .* \(valid for tree sizes 0–7\), not by a key valid at size 10/);
      // The new key re-signs the size-6 checkpoint, before it was valid.
      const stored = await store.checkpoints();
      const early = { ...stored[0]!, note: signCheckpoint(origin, stored[0]!.size, Buffer.from(stored[0]!.root, 'hex'), parseSignerKey(newSigner)) };
      const earlyReport = await verifyWith(store, [verifierKeyOf(newSigner)], [early, ...stored.slice(1)]);
      assert.equal(earlyReport.firstDivergence?.check, 'key');
      assert.match(earlyReport.firstDivergence!.message, /Checkpoint 1 \(tree size 6\) is signed by key .* \(valid for tree sizes 7–…\)/);
      // Control: the stored checkpoints verify.
      assert.equal((await verifyWith(store, [oldKey])).ok, true);
    });
  });

  it('fails verification on a LedgerKeyRotated event not signed by the current key, or outside the key stream', async () => {
    const { env, db, oldKey } = await ledger();
    await withStore(db, async (store) => {
      const origin = await requireOrigin(store);
      const evil = generateNoteKey(origin);
      const other = generateNoteKey(origin);
      // Signed by two keys the ledger never had: links to nothing the auditor trusts.
      const statement = signRotationStatement(origin, { signer: parseSignerKey(other.signerKey), verifierKey: other.verifierKey }, { signer: parseSignerKey(evil.signerKey), verifierKey: evil.verifierKey });
      await store.appendBatch([{ stream: KEY_STREAM, events: [{ type: 'LedgerKeyRotated', data: { previousKey: other.verifierKey, key: evil.verifierKey, statement } }] }]);
      const report = await verifyWith(store, [oldKey]);
      assert.equal(report.firstDivergence?.check, 'key');
      assert.match(report.firstDivergence!.message, /None of the trusted verifier keys is in the ledger's key history/);
    });
    const res = await runCli(['verify', '--key', oldKey], { env });
    assert.equal(res.code, 1, res.stdout);
    // Through `append`, nobody records one at all.
    const appended = await runCli(['append', '-'], { env, input: JSON.stringify({ stream: KEY_STREAM, type: 'LedgerKeyRotated', data: { previousKey: oldKey, key: oldKey, statement: 'x' } }) });
    assert.equal(appended.code, 2);
    assert.match(appended.stderr, /the key history \(stream "ledger\.keys", LedgerKeyRotated\) is recorded by "runledger keys rotate"; it cannot be appended directly/);
    const elsewhere = await runCli(['append', '-'], { env, input: JSON.stringify({ stream: 'lab-x', type: 'LedgerKeyRotated', data: { previousKey: oldKey, key: oldKey, statement: 'x' } }) });
    assert.equal(elsewhere.code, 2, 'nor on another stream');
    const onKeyStream = await runCli(['append', '-'], { env, input: JSON.stringify({ stream: KEY_STREAM, type: 'custom.note', data: { x: 1 } }) });
    assert.equal(onKeyStream.code, 2, 'nor any other event on the key stream');
    assert.match(onKeyStream.stderr, /the key history \(stream "ledger\.keys", custom\.note\)/);

    const second = await ledger();
    await withStore(second.db, async (store) => {
      const origin = await requireOrigin(store);
      const next = generateNoteKey(origin);
      const statement = signRotationStatement(origin, { signer: parseSignerKey(second.oldSigner), verifierKey: second.oldKey }, { signer: parseSignerKey(next.signerKey), verifierKey: next.verifierKey });
      await store.appendBatch([{ stream: 'run-x', events: [{ type: 'LedgerKeyRotated', data: { previousKey: second.oldKey, key: next.verifierKey, statement } }] }]);
      await createCheckpoint(store, loadLedgerSigner(second.home), origin);
      const report = await verifyWith(store, [second.oldKey]);
      assert.equal(report.firstDivergence?.check, 'key');
      assert.match(report.firstDivergence!.message, /outside the "ledger.keys" stream/);
    });
  });

  it('ignores a rotation statement of another origin (a rotation relayed from another ledger changes no key here)', async () => {
    const { db, oldKey } = await ledger();
    await withStore(db, async (store) => {
      const a = generateNoteKey('example.com/elsewhere');
      const b = generateNoteKey('example.com/elsewhere');
      const statement = signRotationStatement('example.com/elsewhere', { signer: parseSignerKey(a.signerKey), verifierKey: a.verifierKey }, { signer: parseSignerKey(b.signerKey), verifierKey: b.verifierKey });
      await store.appendBatch([{ stream: KEY_STREAM, events: [{ type: 'LedgerKeyRotated', data: { previousKey: a.verifierKey, key: b.verifierKey, statement } }] }]);
      await store.integrate();
      const report = await verifyWith(store, [oldKey]);
      assert.equal(report.ok, true, report.firstDivergence?.message);
      assert.equal(report.events, 7);
    });
  });

  for (const crashAt of ['pending', 'appended', 'signed', 'switched'] as RotationStep[]) {
    it(`resumes a rotation that crashed after step "${crashAt}": one transition, every size signed once, verify passes`, async () => {
      const { home, env, db, oldKey } = await ledger();
      await withStore(db, async (store) => {
        const origin = await requireOrigin(store);
        await assert.rejects(
          rotateKey(home, store, origin, {
            actor: 'test',
            onStep: (step) => {
              if (step === crashAt) throw new Error(`crash after ${step}`);
            },
          }),
          /crash after/,
        );
        assert.ok(existsSync(keyPaths(home).rotation), 'the pending record survives the crash');
        // Nothing signs while the rotation is unfinished.
        assert.throws(() => loadLedgerSigner(home), /a key rotation is under way/);
      });
      const blocked = await runCli(['checkpoint'], { env });
      assert.equal(blocked.code, 2, blocked.stderr);
      const resumed = await json<{ resumed: boolean; key: string }>(['keys', 'rotate'], env);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(resumed.out.resumed, true);
      assert.equal(readFileSync(keyPaths(home).verifier, 'utf8').trim(), resumed.out.key);
      assert.equal((await runCli(['append', '-'], { env, input: events('t', 2) })).code, 0);
      assert.equal((await runCli(['checkpoint'], { env })).code, 0);
      const verified = await json<{ ok: boolean; anchored: boolean }>(['verify', '--key', oldKey], env);
      assert.equal(verified.code, 0, verified.stderr);
      await withStore(db, async (store) => {
        const checkpoints = await store.checkpoints();
        assertSignedOncePerSize(checkpoints, new Set([await requireOrigin(store)]));
        const rotations = await store.readStream(KEY_STREAM);
        assert.equal(rotations.length, 1, 'the rotation event was appended once');
        assert.equal(checkpoints.filter((c) => parseNote(c.note).signatures.length === 2).length, 1, 'one transition checkpoint');
      });
    });
  }

  it('replays and exports a run across a rotation: replay trusts the old key, the bundle verifies with the new one', async () => {
    const { home, env, oldKey } = await ledger(2);
    const plan = join(repoRoot, 'docs', 'examples', 'plan.yaml');
    assert.equal((await runCli(['plan', 'approve', plan, '--run', 'r1'], { env })).code, 0);
    for (const stage of ['prepare', 'train', 'evaluate']) {
      assert.equal((await runCli(['stage', 'start', 'r1', stage], { env })).code, 0);
      assert.equal((await runCli(['stage', 'complete', 'r1', stage], { env })).code, 0);
    }
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    assert.equal((await runCli(['keys', 'rotate'], { env })).code, 0);
    assert.equal((await runCli(['append', '-'], { env, input: events('later', 2) })).code, 0);
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    const replay = await runCli(['replay', 'r1', '--key', oldKey, '--full'], { env });
    assert.equal(replay.code, 0, replay.stdout + replay.stderr);
    const bundle = join(home, 'r1.bundle');
    assert.equal((await runCli(['export', 'r1', '--out', bundle], { env })).code, 0);
    const newKey = readFileSync(keyPaths(home).verifier, 'utf8').trim();
    assert.equal((await runCli(['verify-bundle', bundle, '--key', oldKey, '--key', newKey], { env })).code, 0);
    // A bundle has no key history: the old key alone does not open a checkpoint the new key signed.
    const oldOnly = await runCli(['verify-bundle', bundle, '--key', oldKey], { env });
    assert.equal(oldOnly.code, 1);
    assert.match(oldOnly.stdout, /signed only by unknown keys/);
  });

  it('a signer loaded before the rotation cannot sign after it', async () => {
    const { home, db } = await ledger();
    await withStore(db, async (store) => {
      const origin = await requireOrigin(store);
      const stale = loadLedgerSigner(home);
      await rotateKey(home, store, origin, { actor: 'test' });
      await store.appendBatch([{ stream: 'late', events: [{ type: 'custom.sample', data: {} }] }]);
      await assert.rejects(createCheckpoint(store, stale, origin), /changed \(rotated\) after this signer was loaded/);
    });
  });
});
