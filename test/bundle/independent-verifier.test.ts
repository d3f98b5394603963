// docs/verify_bundle.py is an independent verifier written only from docs/bundle-format.md,
// docs/integrity.md, docs/governance.md and docs/events.md. These tests re-run the independent-verifier
// experiment: it must accept every genuine bundle runledger exports (whatever numbers they hold) and
// reject, with the same exit code, check and section, every tampered bundle `verify-bundle` rejects.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PYTHON } from '../support/python.js';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { exportBundle, verifyBundle } from '../../src/bundle/bundle.js';
import { encodeBundle, readBundle, type BundleSections } from '../../src/bundle/format.js';
import { InputError } from '../../src/errors.js';
import { canonicalBytes, canonicalize } from '../../src/integrity/canonical.js';
import { formatCheckpoint, openCheckpoint, signCheckpoint } from '../../src/integrity/checkpoint.js';
import { generateNoteKey, parseSignerKey, parseVerifierKey, signNote } from '../../src/integrity/note.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { approvePlan, failRun, recordFinding, recordStage } from '../../src/governance/recorder.js';
import { freshHome, repoRoot, runCli } from '../support/cli.js';
import { completedRun, openTestLedger, smallPlanText, type TestLedger } from '../governance/fixture.js';

const SCRIPT = join(repoRoot, 'docs', 'verify_bundle.py');
const dir = mkdtempSync(join(tmpdir(), 'runledger-pyverify-'));

/** Numbers Python's json module writes differently from RFC 8785 (ECMAScript Number::toString). */
const NUMBER_ZOO_CONFIG =
  '{"tiny": 1e-7, "small": 1.5e-7, "micro": 0.000001, "below": 9.99e-7, "neg": -2.5e-8, "negzero": -0, "negzerof": -0.0, ' +
  '"e20": 1e20, "e21": 1e21, "e21int": 1000000000000000000000, "bigint": 12345678901234567890, "huge": 1.2345e300, ' +
  '"max": 1.7976931348623157e308, "denormal": 5e-324, "third": 0.3333333333333333, "sum": 0.30000000000000004, "whole": 100.0}';

function numberZooPlan(): string {
  return ['governance:', '  name: numbers', '  approver: alice', `  config: ${NUMBER_ZOO_CONFIG}`, 'execution:', '  stages:', '    - id: a', ''].join('\n');
}

interface PyResult {
  code: 0 | 1 | 2;
  check?: string;
  section?: string;
  message?: string;
}

