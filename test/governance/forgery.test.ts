// Forged training results, as an attacker with write access would try them, against real trained
// runs: run a (completed) and run b (stopped after epoch 2, its train stage still running). Through
// `runledger append` every forgery is refused with exit 2 and nothing is written; written straight
// into the SQLite file with every hash right, replay names it (exit 1), and retrain, export, gate and
// verify-bundle refuse to vouch for the run. (Kafka ingest: test/kafka/ingest.test.ts.)
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProposedEvent } from '../../events/envelope.js';
import type { GovernancePlanApprovedData } from '../../events/governance.js';
import type { CheckpointWritten, TrainingCompleted } from '../../events/training.js';
import { encodeBundle, readBundle } from '../../src/bundle/format.js';
import { verifyBundle } from '../../src/bundle/bundle.js';
import { createCheckpoint } from '../../src/ledger/checkpoint.js';
import { loadVerifierKey } from '../../src/ledger/keys.js';
import { loadLedgerSigner } from '../../src/ledger/signer-state.js';
import { requireOrigin } from '../../src/ledger/origin.js';
import { replayRun } from '../../src/replay/replay.js';
import { homeWorkerKeys, signEvent } from '../../src/ledger/worker-keys.js';
import { freshHome, repoRoot, runCli, type CliResult } from '../support/cli.js';
import { forgeIntoSqlite, forgeries, withStore, type RunFacts } from '../support/forge.js';

const PLAN = join(repoRoot, 'docs', 'examples', 'train.yaml');
const homes: string[] = [];

function cli(home: string, args: string[], input?: string): Promise<CliResult> {
  return runCli(['--home', home, ...args], { env: { RUNLEDGER_HOME: undefined, RUNLEDGER_STORE: undefined, CI: '1' }, ...(input !== undefined ? { input } : {}) });
}

function copyHome(from: string): string {
  const to = freshHome('runledger-forged-');
  homes.push(to);
  cpSync(from, to, { recursive: true });
  return to;
}

async function facts(home: string, runId: string): Promise<RunFacts & { revision: number }> {
  return withStore(home, async (store) => {
    const events = (await store.readStream(`run-${runId}`)).map((e) => e.envelope);
    const approval = events[0]!.data as GovernancePlanApprovedData;
    const last = events.filter((e) => e.type === 'CheckpointWritten').at(-1)!.data as CheckpointWritten;
    return { runId, trustedKey: approval.workerKeys[0]!, checkpoint: last, revision: events.length - 1 };
  });
}

const line = (runId: string, event: ProposedEvent): string => `${JSON.stringify({ stream: `run-${runId}`, ...event })}\n`;

/** Signs a ledger checkpoint over the (forged) store, as an honest operator's routine `runledger checkpoint` would. */
async function checkpoint(home: string): Promise<void> {
  await withStore(home, async (store) => void (await createCheckpoint(store, loadLedgerSigner(home), await requireOrigin(store))));
}

