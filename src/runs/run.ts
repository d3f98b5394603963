// The run API for user code (docs/api.md "Runs"): start or open a run, log params (write-once),
// metrics (any documented name, by step and time), tags (changing, history kept) and
// content-addressed artifacts, then end or fail it. No HTTP, no CLI: the TypeScript package, the
// HTTP write API and the MLflow door are shells over these functions.
//
// Every event goes through the run-stream door (guardedAppend's decideRunAppend), so the write rules
// that `append`, Kafka ingest and replay apply are the ones applied here. Who is authenticated: the
// holder of the home's worker key, in-process (over HTTP, the token holder, on whose behalf the
// server's key signs). The approval of a run started here trusts that key and no other.
import { randomUUID } from 'node:crypto';
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { replaceFileAtomically } from '../ledger/keys.js';
import { join } from 'node:path';
import type { ProposedEvent } from '../../events/envelope.js';
import {
  ArtifactPath,
  MediaType,
  MetricName,
  ParamKey,
  ParamValue as ParamValueSchema,
  TagKey,
  TagValue,
  type ArtifactRecorded,
  type MetricPoint,
  type MetricsLogged,
  type ParamsLogged,
  type ParamValue,
  type TagDeleted,
  type TagsSet,
} from '../../events/runs.js';
import type { RunEnvironmentRecorded } from '../../events/training.js';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { decideRunViewAppend, readRun, RunHeads, type RunView } from '../governance/guarded-append.js';
import { hashPlan, type Plan } from '../governance/plan.js';
import { PlanFile } from '../governance/plan.js';
import { approvePlan, failRun, recordStage } from '../governance/recorder.js';
import { checkRunId, runStream } from '../governance/run-stream.js';
import { isFinished } from '../governance/run-state.js';
import { sha256Hex } from '../integrity/hasher.js';
import { homeWorkerKeys, signEvent, type WorkerKeys } from '../ledger/worker-keys.js';
import type { EventStore } from '../store/port.js';
import { defaultWorkerId, describeEnvironment } from './environment.js';

export type { ParamValue } from '../../events/runs.js';

/** Who writes, where: the store, the home whose worker key signs, and the actor named in metadata. */
export interface RunApiContext {
  store: EventStore;
  home: string;
  actor: string;
  /** Run heads shared with another door of the same long-lived writer (the HTTP API); default: one per context. */
  heads?: RunHeads;
}

/**
 * What a context keeps between calls: the worker key (read and parsed once, not per metric) and the
 * run heads, so each append folds only the events recorded since the last (the door still re-reads
 * the stream's tail and the store still pins the revision, so a concurrent writer is caught).
 */
const contextState = new WeakMap<RunApiContext, { keys?: WorkerKeys; heads: RunHeads }>();

function stateOf(ctx: RunApiContext): { keys?: WorkerKeys; heads: RunHeads } {
  let state = contextState.get(ctx);
  if (!state) contextState.set(ctx, (state = { heads: ctx.heads ?? new RunHeads() }));
  return state;
}

function keysOf(ctx: RunApiContext): WorkerKeys {
  const state = stateOf(ctx);
  return (state.keys ??= homeWorkerKeys(ctx.home));
}

/** An open plan for code runledger does not execute (MLflow, PyTorch, a notebook…). */
export interface ExternalPlan {
  name: string;
  /** Who approves it; default the context's actor. */
  approver?: string;
  description?: string;
  /** Stage ids in order, each depending on the one before; default `['train']`. */
  stages?: string[];
  /** The metric names the run may log; the approval records them and the write rules hold the run to them. Default: any name. */
  metrics?: string[];
}

export interface StartRunOptions {
  /** Default: a generated UUID (a valid run id). */
  runId?: string;
  /** A governed plan file (parsed), approved here like `runledger plan approve`. */
  plan?: Plan;
  /** Or an open plan for code runledger does not execute. One of `plan` and `external` is required. */
  external?: ExternalPlan;
  /** Logged once at the start (write-once). */
  params?: Record<string, ParamValue>;
  tags?: Record<string, string>;
  /** Client-side facts (python version, git commit, GPU…), recorded under `client` beside the recording process's own. */
  environment?: Record<string, unknown>;
  /** Which door starts the run: `typescript` (default), `http`, `mlflow`, … */
  source?: string;
}

/** When a metric point was measured: step (non-negative integer, default 0) and ms since the epoch (default now). */
export interface MetricAt {
  step?: number;
  timestamp?: number;
}

export interface MetricInput extends MetricAt {
  key: string;
  value: number;
}

export interface RunBatch {
  params?: Record<string, ParamValue>;
  metrics?: MetricInput[];
  tags?: Record<string, string>;
}

