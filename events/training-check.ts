// The door's check of the data a training worker records (TrainingStarted v2, TelemetrySample v3,
// MetricsLogged v1, CheckpointWritten v2, TrainingCompleted v2): each schema (training.ts, runs.ts)
// written out by hand for plain objects, without zod's generic machinery. A check only answers when
// the schema would accept, with the schema's output; anything else is undefined, and then zod decides
// and words the error. test/events/training-check.test.ts holds each to its schema with fast-check.
import { IDENTIFIER_PATTERN } from './plan.js';
import { NAME_PATTERN } from './names.js';
import { MAX_ENTRIES, MAX_TIME_MS } from './runs.js';
import { BACKENDS, BASE64_PATTERN, HEX64_PATTERN, WORKER_KEY_PATTERN } from './training.js';
import { strictPlain } from './proposed-check.js';

/** What a data check returns: the schema's output for an input it accepts, undefined for "ask zod". */
export type DataCheck = (data: unknown) => Record<string, unknown> | undefined;

type Plain = Record<string, unknown>;
const BACKEND_SET: ReadonlySet<unknown> = new Set(BACKENDS);

/** z.number(): a finite number. */
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** z.number().int(): a safe integer. */
const safeInt = (v: unknown): v is number => Number.isSafeInteger(v);
const text = (v: unknown): v is string => typeof v === 'string';
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length >= 1;
const matches = (v: unknown, pattern: RegExp): v is string => typeof v === 'string' && pattern.test(v);
/** Identifier (plan.ts): 1 to 128 characters of the identifier pattern. */
const identifier = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 128 && IDENTIFIER_PATTERN.test(v);

/** A strict object with exactly `keys` (every one required): the object, or undefined. */
function exactly(v: unknown, keys: ReadonlySet<string>): Plain | undefined {
  if (!strictPlain(v, keys)) return undefined;
  for (const key of keys) if (!Object.prototype.hasOwnProperty.call(v, key)) return undefined;
  return v;
}

const keySet = (...keys: string[]): ReadonlySet<string> => new Set(keys);

const METRICS_KEYS = keySet('trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy');
const fraction = (v: unknown): v is number => finite(v) && v >= 0 && v <= 1;
function metrics(v: unknown): Plain | undefined {
  const m = exactly(v, METRICS_KEYS);
  if (m === undefined) return undefined;
  const { trainLoss, trainAccuracy, testLoss, testAccuracy } = m;
  if (!finite(trainLoss) || !fraction(trainAccuracy) || !finite(testLoss) || !fraction(testAccuracy)) return undefined;
  return { trainLoss, trainAccuracy, testLoss, testAccuracy };
}

const BACKEND_INFO_KEYS = keySet('name', 'tfjsVersion', 'threads', 'simd');
function backendInfo(v: unknown): Plain | undefined {
  const b = exactly(v, BACKEND_INFO_KEYS);
  if (b === undefined) return undefined;
  const { name, tfjsVersion, threads, simd } = b;
  if (!BACKEND_SET.has(name) || !nonEmpty(tfjsVersion)) return undefined;
  if (threads !== null && !(safeInt(threads) && threads > 0)) return undefined;
  if (simd !== null && typeof simd !== 'boolean') return undefined;
  return { name, tfjsVersion, threads, simd };
}

/** WorkerSigned (training.ts): the key and the signature, read once each. */
function signed(publicKey: unknown, signature: unknown): boolean {
  return matches(publicKey, WORKER_KEY_PATTERN) && matches(signature, BASE64_PATTERN);
}

const TRAINING_STARTED_KEYS = keySet('runId', 'stageId', 'worker', 'backend', 'configDigest', 'dataset', 'seed', 'totalSteps', 'resumedFrom', 'publicKey', 'signature');
const DATASET_KEYS = keySet('package', 'version', 'digest', 'trainSize', 'testSize');
const RESUMED_KEYS = keySet('digest', 'epoch', 'step');
const count = (v: unknown): v is number => safeInt(v) && v >= 0;
const trainingStarted: DataCheck = (data) => {
  const d = exactly(data, TRAINING_STARTED_KEYS);
  if (d === undefined) return undefined;
  const { runId, stageId, worker, backend, configDigest, dataset, seed, totalSteps, resumedFrom, publicKey, signature } = d;
  if (!nonEmpty(runId) || !nonEmpty(stageId) || !nonEmpty(worker) || !matches(configDigest, HEX64_PATTERN)) return undefined;
  const info = backendInfo(backend);
  const set = exactly(dataset, DATASET_KEYS);
  if (info === undefined || set === undefined) return undefined;
  const { package: name, version, digest, trainSize, testSize } = set;
  if (!text(name) || !text(version) || !matches(digest, HEX64_PATTERN) || !count(trainSize) || !count(testSize)) return undefined;
  if (!(safeInt(seed) && seed > 0) || !count(totalSteps)) return undefined;
  let resumed: Plain | null = null;
  if (resumedFrom !== null) {
    const r = exactly(resumedFrom, RESUMED_KEYS);
    if (r === undefined) return undefined;
    const { digest: from, epoch, step } = r;
    if (!matches(from, HEX64_PATTERN) || !count(epoch) || !count(step)) return undefined;
    resumed = { digest: from, epoch, step };
  }
  if (!signed(publicKey, signature)) return undefined;
  return { runId, stageId, worker, backend: info, configDigest, dataset: { package: name, version, digest, trainSize, testSize }, seed, totalSteps, resumedFrom: resumed, publicKey, signature };
};

