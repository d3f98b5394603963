// The run API (src/runs/run.ts) against a real embedded ledger, and as an attacker would try it:
// a param overwritten, a non-finite metric, a metric after the run ended, a forged MetricsLogged
// through `runledger append` (refused, exit 2, nothing written) and written straight into the SQLite
// file (replay exits 1 naming it). Order is checked as the store hands the events out.
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ProposedEvent } from '../../events/envelope.js';
import type { MetricsLogged, ParamsLogged } from '../../events/runs.js';
import { InputError } from '../../src/errors.js';
import { loadVerifierKey } from '../../src/ledger/keys.js';
import { homeWorkerKeys, signEvent } from '../../src/ledger/worker-keys.js';
import { replayRun } from '../../src/replay/replay.js';
import { artifactFile, logBatch, openRun, startRun, type RunApiContext } from '../../src/runs/run.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { sha256Hex } from '../../src/integrity/hasher.js';
import { signed, strangerWorker } from '../../bench/fixtures/worker-key.js';
import { freshHome, runCli, type CliResult } from '../support/cli.js';
import { forgeIntoSqlite, withStore } from '../support/forge.js';

const homes: string[] = [];
const cli = (home: string, args: string[], input?: string): Promise<CliResult> =>
  runCli(['--home', home, ...args], { env: { RUNLEDGER_HOME: undefined, RUNLEDGER_STORE: undefined, CI: '1' }, ...(input !== undefined ? { input } : {}) });
const line = (runId: string, event: ProposedEvent): string => `${JSON.stringify({ stream: `run-${runId}`, ...event })}\n`;

