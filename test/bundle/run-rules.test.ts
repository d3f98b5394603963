// The run rules docs/bundle-format.md §3.1 states, each broken by a forger who writes the store
// directly (bypassing the recorder) before an honest checkpoint: `replay` and `verify-bundle` must
// name the offending event, and so must the docs-only verifier (docs/verify_bundle.py).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PYTHON } from '../support/python.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBundle } from '../../src/bundle/bundle.js';
import { planHash, type GovernancePlan } from '../../src/governance/plan.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { approvePlan, failRun, recordStage, runStream } from '../../src/governance/recorder.js';
import { replayRun } from '../../src/replay/replay.js';
import type { ProposedEvent } from '../../events/envelope.js';
import { repoRoot } from '../support/cli.js';
import { openTestLedger, smallPlanText, type TestLedger } from '../governance/fixture.js';
import { forgeBundle } from './forge.js';
import { signed, strangerWorker } from '../../bench/fixtures/worker-key.js';

/**
 * Rules whose replay check lands with the "rules" change of src/replay/verify-run.ts. While a rule is
 * listed here and runledger still accepts its forgery, its runledger half is skipped with that reason;
 * once verify-run.ts enforces it the full test runs. Remove a rule from this list when it lands: from
 * then on a regression fails instead of skipping.
 */
const PENDING_RULES = new Set<string>();

type Data = Record<string, unknown>;

interface Forgery {
  rule: string;
  what: string;
  /** Writes the run; returns the revisions at which a verifier may name the forged event. */
  write(ledger: TestLedger, runId: string): Promise<number[]>;
}

const raw = (ledger: TestLedger, runId: string, events: ProposedEvent[]): Promise<unknown> => ledger.store.append(runStream(runId), events);

/** A forged sample: schema-valid (version 2), signed by a key no approval here trusts; the rule under test refuses it first. */
function telemetry(run: string, stage: string): ProposedEvent {
  return {
    type: 'TelemetrySample',
    schemaVersion: 2,
    data: signed('TelemetrySample', { tags: { run, stage, worker: 'w1', backend: 'cpu', host: 'h' }, step: 1, epoch: 1, loss: 0.5, accuracy: 0.9, examplesPerSec: 10, stepWallMs: 1, memoryDeltaBytes: 0 }, strangerWorker),
  };
}

/** The plan events approvePlan records, as data a forger can edit (every field the recorder writes is kept). */
async function planEvents(ledger: TestLedger, runId: string, edit: (plan: GovernancePlan) => void = () => {}): Promise<{ approval: Data; execution: Data }> {
  const template = `template-${runId}`;
  await approvePlan(ledger.store, parsePlan(smallPlanText()), template);
  const [a, e] = await ledger.store.readStream(runStream(template));
  const approval = structuredClone(a!.envelope.data) as Data & { plan: GovernancePlan };
  const execution = structuredClone(e!.envelope.data) as Data;
  edit(approval.plan);
  approval.planHash = planHash(approval.plan);
  return { approval: { ...approval, runId }, execution: { ...execution, runId, governancePlanHash: approval.planHash } };
}

const FORGERIES: Forgery[] = [
  {
    rule: 'R2',
    what: 'a StageStarted whose data.runId names another run',
    write: async (ledger, run) => {
      await approvePlan(ledger.store, parsePlan(smallPlanText()), run);
      await raw(ledger, run, [{ type: 'StageStarted', data: { runId: 'someone-else', stageId: 'a', attempt: 1, inputs: {} } }]);
      return [2];
    },
  },
  {
    rule: 'R2',
    what: 'a TelemetrySample whose tags.run names another run',
    write: async (ledger, run) => {
      await approvePlan(ledger.store, parsePlan(smallPlanText()), run);
      await recordStage(ledger.store, run, 'a', 'start');
      await raw(ledger, run, [telemetry('someone-else', 'a')]);
      return [3];
    },
  },
  {
    rule: 'R3',
    what: "an approval whose approver differs from the plan's",
    write: async (ledger, run) => {
      const { approval, execution } = await planEvents(ledger, run);
      await raw(ledger, run, [
        { type: 'GovernancePlanApproved', data: { ...approval, approver: 'mallory' } },
        { type: 'ExecutionPlanRecorded', data: execution },
      ]);
      return [0];
    },
  },
  {
    rule: 'R4',
    what: 'a budget for a stage the execution plan does not have',
    write: async (ledger, run) => {
      const { approval, execution } = await planEvents(ledger, run, (plan) => {
        plan.budgets = { ghost: { maxWallMs: 1 } };
      });
      await raw(ledger, run, [
        { type: 'GovernancePlanApproved', data: approval },
        { type: 'ExecutionPlanRecorded', data: execution },
      ]);
      return [0, 1];
    },
  },
  {
    rule: 'R1',
    what: 'an event between the approval and the execution-plan record',
    write: async (ledger, run) => {
      const { approval, execution } = await planEvents(ledger, run);
      await raw(ledger, run, [
        { type: 'GovernancePlanApproved', data: approval },
        { type: 'AuditFinding', data: { runId: run, severity: 'info', check: 'x', message: 'wedged in', subject: null, details: {} } },
        { type: 'ExecutionPlanRecorded', data: execution },
      ]);
      return [1, 2];
    },
  },
  {
    rule: 'R1',
    what: 'a revision 0 that is not the approval',
    write: async (ledger, run) => {
      const { approval, execution } = await planEvents(ledger, run);
      await raw(ledger, run, [
        { type: 'custom.note', data: { text: 'first' } },
        { type: 'GovernancePlanApproved', data: approval },
        { type: 'ExecutionPlanRecorded', data: execution },
      ]);
      return [0, 1];
    },
  },
  {
    rule: 'R5',
    what: 'a TelemetrySample after the run ended',
    write: async (ledger, run) => {
      await approvePlan(ledger.store, parsePlan(smallPlanText()), run);
      await failRun(ledger.store, run, 'executor lost');
      await raw(ledger, run, [telemetry(run, 'a')]);
      return [3];
    },
  },
  {
    rule: 'R6',
    what: 'a TelemetrySample for a stage that is not running',
    write: async (ledger, run) => {
      await approvePlan(ledger.store, parsePlan(smallPlanText()), run);
      await raw(ledger, run, [telemetry(run, 'a')]);
      return [2];
    },
  },
];

