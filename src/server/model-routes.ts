// The model registry's JSON API on `runledger serve`: reads answer from the verified history
// (src/registry/model-history.ts, the checks of `runledger model history`), writes need the server
// token (the same bearer check as POST /api/checkpoints) and are anchored by a checkpoint at once.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hasSigningKey, loadVerifierKey } from '../ledger/keys.js';
import { anchorChange, deleteAlias, registerVersion, setAlias, type ModelChange } from '../registry/model-registry.js';
import { modelAt, readModelHistory, type ModelHistory } from '../registry/model-history.js';
import { isModelStream, modelStream } from '../registry/model-rules.js';
import { InputError } from '../errors.js';
import type { EventStore } from '../store/port.js';
import type { ModelSummary } from './api-types.js';
import { HttpError, requireToken } from './security.js';

const NAME = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';
const ALIAS = '^[a-z][a-z0-9_-]{0,63}$';
const Actor = z.string().min(1).max(200).optional();
const RegisterBody = z.object({ runId: z.string().min(1).max(128), checkpoint: z.string().regex(/^[0-9a-f]{64}$/).optional(), description: z.string().max(1000).optional(), actor: Actor }).strict();
const AliasBody = z.object({ version: z.number().int().min(1), reason: z.string().min(1).max(1000), actor: Actor }).strict();
const DeleteBody = z.object({ reason: z.string().min(1).max(1000), actor: Actor }).strict();

/** Default actor of API writes: the token holder asserts who they are with `actor`. */
const API_ACTOR = 'serve';

export function registerModelRoutes(app: FastifyInstance, options: { store: EventStore; home: string; token: string | undefined }): void {
  const { store, home } = options;
  const keys = (): string[] => {
    if (!hasSigningKey(home)) throw new HttpError(409, `no verifier key in ${home}: the model history is verified with the key that signed the checkpoints`);
    return [loadVerifierKey(home)];
  };
  // A history is re-verified when its stream, the latest checkpoint or the key changes.
  const cache = new Map<string, { key: string; history: ModelHistory }>();
  const history = async (model: string): Promise<ModelHistory> => {
    const vkeys = keys();
    const [revision, checkpoints] = await Promise.all([store.streamRevision(modelStream(model)), store.checkpoints()]);
    const key = `${revision}\n${checkpoints.at(-1)?.note ?? ''}\n${vkeys[0]}`;
    const cached = cache.get(model);
    if (cached?.key === key) return cached.history;
    if (revision < 0) throw new HttpError(404, `no model "${model}" in this ledger`);
    const fresh = await readModelHistory(store, model, { verifierKeys: vkeys });
    cache.set(model, { key, history: fresh });
    return fresh;
  };
  const modelParams = { type: 'object', properties: { name: { type: 'string', pattern: NAME } }, required: ['name'] } as const;
  const aliasParams = { type: 'object', properties: { name: { type: 'string', pattern: NAME }, alias: { type: 'string', pattern: ALIAS } }, required: ['name', 'alias'] } as const;
  const body = <T>(schema: z.ZodType<T>, value: unknown): T => {
    const parsed = schema.safeParse(value ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new HttpError(400, `body field ${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`);
    }
    return parsed.data;
  };
  const written = async (change: ModelChange) => {
    cache.delete(change.model);
    const anchor = await anchorChange(store, home);
    return { ...change, anchoredBy: anchor.size === null ? null : { size: anchor.size, note: anchor.note }, ...(anchor.reason ? { notAnchored: anchor.reason } : {}) };
  };

  app.get('/api/models', async (): Promise<{ models: ModelSummary[] }> => {
    const streams = (await store.listStreams()).filter((s) => isModelStream(s.stream));
    const models: ModelSummary[] = [];
    for (const { stream } of streams) {
      const model = stream.slice(modelStream('').length);
      let h: ModelHistory;
      try {
        h = await history(model);
      } catch (err) {
        // A stream named like a model that no model command could have written (an invalid name).
        if (!(err instanceof InputError)) throw err;
        models.push({ model, ok: false, anchored: false, versions: 0, aliases: {}, lastChange: null, divergence: err.message });
        continue;
      }
      models.push({ model: h.model, ok: h.ok, anchored: h.anchored, versions: h.versions.length, aliases: h.aliases, lastChange: h.entries.at(-1)?.recordedAt ?? null, divergence: h.firstDivergence?.message ?? null });
    }
    return { models: models.sort((a, b) => a.model.localeCompare(b.model)) };
  });

  app.get<{ Params: { name: string } }>('/api/models/:name', { schema: { params: modelParams } }, async (request) => history(request.params.name));

  app.get<{ Params: { name: string }; Querystring: { t: string } }>(
    '/api/models/:name/at',
    { schema: { params: modelParams, querystring: { type: 'object', properties: { t: { type: 'string', maxLength: 64 } }, required: ['t'], additionalProperties: false } } },
    async (request) => {
      const h = await history(request.params.name);
      if (!h.ok) throw new HttpError(409, `model ${h.model} does not verify: ${h.firstDivergence?.message ?? 'verification failed'}`);
      return { ok: true, ...modelAt(h, request.query.t), checkpoint: h.checkpoint };
    },
  );

  const guard = { preHandler: requireToken(options.token) };
  app.post<{ Params: { name: string } }>('/api/models/:name/versions', { ...guard, schema: { params: modelParams } }, async (request) => {
    const b = body(RegisterBody, request.body);
    return written(await registerVersion(store, { model: request.params.name, runId: b.runId, checkpoint: b.checkpoint, description: b.description ?? null, actor: b.actor ?? API_ACTOR, verifierKeys: keys() }));
  });
  app.put<{ Params: { name: string; alias: string } }>('/api/models/:name/aliases/:alias', { ...guard, schema: { params: aliasParams } }, async (request) => {
    const b = body(AliasBody, request.body);
    return written(await setAlias(store, { model: request.params.name, alias: request.params.alias, version: b.version, reason: b.reason, actor: b.actor ?? API_ACTOR }));
  });
  app.delete<{ Params: { name: string; alias: string } }>('/api/models/:name/aliases/:alias', { ...guard, schema: { params: aliasParams } }, async (request) => {
    const b = body(DeleteBody, request.body);
    return written(await deleteAlias(store, { model: request.params.name, alias: request.params.alias, reason: b.reason, actor: b.actor ?? API_ACTOR }));
  });
}