const types = (events: RecordedEvent[]): string[] => events.map((e) => e.envelope.type);

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('run API (src/runs)', function () {
  this.timeout(180_000);
  let home: string;
  let store: EventStore;
  let ctx: RunApiContext;

  before(async () => {
    home = freshHome('runledger-runs-api-');
    homes.push(home);
    assert.equal((await cli(home, ['init'])).code, 0);
    store = await openStore(`sqlite:${join(home, 'ledger.db')}`);
    ctx = { store, home, actor: 'alice@example.org' };
  });
  after(async () => {
    await store.close();
    homes.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });

  it('records a run from start to end in log order, with its environment, and replay verifies it', async () => {
    const run = await startRun(ctx, { runId: 'ext1', external: { name: 'pytorch-mnist' }, params: { lr: 0.01, optimizer: 'adam' }, tags: { team: 'vision' }, environment: { python: '3.12.1' } });
    await run.logMetric('loss', 0.9, { step: 0, timestamp: 1_700_000_000_000 });
    await run.logMetrics({ loss: 0.5, 'val/f1': 0.8 }, { step: 1 });
    await run.setTags({ team: 'nlp' });
    await run.deleteTag('team');
    const artifact = await run.logArtifact({ path: 'model/weights.bin', bytes: new Uint8Array([1, 2, 3]), mediaType: 'application/octet-stream' });
    await run.end();

    const events = await store.readStream('run-ext1');
    assert.deepEqual(types(events), [
      'GovernancePlanApproved',
      'ExecutionPlanRecorded',
      'StageStarted',
      'RunEnvironmentRecorded',
      'ParamsLogged',
      'TagsSet',
      'MetricsLogged',
      'MetricsLogged',
      'TagsSet',
      'TagDeleted',
      'ArtifactRecorded',
      'StageCompleted',
      'RunCompleted',
    ]);
    const approval = events[0]!.envelope.data as { workerKeys: string[]; approver: string };
    assert.deepEqual(approval.workerKeys, [homeWorkerKeys(home).publicKey], 'the approval trusts the home key and no other');
    assert.equal(approval.approver, 'alice@example.org');
    const env = events[3]!.envelope;
    assert.equal(env.schemaVersion, 3);
    assert.equal((env.data as { source: string }).source, 'typescript');
    assert.equal((env.data as { python: string }).python, '3.12.1');
    assert.deepEqual((env.data as { client: unknown }).client, { python: '3.12.1' });
    const second = events[7]!.envelope.data as MetricsLogged;
    assert.deepEqual(second.metrics.map((m) => [m.key, m.value, m.step]), [['loss', 0.5, 1], ['val/f1', 0.8, 1]]);
    assert.equal((events[6]!.envelope.data as MetricsLogged).metrics[0]!.timestamp, 1_700_000_000_000);
    assert.equal(artifact.digest, sha256Hex(new Uint8Array([1, 2, 3])));
    assert.deepEqual([...readFileSync(artifactFile(home, artifact.digest))], [1, 2, 3]);

    assert.equal((await cli(home, ['checkpoint'])).code, 0);
    const replay = await replayRun(store, 'ext1', { verifierKeys: [loadVerifierKey(home)] });
    assert.equal(replay.ok, true, replay.firstDivergence?.message);
  });

  it('keeps params write-once: the same value again writes nothing, another value is refused and writes nothing', async () => {
    const run = await startRun(ctx, { runId: 'p1', external: { name: 'params' }, params: { lr: 0.01 } });
    const before = (await store.readStream('run-p1')).length;
    await run.logParams({ lr: 0.01 });
    assert.equal((await store.readStream('run-p1')).length, before, 'an identical param is a no-op');
    await rejects(run.logParams({ lr: 0.02 }), /param lr of run p1 to 0\.02, but it was logged as 0\.01: params are write-once; nothing was recorded \(rule param-once\)/);
    await rejects(run.logParams({ lr: '0.01' }), /rule param-once/);
    // In one batch with a metric: the whole batch is refused.
    await rejects(logBatch(ctx, 'p1', { params: { lr: 1 }, metrics: [{ key: 'loss', value: 1 }] }), /rule param-once/);
    assert.equal((await store.readStream('run-p1')).length, before, 'nothing was written');
  });

  it('refuses non-finite metrics, bad names and bad steps before anything is written', async () => {
    const run = await startRun(ctx, { runId: 'm1', external: { name: 'metrics' } });
    const before = (await store.readStream('run-m1')).length;
    await rejects(run.logMetric('loss', Number.NaN), /metric loss: value NaN is not a finite number/);
    await rejects(run.logMetric('loss', Number.POSITIVE_INFINITY), /metric loss: value Infinity is not a finite number/);
    await rejects(run.logMetrics({ ok: 1, bad: -Infinity }), /metric bad: value -Infinity/);
    await rejects(run.logMetric('has space', 1), /metric 0 name "has space": must be 1 to 250 letters/);
    await rejects(run.logMetric('__proto__', 1), /must be 1 to 250/);
    await rejects(run.logMetric('loss', 1, { step: -1 }), /step -1 is not a non-negative integer/);
    await rejects(run.logMetric('loss', 1, { step: 1.5 }), /step 1\.5/);
    await rejects(logBatch(ctx, 'm1', { metrics: [{ key: 'a', value: 1 }, { key: 'b', value: Number.NaN }], tags: { x: 'y' } }), /metric b/);
    assert.equal((await store.readStream('run-m1')).length, before, 'nothing was written');
  });

  it('refuses a metric, param or tag after the run ended, through the API and through runledger append', async () => {
    const run = await startRun(ctx, { runId: 'e1', external: { name: 'ended' } });
    await run.logMetric('loss', 1);
    await run.end();
    const before = (await store.readStream('run-e1')).length;
    await rejects(run.logMetric('loss', 0.5), /run e1 has already completed; nothing more can be logged to it/);
    await rejects((await openRun(ctx, 'e1')).setTags({ a: 'b' }), /already completed/);
    const late = { type: 'MetricsLogged', data: signEvent<MetricsLogged>(homeWorkerKeys(home).signer, 'MetricsLogged', { runId: 'e1', stageId: 'train', metrics: [{ key: 'loss', value: 0, step: 9, timestamp: 1 }] }) } as ProposedEvent;
    const appended = await cli(home, ['append', '-'], line('e1', late));
    assert.equal(appended.code, 2, appended.stderr);
    assert.match(appended.stderr, /run e1 has already completed; only AuditFinding may follow its end; nothing was recorded \(rule run-ended\)/);
    assert.equal((await store.readStream('run-e1')).length, before, 'nothing was written');
  });

  it('refuses deleting a tag that is not set, and a run id that does not exist', async () => {
    const run = await startRun(ctx, { runId: 't1', external: { name: 'tags' }, tags: { a: '1' } });
    await rejects(run.deleteTag('b'), /TagDeleted deletes tag b of run t1, which is not set; nothing was recorded \(rule tag-set\)/);
    await run.deleteTag('a');
    await rejects(run.deleteTag('a'), /rule tag-set/);
    await rejects(openRun(ctx, 'nope'), /run nope does not exist/);
    await rejects(startRun(ctx, { runId: 't1', external: { name: 'tags' } }), /run t1 already exists/);
    await rejects(startRun(ctx, { runId: 'bad id', external: { name: 'x' } }), /run id/i);
  });

  it('a context keeps run heads between calls, reads only the new tail, and still sees every other writer', async () => {
    // The store as the door sees it, counting the events each readStream hands out.
    let handedOut = 0;
    const counting: EventStore = Object.create(store, {
      readStream: { value: async (...args: Parameters<EventStore['readStream']>) => {
        const events = await store.readStream(...args);
        handedOut += events.length;
        return events;
      } },
    }) as EventStore;
    const mine: RunApiContext = { store: counting, home, actor: 'alice@example.org' };
    const run = await startRun(mine, { runId: 'h1', external: { name: 'heads' } });
    for (let step = 0; step < 50; step++) await run.logMetric('loss', 1 / (step + 1), { step });
    handedOut = 0;
    await run.logMetric('loss', 0.001, { step: 50 });
    // Without kept heads each call re-reads the whole run (55 events by now).
    assert.ok(handedOut <= 1, `the 51st metric read ${handedOut} events of the run; expected at most the one appended since`);

    // Another context (a second server, another process) records a param and then fails the run:
    // the first context's kept head folds both before it decides.
    const other: RunApiContext = { store, home, actor: 'bob@example.org' };
    await (await openRun(other, 'h1')).logParams({ lr: 0.1 });
    await rejects(run.logParams({ lr: 0.2 }), /param lr of run h1 to 0\.2, but it was logged as 0\.1: params are write-once; nothing was recorded \(rule param-once\)/);
    const failed = await cli(home, ['run', 'fail', 'h1', '--reason', 'operator stopped it']);
    assert.equal(failed.code, 0, failed.stderr);
    const before = (await store.readStream('run-h1')).length;
    await rejects(run.logMetric('loss', 0.5, { step: 51 }), /run h1 has already failed; nothing more can be logged to it/);
    await rejects(logBatch(mine, 'h1', { tags: { late: 'yes' } }), /already failed/);
    assert.equal((await store.readStream('run-h1')).length, before, 'nothing was written after the other writer failed the run');
  });

  it('holds a run to the metrics its plan declares, at the door and at replay', async () => {
    const run = await startRun(ctx, { runId: 'd1', external: { name: 'declared', metrics: ['loss', 'val/f1'] } });
    await run.logMetrics({ loss: 1, 'val/f1': 0.5 });
    const before = (await store.readStream('run-d1')).length;
    await rejects(run.logMetric('accuracy', 0.9), /MetricsLogged logs metric accuracy of run d1, which its approved plan does not declare; nothing was recorded \(rule metric-declared\)/);
    assert.equal((await store.readStream('run-d1')).length, before, 'nothing was written');
    await rejects(startRun(ctx, { runId: 'd2', external: { name: 'declared', metrics: ['loss', 'loss'] } }), /names a metric twice/);
    await rejects(startRun(ctx, { runId: 'd3', external: { name: 'declared', metrics: ['has space'] } }), /must be 1 to 250/);

    // Signed by the trusted key, written straight into SQLite: replay names it.
    const copy = freshHome('runledger-runs-declared-');
    homes.push(copy);
    cpSync(home, copy, { recursive: true });
    const forged = { type: 'MetricsLogged', data: signEvent<MetricsLogged>(homeWorkerKeys(home).signer, 'MetricsLogged', { runId: 'd1', stageId: 'train', metrics: [{ key: 'accuracy', value: 1, step: 1, timestamp: 1 }] }) } as ProposedEvent;
    const id = forgeIntoSqlite(join(copy, 'ledger.db'), 'run-d1', forged);
    assert.equal((await cli(copy, ['checkpoint'])).code, 0);
    const result = await withStore(copy, (s) => replayRun(s, 'd1', { verifierKeys: [loadVerifierKey(copy)] }));
    assert.equal(result.ok, false);
    assert.deepEqual([result.firstDivergence!.check, result.firstDivergence!.rule, result.firstDivergence!.eventId], ['write-rule', 'metric-declared', id]);
  });

  describe('forged run data (adversarial)', () => {
    let base: string;
    let revision: number;

    before(async () => {
      // A running run in its own home, checkpointed, then copied per forgery.
      base = freshHome('runledger-runs-forged-');
      homes.push(base);
      assert.equal((await cli(base, ['init'])).code, 0);
      await withStore(base, async (s) => {
        const run = await startRun({ store: s, home: base, actor: 'alice' }, { runId: 'f1', external: { name: 'forged' }, params: { lr: 0.1 } });
        await run.logMetric('loss', 1);
        revision = (await s.readStream('run-f1')).length - 1;
      });
      assert.equal((await cli(base, ['checkpoint'])).code, 0);
    });

    const copy = (): string => {
      const to = freshHome('runledger-runs-forged-');
      homes.push(to);
      cpSync(base, to, { recursive: true });
      return to;
    };
    const metrics = (value: number) => ({ runId: 'f1', stageId: 'train', metrics: [{ key: 'f1', value, step: 1, timestamp: 1 }] });
    const forgeries = (): { label: string; event: ProposedEvent; rule: string }[] => [
      { label: 'unsigned MetricsLogged claiming the trusted key with signature "AAAA"', rule: 'worker-signature', event: { type: 'MetricsLogged', data: { ...metrics(0.99), publicKey: homeWorkerKeys(base).publicKey, signature: 'AAAA' } } },
      { label: 'MetricsLogged signed by an untrusted key', rule: 'worker-signature', event: { type: 'MetricsLogged', data: signed<MetricsLogged>('MetricsLogged', metrics(0.99), strangerWorker) } },
      { label: 'ParamsLogged overwriting lr, signed by the trusted key', rule: 'param-once', event: { type: 'ParamsLogged', data: signEvent<ParamsLogged>(homeWorkerKeys(base).signer, 'ParamsLogged', { runId: 'f1', stageId: 'train', params: { lr: 0.5 } }) } },
      { label: 'MetricsLogged naming a stage that is not running', rule: 'stage-running', event: { type: 'MetricsLogged', data: signEvent<MetricsLogged>(homeWorkerKeys(base).signer, 'MetricsLogged', { ...metrics(1), stageId: 'evaluate' }) } },
    ];

    it('runledger append refuses each forgery (exit 2, naming the rule) and writes nothing', async () => {
      const home = copy();
      for (const f of forgeries()) {
        const res = await cli(home, ['append', '-'], line('f1', f.event));
        assert.equal(res.code, 2, `${f.label}: ${res.stderr}`);
        assert.match(res.stderr, new RegExp(`^runledger: stdin line 1: .*\\(rule ${f.rule}\\)\\n$`), f.label);
      }
      assert.equal((await withStore(home, (s) => s.readStream('run-f1'))).length, revision + 1, 'nothing was written');
    });

    it('replay names each forgery written straight into SQLite (check write-rule), and the CLI exits 1', async () => {
      for (const [i, f] of forgeries().entries()) {
        const home = copy();
        const id = forgeIntoSqlite(join(home, 'ledger.db'), 'run-f1', f.event);
        assert.equal((await cli(home, ['checkpoint'])).code, 0);
        const result = await withStore(home, (s) => replayRun(s, 'f1', { verifierKeys: [loadVerifierKey(home)] }));
        assert.equal(result.ok, false, f.label);
        const d = result.firstDivergence!;
        assert.deepEqual([d.check, d.rule, d.eventId, d.revision], ['write-rule', f.rule, id, revision + 1], `${f.label}: ${d.message}`);
        if (i === 0) {
          const replay = await cli(home, ['replay', 'f1', '--json']);
          assert.equal(replay.code, 1, replay.stderr);
          const divergence = (JSON.parse(replay.stdout) as { firstDivergence: { type: string; eventId: string } }).firstDivergence;
          assert.deepEqual([divergence.type, divergence.eventId], ['MetricsLogged', id]);
        }
      }
    });

    it('the honest copy still verifies (the forgeries, not the fixture, fail replay)', async () => {
      const result = await withStore(base, (s) => replayRun(s, 'f1', { verifierKeys: [loadVerifierKey(base)] }));
      assert.equal(result.ok, true, result.firstDivergence?.message);
      assert.ok(existsSync(join(base, 'ledger.db')));
    });
  });
});
