// The C2SP tlog-witness add-checkpoint protocol: status codes as the spec fixes them, a
// cosignature only after the log's signature and a consistency proof from the witness's own state,
// and the log operator's view of a refusal (`checkpoint --witness`, exit 1, one sentence).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { CompactRange } from '../../src/integrity/compact-range.js';
import { cosignatureMessage, cosignerKeyFromSeed, openCosignatures, parseCosignatureVerifier, parseCosignerKey } from '../../src/integrity/cosignature.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { noteKeyFromSeed, parseNote, parseSignerKey } from '../../src/integrity/note.js';
import { consistencyProof } from '../../src/integrity/proof.js';
import { openWitnessHome } from '../../src/witness/home.js';
import { startWitnessServer, type WitnessServer } from '../../src/witness/server.js';
import { formatAddCheckpoint, Witness, type WitnessedHead, type WitnessState } from '../../src/witness/witness.js';
import { freshHome, runCli } from '../support/cli.js';

const ORIGIN = 'example.com/log';
const log = noteKeyFromSeed(ORIGIN, Buffer.alloc(32, 7));
const other = noteKeyFromSeed(ORIGIN, Buffer.alloc(32, 8));
const witnessPair = cosignerKeyFromSeed('witness.example/w1', Buffer.alloc(32, 9));