/** Runs docs/verify_bundle.py (as a module) over many bundles in one process. */
function pyVerifyAll(cases: { bytes: Buffer; keys: string[] }[]): PyResult[] {
  const input = join(dir, `cases-${Date.now()}.json`);
  writeFileSync(input, JSON.stringify(cases.map((c) => ({ b64: c.bytes.toString('base64'), keys: c.keys }))));
  const driver = [
    'import base64, json, sys',
    `sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'docs'))})`,
    'import verify_bundle as v',
    'out = []',
    'for c in json.load(open(sys.argv[1])):',
    '    try:',
    '        v.verify(base64.b64decode(c["b64"]), c["keys"]); out.append({"code": 0})',
    '    except v.Fail as e: out.append({"code": 1, "check": e.check, "section": e.section, "message": str(e)})',
    '    except v.NotABundle as e: out.append({"code": 2, "message": str(e)})',
    'print(json.dumps(out))',
  ].join('\n');
  const res = spawnSync(PYTHON, ['-c', driver, input], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(res.status, 0, res.stderr);
  return JSON.parse(res.stdout) as PyResult[];
}

/** What runledger's verify-bundle says, in the same terms. */
function runledgerVerdict(bytes: Buffer, keys: string[]): PyResult {
  try {
    const report = verifyBundle(bytes, keys);
    if (report.ok) return { code: 0 };
    return { code: 1, check: report.firstDivergence!.check, section: report.firstDivergence!.section!, message: report.firstDivergence!.message };
  } catch (err) {
    if (err instanceof InputError) return { code: 2, message: err.message };
    throw err;
  }
}

function assertAgreement(label: string, cases: { name: string; bytes: Buffer; keys: string[] }[]): number {
  const py = pyVerifyAll(cases);
  const disagreements: string[] = [];
  let rejected = 0;
  cases.forEach((c, i) => {
    const ours = runledgerVerdict(c.bytes, c.keys);
    const theirs = py[i]!;
    if (ours.code !== 0) rejected++;
    const same = ours.code === theirs.code && (ours.code !== 1 || (ours.check === theirs.check && ours.section === theirs.section));
    if (!same) disagreements.push(`${c.name}: runledger ${ours.code} ${ours.check ?? ''} [${ours.section ?? ''}] ${ours.message ?? ''} / docs verifier ${theirs.code} ${theirs.message ?? ''}`);
  });
  assert.deepEqual(disagreements.slice(0, 10), [], `${label}: ${disagreements.length} of ${cases.length} disagree`);
  assert.ok(rejected > 0 || cases.length === 0);
  return rejected;
}

describe('the independent bundle verifier (docs/verify_bundle.py, written from the docs alone)', function () {
  this.timeout(300_000);
  let ledger: TestLedger;
  let key: string;
  const genuine = new Map<string, Buffer>();

  before(async function () {
    const probe = spawnSync(PYTHON, ['-c', 'import cryptography, jsonschema'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.log('    skipped: needs python3 with the "cryptography" and "jsonschema" packages (pip install cryptography jsonschema)');
      this.skip();
    }
    ledger = await openTestLedger();
    key = ledger.verifierKey;
    await completedRun(ledger.store, 'r1');
    await recordFinding(ledger.store, { runId: 'r1', severity: 'soft', check: 'budget.maxWallMs', message: 'slow', subject: 'stage:train', details: { limit: 1e21, took: 1e-7 } });
    const small = parsePlan(smallPlanText());
    await approvePlan(ledger.store, small, 'r2');
    await recordStage(ledger.store, 'r2', 'a', 'start');
    await recordStage(ledger.store, 'r2', 'a', 'fail', { reason: 'out of memory', wallMs: 2.5e-7 });
    await approvePlan(ledger.store, small, 'tiny');
    await approvePlan(ledger.store, small, 'ended');
    await failRun(ledger.store, 'ended', 'executor lost');
    await approvePlan(ledger.store, parsePlan(numberZooPlan()), 'numbers');
    await recordStage(ledger.store, 'numbers', 'a', 'start');
    await recordStage(ledger.store, 'numbers', 'a', 'complete', { wallMs: 1e-7, memoryDeltaBytes: -0, throughput: 1e21 });
    await ledger.checkpoint();
    for (const run of ['r1', 'r2', 'tiny', 'ended', 'numbers']) genuine.set(run, (await exportBundle(ledger.store, run, [key])).bundle);
  });
  after(async () => {
    await ledger?.close();
  });

  it('writes every number exactly as RFC 8785 does (ECMAScript Number::toString; property test)', () => {
    const numbers = fc.sample(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(Number)), 5000);
    const edge = [0, -0, 1e-7, 1e-6, Number('9.999999999999999e-7'), 1e20, 1e21, Number('999999999999999900000'), 5e-324, -5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2, 0.1 + 0.2];
    const texts = [...edge, ...numbers].map((n) => canonicalize(n));
    const values = fc
      .sample(fc.jsonValue({ maxDepth: 4 }), 1000)
      .map((v) => canonicalize(v))
      .filter((t) => !/\\ud[89a-f]/i.test(t)); // unpaired surrogates are refused, not written (RFC 8785 §3.2.2.2)
    const file = join(dir, 'texts.json');
    writeFileSync(file, JSON.stringify([...texts, ...values]));
    const driver = [
      'import json, sys',
      `sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'docs'))})`,
      'from verify_bundle import jcs_text',
      'bad = [t for t in json.load(open(sys.argv[1])) if jcs_text(json.loads(t)) != t]',
      'print(json.dumps(bad[:5])); sys.exit(1 if bad else 0)',
    ].join('\n');
    const res = spawnSync(PYTHON, ['-c', driver, file], { encoding: 'utf8' });
    assert.equal(res.status, 0, `texts the docs verifier writes differently: ${res.stdout}${res.stderr}`);
  });

  it('accepts every genuine bundle, numbers such as 1e-7, 1e+21, -0 and 12345678901234567890 included (CLI)', async () => {
    const numbers = readBundle(genuine.get('numbers')!).sections.plans.toString('utf8');
    for (const written of ['"tiny":1e-7', '"e21":1e+21', '"negzero":0', '"bigint":12345678901234567000', '"denormal":5e-324', '"whole":100', '"below":9.99e-7']) {
      assert.ok(numbers.includes(written), `the plans section does not contain ${written}`);
    }
    for (const [run, bundle] of genuine) {
      const file = join(dir, `${run}.bundle`);
      writeFileSync(file, bundle);
      const res = spawnSync(PYTHON, [SCRIPT, file, key], { encoding: 'utf8' });
      assert.equal(res.status, 0, `${run}: ${res.stdout}${res.stderr}`);
      assert.match(res.stdout, new RegExp(`independent verifier: OK ${run} `));
      assert.doesNotMatch(res.stdout, /NOT CHECKED/, 'a run without training events has nothing R6 applies to');
    }
  });

  it('accepts a real training run (every training event type, checked against the docs/events.md schemas)', async () => {
    const home = freshHome('runledger-pytrain-');
    const env = { RUNLEDGER_HOME: home };
    for (const args of [['init'], ['train', '--plan', join(repoRoot, 'docs', 'examples', 'train.yaml'), '--run', 't1', '--backend', 'cpu'], ['checkpoint'], ['export', 't1', '--out', join(home, 't1.bundle')]]) {
      const res = await runCli(args, { env });
      assert.equal(res.code, 0, `${args[0]}: ${res.stderr}`);
    }
    const vkey = (await runCli(['keys', 'show'], { env })).stdout.trim();
    const bundle = readFileSync(join(home, 't1.bundle'));
    const types = new Set(readBundle(bundle).sections.events.toString('utf8').split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { type: string }).type));
    for (const t of ['TrainingStarted', 'TelemetrySample', 'CheckpointWritten', 'TrainingCompleted', 'RunEnvironmentRecorded']) assert.ok(types.has(t), `no ${t}`);
    const res = spawnSync(PYTHON, [SCRIPT, join(home, 't1.bundle'), vkey], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stdout + res.stderr);
    // It does not check R6 (worker signatures among them), and its OK says so rather than vouch for them.
    assert.match(res.stdout, /independent verifier: OK t1 \d+ events, size \d+; NOT CHECKED: rule R6 \(training events: worker signatures, stages, final checkpoint\) of \d+ training events/);
    // The schema step is real: one value out of its schema's range fails it.
    const s = readBundle(bundle).sections;
    const tampered = s.events.toString('utf8').replace(/"testAccuracy":[0-9.e-]+/, '"testAccuracy":2');
    const [py] = pyVerifyAll([{ bytes: encodeBundle({ ...s, events: Buffer.from(tampered) }), keys: [vkey] }]);
    assert.equal(py!.code, 1);
  });

  it('agrees with verify-bundle on every single-byte change of a bundle (exit code, check and section)', () => {
    const base = genuine.get('tiny')!;
    const cases = [];
    for (let at = 0; at < base.length; at++) {
      const bytes = Buffer.from(base);
      bytes[at]! ^= at % 3 === 0 ? 0x01 : at % 3 === 1 ? 0x02 : 0x80;
      cases.push({ name: `byte ${at}`, bytes, keys: [key] });
    }
    assertAgreement('byte changes', cases);
  });

  it('agrees with verify-bundle on forgeries whose digests are all recomputed', () => {
    const cases: { name: string; bytes: Buffer; keys: string[] }[] = [];
    const add = (name: string, bytes: Buffer, keys = [key]): void => {
      cases.push({ name, bytes, keys });
    };
    for (const [run, bundle] of genuine) {
      const s = readBundle(bundle).sections;
      const with_ = (change: Partial<BundleSections>): Buffer => encodeBundle({ ...s, ...change });
      const manifest = JSON.parse(s.manifest.toString('utf8')) as Record<string, unknown>;
      const mutate = (path: string[], value: unknown): Buffer => {
        const copy = structuredClone(manifest);
        let at = copy as Record<string, unknown>;
        for (const p of path.slice(0, -1)) at = at[p] as Record<string, unknown>;
        at[path.at(-1)!] = value;
        return with_({ manifest: canonicalBytes(copy) });
      };
      add(`${run}: genuine`, bundle);
      for (const [path, value] of [
        [['status'], manifest.status === 'completed' ? 'failed' : 'completed'], [['status'], 'approved'], [['approver'], 'mallory'], [['runId'], 'other'], [['stream'], 'run-other'],
        [['plans', 'governance'], '0'.repeat(64)], [['seeds', 'named'], { x: 1 }], [['seeds', 'training'], 7], [['training'], {}],
        [['environment'], { host: 'x' }], [['eventCount'], 99], [['streamHead', 'revision'], 0], [['streamHead', 'leafHash'], '1'.repeat(64)],
        [['checkpoint', 'size'], 1], [['checkpoint', 'root'], '2'.repeat(64)], [['checkpoint', 'origin'], 'elsewhere'],
        [['checkpoint', 'note'], 'x'], [['projections', 'runState'], '3'.repeat(64)], [['format'], 'runledger.replay-manifest/2'], [['extra'], 1],
      ] as [string[], unknown][]) {
        add(`${run}: manifest ${path.join('.')}`, mutate(path, value));
      }
      add(`${run}: manifest with whitespace`, with_({ manifest: Buffer.from(JSON.stringify(manifest, null, 1)) }));
      const plans = JSON.parse(s.plans.toString('utf8')) as { governance: { approver: string } };
      add(`${run}: plans approver`, with_({ plans: canonicalBytes({ ...plans, governance: { ...plans.governance, approver: 'mallory' } }) }));
      add(`${run}: plans not canonical`, with_({ plans: Buffer.from(JSON.stringify(plans, null, 1)) }));
      const lines = s.events.toString('utf8').split('\n').slice(0, -1);
      const proofs = JSON.parse(s.proofs.toString('utf8')) as { index: number; proof: string[] }[];
      const events = (ls: string[]): Buffer => Buffer.from(ls.map((l) => `${l}\n`).join(''));
      add(`${run}: events swapped`, with_({ events: events([lines[1]!, lines[0]!, ...lines.slice(2)]) }));
      add(`${run}: last event dropped`, with_({ events: events(lines.slice(0, -1)), proofs: canonicalBytes(proofs.slice(0, -1)) }));
      add(`${run}: first event dropped`, with_({ events: events(lines.slice(1)), proofs: canonicalBytes(proofs.slice(1)) }));
      add(`${run}: event duplicated`, with_({ events: events([...lines, lines.at(-1)!]), proofs: canonicalBytes([...proofs, proofs.at(-1)]) }));
      add(`${run}: event re-serialized with spaces`, with_({ events: events([JSON.stringify(JSON.parse(lines[0]!), null, 0).replace('{', '{ '), ...lines.slice(1)]) }));
      add(`${run}: event id uppercased`, with_({ events: events([lines[0]!.replace(/"id":"([0-9a-f-]+)"/, (_, id: string) => `"id":"${id.toUpperCase()}"`), ...lines.slice(1)]) }));
      add(`${run}: recordedAt as +00:00`, with_({ events: events([lines[0]!.replace(/"recordedAt":"([^"]+)Z"/, '"recordedAt":"$1+00:00"'), ...lines.slice(1)]) }));
      add(`${run}: events empty`, with_({ events: Buffer.alloc(0), proofs: Buffer.from('[]') }));
      add(`${run}: proof hash`, with_({ proofs: canonicalBytes(proofs.map((p, i) => (i === 0 ? { ...p, proof: ['0'.repeat(64), ...p.proof.slice(1)] } : p))) }));
      add(`${run}: proof index`, with_({ proofs: canonicalBytes(proofs.map((p, i) => (i === 0 ? { ...p, index: p.index + 1 } : p))) }));
      add(`${run}: proof entry extra member`, with_({ proofs: canonicalBytes(proofs.map((p, i) => (i === 0 ? { ...p, size: 1 } : p))) }));
      add(`${run}: proofs short`, with_({ proofs: canonicalBytes(proofs.slice(1)) }));
      const note = s.checkpoint.toString('utf8');
      const cp = openCheckpoint(note, [key]);
      const vk = parseVerifierKey(key);
      const id = Buffer.alloc(4);
      id.writeUInt32BE(vk.keyId, 0);
      const withNote = (n: string): Buffer => {
        const m = structuredClone(manifest) as { checkpoint: { note: string } };
        m.checkpoint.note = n;
        return with_({ checkpoint: Buffer.from(n), manifest: canonicalBytes(m) });
      };
      add(`${run}: checkpoint garbage second signature`, withNote(`${note}\u2014 ${vk.name} ${Buffer.concat([id, Buffer.alloc(64, 1)]).toString('base64')}\n`));
      const forger = generateNoteKey(cp.origin);
      const resigned = signCheckpoint(cp.origin, cp.size, cp.root, parseSignerKey(forger.signerKey));
      add(`${run}: checkpoint re-signed by another key`, withNote(resigned));
      add(`${run}: re-signed, verified with the forger's key`, withNote(resigned), [forger.verifierKey]);
      add(`${run}: checkpoint extension line added`, withNote(note.replace(/\n\n/, '\nextension\n\n')));
      // Extension lines are allowed and ignored (C2SP tlog-checkpoint): signed with one, the bundle verifies.
      const extended = signNote(formatCheckpoint(cp.origin, cp.size, cp.root, ['opaque extension']), [parseSignerKey(forger.signerKey)]);
      add(`${run}: signed with an extension line, verified with that key`, withNote(extended), [forger.verifierKey]);
      add(`${run}: checkpoint size changed`, withNote(note.replace(`\n${cp.size}\n`, `\n${cp.size + 1}\n`)));
      add(`${run}: not a key`, bundle, ['not a key']);
    }
    const rejected = assertAgreement('forgeries', cases);
    // Accepted: the genuine bundles and the re-signed ones checked under the forger's own key;
    // everything else is rejected by both.
    assert.equal(cases.length - rejected, genuine.size * 3);
  });

  it('cannot check projections.runSummary, as docs/bundle-format.md says (runledger can)', () => {
    const s = readBundle(genuine.get('r1')!).sections;
    const manifest = JSON.parse(s.manifest.toString('utf8')) as { projections: { runSummary: string } };
    manifest.projections.runSummary = '4'.repeat(64);
    const bytes = encodeBundle({ ...s, manifest: canonicalBytes(manifest) });
    assert.equal(runledgerVerdict(bytes, [key]).code, 1);
    assert.equal(pyVerifyAll([{ bytes, keys: [key] }])[0]!.code, 0);
  });
});