export interface ArtifactInput {
  /** The artifact's name inside the run: relative, `/`-separated. */
  path: string;
  bytes: Uint8Array;
  mediaType?: string;
}

export interface RunHandle {
  readonly runId: string;
  /** Write-once: the same key and value again is a no-op; another value is refused (InputError). */
  logParams(params: Record<string, ParamValue>): Promise<void>;
  logMetrics(values: Record<string, number>, at?: MetricAt): Promise<void>;
  logMetric(name: string, value: number, at?: MetricAt): Promise<void>;
  /** Tags change; every earlier value stays in the log. */
  setTags(tags: Record<string, string>): Promise<void>;
  /** Recorded as an event, never erased. */
  deleteTag(key: string): Promise<void>;
  /** Stores the bytes under `<home>/artifacts/<sha256>` and records the digest. */
  logArtifact(artifact: ArtifactInput): Promise<{ digest: string; bytes: number }>;
  /** Completes the running stage(s), then every remaining stage in plan order, and so the run. */
  end(): Promise<void>;
  /** Ends the run with RunFailed. */
  fail(reason: string): Promise<void>;
}

/** The stage id external plans use when they name none: the training stage of the write rules. */
export const DEFAULT_EXTERNAL_STAGES = ['train'] as const;

/** Starts a run: approves its plan (trusting the home's worker key), starts its first stage, records its environment, params and tags. */
export async function startRun(ctx: RunApiContext, options: StartRunOptions): Promise<RunHandle> {
  const runId = checkRunId(options.runId ?? randomUUID());
  if ((options.plan === undefined) === (options.external === undefined)) {
    throw new InputError(`run ${runId}: give exactly one of "plan" (a governed plan) and "external" (an open plan for code runledger does not execute)`, { field: options.plan ? 'external' : 'plan' });
  }
  const plan = options.plan ?? externalPlan(options.external!, ctx.actor);
  const keys = keysOf(ctx);
  // Everything the start records is checked before anything is written (bad input writes nothing).
  const params = options.params ? checkParams(options.params) : undefined;
  const tags = options.tags ? checkTags(options.tags) : undefined;
  const environment = describeEnvironment({ runId, worker: defaultWorkerId(), source: options.source ?? 'typescript', backend: null, client: options.environment ?? {} });
  const snapshot = await readRun(ctx.store, runId);
  if (snapshot.state.status !== 'empty') throw new InputError(`run ${runId} already exists; open it with openRun, or choose another run id`, { stream: snapshot.stream });

  await approvePlan(ctx.store, plan, runId, { actor: ctx.actor, approver: plan.governance.approver, workerKeys: [keys.publicKey] });
  const first = plan.execution.stages[0]!;
  await recordStage(ctx.store, runId, first.id, 'start', { actor: ctx.actor });
  const handle = new Run(ctx, runId, keys);
  await handle.append((stageId) => [
    { type: 'RunEnvironmentRecorded', data: signEvent<RunEnvironmentRecorded>(keys.signer, 'RunEnvironmentRecorded', environment) },
    ...(params ? [paramsEvent(keys, runId, stageId, params)] : []),
    ...(tags && Object.keys(tags).length ? [signed<TagsSet>(keys, 'TagsSet', { runId, stageId, tags })] : []),
  ]);
  return handle;
}

/** A handle on an existing run (refused when it has no approved plan). */
export async function openRun(ctx: RunApiContext, runId: string): Promise<RunHandle> {
  const snapshot = await readRun(ctx.store, checkRunId(runId));
  if (snapshot.state.status === 'empty') throw new InputError(`run ${runId} does not exist: start it with startRun`, { stream: snapshot.stream });
  return new Run(ctx, runId, keysOf(ctx));
}

/** One atomic append (MLflow log-batch): params, metrics and tags together, all or nothing. */
export async function logBatch(ctx: RunApiContext, runId: string, batch: RunBatch): Promise<void> {
  const run = new Run(ctx, checkRunId(runId), keysOf(ctx));
  await run.logBatch(batch);
}

/** The governed plan of an external run: no config, no training section, the stages in order. */
export function externalPlan(external: ExternalPlan, actor: string): Plan {
  const stages = external.stages ?? [...DEFAULT_EXTERNAL_STAGES];
  const parsed = PlanFile.safeParse({
    governance: { name: external.name, approver: external.approver ?? actor, description: external.description ?? '', ...(external.metrics ? { metrics: external.metrics } : {}) },
    execution: { stages: stages.map((id, i) => ({ id, dependsOn: i === 0 ? [] : [stages[i - 1]] })) },
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`external plan ${JSON.stringify(external.name)}: ${issue.path.join('.')}: ${issue.message}`, { field: `external.${issue.path.slice(1).join('.')}` });
  }
  return hashPlan(parsed.data);
}