describe('forged training results (adversarial, real trained runs)', function () {
  this.timeout(600_000);
  let base: string;

  before(async () => {
    base = freshHome('runledger-forgery-');
    homes.push(base);
    assert.equal((await cli(base, ['init'])).code, 0);
    const a = await cli(base, ['train', '--plan', PLAN, '--run', 'a', '--backend', 'cpu', '--json']);
    assert.equal(a.code, 0, a.stderr);
    const b = await cli(base, ['train', '--plan', PLAN, '--run', 'b', '--backend', 'cpu', '--stop-after-epoch', '2', '--json']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal((await cli(base, ['checkpoint'])).code, 0);
  });
  after(() => homes.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('acceptance: a TrainingCompleted with testAccuracy 1 appended to completed run a is refused (exit 2); written by SQL, replay a exits 1 naming it', async () => {
    const home = copyHome(base);
    const a = await facts(home, 'a');
    const forged = forgeries(a).find((f) => f.event.type === 'TrainingCompleted')!.event;
    const appended = await cli(home, ['append', '-'], line('a', forged));
    assert.equal(appended.code, 2, appended.stderr);
    assert.match(appended.stderr, /^runledger: stdin line 1: run a has already completed; only AuditFinding may follow its end; nothing was recorded \(rule run-ended\)\n$/);
    assert.equal((await facts(home, 'a')).revision, a.revision, 'nothing was written');

    const id = forgeIntoSqlite(join(home, 'ledger.db'), 'run-a', forged);
    assert.equal((await cli(home, ['checkpoint'])).code, 0);
    const replay = await cli(home, ['replay', 'a', '--json']);
    assert.equal(replay.code, 1, replay.stdout + replay.stderr);
    const divergence = (JSON.parse(replay.stdout) as { firstDivergence: { check: string; rule: string; eventId: string; type: string; revision: number } }).firstDivergence;
    assert.deepEqual([divergence.check, divergence.rule, divergence.eventId, divergence.type, divergence.revision], ['write-rule', 'run-ended', id, 'TrainingCompleted', a.revision + 1]);
    const text = await cli(home, ['replay', 'a']);
    assert.match(text.stdout, new RegExp(`check: {4}write-rule[\\s\\S]*TrainingCompleted ${id}, stream run-a revision ${a.revision + 1}`));
  });

  for (const runId of ['a', 'b']) {
    const state = runId === 'a' ? 'completed' : 'running';
    const rule = runId === 'a' ? 'run-ended' : 'worker-signature';

    it(`runledger append refuses every forged training event type on ${state} run ${runId} (exit 2, rule ${rule}) and writes nothing`, async () => {
      const run = await facts(base, runId);
      const home = copyHome(base);
      for (const forgery of forgeries(run)) {
        const res = await cli(home, ['append', '-'], line(runId, forgery.event));
        assert.equal(res.code, 2, `${forgery.label}: ${res.stderr}`);
        assert.match(res.stderr, new RegExp(`^runledger: stdin line 1: .*\\(rule ${rule}\\)\\n$`), forgery.label);
      }
      assert.equal((await facts(home, runId)).revision, run.revision, 'nothing was written');
    });

    it(`replay names each forged training event type written straight into SQLite on ${state} run ${runId} (check write-rule, rule ${rule})`, async () => {
      const run = await facts(base, runId);
      for (const forgery of forgeries(run)) {
        const home = copyHome(base);
        const id = forgeIntoSqlite(join(home, 'ledger.db'), `run-${runId}`, forgery.event);
        await checkpoint(home);
        const result = await withStore(home, (store) => replayRun(store, runId, { verifierKeys: [loadVerifierKey(home)] }));
        assert.equal(result.ok, false, forgery.label);
        const d = result.firstDivergence!;
        assert.deepEqual([d.check, d.rule, d.eventId, d.revision], ['write-rule', rule, id, run.revision + 1], `${forgery.label}: ${d.message}`);
      }
    });
  }

  it('a holder of the trusted worker key still cannot report metrics or a final checkpoint other than the last signed one (final-checkpoint)', async () => {
    const home = copyHome(base);
    const b = await facts(home, 'b');
    const key = homeWorkerKeys(home);
    const completed = (over: Partial<TrainingCompleted>): ProposedEvent => ({
      type: 'TrainingCompleted',
      data: signEvent<TrainingCompleted>(key.signer, 'TrainingCompleted', {
        runId: 'b',
        stageId: 'train',
        epochs: b.checkpoint.epoch,
        steps: b.checkpoint.step,
        finalCheckpoint: b.checkpoint.digest,
        metrics: b.checkpoint.metrics,
        wallMs: 1,
        ...over,
      }) as unknown as Record<string, unknown>,
    });
    const better = await cli(home, ['append', '-'], line('b', completed({ metrics: { ...b.checkpoint.metrics, testAccuracy: 1 } })));
    assert.equal(better.code, 2);
    assert.match(better.stderr, /but its checkpoint's signed metrics are .*\(rule final-checkpoint\)/);
    const other = await cli(home, ['append', '-'], line('b', completed({ finalCheckpoint: 'e'.repeat(64) })));
    assert.equal(other.code, 2);
    assert.match(other.stderr, /not the run's last checkpoint .*\(rule final-checkpoint\)/);
    assert.equal((await facts(home, 'b')).revision, b.revision);
  });

  it('a genuine CheckpointWritten with its metrics swapped no longer verifies: the signature binds them (worker-signature)', async () => {
    const home = copyHome(base);
    const b = await facts(home, 'b');
    const genuine = await withStore(home, async (store) => (await store.readStream('run-b')).map((e) => e.envelope).filter((e) => e.type === 'CheckpointWritten').at(-1)!);
    // Only the metrics change: the signature is checked before the checkpoint's order, so nothing else can refuse it.
    const swapped = { type: 'CheckpointWritten', data: { ...genuine.data, metrics: { ...b.checkpoint.metrics, testAccuracy: 1 } } };
    const res = await cli(home, ['append', '-'], line('b', swapped));
    assert.equal(res.code, 2);
    assert.match(res.stderr, /signature that does not verify .*\(rule worker-signature\)/);
  });

  it('retrain, export and gate refuse a run forged in SQLite, naming it; a bundle made before still verifies, one built around the forgery does not', async () => {
    const home = copyHome(base);
    const before = join(home, 'a-before.bundle');
    assert.equal((await cli(home, ['export', 'a', '--out', before])).code, 0);
    const a = await facts(home, 'a');
    const forged = forgeries(a).find((f) => f.event.type === 'TrainingCompleted')!.event;
    const id = forgeIntoSqlite(join(home, 'ledger.db'), 'run-a', forged);

    // Each signs a checkpoint first when the run is not covered, then replays it: the forgery is named.
    const retrain = await cli(home, ['retrain', 'a', '--no-record']);
    assert.equal(retrain.code, 1, retrain.stdout + retrain.stderr);
    assert.match(retrain.stderr, new RegExp(`run a failed replay \\(check write-rule\\), so it is not re-executed: Event ${id} \\(TrainingCompleted`));
    const gate = await cli(home, ['gate', '--baseline', 'a', '--candidate', 'a']);
    assert.equal(gate.code, 1, gate.stdout + gate.stderr);
    assert.match(gate.stderr, new RegExp(`run a does not verify \\(check write-rule\\), so the gate uses none of its metrics: Event ${id}`));
    const exported = await cli(home, ['export', 'a', '--out', join(home, 'a-after.bundle')]);
    assert.equal(exported.code, 1);
    assert.match(exported.stderr, new RegExp(`run a does not verify, so no bundle was written: Event ${id}`));

    // The bundle exported before the forgery is genuine: it verifies and shows the real metrics only.
    const vkey = loadVerifierKey(home);
    const genuine = readFileSync(before);
    const ok = await cli(home, ['verify-bundle', before, '--key', vkey, '--json']);
    assert.equal(ok.code, 0, ok.stdout);
    assert.ok(!genuine.toString('utf8').includes(id));

    // A bundle an attacker assembles around the forged event (with the genuine manifest and a real checkpoint) fails on it.
    const replay = await withStore(home, (store) => replayRun(store, 'a', { verifierKeys: [vkey] }));
    const sections = readBundle(genuine).sections;
    const forgedBundle = encodeBundle({
      ...sections,
      checkpoint: Buffer.from(replay.checkpoint!.note, 'utf8'),
      events: Buffer.concat(replay.evidence.flatMap((e) => [e.canonical, Buffer.from('\n')])),
      proofs: Buffer.from(JSON.stringify(replay.evidence.map((e) => ({ index: e.index, proof: (e.proof ?? []).map((p) => p.toString('hex')) })))),
    });
    const report = verifyBundle(forgedBundle, [vkey]);
    assert.equal(report.ok, false);
    assert.deepEqual([report.firstDivergence?.check, report.firstDivergence?.rule, report.firstDivergence?.eventId], ['write-rule', 'run-ended', id]);
    const file = join(home, 'forged.bundle');
    writeFileSync(file, forgedBundle);
    const cliReport = await cli(home, ['verify-bundle', file, '--key', vkey]);
    assert.equal(cliReport.code, 1);
    assert.match(cliReport.stdout, /check: {4}write-rule/);
  });
});