const leaves = Array.from({ length: 20 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
const fork = Array.from({ length: 20 }, (_, i) => leafHash(Buffer.from(i < 5 ? `leaf ${i}` : `fork ${i}`)));
function rootOf(ls: Buffer[], size: number): Buffer {
  const range = CompactRange.empty();
  for (const l of ls.slice(0, size)) range.append(l);
  return range.root();
}
const note = (size: number, ls = leaves, key = log.signerKey) => signCheckpoint(ORIGIN, size, rootOf(ls, size), parseSignerKey(key));
const proof = (from: number, to: number, ls = leaves) => (from === 0 ? [] : consistencyProof(from, to, ls.slice(0, to)));

function memoryState(): WitnessState & { heads: Map<string, WitnessedHead>; refused: string[] } {
  const heads = new Map<string, WitnessedHead>();
  const refused: string[] = [];
  return { heads, refused, read: (o) => heads.get(o), write: (h) => void heads.set(h.origin, h), evidence: (_o, _r, reason) => void refused.push(reason) };
}

function witness(state = memoryState()): { w: Witness; state: ReturnType<typeof memoryState> } {
  return { w: new Witness({ cosigner: parseCosignerKey(witnessPair.signerKey), logs: new Map([[ORIGIN, [log.verifierKey]]]), state, now: () => 1_700_000_000 }), state };
}

describe('witness: C2SP tlog-witness add-checkpoint', function () {
  this.timeout(120_000);

  it('cosigns a first checkpoint from old size 0 with a cosignature/v1 line over the exact checkpoint body', async () => {
    const { w, state } = witness();
    const n = note(5);
    const res = await w.addCheckpoint(formatAddCheckpoint(0, [], n));
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /^\u2014 witness\.example\/w1 [A-Za-z0-9+/=]+\n$/);
    const cosigned = `${n}${res.body}`;
    const [found] = openCosignatures(cosigned, [witnessPair.verifierKey]).cosignatures;
    assert.equal(found?.timestamp, 1_700_000_000);
    // The signed message is cosignature/v1, the time line, then the body (tlog-cosignature §Ed25519 signed message).
    const sig = parseNote(cosigned).signatures[1]!.signature;
    const v = parseCosignatureVerifier(witnessPair.verifierKey);
    assert.ok(v.verify(Buffer.from(parseNote(n).text), sig));
    assert.equal(cosignatureMessage(1_700_000_000, 'a\n').toString(), 'cosignature/v1\ntime 1700000000\na\n');
    assert.equal(state.heads.get(ORIGIN)?.size, 5);
  });

  it('answers 409 with its size (text/x.tlog.size) to a wrong old size, then cosigns with a proof from that size', async () => {
    const { w } = witness();
    assert.equal((await w.addCheckpoint(formatAddCheckpoint(0, [], note(5)))).status, 200);
    const conflict = await w.addCheckpoint(formatAddCheckpoint(0, [], note(9)));
    assert.deepEqual([conflict.status, conflict.contentType, conflict.body], [409, 'text/x.tlog.size', '5\n']);
    const ok = await w.addCheckpoint(formatAddCheckpoint(5, proof(5, 9), note(9)));
    assert.equal(ok.status, 200, ok.body);
    // The same checkpoint again: cosigned again, nothing rolled back.
    assert.equal((await w.addCheckpoint(formatAddCheckpoint(9, [], note(9)))).status, 200);
  });

  it('refuses an inconsistent checkpoint (422) and a different root for its size (409), keeping both as evidence', async () => {
    const { w, state } = witness();
    assert.equal((await w.addCheckpoint(formatAddCheckpoint(0, [], note(10)))).status, 200);
    const forked = await w.addCheckpoint(formatAddCheckpoint(10, proof(10, 15, fork), note(15, fork)));
    assert.equal(forked.status, 422, forked.body);
    assert.match(forked.body, /not consistent with the checkpoint of size 10 this witness cosigned/);
    const sameSize = await w.addCheckpoint(formatAddCheckpoint(10, [], note(10, fork)));
    assert.deepEqual([sameSize.status, sameSize.body], [409, '10\n']);
    assert.equal(state.heads.get(ORIGIN)?.size, 10, 'the state is unchanged');
    assert.equal(state.refused.length, 2);
  });

  it('answers 404 for an unknown origin, 403 without a trusted signature, 400 for old > size and malformed bodies', async () => {
    const { w } = witness();
    const unknown = signCheckpoint('example.com/other', 3, rootOf(leaves, 3), parseSignerKey(noteKeyFromSeed('example.com/other', Buffer.alloc(32, 1)).signerKey));
    assert.equal((await w.addCheckpoint(formatAddCheckpoint(0, [], unknown))).status, 404);
    assert.equal((await w.addCheckpoint(formatAddCheckpoint(0, [], note(3, leaves, other.signerKey)))).status, 403);
    const forged = note(3).replace(/ ([A-Za-z0-9+/]{10})/, (m, p: string) => ` ${p.split('').reverse().join('')}`);
    assert.equal((await w.addCheckpoint(formatAddCheckpoint(0, [], forged))).status, 403);
    assert.equal((await w.addCheckpoint(formatAddCheckpoint(4, [], note(3)))).status, 400);
    for (const body of ['', 'old 01\n\n' + note(3), 'new 0\n\n' + note(3), 'old 0\nnot-base64\n\n' + note(3), `old 0\n\n${note(3).replace('\n3\n', '\nthree\n')}`]) {
      assert.equal((await w.addCheckpoint(body)).status, 400, body.slice(0, 20));
    }
    assert.equal((await w.addCheckpoint(`old 0\n${leaves[0]!.toString('base64')}\n\n${note(3)}`)).status, 400, 'a proof from size 0 must be empty');
  });

  it('checks the old size and stores the new head atomically: of two racing requests from one size, one wins', async () => {
    const { w, state } = witness();
    assert.equal((await w.addCheckpoint(formatAddCheckpoint(0, [], note(4)))).status, 200);
    const [a, b] = await Promise.all([w.addCheckpoint(formatAddCheckpoint(4, proof(4, 12), note(12))), w.addCheckpoint(formatAddCheckpoint(4, proof(4, 8), note(8)))]);
    assert.deepEqual([a.status, b.status], [200, 409]);
    assert.equal(b.body, '12\n');
    assert.equal(state.heads.get(ORIGIN)?.size, 12, 'never rolled back to 8');
  });

  describe('over HTTP, with a runledger log', () => {
    let server: WitnessServer | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });

    async function ledgerWithWitness(): Promise<{ env: Record<string, string>; home: string; url: string; witnessKey: string; witnessHome: string }> {
      const home = freshHome('rl-witnessed-');
      const env = { RUNLEDGER_HOME: home };
      assert.equal((await runCli(['init'], { env })).code, 0);
      const vkey = (await runCli(['keys', 'show'], { env })).stdout.trim();
      const witnessHome = mkdtempSync(join(tmpdir(), 'rl-witness-'));
      const wh = openWitnessHome(witnessHome);
      const origin = vkey.split('+')[0]!;
      server = await startWitnessServer(new Witness({ cosigner: wh.cosigner, logs: new Map([[origin, [vkey]]]), state: wh.state }), { port: 0 });
      return { env, home, url: server.url, witnessKey: wh.verifierKey, witnessHome };
    }
    const append = (env: Record<string, string>, tag: string, n: number) => runCli(['append', '-'], { env, input: Array.from({ length: n }, (_, i) => JSON.stringify({ stream: `s-${tag}`, type: 'custom.x', data: { i, tag } })).join('\n') });

    it('collects cosignatures from the size the witness reports, stores the cosigned note, and verify applies K of N', async () => {
      const { env, url, witnessKey } = await ledgerWithWitness();
      assert.equal((await append(env, 'a', 5)).code, 0);
      const first = await runCli(['checkpoint', '--json', '--witness', url, '--witness-key', witnessKey], { env });
      assert.equal(first.code, 0, first.stderr);
      const report = JSON.parse(first.stdout) as { note: string; witnesses: { result: string; oldSize: number }[] };
      assert.deepEqual(report.witnesses.map((w) => [w.result, w.oldSize]), [['cosigned', 0]]);
      assert.equal(openCosignatures(report.note, [witnessKey]).cosignatures.length, 1);
      assert.equal((await append(env, 'b', 3)).code, 0);
      const second = JSON.parse((await runCli(['checkpoint', '--json', '--witness', url], { env })).stdout) as { witnesses: { oldSize: number }[] };
      assert.equal(second.witnesses[0]!.oldSize, 5, 'the proof was sent from the size the witness held');

      const absent = cosignerKeyFromSeed('witness.example/absent', Buffer.alloc(32, 3)).verifierKey;
      const one = await runCli(['verify', '--json', '--witness-key', witnessKey, '--witness-key', absent, '--witness-threshold', '1'], { env });
      assert.equal(one.code, 0, one.stdout);
      assert.equal((JSON.parse(one.stdout) as { witnesses: { ok: boolean } }).witnesses.ok, true);
      const both = await runCli(['verify', '--witness-key', witnessKey, '--witness-key', absent], { env });
      assert.equal(both.code, 1);
      assert.match(both.stdout, /NOT WITNESSED: the checkpoint of size 8 is cosigned by 1 of 2 trusted witnesses .*fewer than the threshold 2/);
      // Events after the witnessed checkpoint: the latest checkpoint (unwitnessed) fails the policy.
      assert.equal((await append(env, 'c', 1)).code, 0);
      assert.equal((await runCli(['checkpoint'], { env })).code, 0);
      assert.equal((await runCli(['verify', '--witness-key', witnessKey], { env })).code, 1);
    });

    it('tells the operator why a witness refused a forked log (exit 1) and cosigns nothing for it', async () => {
      const { env, home, url, witnessKey, witnessHome } = await ledgerWithWitness();
      assert.equal((await append(env, 'a', 5)).code, 0);
      // Copies of the home taken now: same key, same signer state, same store — each grows its own branch.
      const snapshot = mkdtempSync(join(tmpdir(), 'rl-fork-'));
      cpSync(home, snapshot, { recursive: true });
      const forkOf = async (n: number): Promise<Record<string, string>> => {
        const copy = mkdtempSync(join(tmpdir(), 'rl-fork-'));
        cpSync(snapshot, copy, { recursive: true });
        const forkEnv = { RUNLEDGER_HOME: copy };
        assert.equal((await append(forkEnv, 'evil', n)).code, 0);
        return forkEnv;
      };
      assert.equal((await append(env, 'b', 4)).code, 0);
      assert.equal((await runCli(['checkpoint', '--witness', url], { env })).code, 0);
      // A fork of exactly the witnessed size: same size, another root (409 twice, the second from its size).
      const sameSize = await runCli(['checkpoint', '--witness', url], { env: await forkOf(4) });
      assert.equal(sameSize.code, 1, sameSize.stderr);
      assert.match(sameSize.stderr, /refused checkpoint 9: it has cosigned a different tree of the same size 9 \(the log forked\)/);
      // The fork grows past the witnessed size: the witness's proof check fails (422).
      const refused = await runCli(['checkpoint', '--witness', url, '--witness-key', witnessKey], { env: await forkOf(6) });
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /^runledger: witness http:\/\/127\.0\.0\.1:\d+ refused checkpoint 11: the checkpoint of size 11 is not consistent with the checkpoint of size 9 this witness cosigned/);
      assert.equal(refused.stderr.trim().split('\n').length, 1, 'one sentence');
      assert.equal(readdirSync(join(witnessHome, 'evidence')).length, 2, 'both refused requests are kept');
      // A fork smaller than what the witness saw (a rolled-back store).
      const behind = await runCli(['checkpoint', '--witness', url], { env: await forkOf(1) });
      assert.equal(behind.code, 1, behind.stderr);
      assert.match(behind.stderr, /refused checkpoint 6: it has already cosigned a checkpoint of this log with 9 leaves, more than this one has/);
    });
  });
});