class Run implements RunHandle {
  constructor(
    private readonly ctx: RunApiContext,
    readonly runId: string,
    private readonly keys: WorkerKeys,
  ) {}

  /** Reads the run, names its running stage, and appends what `build` makes of it, checked by the write rules. */
  async append(build: (stageId: string, snapshot: RunView) => ProposedEvent[]): Promise<void> {
    const metadata = { actor: this.ctx.actor };
    await decideRunViewAppend<void>(this.ctx.store, this.runId, stateOf(this.ctx).heads, (snapshot) => {
      const events = build(runningStage(snapshot), snapshot);
      return events.length ? { events: events.map((e) => ({ ...e, metadata })), result: undefined } : { done: undefined };
    });
  }

  async logParams(params: Record<string, ParamValue>): Promise<void> {
    await this.logBatch({ params });
  }

  async logMetrics(values: Record<string, number>, at: MetricAt = {}): Promise<void> {
    await this.logBatch({ metrics: Object.entries(values).map(([key, value]) => ({ key, value, ...at })) });
  }

  async logMetric(name: string, value: number, at: MetricAt = {}): Promise<void> {
    await this.logBatch({ metrics: [{ key: name, value, ...at }] });
  }

  async setTags(tags: Record<string, string>): Promise<void> {
    await this.logBatch({ tags });
  }

  async deleteTag(key: string): Promise<void> {
    check(TagKey, key, `tag key ${JSON.stringify(key)}`, 'key');
    await this.append((stageId) => [signed<TagDeleted>(this.keys, 'TagDeleted', { runId: this.runId, stageId, key })]);
  }

  async logBatch(batch: RunBatch): Promise<void> {
    const params = batch.params ? checkParams(batch.params) : {};
    const tags = batch.tags ? checkTags(batch.tags) : {};
    const now = Date.now();
    const metrics = (batch.metrics ?? []).map((m, i) => checkMetric(m, now, i));
    const { runId, keys } = this;
    await this.append((stageId, snapshot) => {
      // Write-once: a param logged again with the value it has is a no-op; another value is the rule's to refuse.
      const logged = snapshot.rules.params;
      const fresh = Object.fromEntries(Object.entries(params).filter(([k, v]) => !(Object.hasOwn(logged, k) && logged[k] === v)));
      return [
        ...(Object.keys(fresh).length ? [paramsEvent(keys, runId, stageId, fresh)] : []),
        ...(metrics.length ? [signed<MetricsLogged>(keys, 'MetricsLogged', { runId, stageId, metrics })] : []),
        ...(Object.keys(tags).length ? [signed<TagsSet>(keys, 'TagsSet', { runId, stageId, tags })] : []),
      ];
    });
  }

  async logArtifact(artifact: ArtifactInput): Promise<{ digest: string; bytes: number }> {
    const path = check(ArtifactPath, artifact.path, `artifact path ${JSON.stringify(artifact.path)}`, 'path');
    const mediaType = artifact.mediaType === undefined ? null : check(MediaType, artifact.mediaType, `artifact media type ${JSON.stringify(artifact.mediaType)}`, 'mediaType');
    if (!(artifact.bytes instanceof Uint8Array)) throw new InputError(`artifact ${path}: bytes must be a Uint8Array`, { field: 'bytes' });
    const bytes = Buffer.from(artifact.bytes.buffer, artifact.bytes.byteOffset, artifact.bytes.byteLength);
    const digest = storeArtifact(this.ctx.home, bytes);
    await this.append((stageId) => [signed<ArtifactRecorded>(this.keys, 'ArtifactRecorded', { runId: this.runId, stageId, path, digest, bytes: bytes.length, mediaType })]);
    return { digest, bytes: bytes.length };
  }

  async end(): Promise<void> {
    const { state } = await readRun(this.ctx.store, this.runId);
    if (isFinished(state)) throw new InputError(`run ${this.runId} has already ${state.status}`, { stream: runStream(this.runId) });
    // Stage order is the recorder's to check: running stages first, then each pending one in plan order.
    for (const stage of state.stages.filter((s) => s.status === 'running')) await recordStage(this.ctx.store, this.runId, stage.id, 'complete', { actor: this.ctx.actor });
    for (const stage of state.stages.filter((s) => s.status === 'pending')) {
      await recordStage(this.ctx.store, this.runId, stage.id, 'start', { actor: this.ctx.actor });
      await recordStage(this.ctx.store, this.runId, stage.id, 'complete', { actor: this.ctx.actor });
    }
  }

