// `runledger serve`: a fastify app over the dashboard read model. Handlers are thin — they look a
// record up in the live view and shape it (views.ts); the truth is in the projections and the log.
import Fastify, { type FastifyInstance } from 'fastify';
import { LedgerError } from '../errors.js';
import { createCheckpoint } from '../ledger/checkpoint.js';
import { hasSigningKey, loadVerifierKey } from '../ledger/keys.js';
import { loadLedgerSigner } from '../ledger/signer-state.js';
import { requireOrigin } from '../ledger/origin.js';
import { replayRun } from '../replay/replay.js';
import type { EventStore } from '../store/port.js';
import { runledgerVersion } from '../version.js';
import { verifyWorkerSignature, workerEventMessage } from '../integrity/worker-signature.js';
import { hasWorkerKey, homeWorkerKeys } from '../../workers/keys.js';
import type { ReplayView, ServerInfo, VerificationBadge } from './api-types.js';
import { defaultAssetsDir, registerAssets } from './assets.js';
import { registerEventStream } from './event-stream.js';
import { LiveView } from './live-view.js';
import { replayView } from './replay-view.js';
import { frameworkError, HttpError, installSecurity, requireToken } from './security.js';
import { VerificationCache } from './verification.js';
import { chartStage, comparisonView, gateView, graphView, runDetail, runRow, telemetryView, type CheckpointSignatureCheck } from './views.js';

export interface ServerOptions {
  store: EventStore;
  home: string;
  /** Listen address; default 127.0.0.1 (never all interfaces unless asked). */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Enables the mutating endpoints for requests that carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Directory of the built pages; default dist/web. */
  assetsDir?: string;
  /** Store subscription poll interval, ms (other processes' appends). */
  pollMs?: number;
  /** Where 5xx details go; the client only ever sees `{error}`. */
  log?: (message: string) => void;
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

export async function buildApp(options: ServerOptions): Promise<{ app: FastifyInstance; live: LiveView }> {
  const host = options.host ?? '127.0.0.1';
  const { store, home } = options;
  const live = await LiveView.open(store, { pollMs: options.pollMs ?? 100 });
  const verification = new VerificationCache(store, home);
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));

  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    return503OnClosing: true,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: frameworkError,
  });
  installSecurity(app, { host, token: options.token });
  app.addHook('onError', async (request, _reply, error) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (!(error instanceof HttpError) && !(error instanceof LedgerError) && status >= 500) {
      log(`runledger serve: ${request.method} ${request.url}: ${error.stack ?? error.message}`);
    }
  });
  app.addHook('onClose', async () => live.close());
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
  const checkSignature = checkpointSignatureCheck(home);
  const runParams = { type: 'object', properties: { id: { type: 'string', pattern: RUN_ID } }, required: ['id'] } as const;

  app.get('/api', async (): Promise<ServerInfo> => ({
    version: runledgerVersion(),
    store: store.displayUrl,
    readOnly: options.token === undefined,
    position: live.position,
  }));

  app.get('/api/runs', async () => {
    const ids = live.runIds();
    const badges = await verification.runs(ids.map(revisionOf));
    const rows = ids.map((runId, i) => runRow(live.run(runId)!, badges[i]!.badge));
    rows.sort((a, b) => (b.updatedAt ?? '').localeCompare(a.updatedAt ?? '') || a.runId.localeCompare(b.runId));
    return { position: live.position, runs: rows };
  });

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
    return replayView(run.runId, await replayRun(store, run.runId, { verifierKeys: keys }));
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

  registerEventStream(app, live);
  await registerAssets(app, options.assetsDir ?? defaultAssetsDir());
  return { app, live };
}

/** Builds the app and listens; `port: 0` picks a free port. */
export async function startServer(options: ServerOptions): Promise<DashboardServer> {
  const { app, live } = await buildApp(options);
  const host = options.host ?? '127.0.0.1';
  await app.listen({ host, port: options.port ?? 8787 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8787);
  const shown = host.includes(':') ? `[${host}]` : host;
  return { app, live, port, url: `http://${shown}:${port}`, close: () => app.close() };
}

/** Checkpoint event signatures checked against the home's worker key (the one its workers sign with); null without one. */
function checkpointSignatureCheck(home: string): CheckpointSignatureCheck {
  let trusted: string | null | undefined;
  const cache = new Map<string, boolean>();
  return (checkpoint) => {
    if (trusted === undefined) trusted = hasWorkerKey(home) ? homeWorkerKeys(home).publicKey : null;
    if (trusted === null) return null;
    const key = `${checkpoint.digest}:${checkpoint.signature}`;
    let ok = cache.get(key);
    if (ok === undefined) {
      ok = checkpoint.publicKey === trusted && verifyWorkerSignature(checkpoint.publicKey, workerEventMessage('CheckpointWritten', checkpoint), checkpoint.signature);
      cache.set(key, ok);
    }
    return ok;
  };
}
