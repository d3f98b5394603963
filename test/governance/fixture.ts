// A real embedded ledger in a temp directory, with a signing key and checkpointing, for the
// governance, replay and bundle suites. No mocks: the SQLite adapter and the signer are the real ones.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCheckpoint } from '../../src/ledger/checkpoint.js';
import { ensureOrigin } from '../../src/ledger/origin.js';
import { generateNoteKey } from '../../src/integrity/note.js';
import { ledgerSigner, startSignerState } from '../../src/ledger/signer-state.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import type { Plan } from '../../src/governance/plan.js';
import { approvePlan, recordStage } from '../../src/governance/recorder.js';
import { repoRoot } from '../support/cli.js';

export interface TestLedger {
  dir: string;
  store: EventStore;
  origin: string;
  verifierKey: string;
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}

export async function openTestLedger(): Promise<TestLedger> {
  const dir = mkdtempSync(join(tmpdir(), 'runledger-gov-'));
  const store = await openStore(`sqlite:${join(dir, 'ledger.db')}`);
  await store.init();
  const { origin } = await ensureOrigin(store);
  const pair = generateNoteKey(origin);
  const signer = ledgerSigner(pair.signerKey, join(dir, 'signing.state'));
  startSignerState(signer, origin);
  return {
    dir,
    store,
    origin,
    verifierKey: pair.verifierKey,
    checkpoint: async () => {
      await createCheckpoint(store, signer, origin);
    },
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh TestLedger for each test of the calling `describe` (mocha beforeEach/afterEach hooks):
 * `const current = eachTestLedger();` then `current().store` inside a test.
 */
export function eachTestLedger(): () => TestLedger {
  let ledger: TestLedger | undefined;
  beforeEach(async () => {
    ledger = await openTestLedger();
  });
  afterEach(async () => {
    await ledger?.close();
    ledger = undefined;
  });
  return () => {
    if (ledger === undefined) throw new Error('eachTestLedger(): the ledger exists only inside a test');
    return ledger;
  };
}

export const examplePlanText = readFileSync(join(repoRoot, 'docs', 'examples', 'plan.yaml'), 'utf8');
export const examplePlan: Plan = parsePlan(examplePlanText, 'docs/examples/plan.yaml');
export const STAGES = ['prepare', 'train', 'evaluate'] as const;

/** A small plan with the given seed and config value, as YAML text. */
export function smallPlanText(seed = 42, lr = 0.01): string {
  return [
    'governance:',
    '  name: small',
    '  approver: alice',
    '  config: { lr: ' + String(lr) + ' }',
    '  seeds: { init: ' + String(seed) + ' }',
    'execution:',
    '  stages:',
    '    - id: a',
    '    - id: b',
    '      dependsOn: [a]',
    '',
  ].join('\n');
}

/** Approves the example plan and runs every stage to completion (fixed wall times for determinism). */
export async function completedRun(store: EventStore, runId: string, plan: Plan = examplePlan): Promise<void> {
  await approvePlan(store, plan, runId, { actor: 'alice' });
  for (const stage of plan.execution.stages) {
    await recordStage(store, runId, stage.id, 'start', { actor: 'executor', inputs: { data: 'a'.repeat(64) } });
    await recordStage(store, runId, stage.id, 'complete', { actor: 'executor', outputs: { out: 'b'.repeat(64) }, wallMs: 5, memoryDeltaBytes: 1024, throughput: 10 });
  }
}