describe('run rules of docs/bundle-format.md §3.1, forged straight into the store', function () {
  this.timeout(120_000);
  let ledger: TestLedger;
  const written = new Map<Forgery, { run: string; revisions: number[]; bundle: Buffer }>();
  const python = spawnSync(PYTHON, ['-c', 'import cryptography, jsonschema'], { encoding: 'utf8' }).status === 0;

  before(async () => {
    ledger = await openTestLedger();
    for (const [i, forgery] of FORGERIES.entries()) {
      const run = `forged-${i}`;
      written.set(forgery, { run, revisions: await forgery.write(ledger, run), bundle: Buffer.alloc(0) });
    }
    await ledger.checkpoint();
    for (const entry of written.values()) entry.bundle = await forgeBundle(ledger, entry.run);
  });
  after(async () => {
    await ledger?.close();
  });

  for (const forgery of FORGERIES) {
    describe(`${forgery.rule}: ${forgery.what}`, () => {
      it('is named by verify-bundle and by replay', async function () {
        const { run, revisions, bundle } = written.get(forgery)!;
        const events = await ledger.store.readStream(runStream(run));
        const ids = revisions.map((r) => events[r]!.envelope.id);
        const report = verifyBundle(bundle, [ledger.verifierKey]);
        const replay = await replayRun(ledger.store, run, { verifierKeys: [ledger.verifierKey] });
        if (PENDING_RULES.has(forgery.rule) && (report.ok || replay.ok)) {
          console.log(`      pending: rule ${forgery.rule} is not enforced by this build's src/replay/verify-run.ts yet (the "rules" change adds it)`);
          this.skip();
        }
        assert.equal(report.ok, false, 'verify-bundle accepted the forgery');
        assert.equal(report.firstDivergence!.section, 'events');
        assert.ok(ids.includes(report.firstDivergence!.eventId!), `verify-bundle named ${report.firstDivergence!.eventId} (revision ${report.firstDivergence!.revision}): ${report.firstDivergence!.message}`);
        assert.equal(replay.ok, false, 'replay accepted the forgery');
        assert.ok(ids.includes(replay.firstDivergence!.eventId!), `replay named revision ${replay.firstDivergence!.revision}: ${replay.firstDivergence!.message}`);
        if (PENDING_RULES.has(forgery.rule)) console.log(`      note: rule ${forgery.rule} is enforced now: remove it from PENDING_RULES in test/bundle/run-rules.test.ts`);
      });

      it('is named by the docs-only verifier (docs/verify_bundle.py)', function () {
        if (forgery.rule === 'R6' || !python) {
          console.log(forgery.rule === 'R6' ? '      skipped: the appendix verifier implements R1-R5, not the training rules (R6)' : '      skipped: needs python3 with cryptography and jsonschema');
          this.skip();
        }
        const { revisions, bundle } = written.get(forgery)!;
        const file = join(mkdtempSync(join(tmpdir(), 'runledger-rules-')), 'forged.bundle');
        writeFileSync(file, bundle);
        const res = spawnSync(PYTHON, [join(repoRoot, 'docs', 'verify_bundle.py'), file, ledger.verifierKey], { encoding: 'utf8' });
        assert.equal(res.status, 1, res.stdout + res.stderr);
        assert.match(res.stdout, new RegExp(`FAILED write-rule \\[events\\]: event (${revisions.join('|')}): ${forgery.rule}:`));
      });
    });
  }
});
