// MLflow's tracking REST API 2.0 (the subset the stock client uses for a normal run, docs/mlflow.md)
// mapped onto the run API (src/runs/): every MLflow run is a ledger run with an open "external"
// plan, and every call is an event through the same door and write rules as every other writer.
// Semantics are the ledger's, said plainly: params are write-once (as in MLflow), metrics append,
// a deleted tag is an event (the earlier value stays in the log), nothing is ever erased — so
// runs/delete, experiments/delete and the like answer NOT_IMPLEMENTED.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { logBatch, openRun, startRun, type RunApiContext } from '../../runs/run.js';
import type { MetricPoint } from '../../../events/runs.js';
import { requireToken } from '../security.js';
import { rateLimitHook, type TokenBuckets } from '../rate-limit.js';
import { installMlflowErrors, invalid, MLFLOW_ERROR_SCHEMA, MlflowError, notFound } from './errors.js';
import {
  addExperimentRun,
  artifactLocationFor,
  createExperiment,
  DEFAULT_EXPERIMENT_ID,
  experimentRunIds,
  getExperiment,
  getExperimentByName,
  listExperiments,
  type Experiment,
} from './experiments.js';
import { getRunView as readRequiredRun, KILLED_REASON, latestPoint, readRunView, type MlflowRunView } from './run-view.js';
import { registerArtifactRoutes } from './artifacts.js';
import { registerMlflowRegistryRoutes } from './registry.js';
import { doc, page, pageOffset, parseRequest, StringList } from './request.js';
import { search, type SearchFields } from './search.js';

/** The scope's prefix: MLflow's tracking API lives under <prefix>/mlflow, its artifact proxy under <prefix>/mlflow-artifacts. */
export const MLFLOW_PREFIX = '/api/2.0';
/** Largest JSON body of an MLflow request: MLflow's MAX_BATCH_LOG_REQUEST_SIZE. */
export const MLFLOW_BODY_BYTES = 1_000_000;

export interface MlflowApiOptions {
  ctx: RunApiContext;
  token: string | undefined;
  buckets: TokenBuckets;
  /** Largest artifact upload. */
  artifactBytes: number;
}

// Request fields. int64 fields arrive as JSON numbers or as decimal strings (protobuf JSON, RFC 8259 §6).
const Int64 = z.union([z.number().int(), z.string().regex(/^-?\d{1,19}$/).transform(Number)]).pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));
const RunId = z.string().min(1).max(128);
const KeyValue = z.object({ key: z.string(), value: z.string() });
const Tags = z.array(KeyValue).max(1000);