  async fail(reason: string): Promise<void> {
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > 10_000) throw new InputError(`run ${this.runId}: a failure reason must be 1 to 10000 characters`, { field: 'reason' });
    const { state } = await readRun(this.ctx.store, this.runId);
    if (isFinished(state)) throw new InputError(`run ${this.runId} has already ${state.status}`, { stream: runStream(this.runId) });
    const running = state.stages.find((s) => s.status === 'running');
    if (running) await recordStage(this.ctx.store, this.runId, running.id, 'fail', { actor: this.ctx.actor, reason });
    else await failRun(this.ctx.store, this.runId, reason, this.ctx.actor);
  }
}

/** The stage run data is logged into: the first running stage in plan order. */
function runningStage(snapshot: RunView): string {
  const { state } = snapshot;
  if (state.status === 'empty') throw new InputError(`run ${snapshot.runId} does not exist: start it with startRun`, { stream: snapshot.stream });
  if (isFinished(state)) throw new InputError(`run ${snapshot.runId} has already ${state.status}; nothing more can be logged to it`, { stream: snapshot.stream });
  const running = state.stages.find((s) => s.status === 'running');
  if (!running) throw new InputError(`run ${snapshot.runId} has no running stage to log into`, { stream: snapshot.stream });
  return running.id;
}

function signed<T extends { publicKey: string; signature: string }>(keys: WorkerKeys, type: string, data: Omit<T, 'publicKey' | 'signature'>): ProposedEvent {
  return { type, data: signEvent<T>(keys.signer, type, data) };
}

function paramsEvent(keys: WorkerKeys, runId: string, stageId: string, params: Record<string, ParamValue>): ProposedEvent {
  return signed<ParamsLogged>(keys, 'ParamsLogged', { runId, stageId, params });
}

/** Parses `value` with `schema`, or an InputError naming `what` and the rule. */
function check<T>(schema: z.ZodType<T>, value: unknown, what: string, field: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InputError(`${what}: ${parsed.error.issues[0]!.message}`, { field });
  return parsed.data;
}

function checkParams(params: Record<string, ParamValue>): Record<string, ParamValue> {
  checkObject(params, 'params');
  for (const [key, value] of Object.entries(params)) {
    check(ParamKey, key, `param key ${JSON.stringify(key)}`, 'params');
    if (typeof value === 'number' && !Number.isFinite(value)) throw new InputError(`param ${key}: ${value} is not a finite number`, { field: `params.${key}` });
    check(ParamValueSchema, value, `param ${key}`, `params.${key}`);
  }
  return { ...params };
}

function checkTags(tags: Record<string, string>): Record<string, string> {
  checkObject(tags, 'tags');
  for (const [key, value] of Object.entries(tags)) {
    check(TagKey, key, `tag key ${JSON.stringify(key)}`, 'tags');
    check(TagValue, value, `tag ${key}`, `tags.${key}`);
  }
  return { ...tags };
}

function checkObject(value: unknown, field: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${field} must be an object of names to values`, { field });
}

/** A metric point as recorded: a documented name, a finite value, a non-negative integer step, an integer timestamp. */
function checkMetric(m: MetricInput, now: number, index: number): MetricPoint {
  const key = check(MetricName, m?.key, `metric ${index} name ${JSON.stringify(m?.key)}`, `metrics.${index}.key`);
  if (typeof m.value !== 'number' || !Number.isFinite(m.value)) throw new InputError(`metric ${key}: value ${String(m.value)} is not a finite number`, { field: `metrics.${index}.value` });
  const step = m.step ?? 0;
  if (!Number.isSafeInteger(step) || step < 0) throw new InputError(`metric ${key}: step ${String(step)} is not a non-negative integer`, { field: `metrics.${index}.step` });
  const timestamp = m.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp > 8.64e15) throw new InputError(`metric ${key}: timestamp ${String(timestamp)} is not milliseconds since the epoch`, { field: `metrics.${index}.timestamp` });
  return { key, value: m.value, step, timestamp };
}

/** Where an artifact's bytes live: `<home>/artifacts/<sha256 hex>`. */
export function artifactFile(home: string, digest: string): string {
  return join(home, 'artifacts', digest);
}

/** Writes the bytes content-addressed (fsynced temp file, then rename: never a partial file under its digest); returns the digest. */
export function storeArtifact(home: string, bytes: Buffer): string {
  const digest = sha256Hex(bytes);
  const file = artifactFile(home, digest);
  if (existsSync(file) && sha256Hex(readFileSync(file)) === digest) return digest;
  mkdirSync(join(home, 'artifacts'), { recursive: true });
  // On disk (file and directory entry fsynced) before the ArtifactRecorded event that names it is appended.
  replaceFileAtomically(file, bytes, 0o644);
  return digest;
}