const TELEMETRY_KEYS = keySet('tags', 'step', 'epoch', 'examplesPerSec', 'stepWallMs', 'memoryDeltaBytes', 'publicKey', 'signature');
const TAG_KEYS = keySet('run', 'stage', 'worker', 'backend', 'host');
const telemetrySample: DataCheck = (data) => {
  const d = exactly(data, TELEMETRY_KEYS);
  if (d === undefined) return undefined;
  const { tags, step, epoch, examplesPerSec, stepWallMs, memoryDeltaBytes, publicKey, signature } = d;
  const t = exactly(tags, TAG_KEYS);
  if (t === undefined) return undefined;
  const { run, stage, worker, backend, host } = t;
  if (!nonEmpty(run) || !nonEmpty(stage) || !nonEmpty(worker) || !nonEmpty(backend) || !nonEmpty(host)) return undefined;
  if (!count(step) || !count(epoch)) return undefined;
  if (examplesPerSec !== null && !(finite(examplesPerSec) && examplesPerSec >= 0)) return undefined;
  if (!(finite(stepWallMs) && stepWallMs >= 0) || !safeInt(memoryDeltaBytes) || !signed(publicKey, signature)) return undefined;
  return { tags: { run, stage, worker, backend, host }, step, epoch, examplesPerSec, stepWallMs, memoryDeltaBytes, publicKey, signature };
};

const METRICS_LOGGED_KEYS = keySet('runId', 'stageId', 'metrics', 'publicKey', 'signature');
const POINT_KEYS = keySet('key', 'value', 'step', 'timestamp');
const metricsLogged: DataCheck = (data) => {
  const d = exactly(data, METRICS_LOGGED_KEYS);
  if (d === undefined) return undefined;
  const { runId, stageId, metrics: points, publicKey, signature } = d;
  if (!identifier(runId) || !identifier(stageId) || !Array.isArray(points) || points.length < 1 || points.length > MAX_ENTRIES) return undefined;
  const out: Plain[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = exactly(points[i], POINT_KEYS);
    if (p === undefined) return undefined;
    const { key, value, step, timestamp } = p;
    if (!matches(key, NAME_PATTERN) || !finite(value) || !count(step) || !(count(timestamp) && timestamp <= MAX_TIME_MS)) return undefined;
    out.push({ key, value, step, timestamp });
  }
  if (!signed(publicKey, signature)) return undefined;
  return { runId, stageId, metrics: out, publicKey, signature };
};

const CHECKPOINT_KEYS = keySet('runId', 'stageId', 'epoch', 'step', 'digest', 'bytes', 'signature', 'publicKey', 'metrics');
const checkpointWritten: DataCheck = (data) => {
  const d = exactly(data, CHECKPOINT_KEYS);
  if (d === undefined) return undefined;
  const { runId, stageId, epoch, step, digest, bytes, signature, publicKey, metrics: m } = d;
  if (!nonEmpty(runId) || !nonEmpty(stageId) || !(safeInt(epoch) && epoch > 0) || !count(step) || !matches(digest, HEX64_PATTERN)) return undefined;
  if (!(safeInt(bytes) && bytes > 0)) return undefined;
  const measured = metrics(m);
  if (measured === undefined || !signed(publicKey, signature)) return undefined;
  return { runId, stageId, epoch, step, digest, bytes, signature, publicKey, metrics: measured };
};

const COMPLETED_KEYS = keySet('runId', 'stageId', 'epochs', 'steps', 'finalCheckpoint', 'metrics', 'wallMs', 'publicKey', 'signature');
const trainingCompleted: DataCheck = (data) => {
  const d = exactly(data, COMPLETED_KEYS);
  if (d === undefined) return undefined;
  const { runId, stageId, epochs, steps, finalCheckpoint, metrics: m, wallMs, publicKey, signature } = d;
  if (!nonEmpty(runId) || !nonEmpty(stageId) || !(safeInt(epochs) && epochs > 0) || !count(steps) || !matches(finalCheckpoint, HEX64_PATTERN)) return undefined;
  const measured = metrics(m);
  if (measured === undefined || !(finite(wallMs) && wallMs >= 0) || !signed(publicKey, signature)) return undefined;
  return { runId, stageId, epochs, steps, finalCheckpoint, metrics: measured, wallMs, publicKey, signature };
};

/** The hand-written checks by `type@schemaVersion`: the data a training run records, the bulk of a run's events. */
export const TRAINING_DATA_CHECKS: Readonly<Record<string, DataCheck>> = {
  'TrainingStarted@2': trainingStarted,
  'TelemetrySample@3': telemetrySample,
  'MetricsLogged@1': metricsLogged,
  'CheckpointWritten@2': checkpointWritten,
  'TrainingCompleted@2': trainingCompleted,
};
