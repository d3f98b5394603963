// `runledger serve`: a fastify app over the dashboard read model. Handlers are thin — they look a
// record up in the live view and shape it (views.ts); the truth is in the projections and the log.
import Fastify, { type FastifyInstance } from 'fastify';
import { LedgerError } from '../errors.js';
import { createCheckpoint } from '../ledger/checkpoint.js';
import { hasSigningKey, loadVerifierKey } from '../ledger/keys.js';
import { loadLedgerSigner } from '../ledger/signer-state.js';
import { requireOrigin } from '../ledger/origin.js';
import { checkLoggedEvents, replayRun } from '../replay/replay.js';
import type { EventStore } from '../store/port.js';
import { runledgerVersion } from '../version.js';
import { verifyWorkerSignature, workerEventMessage } from '../integrity/worker-signature.js';
import type { ReplayView, ServerInfo, VerificationBadge } from './api-types.js';
import { defaultAssetsDir, registerAssets } from './assets.js';
import { registerEventStream } from './event-stream.js';
import { LiveView } from './live-view.js';
import { replayView } from './replay-view.js';
import { checkExposure, frameworkError, HttpError, installJsonBodies, installSecurity, listenAddress, requireToken, SESSION_COOKIE, sessionValue } from './security.js';
import { LIMITS } from '../input/limits.js';
import { VerificationCache } from './verification.js';
import { METRICS_CONTENT_TYPE, ServerMetrics } from './metrics.js';
import { registerModelRoutes } from './model-routes.js';
import { runPage } from './run-list.js';
import { registerFileRoutes } from './file-routes.js';
import { comparedRunIds, compareView, MAX_COMPARED } from './compare-view.js';
import { chartStage, comparisonView, gateView, graphView, runDetail, telemetryView, type CheckpointSignatureCheck } from './views.js';
import { collectRoutes, registerOpenApi } from './openapi.js';
import { DEFAULT_RATE_LIMIT, TokenBuckets, type RateLimit } from './rate-limit.js';
import { registerWriteApi } from './write-api.js';
import { registerMlflowApi } from './mlflow/tracking.js';
import { RunHeads } from '../governance/guarded-append.js';

export interface ServerOptions {
  store: EventStore;
  home: string;
  /** Listen address; default 127.0.0.1 (never all interfaces unless asked). */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Enables the mutating endpoints for requests that carry `Authorization: Bearer <token>`; beyond loopback, also needed to read. */
  token?: string;
  /** Host names to answer besides loopback names (a name this server is reached by, e.g. behind a proxy). */
  allowedHosts?: readonly string[];
  /** Listen beyond loopback without a token: read-only, for anyone who can reach the port. */
  insecurePublic?: boolean;
  /** Concurrent Server-Sent-Events connections; default LIMITS.sseConnections. */
  maxLiveConnections?: number;
  /** Time to receive a whole request, headers and body; default LIMITS.requestMs. */
  requestTimeoutMs?: number;
  /** Directory of the built pages; default dist/web. */
  assetsDir?: string;
  /** Store subscription poll interval, ms (other processes' appends). */
  pollMs?: number;
  /** Where 5xx details go; the client only ever sees `{error}`. */
  log?: (message: string) => void;
  /** Stored consumer positions /metrics reports beside the projections' (e.g. `relay:<topic>`). */
  consumers?: readonly string[];
  /** Requests per client address to the write and MLflow APIs; default DEFAULT_RATE_LIMIT. */
  rateLimit?: RateLimit;
  /** Largest POST /api/events body; default LIMITS.appendBytes. */
  eventsBodyBytes?: number;
  /** Largest MLflow artifact upload; default 64 MiB. */
  artifactBytes?: number;
  /** Told of every route as fastify registers it (the OpenAPI test compares them with the document). */
  onRoute?: (method: string, url: string) => void;
}

