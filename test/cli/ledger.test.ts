// The ledger core as a user drives it: init, append, checkpoint, verify, proofs, bad input, tampering.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freshHome, runCli } from '../support/cli.js';
import { openCheckpoint } from '../../src/integrity/checkpoint.js';
import { verifyConsistency, verifyInclusion } from '../../src/integrity/proof.js';

const N = 5000;
const sampleInput = Array.from({ length: N }, (_, i) => JSON.stringify({ stream: `s-${i % 50}`, type: 'custom.sample', data: { i } })).join('\n');

function parse<T = Record<string, unknown>>(stdout: string): T {
  return JSON.parse(stdout) as T;
}

describe('runledger ledger commands (end to end)', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string>;
  let vkey: string;

  before(async () => {
    home = freshHome();
    env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: '' };
    delete (env as Record<string, string | undefined>).RUNLEDGER_STORE;
  });

  it('init creates the store and a 0600 signing key, prints the vkey, and is idempotent', async () => {
    const first = await runCli(['init', '--json'], { env });
    assert.equal(first.code, 0, first.stderr);
    const report = parse<{ verifierKey: string; keyCreated: boolean; origin: string }>(first.stdout);
    assert.match(report.verifierKey, /^runledger\.local\/[0-9a-f-]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
    assert.equal(report.keyCreated, true);
    assert.equal(statSync(join(home, 'keys', 'signing.key')).mode & 0o777, 0o600);
    const again = await runCli(['init', '--json'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(parse<{ verifierKey: string; keyCreated: boolean }>(again.stdout).verifierKey, report.verifierKey);
    assert.equal(parse<{ keyCreated: boolean }>(again.stdout).keyCreated, false);
    const shown = await runCli(['keys', 'show'], { env });
    assert.equal(shown.stdout.trim(), report.verifierKey);
    vkey = report.verifierKey;
  });

  it('appends 5000 NDJSON events from stdin in one all-or-nothing batch', async () => {
    const res = await runCli(['append', '-', '--json'], { env, input: sampleInput });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(parse<{ appended: number }>(res.stdout).appended, N);
    assert.equal(parse<{ streams: number }>(res.stdout).streams, 50);
    const back = await runCli(['events', '--stream', 's-7', '--json'], { env });
    const events = parse<{ count: number; events: { revision: number; data: { i: number } }[] }>(back.stdout);
    assert.equal(events.count, N / 50);
    assert.deepEqual(events.events.slice(0, 3).map((e) => e.data.i), [7, 57, 107]);
    assert.deepEqual(events.events.slice(0, 3).map((e) => e.revision), [0, 1, 2]);
  });

  it('signs a checkpoint of size 5000 whose note verifies under the printed key', async () => {
    const res = await runCli(['checkpoint', '--json'], { env });
    assert.equal(res.code, 0, res.stderr);
    const cp = parse<{ size: number; root: string; note: string; created: boolean }>(res.stdout);
    assert.equal(cp.size, N);
    assert.equal(cp.created, true);
    const opened = openCheckpoint(cp.note, [vkey]);
    assert.equal(opened.size, N);
    assert.equal(Buffer.from(opened.root).toString('hex'), cp.root);
  });

  it('verifies the whole log', async () => {
    const res = await runCli(['verify', '--json'], { env });
    assert.equal(res.code, 0, res.stderr + res.stdout);
    const report = parse<{ ok: boolean; events: number; checkpoints: number }>(res.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.events, N);
    assert.equal(report.checkpoints, 1);
  });

  it('prints inclusion and consistency proofs that verify independently', async () => {
    const inc = await runCli(['proof', 'inclusion', '--index', '1234', '--size', String(N), '--json'], { env });
    assert.equal(inc.code, 0, inc.stderr);
    const p = parse<{ index: number; size: number; leafHash: string; root: string; proof: string[] }>(inc.stdout);
    const hex = (h: string) => Buffer.from(h, 'hex');
    verifyInclusion(p.index, p.size, hex(p.leafHash), p.proof.map(hex), hex(p.root));
    assert.throws(() => verifyInclusion(p.index + 1, p.size, hex(p.leafHash), p.proof.map(hex), hex(p.root)));

    // A second batch and checkpoint, then prove 1000 ⊑ 5000 and 5000 ⊑ 5100.
    const more = Array.from({ length: 100 }, (_, i) => JSON.stringify({ stream: 'late', type: 'custom.sample', data: { i } })).join('\n');
    assert.equal((await runCli(['append', '-'], { env, input: more })).code, 0);
    assert.equal((await runCli(['checkpoint'], { env })).code, 0);
    const con = await runCli(['proof', 'consistency', '--from', '1000', '--to', String(N), '--json'], { env });
    assert.equal(con.code, 0, con.stderr);
    const c = parse<{ from: number; to: number; fromRoot: string; toRoot: string; proof: string[] }>(con.stdout);
    verifyConsistency(c.from, c.to, hex(c.fromRoot), hex(c.toRoot), c.proof.map(hex));
    const latest = await runCli(['proof', 'consistency', '--from', String(N), '--json'], { env });
    assert.equal(parse<{ to: number }>(latest.stdout).to, N + 100);
    const verified = await runCli(['verify', '--json'], { env });
    assert.equal(parse<{ ok: boolean; checkpoints: number }>(verified.stdout).checkpoints, 2);
  });

  it('rejects malformed input with exit 2, naming the line, and writes nothing', async () => {
    const before = parse<{ count: number }>((await runCli(['events', '--json'], { env })).stdout).count;
    const bad = await runCli(['append', '-'], { env, input: '{"stream":"s","type":' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /line 1/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
    const second = await runCli(['append', '-'], {
      env,
      input: `${JSON.stringify({ stream: 'ok', type: 'custom.a', data: {} })}\n${JSON.stringify({ stream: 'ok', type: 'custom.a', data: [1] })}\n`,
    });
    assert.equal(second.code, 2);
    assert.match(second.stderr, /line 2/);
    const unknown = await runCli(['append', '-'], { env, input: JSON.stringify({ stream: 'ok', type: 'Nope', data: {} }) });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown event type "Nope"/);
    const ruled = await runCli(['append', '-'], { env, input: JSON.stringify({ stream: 'run-x', type: 'RunCompleted', data: { runId: 'x' } }) });
    assert.equal(ruled.code, 2);
    assert.match(ruled.stderr, /stdin line 1: RunCompleted events are recorded by "runledger plan approve"/);
    // An experiment is the MLflow API's: a name squatted here would be the experiment MLflow clients meet.
    for (const line of [
      { stream: 'experiment-0123456789abcdef', type: 'ExperimentCreated', data: { experimentId: '0123456789abcdef', name: 'iris', artifactLocation: 'mlflow-artifacts:/x', tags: {} } },
      { stream: 'lab-e', type: 'ExperimentRunAdded', data: { experimentId: '0123456789abcdef', runId: 'r' } },
      { stream: 'experiment-0123456789abcdef', type: 'custom.note', data: {} },
    ]) {
      const squat = await runCli(['append', '-'], { env, input: JSON.stringify(line) });
      assert.equal(squat.code, 2, squat.stderr);
      assert.match(squat.stderr, /stdin line 1: experiment events \(stream "(experiment-0123456789abcdef|lab-e)", \w+(\.\w+)?\) are recorded by the MLflow API of "runledger serve"/);
    }
    const after = parse<{ count: number }>((await runCli(['events', '--json'], { env })).stdout).count;
    assert.equal(after, before);
  });

  it('refuses a stale expectedRevision with exit 2 and writes nothing', async () => {
    const res = await runCli(['append', '-'], { env, input: JSON.stringify({ stream: 's-1', type: 'custom.sample', data: {}, expectedRevision: 3 }) });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /s-1/);
  });

  it('detects one changed byte of a stored event and names the first divergent event', async () => {
    const db = new Database(join(home, 'ledger.db'));
    const row = db.prepare('SELECT position, id, canonical FROM events WHERE stream = ? AND revision = ?').get('s-34', 24) as { position: number; id: string; canonical: Buffer };
    const tampered = Buffer.from(row.canonical);
    const at = tampered.indexOf('"i":') + 4;
    tampered[at] = tampered[at] === 0x31 ? 0x32 : 0x31; // one digit of data.i
    db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(tampered, row.position);
    db.close();
    const res = await runCli(['verify', '--json'], { env });
    assert.equal(res.code, 1, res.stderr);
    const report = parse<{ ok: boolean; firstDivergence: { index: number; stream: string; revision: number; eventId: string; message: string } }>(res.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.firstDivergence.stream, 's-34');
    assert.equal(report.firstDivergence.revision, 24);
    assert.equal(report.firstDivergence.eventId, row.id);
    assert.equal(report.firstDivergence.index, row.position);
  });

  it('detects a byte flipped in the database file itself', async () => {
    const h = freshHome();
    const e = { RUNLEDGER_HOME: h };
    assert.equal((await runCli(['init'], { env: e })).code, 0);
    const input = Array.from({ length: 50 }, (_, i) => JSON.stringify({ stream: 'f', type: 'custom.x', data: { marker: `value-${1000 + i}` } })).join('\n');
    assert.equal((await runCli(['append', '-'], { env: e, input })).code, 0);
    assert.equal((await runCli(['checkpoint'], { env: e })).code, 0);
    const file = join(h, 'ledger.db');
    const bytes = readFileSync(file);
    const at = bytes.indexOf('value-1017');
    assert.ok(at > 0, 'marker found in the database file');
    bytes[at + 9] = bytes[at + 9] === 0x37 ? 0x38 : 0x37;
    writeFileSync(file, bytes);
    const res = await runCli(['verify', '--json'], { env: e });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout + res.stderr, /revision 17|corrupt/);
  });

  it('takes an empty RUNLEDGER_ACTOR as unset, as every command does (CI expands a missing secret to "")', async () => {
    const h = freshHome();
    const e = { RUNLEDGER_HOME: h, RUNLEDGER_ACTOR: '' };
    assert.equal((await runCli(['init'], { env: e })).code, 0);
    const appended = await runCli(['append', '-'], { env: e, input: JSON.stringify({ stream: 'lab-actor', type: 'custom.x', data: { a: 1 } }) });
    assert.equal(appended.code, 0, appended.stderr);
    const named = await runCli(['append', '-'], { env: { ...e, RUNLEDGER_ACTOR: 'ci-bot' }, input: JSON.stringify({ stream: 'lab-actor', type: 'custom.x', data: { a: 2 } }) });
    assert.equal(named.code, 0, named.stderr);
    const back = await runCli(['events', '--stream', 'lab-actor', '--json'], { env: e });
    const actors = parse<{ events: { metadata: { actor: string } }[] }>(back.stdout).events.map((ev) => ev.metadata.actor);
    assert.deepEqual(actors, [userInfo().username || 'unknown', 'ci-bot']);
  });
});
