// Stage recording against a real embedded store: the ledger refuses to record a lie.
import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { approvePlan, failRun, readRun, recordFinding, recordStage, runStream } from '../../src/governance/recorder.js';
import { runSummaryDigest } from '../../src/governance/run-state.js';
import { examplePlan, openTestLedger, smallPlanText, type TestLedger } from './fixture.js';

async function refused(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('governance recorder', function () {
  this.timeout(30_000);
  let ledger: TestLedger;
  beforeEach(async () => {
    ledger = await openTestLedger();
  });
  afterEach(async () => {
    await ledger.close();
  });

  it('records both plans as the first two events, with their hashes', async () => {
    const result = await approvePlan(ledger.store, examplePlan, 'r1', { actor: 'alice' });
    assert.equal(result.recorded, true);
    const events = await ledger.store.readStream(runStream('r1'));
    assert.deepEqual(events.map((e) => e.envelope.type), ['GovernancePlanApproved', 'ExecutionPlanRecorded']);
    assert.equal(events[0]!.envelope.data.planHash, examplePlan.governancePlanHash);
    assert.equal(events[1]!.envelope.data.planHash, examplePlan.executionPlanHash);
    assert.equal(events[1]!.envelope.data.governancePlanHash, examplePlan.governancePlanHash);
    assert.equal(events[0]!.envelope.data.approver, 'alice@example.org');
  });

  it('treats approving the same plans again as a no-op and refuses different plans for the same run', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    assert.equal((await approvePlan(ledger.store, examplePlan, 'r1')).recorded, false);
    await refused(approvePlan(ledger.store, parsePlan(smallPlanText()), 'r1'), /run r1 already has an approved plan/);
    assert.equal((await ledger.store.readStream(runStream('r1'))).length, 2);
  });

  it('refuses an approver other than the one the plan names', async () => {
    await refused(approvePlan(ledger.store, examplePlan, 'r1', { approver: 'mallory' }), /must be approved by alice@example.org, not mallory/);
    assert.equal(await ledger.store.streamRevision(runStream('r1')), -1);
  });

  it('completes the run in the same append as its last stage', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    for (const stage of ['prepare', 'train']) {
      await recordStage(ledger.store, 'r1', stage, 'start');
      const done = await recordStage(ledger.store, 'r1', stage, 'complete', { wallMs: 3 });
      assert.deepEqual(done.recorded, ['StageCompleted']);
    }
    await recordStage(ledger.store, 'r1', 'evaluate', 'start');
    const last = await recordStage(ledger.store, 'r1', 'evaluate', 'complete', { outputs: { report: 'd'.repeat(64) } });
    assert.deepEqual(last.recorded, ['StageCompleted', 'RunCompleted']);
    assert.equal(last.runStatus, 'completed');
    const { events, state } = await readRun(ledger.store, 'r1');
    const end = events[events.length - 1]!.envelope;
    const before = await readRunUpTo(events.length - 1);
    assert.equal(end.data.summaryDigest, runSummaryDigest(before));
    assert.equal(state.stages.find((s) => s.id === 'evaluate')?.outputs.report, 'd'.repeat(64));
  });

  async function readRunUpTo(count: number) {
    const { events } = await readRun(ledger.store, 'r1');
    const { projectRun } = await import('../../src/governance/run-state.js');
    return projectRun('r1', events.slice(0, count).map((e) => e.envelope));
  }

  it('refuses a stage whose dependencies have not completed, and writes nothing', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    await refused(recordStage(ledger.store, 'r1', 'train', 'start'), /stage train of run r1 depends on prepare, which has not completed; nothing was recorded/);
    await recordStage(ledger.store, 'r1', 'prepare', 'start');
    await refused(recordStage(ledger.store, 'r1', 'train', 'start'), /depends on prepare/);
    assert.equal(await ledger.store.streamRevision(runStream('r1')), 2);
  });

  it('refuses a stage that is not in the plan', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    await refused(recordStage(ledger.store, 'r1', 'deploy', 'start'), /stage deploy is not in the execution plan of run r1 \(stages: prepare, train, evaluate\)/);
  });

  it('refuses stages of a run without an approved plan', async () => {
    await refused(recordStage(ledger.store, 'nope', 'prepare', 'start'), /run nope has no approved plan: its first event must be GovernancePlanApproved \("runledger plan approve" records it\); nothing was recorded \(rule approval-first\)/);
  });

  it('refuses completing a stage that never started, and starting one twice', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    await refused(recordStage(ledger.store, 'r1', 'prepare', 'complete'), /cannot complete: it is not started/);
    await recordStage(ledger.store, 'r1', 'prepare', 'start');
    await refused(recordStage(ledger.store, 'r1', 'prepare', 'start'), /stage prepare of run r1 is already running/);
    await recordStage(ledger.store, 'r1', 'prepare', 'complete');
    await refused(recordStage(ledger.store, 'r1', 'prepare', 'start'), /already completed/);
  });

  it('fails the run with its stage and refuses anything after it', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    await recordStage(ledger.store, 'r1', 'prepare', 'start');
    const failed = await recordStage(ledger.store, 'r1', 'prepare', 'fail', { reason: 'dataset digest mismatch' });
    assert.deepEqual(failed.recorded, ['StageFailed', 'RunFailed']);
    assert.equal(failed.runStatus, 'failed');
    await refused(recordStage(ledger.store, 'r1', 'train', 'start'), /run r1 has already failed/);
    await refused(failRun(ledger.store, 'r1', 'again'), /run r1 has already failed/);
  });

  it('fails a run explicitly', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    await failRun(ledger.store, 'r1', 'executor crashed');
    const { state } = await readRun(ledger.store, 'r1');
    assert.equal(state.status, 'failed');
    assert.equal(state.failure, 'executor crashed');
  });

  it('records audit findings at any point of the run', async () => {
    await completedRun();
    await recordFinding(ledger.store, { runId: 'r1', severity: 'soft', check: 'budget.maxWallMs', message: 'slow', subject: 'stage:train', details: { limit: 1 } });
    const { events } = await readRun(ledger.store, 'r1');
    assert.equal(events[events.length - 1]!.envelope.type, 'AuditFinding');
  });

  async function completedRun(): Promise<void> {
    await approvePlan(ledger.store, examplePlan, 'r1');
    for (const s of ['prepare', 'train', 'evaluate']) {
      await recordStage(ledger.store, 'r1', s, 'start');
      await recordStage(ledger.store, 'r1', s, 'complete');
    }
  }

  it('lets exactly one of two concurrent recorders start the same stage', async () => {
    await approvePlan(ledger.store, examplePlan, 'r1');
    const results = await Promise.allSettled([
      recordStage(ledger.store, 'r1', 'prepare', 'start', { actor: 'w1' }),
      recordStage(ledger.store, 'r1', 'prepare', 'start', { actor: 'w2' }),
      recordStage(ledger.store, 'r1', 'prepare', 'start', { actor: 'w3' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof InputError && /already running/.test(r.reason.message), String(r.reason));
    const starts = (await ledger.store.readStream(runStream('r1'))).filter((e) => e.envelope.type === 'StageStarted');
    assert.equal(starts.length, 1);
  });

  it('refuses run ids that cannot name a stream', async () => {
    await refused(approvePlan(ledger.store, examplePlan, 'has space'), /run id "has space"/);
  });
});
