// The replay verifier against a real embedded ledger: determinism, coverage, lies the recorder
// would have refused, and a tamper matrix over every governance event type.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parsePlan } from '../../src/governance/plan-file.js';
import { planHash } from '../../src/governance/plan.js';
import { approvePlan, recordFinding, recordStage, runStream } from '../../src/governance/recorder.js';
import { manifestBytes } from '../../src/replay/manifest.js';
import { replayRun } from '../../src/replay/replay.js';
import { GOVERNANCE_TYPES } from '../../events/governance.js';
import { generateNoteKey } from '../../src/integrity/note.js';
import { canonicalize } from '../../src/integrity/canonical.js';
import { completedRun, examplePlan, openTestLedger, smallPlanText, type TestLedger } from '../governance/fixture.js';

describe('replay verifier', function () {
  this.timeout(60_000);
  let ledger: TestLedger;
  beforeEach(async () => {
    ledger = await openTestLedger();
  });
  afterEach(async () => {
    await ledger.close();
  });
  const replay = (runId = 'r1', fullLog = false) => replayRun(ledger.store, runId, { verifierKeys: [ledger.verifierKey], fullLog });

  it('verifies a completed run and builds the same manifest bytes every time', async () => {
    await completedRun(ledger.store, 'r1');
    await ledger.checkpoint();
    const first = await replay();
    assert.equal(first.ok, true, first.firstDivergence?.message);
    assert.equal(first.manifest?.eventCount, 9);
    assert.equal(first.manifest?.status, 'completed');
    assert.deepEqual(first.manifest?.plans, { governance: examplePlan.governancePlanHash, execution: examplePlan.executionPlanHash });
    assert.deepEqual(first.manifest?.seeds, { named: { split: 7, init: 42 }, training: null });
    const second = await replay();
    assert.ok(manifestBytes(first.manifest!).equals(manifestBytes(second.manifest!)));
    const text = manifestBytes(first.manifest!).toString('utf8');
    assert.equal(text, canonicalize(JSON.parse(text)), 'the manifest is RFC 8785 JSON');
  });

  it('changes the manifest when the ledger grows, and records the same plan hashes in another ledger', async () => {
    await completedRun(ledger.store, 'r1');
    await ledger.checkpoint();
    const before = manifestBytes((await replay()).manifest!);
    await recordFinding(ledger.store, { runId: 'r1', severity: 'info', check: 'note', message: 'reviewed', subject: null, details: {} });
    await ledger.checkpoint();
    const after = (await replay()).manifest!;
    assert.ok(!manifestBytes(after).equals(before));

    const other = await openTestLedger();
    try {
      await completedRun(other.store, 'r1');
      await other.checkpoint();
      const there = await replayRun(other.store, 'r1', { verifierKeys: [other.verifierKey] });
      assert.deepEqual(there.manifest?.plans, after.plans);
      // A perturbed seed is a different approved plan.
      const perturbed = parsePlan(smallPlanText(43));
      await approvePlan(other.store, perturbed, 'r2');
      await approvePlan(other.store, parsePlan(smallPlanText(42)), 'r3');
      await other.checkpoint();
      const r2 = await replayRun(other.store, 'r2', { verifierKeys: [other.verifierKey] });
      const r3 = await replayRun(other.store, 'r3', { verifierKeys: [other.verifierKey] });
      assert.notEqual(r2.manifest?.plans.governance, r3.manifest?.plans.governance);
      assert.equal(r2.manifest?.plans.execution, r3.manifest?.plans.execution);
    } finally {
      await other.close();
    }
  });

  it('says to run `runledger checkpoint` when events are not covered by the latest checkpoint', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    await ledger.checkpoint();
    await recordStage(ledger.store, 'r1', 'prepare', 'start');
    const result = await replay();
    assert.equal(result.ok, false);
    assert.equal(result.firstDivergence?.check, 'inclusion');
    assert.equal(result.firstDivergence?.revision, 2);
    assert.match(result.firstDivergence?.message ?? '', /run `runledger checkpoint` first/);
  });

  it('fails when the ledger has no checkpoint, or the checkpoint is not signed by a trusted key', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    const none = await replay();
    assert.equal(none.firstDivergence?.check, 'checkpoint');
    assert.match(none.firstDivergence?.message ?? '', /no signed checkpoint/);
    await ledger.checkpoint();
    const stranger = generateNoteKey(ledger.origin).verifierKey;
    const wrongKey = await replayRun(ledger.store, 'r1', { verifierKeys: [stranger] });
    assert.equal(wrongKey.firstDivergence?.check, 'checkpoint');
    assert.match(wrongKey.firstDivergence?.message ?? '', /unknown keys/);
  });

  it('refuses to replay a run that does not exist', async () => {
    await assert.rejects(replay('ghost'), /run ghost has no events/);
  });

  describe('lies appended around the recorder are found', () => {
    beforeEach(async () => {
      await approvePlan(ledger.store, examplePlan, 'r1');
    });

    it('names a stage started before its dependency completed', async () => {
      await ledger.store.append(runStream('r1'), [{ type: 'StageStarted', data: { runId: 'r1', stageId: 'train', attempt: 1, inputs: {} } }]);
      await ledger.checkpoint();
      const d = (await replay()).firstDivergence;
      assert.equal(d?.check, 'stage-order');
      assert.equal(d?.revision, 2);
      assert.equal(d?.type, 'StageStarted');
      assert.match(d?.message ?? '', /depends on prepare, which has not completed/);
    });

    it('names a plan whose recorded hash is not the hash of its body', async () => {
      const other = await openTestLedger();
      try {
        const plan = { ...examplePlan.governance, description: 'not what was approved' };
        await other.store.append(runStream('r9'), [{ type: 'GovernancePlanApproved', data: { runId: 'r9', plan, planHash: examplePlan.governancePlanHash, approver: 'alice@example.org', workerKeys: [] } }]);
        await other.checkpoint();
        const d = (await replayRun(other.store, 'r9', { verifierKeys: [other.verifierKey] })).firstDivergence;
        assert.equal(d?.check, 'plan-parity');
        assert.equal(d?.revision, 0);
        assert.equal(d?.actual, examplePlan.governancePlanHash);
      } finally {
        await other.close();
      }
    });

    it('names a StageStarted whose data.runId names another run (write-rule, rule run-id)', async () => {
      await ledger.store.append(runStream('r1'), [{ type: 'StageStarted', data: { runId: 'r2', stageId: 'prepare', attempt: 1, inputs: {} } }]);
      await ledger.checkpoint();
      const d = (await replay()).firstDivergence;
      assert.deepEqual([d?.check, d?.rule, d?.revision, d?.expected, d?.actual], ['write-rule', 'run-id', 2, 'r1', 'r2']);
    });

    it('names an event between the approval and the execution plan: "directly after" is the next revision (write-rule, rule plan-next)', async () => {
      const other = await openTestLedger();
      try {
        const [approval, execution] = (await ledger.store.readStream(runStream('r1'))).map((e) => ({ type: e.envelope.type, data: e.envelope.data }));
        await other.store.append(runStream('r1'), [approval!, { type: 'custom.note', data: { text: 'in between' } }, execution!]);
        await other.checkpoint();
        const d = (await replayRun(other.store, 'r1', { verifierKeys: [other.verifierKey] })).firstDivergence;
        assert.deepEqual([d?.check, d?.rule, d?.revision, d?.type], ['write-rule', 'plan-next', 1, 'custom.note']);
      } finally {
        await other.close();
      }
    });

    it("names an approval whose approver is not the plan's, and a budget for a stage the execution plan lacks (write-rule)", async () => {
      const other = await openTestLedger();
      try {
        const approval = (await ledger.store.readStream(runStream('r1')))[0]!.envelope.data as { plan: { budgets: object } & Record<string, unknown> };
        await other.store.append(runStream('a1'), [{ type: 'GovernancePlanApproved', data: { ...approval, runId: 'a1', approver: 'mallory' } }]);
        const plan = { ...approval.plan, budgets: { deploy: { maxWallMs: 10 } } };
        const hash = planHash(plan as never);
        await other.store.append(runStream('b1'), [
          { type: 'GovernancePlanApproved', data: { ...approval, runId: 'b1', plan, planHash: hash } },
          { type: 'ExecutionPlanRecorded', data: { runId: 'b1', plan: examplePlan.execution, planHash: examplePlan.executionPlanHash, governancePlanHash: hash } },
        ]);
        await other.checkpoint();
        const approver = (await replayRun(other.store, 'a1', { verifierKeys: [other.verifierKey] })).firstDivergence;
        assert.deepEqual([approver?.check, approver?.rule, approver?.revision, approver?.actual], ['write-rule', 'approver', 0, 'mallory']);
        const budget = (await replayRun(other.store, 'b1', { verifierKeys: [other.verifierKey] })).firstDivergence;
        assert.deepEqual([budget?.check, budget?.rule, budget?.revision, budget?.actual], ['write-rule', 'budget-stage', 1, 'deploy']);
      } finally {
        await other.close();
      }
    });

    it('names a run end whose summary digest differs from the re-projected run summary', async () => {
      for (const s of ['prepare', 'train', 'evaluate']) {
        await recordStage(ledger.store, 'r1', s, 'start');
        if (s !== 'evaluate') await recordStage(ledger.store, 'r1', s, 'complete');
      }
      await ledger.store.append(runStream('r1'), [
        { type: 'StageCompleted', data: { runId: 'r1', stageId: 'evaluate', attempt: 1, outputs: {}, wallMs: 1, memoryDeltaBytes: null, throughput: null } },
        { type: 'RunCompleted', data: { runId: 'r1', summaryDigest: 'e'.repeat(64) } },
      ]);
      await ledger.checkpoint();
      const d = (await replay()).firstDivergence;
      assert.equal(d?.check, 'run-summary');
      assert.equal(d?.type, 'RunCompleted');
      assert.equal(d?.actual, 'e'.repeat(64));
    });
  });

  it('names the tampered event, for every governance event type, when a stored byte changes', async () => {
    await completedRun(ledger.store, 'r1');
    await recordFinding(ledger.store, { runId: 'r1', severity: 'hard', check: 'budget', message: 'over', subject: 'stage:train', details: {} });
    await approvePlan(ledger.store, examplePlan, 'r2');
    await recordStage(ledger.store, 'r2', 'prepare', 'start');
    await recordStage(ledger.store, 'r2', 'prepare', 'fail', { reason: 'boom' });
    await ledger.checkpoint();
    assert.equal((await replay('r1')).ok, true);
    assert.equal((await replay('r2')).ok, true);

    const db = new Database(join(ledger.dir, 'ledger.db'));
    try {
      const rows = db.prepare("SELECT position, id, stream, type, canonical FROM events WHERE stream IN ('run-r1', 'run-r2') ORDER BY position").all() as {
        position: number;
        id: string;
        stream: string;
        type: string;
        canonical: Buffer;
      }[];
      assert.deepEqual([...new Set(rows.map((r) => r.type))].sort(), [...GOVERNANCE_TYPES].sort());
      for (const row of rows) {
        // Change one character inside the event's data: still canonical JSON, but not what was signed.
        const tampered = Buffer.from(row.canonical);
        const at = tampered.indexOf('"runId":"r') + '"runId":"r'.length;
        tampered[at] = tampered[at] === 0x31 ? 0x33 : 0x34;
        db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(tampered, row.position);
        const result = await replay(row.stream.slice('run-'.length));
        db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(row.canonical, row.position);
        assert.equal(result.ok, false, `tampering ${row.type} went unnoticed`);
        assert.equal(result.firstDivergence?.eventId, row.id, `${row.type}: ${result.firstDivergence?.message}`);
        assert.match(result.firstDivergence?.message ?? '', new RegExp(row.id), row.type);
      }
    } finally {
      db.close();
    }
    assert.equal((await replay('r1')).ok, true);
  });

  it('reports a divergence elsewhere in the log with --full, through the whole-log verifier', async () => {
    await completedRun(ledger.store, 'r1');
    await ledger.store.append('other', [{ type: 'custom.note', data: { n: 1 } }]);
    await ledger.checkpoint();
    const db = new Database(join(ledger.dir, 'ledger.db'));
    try {
      const row = db.prepare("SELECT position, canonical FROM events WHERE stream = 'other'").get() as { position: number; canonical: Buffer };
      const tampered = Buffer.from(row.canonical.toString('utf8').replace('"n":1', '"n":2'));
      db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(tampered, row.position);
    } finally {
      db.close();
    }
    assert.equal((await replay('r1')).ok, true, 'the run itself is still proven included');
    const full = await replay('r1', true);
    assert.equal(full.ok, false);
    assert.equal(full.firstDivergence?.check, 'log');
    assert.equal(full.firstDivergence?.stream, 'other');
  });
});