export interface DashboardServer {
  app: FastifyInstance;
  live: LiveView;
  /** http://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

const RUN_ID = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';
const RUNS_QUERY = {
  type: 'object',
  properties: {
    filter: { type: 'string', maxLength: 4096 },
    sort: { type: 'string', maxLength: 300 },
    q: { type: 'string', maxLength: 1000 },
    offset: { type: 'integer', minimum: 0 },
    limit: { type: 'integer', minimum: 1, maximum: 10_000 },
  },
  additionalProperties: false,
} as const;
/** `metadata.actor` of what the HTTP APIs record unless an event names its own: the token holder. */
const API_ACTOR = 'serve';

export async function buildApp(options: ServerOptions): Promise<{ app: FastifyInstance; live: LiveView }> {
  const host = listenAddress(options.host ?? '127.0.0.1');
  const security = { host, token: options.token, allowedHosts: options.allowedHosts, insecurePublic: options.insecurePublic };
  // Refused before the store is subscribed to: nothing is started for a server that must not start.
  checkExposure(security);
  const { home } = options;
  const requestMs = options.requestTimeoutMs ?? LIMITS.requestMs;
  const live = await LiveView.open(options.store, { pollMs: options.pollMs ?? 100 });
  const metrics: ServerMetrics = new ServerMetrics({
    store: options.store,
    livePosition: () => live.position,
    badges: async (): Promise<VerificationBadge[]> => (await verification.runs(live.runIds().map(revisionOf))).map((r) => r.badge),
    consumers: options.consumers,
  });
  // Appends this process makes (the model API, checkpoints) are timed and counted for /metrics.
  const store: EventStore = metrics.instrument(options.store);
  const verification: VerificationCache = new VerificationCache(store, home);
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));

  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    return503OnClosing: true,
    bodyLimit: LIMITS.requestBodyBytes,
    // Slowloris: a request (headers and body) not received in time is answered 408 and closed;
    // Node checks its connections every connectionsCheckingInterval, so that is kept short.
    requestTimeout: requestMs,
    http: { requestTimeout: requestMs, headersTimeout: requestMs, connectionsCheckingInterval: Math.max(100, Math.min(1000, requestMs / 4)) },
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: frameworkError,
  });
  // Before any route: the OpenAPI document is built from the routes registered from here on.
  const routes = collectRoutes(app);
  const onRoute = options.onRoute;
  if (onRoute) app.addHook('onRoute', (route) => [route.method].flat().forEach((method) => onRoute(method, route.url)));
  installSecurity(app, security);
  installJsonBodies(app);
  app.addHook('onError', async (request, _reply, error) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (!(error instanceof HttpError) && !(error instanceof LedgerError) && status >= 500) {
      log(`runledger serve: ${request.method} ${request.url}: ${error.stack ?? error.message}`);
    }
  });
  app.addHook('onClose', async () => live.close());
  // Route templates, never raw URLs, label the request metrics: their cardinality stays bounded.
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeHttp(request.method, request.routeOptions.url ?? '(unmatched)', reply.statusCode, reply.elapsedTime / 1000);
  });
  // A read model that stopped following the store would show stale truth: say so instead.
  app.addHook('preHandler', async (request) => {
    if (live.error && request.url.startsWith('/api')) throw new HttpError(503, `the store subscription failed (${live.error.message}); restart "runledger serve"`);
  });

  const revisionOf = (runId: string) => ({ runId, revision: live.run(runId)!.provenance.governance.lastRevision });
  const badge = async (runId: string): Promise<VerificationBadge> => (await verification.runs([revisionOf(runId)]))[0]!.badge;
  const findRun = (id: string) => {
    const run = live.run(id);
    if (!run) throw new HttpError(404, `no run "${id}" in this ledger`);
    return run;
  };
  const checkSignature = checkpointSignatureCheck();
  const runParams = { type: 'object', properties: { id: { type: 'string', pattern: RUN_ID } }, required: ['id'] } as const;

  app.get('/api', async (): Promise<ServerInfo> => ({
    version: runledgerVersion(),
    store: store.displayUrl,
    readOnly: options.token === undefined,
    position: live.position,
  }));

  // Paged, filtered, searched and sorted on the server (run-list.ts; grammar in docs/dashboard.md).
  app.get<{ Querystring: { filter?: string; sort?: string; q?: string; offset?: number; limit?: number } }>(
    '/api/runs',
    { schema: { querystring: RUNS_QUERY } },
    async (request) => runPage(live, verification, request.query),
  );

  app.get<{ Querystring: { runs: string } }>(
    '/api/compare',
    { schema: { querystring: { type: 'object', properties: { runs: { type: 'string', maxLength: 8192 } }, required: ['runs'], additionalProperties: false } } },
    async (request) => {
      const ids = comparedRunIds(live, request.query.runs.split(',').map((s) => s.trim()).filter(Boolean));
      if (ids.length < 1 || ids.length > MAX_COMPARED) throw new HttpError(400, `runs: compare 1 to ${MAX_COMPARED} runs (got ${ids.length})`);
      const known = ids.filter((id) => live.run(id));
      const checks = await verification.runs(known.map(revisionOf));
      return compareView(known.map((id, i) => ({ run: live.run(id)!, check: checks[i]! })), ids.filter((id) => !live.run(id)));
    },
  );

  app.get<{ Params: { id: string } }>('/api/runs/:id', { schema: { params: runParams } }, async (request) => {
    const run = findRun(request.params.id);
    return runDetail(run, await badge(run.runId), checkSignature, live);
  });

  app.get<{ Params: { id: string }; Querystring: { after?: number; stage?: string } }>(
    '/api/runs/:id/telemetry',
    {
      schema: {
        params: runParams,
        querystring: { type: 'object', properties: { after: { type: 'integer', minimum: -1 }, stage: { type: 'string', pattern: RUN_ID } }, additionalProperties: false },
      },
    },
    async (request) => {
      const run = findRun(request.params.id);
      return telemetryView(run, request.query.stage ?? chartStage(run), request.query.after ?? -1);
    },
  );

  app.get<{ Params: { id: string } }>('/api/runs/:id/checkpoints', { schema: { params: runParams } }, async (request) => {
    const run = findRun(request.params.id);
    return { runId: run.runId, checkpoints: runDetail(run, await badge(run.runId), checkSignature, live).checkpointList };
  });

  app.get<{ Params: { id: string } }>('/api/runs/:id/replay', { schema: { params: runParams } }, async (request): Promise<ReplayView> => {
    const run = findRun(request.params.id);
    const keys = hasSigningKey(home) ? [loadVerifierKey(home)] : [];
    if (keys.length === 0) throw new HttpError(409, `no verifier key in ${home}: replay needs the key that signed the checkpoints`);
    // Judged as the badge is: the run must hold every event the live projection of the log has of it.
    return replayView(run.runId, checkLoggedEvents(await replayRun(store, run.runId, { verifierKeys: keys, checkTail: false }), run.provenance.governance.lastRevision + 1));
  });

  app.get('/api/comparisons', async () => ({
    comparisons: [...live.comparisons.values()].map(comparisonView).sort((a, b) => b.recordedAt.localeCompare(a.recordedAt)),
  }));

  app.get('/api/gates', async () => ({
    gates: [...live.comparisons.values()].filter((c) => c.gate).map(gateView).sort((a, b) => b.recordedAt.localeCompare(a.recordedAt)),
  }));

  app.get('/api/graph', async () => graphView(live));

  app.get('/api/verification', async () =>
    verification.view(live.runIds().map(revisionOf)),
  );

  // The one mutating endpoint: sign a checkpoint of the ledger now (needs the token and the home's key).
  app.post('/api/checkpoints', { preHandler: requireToken(options.token) }, async () => {
    if (!hasSigningKey(home)) throw new HttpError(409, `no signing key in ${home}: run "runledger init" with this home`);
    const outcome = await createCheckpoint(store, loadLedgerSigner(home), await requireOrigin(store));
    return { created: outcome.created, size: outcome.checkpoint.size, root: outcome.checkpoint.root };
  });

  registerModelRoutes(app, { store, home, token: options.token });
  registerFileRoutes(app, { live, home });

  // The write API (docs/http-api.md): rate limited per client address, token required.
  const buckets = new TokenBuckets(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  registerWriteApi(app, { store, home, token: options.token, buckets, actor: API_ACTOR, heads: new RunHeads(), eventsBodyBytes: options.eventsBodyBytes ?? LIMITS.appendBytes });
  // MLflow's tracking API and artifact proxy over the run API, its model registry API over src/registry (docs/mlflow.md), same token and limits.
  registerMlflowApi(app, { ctx: { store, home, actor: API_ACTOR }, token: options.token, buckets, artifactBytes: options.artifactBytes ?? 64 * 1024 * 1024 });
  registerOpenApi(app, routes, runledgerVersion());

  // Prometheus text exposition; read-only, no token (docs/operations.md, "Metrics").
  // Like the API, it refuses requests another site's page makes the browser send (Fetch Metadata):
  // a scrape can cost replays. Prometheus sends no Sec-Fetch-Site header.
  app.get('/metrics', async (request, reply) => {
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new HttpError(403, 'cross-site requests for /metrics are refused');
    return reply.type(METRICS_CONTENT_TYPE).send(await metrics.exposition());
  });


  // A browser cannot put a bearer header on EventSource: it trades the token for an HttpOnly cookie once.
  const token = options.token;
  if (token !== undefined) {
    app.post('/api/session', { preHandler: requireToken(token) }, async (_request, reply) =>
      reply.header('set-cookie', `${SESSION_COOKIE}=${sessionValue(token)}; HttpOnly; SameSite=Strict; Path=/`).code(204).send(),
    );
  }

  registerEventStream(app, live, options.maxLiveConnections ?? LIMITS.sseConnections);
  await registerAssets(app, options.assetsDir ?? defaultAssetsDir());
  return { app, live };
}