const bodies = {
  createExperiment: z.object({ name: z.string().min(1).max(500), artifact_location: z.string().optional(), tags: Tags.optional() }),
  searchExperiments: z.object({ max_results: Int64.optional(), filter: z.string().optional(), order_by: StringList.optional(), page_token: z.string().optional(), view_type: z.string().optional() }),
  createRun: z.object({ experiment_id: z.string().optional(), user_id: z.string().max(500).optional(), start_time: Int64.optional(), tags: Tags.optional(), run_name: z.string().max(500).optional() }),
  updateRun: z.object({ run_id: RunId.optional(), run_uuid: RunId.optional(), status: z.enum(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']).optional(), end_time: Int64.optional(), run_name: z.string().max(500).optional() }),
  searchRuns: z.object({
    experiment_ids: z.array(z.string()).max(100).optional(),
    filter: z.string().optional(),
    run_view_type: z.string().optional(),
    max_results: Int64.optional(),
    order_by: StringList.optional(),
    page_token: z.string().optional(),
  }),
  logParam: z.object({ run_id: RunId.optional(), run_uuid: RunId.optional(), key: z.string(), value: z.string() }),
  logMetric: z.object({ run_id: RunId.optional(), run_uuid: RunId.optional(), key: z.string(), value: z.number(), timestamp: Int64.optional(), step: Int64.optional() }),
  logBatch: z.object({
    run_id: RunId,
    // MLflow's own per-request limits (mlflow/utils/validation.py MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH).
    metrics: z.array(z.object({ key: z.string(), value: z.number(), timestamp: Int64.optional(), step: Int64.optional() })).max(1000).optional(),
    params: z.array(KeyValue).max(100).optional(),
    tags: z.array(KeyValue).max(100).optional(),
  }),
  setTag: z.object({ run_id: RunId.optional(), run_uuid: RunId.optional(), key: z.string(), value: z.string() }),
  deleteTag: z.object({ run_id: RunId, key: z.string() }),
};

const queries = {
  experimentByName: z.object({ experiment_name: z.string().min(1).max(500) }),
  experiment: z.object({ experiment_id: z.string().min(1).max(64) }),
  run: z.object({ run_id: RunId.optional(), run_uuid: RunId.optional() }),
  history: z.object({ run_id: RunId.optional(), run_uuid: RunId.optional(), metric_key: z.string().min(1).max(250), max_results: Int64.optional(), page_token: z.string().optional() }),
};

/** MLflow accepts the run id as run_id or (older clients) run_uuid. */
function runIdOf(request: { run_id?: string | undefined; run_uuid?: string | undefined }, where: string): string {
  const id = request.run_id ?? request.run_uuid;
  if (id === undefined) throw invalid(`${where}: field run_id is required`);
  return id;
}

/** The run's plan name: `mlflow.<experiment name>` in the plan grammar (other characters become "-"). */
const planName = (e: Experiment): string => `mlflow.${e.name.replace(/[^A-Za-z0-9_.-]+/g, '-')}`.slice(0, 128).replace(/[^A-Za-z0-9]+$/, '') || `mlflow.${e.experimentId}`;

/** A header value as a bounded, printable fact (null when absent). */
const printableHeader = (value: string | undefined): string | null => (value === undefined ? null : value.replace(/[^\x20-\x7e]/g, '?').slice(0, 200));

/** An MLflow metric as the run API takes it: step 0 when absent (MLflow's default), the timestamp only when given. */
const metricInput = (m: { key: string; value: number; step?: number | undefined; timestamp?: number | undefined }) => ({ key: m.key, value: m.value, step: m.step ?? 0, ...(m.timestamp !== undefined ? { timestamp: m.timestamp } : {}) });

const tagsRecord = (tags: readonly { key: string; value: string }[] | undefined): Record<string, string> => Object.fromEntries((tags ?? []).map((t) => [t.key, t.value]));

// JSON shapes of MLflow's protos (mlflow/protos/service.proto).
const keyValues = (record: Record<string, string>) => Object.entries(record).map(([key, value]) => ({ key, value }));
const metricJson = (p: MetricPoint) => ({ key: p.key, value: p.value, timestamp: p.timestamp, step: p.step });

export function experimentJson(e: Experiment) {
  const time = e.createdAt ?? 0;
  return { experiment_id: e.experimentId, name: e.name, artifact_location: e.artifactLocation, lifecycle_stage: 'active', creation_time: time, last_update_time: time, tags: keyValues(e.tags) };
}

const experimentOf = (view: MlflowRunView): string => view.mlflow?.experimentId ?? DEFAULT_EXPERIMENT_ID;

/** What runs/search filters and orders by (MLflow's run attributes, latest metric values, params, tags). */
const RUN_FIELDS: SearchFields<MlflowRunView> = (() => {
  const runName = (v: MlflowRunView) => runInfoJson(v).run_name;
  return {
    attributes: {
      run_id: { kind: 'string', list: true, get: (v) => v.runId },
      run_name: { kind: 'string', get: runName },
      'run name': { kind: 'string', get: runName },
      status: { kind: 'string', get: (v) => v.status ?? 'RUNNING' },
      user_id: { kind: 'string', get: (v) => v.mlflow?.userId ?? '' },
      artifact_uri: { kind: 'string', get: (v) => runInfoJson(v).artifact_uri },
      lifecycle_stage: { kind: 'string', get: () => 'active' },
      experiment_id: { kind: 'string', get: experimentOf },
      start_time: { kind: 'number', get: (v) => v.startTime ?? 0 },
      created: { kind: 'number', get: (v) => v.startTime ?? 0 },
      end_time: { kind: 'number', get: (v) => v.endTime },
    },
    metric: (v, key) => {
      const points = v.metrics.get(key);
      return points && points.length > 0 ? latestPoint(points)!.value : undefined;
    },
    param: (v, key) => (Object.hasOwn(v.params, key) ? v.params[key] : undefined),
    tag: (v, key) => (Object.hasOwn(v.tags, key) ? v.tags[key] : undefined),
  };
})();

/** What experiments/search filters and orders by. */
const EXPERIMENT_FIELDS: SearchFields<Experiment> = {
  attributes: {
    name: { kind: 'string', get: (e) => e.name },
    experiment_id: { kind: 'string', get: (e) => e.experimentId },
    creation_time: { kind: 'number', get: (e) => e.createdAt ?? 0 },
    last_update_time: { kind: 'number', get: (e) => e.createdAt ?? 0 },
  },
  tag: (e, key) => (Object.hasOwn(e.tags, key) ? e.tags[key] : undefined),
};

export function runInfoJson(view: MlflowRunView) {
  const experimentId = experimentOf(view);
  return {
    run_id: view.runId,
    run_uuid: view.runId,
    run_name: view.tags['mlflow.runName'] ?? view.mlflow?.runName ?? view.runId,
    experiment_id: experimentId,
    user_id: view.mlflow?.userId ?? '',
    status: view.status ?? 'RUNNING',
    start_time: view.startTime ?? 0,
    ...(view.endTime !== null ? { end_time: view.endTime } : {}),
    artifact_uri: `${artifactLocationFor(experimentId)}/${view.runId}/artifacts`,
    lifecycle_stage: 'active',
  };
}

export function runJson(view: MlflowRunView) {
  const latest = [...view.metrics.values()].map((points) => latestPoint(points)!).map(metricJson);
  return { info: runInfoJson(view), data: { metrics: latest, params: keyValues(view.params), tags: keyValues(view.tags) }, inputs: {} };
}

/** Endpoints of MLflow's API that exist there and are refused here, with why. */
const NOT_SUPPORTED: readonly [string, string, string][] = [
  ['POST', 'runs/delete', 'runs are never deleted from the ledger'],
  ['POST', 'runs/restore', 'runs are never deleted from the ledger'],
  ['POST', 'experiments/delete', 'experiments are never deleted from the ledger'],
  ['POST', 'experiments/restore', 'experiments are never deleted from the ledger'],
  ['POST', 'experiments/update', 'an experiment keeps the name it was created with'],
  ['POST', 'experiments/set-experiment-tag', 'experiment tags are recorded only when the experiment is created'],
  ['POST', 'runs/log-inputs', 'dataset inputs are not recorded'],
  ['POST', 'runs/log-model', 'models are registered with `runledger model register`'],
  ['DELETE', 'registered-models/delete', 'a model and its history are never deleted from the ledger'],
  ['DELETE', 'model-versions/delete', 'a model version is never deleted from the ledger (move or delete its aliases)'],
  ['POST', 'registered-models/rename', 'a model keeps the name its stream was created with'],
  ['POST', 'model-versions/transition-stage', 'stages are not recorded (MLflow deprecated them): use aliases'],
];

export function registerMlflowApi(app: FastifyInstance, options: MlflowApiOptions): void {
  const { ctx } = options;
  void app.register(
    async (scope) => {
    installMlflowErrors(scope, MLFLOW_PREFIX);
    // MLflow's own request limit (mlflow/utils/validation.py MAX_BATCH_LOG_REQUEST_SIZE): a log-batch of
    // 1,000 metrics or 100 long params is larger than the dashboard's 64 KiB. Artifacts set their own.
    scope.addHook('onRoute', (route) => {
      route.bodyLimit ??= MLFLOW_BODY_BYTES;
    });
    scope.addHook('onRequest', rateLimitHook(options.buckets));
    scope.addHook('onRequest', requireToken(options.token));
    const q = <T>(schema: z.ZodType<T>, request: FastifyRequest, where: string) => parseRequest(schema, request.query, where);
    const b = <T>(schema: z.ZodType<T>, request: FastifyRequest, where: string) => parseRequest(schema, request.body, where);
    const p = (path: string) => `/mlflow/${path}`;
    const getRunView = (c: RunApiContext, runId: string) => readRequiredRun(c.store, runId);

    scope.get(p('experiments/get-by-name'), { config: doc({ query: queries.experimentByName }, 'Get an experiment by name', 'Query: experiment_name.') }, async (request) => {
      const { experiment_name } = q(queries.experimentByName, request, 'experiments/get-by-name');
      return { experiment: experimentJson(await getExperimentByName(ctx.store, experiment_name)) };
    });

    scope.post(p('experiments/create'), { config: doc({ body: bodies.createExperiment }, 'Create an experiment (an ExperimentCreated event on its own stream)', 'Body: name, tags. artifact_location is always this server\'s mlflow-artifacts proxy.') }, async (request) => {
      const body = b(bodies.createExperiment, request, 'experiments/create');
      if (body.artifact_location !== undefined && body.artifact_location !== '') throw invalid('experiments/create: field artifact_location is not supported: artifacts are kept content-addressed by this server (mlflow-artifacts)');
      const experiment = await createExperiment(ctx.store, { name: body.name, tags: tagsRecord(body.tags), actor: ctx.actor });
      return { experiment_id: experiment.experimentId };
    });

    scope.get(p('experiments/get'), { config: doc({ query: queries.experiment }, 'Get an experiment by id', 'Query: experiment_id.') }, async (request) => {
      const { experiment_id } = q(queries.experiment, request, 'experiments/get');
      return { experiment: experimentJson(await getExperiment(ctx.store, experiment_id)) };
    });

    const searchExperiments = async (value: unknown) => {
      const body = parseRequest(bodies.searchExperiments, value, 'experiments/search');
      const all = search(await listExperiments(ctx.store), EXPERIMENT_FIELDS, body, 'experiments/search');
      const { items, next } = page(all, pageOffset(body.page_token, 'experiments/search'), Math.min(body.max_results ?? 1000, 50_000));
      return { experiments: items.map(experimentJson), ...(next ? { next_page_token: next } : {}) };
    };
    scope.post(p('experiments/search'), { config: doc({ body: bodies.searchExperiments }, 'List experiments', 'Body: filter (MLflow\'s grammar over name, experiment_id, creation_time, last_update_time and tags), order_by, max_results, page_token.') }, async (request) => searchExperiments(request.body));
    scope.get(p('experiments/search'), { config: doc({ query: bodies.searchExperiments }, 'List experiments', 'Query: filter (MLflow\'s grammar over name, experiment_id, creation_time, last_update_time and tags), order_by, max_results, page_token.') }, async (request) => searchExperiments(request.query));

    scope.post(p('runs/create'), { config: doc({ body: bodies.createRun }, 'Create a run: a ledger run with an open plan, its environment, tags', 'Body: experiment_id, user_id, start_time, tags, run_name. The run id is generated; start_time is kept as the client\'s fact, the run\'s start is when the ledger recorded it.') }, async (request) => {
      const body = b(bodies.createRun, request, 'runs/create');
      const experiment = await getExperiment(ctx.store, body.experiment_id ?? DEFAULT_EXPERIMENT_ID);
      const runId = randomUUID().replace(/-/g, '');
      const tags = tagsRecord(body.tags);
      const runName = body.run_name ?? tags['mlflow.runName'] ?? `run-${runId.slice(0, 8)}`;
      tags['mlflow.runName'] = runName;
      if (body.user_id !== undefined && tags['mlflow.user'] === undefined) tags['mlflow.user'] = body.user_id;
      await startRun(ctx, {
        runId,
        external: { name: planName(experiment), description: `MLflow run ${runName} in experiment ${experiment.experimentId}`.slice(0, 1000) },
        tags,
        // What the client says of itself: its User-Agent (the MLflow client names its version there), the git
        // commit MLflow tags the source with, and its start time. Facts reported, not verified.
        environment: {
          mlflow: { experimentId: experiment.experimentId, runName, userId: body.user_id ?? tags['mlflow.user'] ?? '', startTime: body.start_time ?? null },
          userAgent: printableHeader(request.headers['user-agent']),
          gitCommit: tags['mlflow.source.git.commit'] ?? null,
        },
        source: 'mlflow',
      });
      await addExperimentRun(ctx.store, experiment.experimentId, runId, ctx.actor);
      return { run: runJson(await getRunView(ctx, runId)) };
    });

    scope.post(p('runs/update'), { config: doc({ body: bodies.updateRun }, 'Update a run: end it (FINISHED), fail it (FAILED, KILLED) or rename it', 'Body: run_id, status, end_time, run_name. A finished run cannot change status; end_time is the ledger\'s.') }, async (request) => {
      const body = b(bodies.updateRun, request, 'runs/update');
      const runId = runIdOf(body, 'runs/update');
      const view = await getRunView(ctx, runId);
      const handle = await openRun(ctx, runId);
      if (body.run_name !== undefined && body.run_name !== view.tags['mlflow.runName']) await handle.setTags({ 'mlflow.runName': body.run_name });
      const status = body.status;
      if (status !== undefined && status !== 'RUNNING' && status !== 'SCHEDULED' && status !== view.status) {
        if (view.status !== 'RUNNING') throw new MlflowError('INVALID_STATE', 400, `runs/update: run ${runId} has already ended with status ${view.status}; it cannot become ${status}`);
        if (status === 'FINISHED') await handle.end();
        else await handle.fail(status === 'KILLED' ? KILLED_REASON : 'the MLflow client reported the run FAILED (runs/update)');
      }
      return { run_info: runInfoJson(await getRunView(ctx, runId)) };
    });

    scope.get(p('runs/get'), { config: doc({ query: queries.run }, 'Get a run: info, latest metrics, params and tags', 'Query: run_id.') }, async (request) => {
      const query = q(queries.run, request, 'runs/get');
      return { run: runJson(await getRunView(ctx, runIdOf(query, 'runs/get'))) };
    });

    const searchRuns = async (value: unknown) => {
      const body = parseRequest(bodies.searchRuns, value, 'runs/search');
      const experimentIds = body.experiment_ids ?? [];
      if (experimentIds.length === 0) throw invalid('runs/search: field experiment_ids must name at least one experiment');
      const views: MlflowRunView[] = [];
      for (const experimentId of experimentIds) {
        await getExperiment(ctx.store, experimentId);
        for (const runId of await experimentRunIds(ctx.store, experimentId)) {
          const view = await readRunView(ctx.store, runId);
          // The index is believed only where the run's own signed environment names the same experiment.
          if (view && experimentOf(view) === experimentId) views.push(view);
        }
      }
      // MLflow's default order: newest start first, then run id; order_by sorts within it.
      views.sort((a, b2) => (b2.startTime ?? 0) - (a.startTime ?? 0) || a.runId.localeCompare(b2.runId));
      const found = search(views, RUN_FIELDS, body, 'runs/search');
      const { items, next } = page(found, pageOffset(body.page_token, 'runs/search'), Math.min(body.max_results ?? 1000, 50_000));
      return { runs: items.map(runJson), ...(next ? { next_page_token: next } : {}) };
    };
    scope.post(p('runs/search'), { config: doc({ body: bodies.searchRuns }, 'Runs of experiments, newest first', 'Body: experiment_ids, filter (MLflow\'s grammar: metrics.<key> by latest value, params.<key>, tags.<key>, attributes run_id, run_name, status, user_id, start_time, end_time, … joined by AND), order_by, max_results, page_token.') }, async (request) => searchRuns(request.body));

    scope.post(p('runs/log-parameter'), { config: doc({ body: bodies.logParam }, 'Log a param (write-once: the same value again is a no-op, another value is refused)', 'Body: run_id, key, value.') }, async (request) => {
      const body = b(bodies.logParam, request, 'runs/log-parameter');
      await logBatch(ctx, runIdOf(body, 'runs/log-parameter'), { params: { [body.key]: body.value } });
      return {};
    });

    scope.post(p('runs/log-metric'), { config: doc({ body: bodies.logMetric }, 'Log a metric point (appended; never replaced)', 'Body: run_id, key, value (finite), timestamp (ms), step.') }, async (request) => {
      const body = b(bodies.logMetric, request, 'runs/log-metric');
      await logBatch(ctx, runIdOf(body, 'runs/log-metric'), { metrics: [metricInput(body)] });
      return {};
    });

    scope.post(p('runs/log-batch'), { config: doc({ body: bodies.logBatch }, 'Log metrics, params and tags in one atomic append (all or nothing)', 'Body: run_id, metrics (at most 1000), params and tags (at most 100 each).') }, async (request) => {
      const body = b(bodies.logBatch, request, 'runs/log-batch');
      const params: Record<string, string> = {};
      for (const { key, value } of body.params ?? []) {
        if (Object.hasOwn(params, key) && params[key] !== value) throw invalid(`runs/log-batch: param ${key} is given twice with different values`);
        params[key] = value;
      }
      await logBatch(ctx, body.run_id, {
        ...(body.params?.length ? { params } : {}),
        ...(body.metrics?.length ? { metrics: body.metrics.map(metricInput) } : {}),
        ...(body.tags?.length ? { tags: tagsRecord(body.tags) } : {}),
      });
      return {};
    });

    scope.post(p('runs/set-tag'), { config: doc({ body: bodies.setTag }, 'Set a tag (its earlier value stays in the log)', 'Body: run_id, key, value.') }, async (request) => {
      const body = b(bodies.setTag, request, 'runs/set-tag');
      await logBatch(ctx, runIdOf(body, 'runs/set-tag'), { tags: { [body.key]: body.value } });
      return {};
    });

    scope.post(p('runs/delete-tag'), { config: doc({ body: bodies.deleteTag }, 'Delete a tag: a TagDeleted event, never an erasure', 'Body: run_id, key.') }, async (request) => {
      const body = b(bodies.deleteTag, request, 'runs/delete-tag');
      const view = await getRunView(ctx, body.run_id);
      if (!Object.hasOwn(view.tags, body.key)) throw notFound(`runs/delete-tag: run ${body.run_id} has no tag ${JSON.stringify(body.key)}`);
      await (await openRun(ctx, body.run_id)).deleteTag(body.key);
      return {};
    });

    scope.get(p('metrics/get-history'), { config: doc({ query: queries.history }, 'Every point of a metric, in log order', 'Query: run_id, metric_key, max_results, page_token.') }, async (request) => {
      const query = q(queries.history, request, 'metrics/get-history');
      const view = await getRunView(ctx, runIdOf(query, 'metrics/get-history'));
      const points = view.metrics.get(query.metric_key) ?? [];
      const { items, next } = page(points, pageOffset(query.page_token, 'metrics/get-history'), Math.min(query.max_results ?? 25_000, 25_000));
      return { metrics: items.map(metricJson), ...(next ? { next_page_token: next } : {}) };
    });

    for (const [method, path, why] of NOT_SUPPORTED) {
      scope.route({
        method,
        url: p(path),
        config: doc({}, `Not supported: ${why}`, undefined, { '501': { description: `NOT_IMPLEMENTED: ${why}`, schema: MLFLOW_ERROR_SCHEMA } }, {}),
        handler: async () => {
          throw new MlflowError('NOT_IMPLEMENTED', 501, `${path} is not supported by runledger's MLflow API: ${why} (docs/mlflow.md "Not supported")`);
        },
      });
    }

    registerArtifactRoutes(scope, { ctx, artifactBytes: options.artifactBytes });
    registerMlflowRegistryRoutes(scope, { ctx });
    },
    { prefix: MLFLOW_PREFIX },
  );
}