/** Builds the app and listens; `port: 0` picks a free port. */
export async function startServer(options: ServerOptions): Promise<DashboardServer> {
  const { app, live } = await buildApp(options);
  const host = listenAddress(options.host ?? '127.0.0.1');
  await app.listen({ host, port: options.port ?? 8787 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8787);
  const shown = host.includes(':') ? `[${host}]` : host;
  return { app, live, port, url: `http://${shown}:${port}`, close: () => app.close() };
}

/** Worker signatures (checkpoints, artifacts) checked against the keys the run's approval trusts (cached per signed message). */
function checkpointSignatureCheck(): CheckpointSignatureCheck {
  const cache = new Map<string, boolean>();
  return (event, trustedKeys, type = 'CheckpointWritten') => {
    if (trustedKeys.length === 0) return null;
    if (!trustedKeys.includes(event.publicKey)) return false;
    // Keyed by the whole signed message: a copy with the same signature but other metrics is checked afresh.
    const message = workerEventMessage(type, event);
    const key = `${type}:${event.publicKey}:${event.signature}:${message.toString('base64')}`;
    let ok = cache.get(key);
    if (ok === undefined) {
      ok = verifyWorkerSignature(event.publicKey, message, event.signature);
      cache.set(key, ok);
    }
    return ok;
  };
}
