// MLflow's Model Registry REST API 2.0 (registered models, versions, aliases; docs/mlflow.md) mapped
// onto runledger's one registry (src/registry/): a version is registered exactly as `runledger model
// register` does it — the run is replayed against the signed checkpoint, and the artifacts it logged
// at the path the client's `source` names (ArtifactRecorded events, each worker-signed), or else its
// signed model-state checkpoint (CheckpointWritten), become the version — and every read answers from
// the verified model history. What MLflow has and the ledger does not record is said, not faked: a
// registered model exists from its first version (create records nothing), and the evidence is the
// run's events, never the URI itself.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RunApiContext } from '../../runs/run.js';
import { hasSigningKey, loadVerifierKey } from '../../ledger/keys.js';
import { anchorChange, deleteAlias, deleteTag, readModel, registerVersion, setAlias, setMetadata } from '../../registry/model-registry.js';
import { readModelHistory, type ModelHistory, type ModelVersionView } from '../../registry/model-history.js';
import { checkAliasName, checkModelName, isModelStream, modelStream } from '../../registry/model-rules.js';
import { ConcurrencyError, InputError } from '../../errors.js';
import { readRun } from '../../governance/guarded-append.js';
import type { EventStore } from '../../store/port.js';
import { invalid, MlflowError, notFound } from './errors.js';
import { doc, page, pageOffset, parseRequest, StringList } from './request.js';
import { matches, ordered, parseFilter, parseOrderBy, type Clause, type SearchFields } from './search.js';

/** The reason runledger records with an alias change made through MLflow's API (which carries none). */
export const MLFLOW_ALIAS_REASON = 'set through the MLflow API (registered-models/alias)';
const DELETE_REASON = 'deleted through the MLflow API (registered-models/alias)';

const Int64 = z.union([z.number().int(), z.string().regex(/^\d{1,15}$/).transform(Number)]).pipe(z.number().int().min(1).max(Number.MAX_SAFE_INTEGER));
const Name = z.string().min(1).max(128);
const Alias = z.string().min(1).max(64);
const Tags = z.array(z.object({ key: z.string(), value: z.string() })).max(100);
const Description = z.string().max(5000);

const bodies = {
  createModel: z.object({ name: Name, tags: Tags.optional(), description: Description.optional(), deployment_job_id: z.string().optional() }),
  setModelTag: z.object({ name: Name, key: z.string(), value: z.string() }),
  deleteModelTag: z.object({ name: Name, key: z.string() }),
  setVersionTag: z.object({ name: Name, version: Int64, key: z.string(), value: z.string() }),
  deleteVersionTag: z.object({ name: Name, version: Int64, key: z.string() }),
  updateModel: z.object({ name: Name, description: Description.optional(), deployment_job_id: z.string().optional() }),
  updateVersion: z.object({ name: Name, version: Int64, description: Description.optional() }),
  searchModels: z.object({ filter: z.string().optional(), max_results: Int64.optional(), order_by: StringList.optional(), page_token: z.string().optional() }),
  latestVersions: z.object({ name: Name, stages: z.array(z.string()).max(10).optional() }),
  createVersion: z.object({ name: Name, source: z.string().max(4000).optional(), run_id: z.string().min(1).max(128).optional(), tags: Tags.optional(), run_link: z.string().optional(), description: z.string().max(1000).optional(), model_id: z.string().optional() }),
  setAlias: z.object({ name: Name, alias: Alias, version: Int64 }),
  deleteAlias: z.object({ name: Name, alias: Alias }),
};
const queries = {
  model: z.object({ name: Name }),
  version: z.object({ name: Name, version: Int64 }),
  byAlias: z.object({ name: Name, alias: Alias }),
};

const millis = (iso: string): number => Date.parse(iso);
const keyValues = (tags: Record<string, string>): { key: string; value: string }[] => Object.entries(tags).map(([key, value]) => ({ key, value }));
const tagsRecord = (tags: { key: string; value: string }[] | undefined): Record<string, string> => Object.fromEntries((tags ?? []).map((t) => [t.key, t.value]));

// JSON shapes of MLflow's protos (mlflow/protos/model_registry.proto).
function versionJson(h: ModelHistory, v: ModelVersionView) {
  const time = millis(v.registeredAt);
  return {
    name: h.model,
    version: String(v.version),
    creation_timestamp: time,
    last_updated_timestamp: time,
    user_id: v.registeredBy,
    current_stage: 'None',
    description: v.description ?? '',
    // The evidence of the version: the run's artifacts at a path, or its signed checkpoint by digest.
    source: v.artifact ? `runs:/${v.runId}/${v.artifact.path}` : `runledger:checkpoint/${v.checkpointDigest}`,
    run_id: v.runId,
    status: 'READY',
    tags: keyValues(v.tags),
    aliases: v.aliases,
  };
}

function modelJson(h: ModelHistory) {
  const first = h.entries[0]?.recordedAt;
  const last = h.entries.at(-1)?.recordedAt;
  const latest = h.versions.at(-1);
  return {
    name: h.model,
    creation_timestamp: first ? millis(first) : 0,
    last_updated_timestamp: last ? millis(last) : 0,
    description: h.description ?? '',
    latest_versions: latest ? [versionJson(h, latest)] : [],
    tags: keyValues(h.tags),
    aliases: Object.entries(h.aliases).map(([alias, version]) => ({ alias, version: String(version) })),
  };
}

// What the registry searches filter and order by (MLflow's "not a prompt" tag clause is satisfied by
// every model without that tag, as in MLflow).
type ModelJson = ReturnType<typeof modelJson>;
type VersionJson = ReturnType<typeof versionJson>;
const tagOf = (item: { tags: { key: string; value: string }[] }, key: string): string | undefined => item.tags.find((t) => t.key === key)?.value;
const MODEL_FIELDS: SearchFields<ModelJson> = {
  attributes: {
    name: { kind: 'string', list: true, get: (m) => m.name },
    creation_timestamp: { kind: 'number', get: (m) => m.creation_timestamp },
    timestamp: { kind: 'number', get: (m) => m.creation_timestamp },
    last_updated_timestamp: { kind: 'number', get: (m) => m.last_updated_timestamp },
  },
  tag: tagOf,
};
const VERSION_FIELDS: SearchFields<VersionJson> = {
  attributes: {
    name: { kind: 'string', list: true, get: (v) => v.name },
    run_id: { kind: 'string', list: true, get: (v) => v.run_id },
    source_path: { kind: 'string', get: (v) => v.source },
    version_number: { kind: 'number', get: (v) => Number(v.version) },
    creation_timestamp: { kind: 'number', get: (v) => v.creation_timestamp },
    last_updated_timestamp: { kind: 'number', get: (v) => v.last_updated_timestamp },
  },
  tag: tagOf,
};
/** MLflow's default order of model-versions/search. */
const VERSION_DEFAULT_ORDER = ['last_updated_timestamp DESC', 'name ASC', 'version_number DESC'];
/** The clauses on the model's name alone: checked on the names first, so only the models a search can answer are verified. */
const nameOnly = (clauses: readonly Clause[]): Clause[] => clauses.filter((c) => c.entity === 'attribute' && c.key === 'name');
const STAGES = ['none', 'staging', 'production', 'archived'];

/** Names and refusals in MLflow's shape: a bad model or alias name is INVALID_PARAMETER_VALUE. */
function checked<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InputError) throw invalid(`${where}: ${err.message}`);
    throw err;
  }
}

export function registerMlflowRegistryRoutes(scope: FastifyInstance, options: { ctx: RunApiContext }): void {
  const { store, home, actor } = options.ctx;
  const p = (path: string) => `/mlflow/${path}`;
  const q = <T>(schema: z.ZodType<T>, request: FastifyRequest, where: string) => parseRequest(schema, request.query, where);
  const b = <T>(schema: z.ZodType<T>, request: FastifyRequest, where: string) => parseRequest(schema, request.body, where);
  const keys = (where: string): string[] => {
    if (!hasSigningKey(home)) throw new MlflowError('INVALID_STATE', 409, `${where}: no verifier key in ${home}: the model registry is verified with the key that signed the checkpoints`);
    return [loadVerifierKey(home)];
  };
  /** The model's verified history; 404 when no version was ever registered, 409 when it does not verify. */
  const history = async (name: string, where: string): Promise<ModelHistory> => {
    checked(where, () => checkModelName(name));
    if ((await store.streamRevision(modelStream(name))) < 0) throw notFound(`${where}: registered model ${JSON.stringify(name)} has no events in this ledger (a model exists from its first version, tag or description)`);
    const h = await readModelHistory(store, name, { verifierKeys: keys(where) });
    if (!h.ok) throw new MlflowError('INVALID_STATE', 409, `${where}: model ${name} does not verify: ${h.firstDivergence?.message ?? 'verification failed'} (run "runledger model history ${name}")`);
    return h;
  };
  const versionOf = (h: ModelHistory, version: number, where: string): ModelVersionView => {
    const v = h.versions.find((x) => x.version === version);
    if (!v) throw notFound(`${where}: model ${h.model} has no version ${version}`);
    return v;
  };

  /** A registry write's MLflow shape: a refused change is INVALID_PARAMETER_VALUE; each change is anchored at once. */
  const write = async <T>(where: string, change: () => Promise<T>): Promise<T> => {
    const done = await change().catch((err: unknown) => {
      if (err instanceof InputError) throw invalid(`${where}: ${err.message}`);
      throw err;
    });
    await anchorChange(store, home);
    return done;
  };

  scope.post(p('registered-models/create'), { config: doc({ body: bodies.createModel }, 'Create a registered model: records its tags and description, if any (ModelTagSet, ModelDescriptionSet); a model without them exists from its first version', 'Body: name, tags, description. RESOURCE_ALREADY_EXISTS when the model has any event (a version, a tag, a description).') }, async (request) => {
    const where = 'registered-models/create';
    const body = b(bodies.createModel, request, where);
    checked(where, () => checkModelName(body.name));
    if ((await store.streamRevision(modelStream(body.name))) >= 0) throw new MlflowError('RESOURCE_ALREADY_EXISTS', 400, `${where}: registered model ${JSON.stringify(body.name)} already exists`);
    const tags = tagsRecord(body.tags);
    const description = body.description === undefined || body.description === '' ? undefined : body.description;
    if (Object.keys(tags).length === 0 && description === undefined) {
      const now = Date.now();
      return { registered_model: { name: body.name, creation_timestamp: now, last_updated_timestamp: now, description: '', latest_versions: [], tags: [], aliases: [] } };
    }
    await write(where, () => setMetadata(store, { model: body.name, tags, ...(description !== undefined ? { description } : {}), actor })).catch((err: unknown) => {
      if (err instanceof ConcurrencyError) throw new MlflowError('RESOURCE_ALREADY_EXISTS', 400, `${where}: registered model ${JSON.stringify(body.name)} already exists`);
      throw err;
    });
    return { registered_model: modelJson(await history(body.name, where)) };
  });

  scope.post(p('registered-models/set-tag'), { config: doc({ body: bodies.setModelTag }, 'Set a tag of a registered model (a ModelTagSet event naming the value it replaces)', 'Body: name, key, value. The same value again records nothing.') }, async (request) => {
    const where = 'registered-models/set-tag';
    const body = b(bodies.setModelTag, request, where);
    await history(body.name, where);
    await write(where, () => setMetadata(store, { model: body.name, tags: { [body.key]: body.value }, actor }));
    return {};
  });

  scope.delete(p('registered-models/delete-tag'), { config: doc({ body: bodies.deleteModelTag }, 'Delete a tag of a registered model (a ModelTagDeleted event; the log keeps the value)', 'Body (or query): name, key.') }, async (request) => {
    const where = 'registered-models/delete-tag';
    const body = parseRequest(bodies.deleteModelTag, request.body ?? request.query, where);
    const h = await history(body.name, where);
    if (!Object.hasOwn(h.tags, body.key)) throw notFound(`${where}: model ${body.name} has no tag ${JSON.stringify(body.key)}`);
    await write(where, () => deleteTag(store, { model: body.name, key: body.key, actor }));
    return {};
  });

  scope.patch(p('registered-models/update'), { config: doc({ body: bodies.updateModel }, 'Set a registered model\'s description (a ModelDescriptionSet event naming the one it replaces)', 'Body: name, description. The same description again records nothing.') }, async (request) => {
    const where = 'registered-models/update';
    const body = b(bodies.updateModel, request, where);
    await history(body.name, where);
    if (body.description !== undefined) await write(where, () => setMetadata(store, { model: body.name, description: body.description!, actor }));
    return { registered_model: modelJson(await history(body.name, where)) };
  });

  scope.post(p('model-versions/set-tag'), { config: doc({ body: bodies.setVersionTag }, 'Set a tag of a model version (a ModelTagSet event naming the value it replaces)', 'Body: name, version, key, value. The same value again records nothing.') }, async (request) => {
    const where = 'model-versions/set-tag';
    const body = b(bodies.setVersionTag, request, where);
    versionOf(await history(body.name, where), body.version, where);
    await write(where, () => setMetadata(store, { model: body.name, version: body.version, tags: { [body.key]: body.value }, actor }));
    return {};
  });

  scope.delete(p('model-versions/delete-tag'), { config: doc({ body: bodies.deleteVersionTag }, 'Delete a tag of a model version (a ModelTagDeleted event; the log keeps the value)', 'Body (or query): name, version, key.') }, async (request) => {
    const where = 'model-versions/delete-tag';
    const body = parseRequest(bodies.deleteVersionTag, request.body ?? request.query, where);
    const v = versionOf(await history(body.name, where), body.version, where);
    if (!Object.hasOwn(v.tags, body.key)) throw notFound(`${where}: version ${body.version} of model ${body.name} has no tag ${JSON.stringify(body.key)}`);
    await write(where, () => deleteTag(store, { model: body.name, version: body.version, key: body.key, actor }));
    return {};
  });

  scope.patch(p('model-versions/update'), { config: doc({ body: bodies.updateVersion }, 'Set a model version\'s description (a ModelDescriptionSet event naming the one it replaces)', 'Body: name, version, description. The same description again records nothing.') }, async (request) => {
    const where = 'model-versions/update';
    const body = b(bodies.updateVersion, request, where);
    versionOf(await history(body.name, where), body.version, where);
    if (body.description !== undefined) await write(where, () => setMetadata(store, { model: body.name, version: body.version, description: body.description!, actor }));
    const h = await history(body.name, where);
    return { model_version: versionJson(h, versionOf(h, body.version, where)) };
  });

  scope.get(p('registered-models/get'), { config: doc({ query: queries.model }, 'Get a registered model from its verified history', 'Query: name.') }, async (request) => {
    const { name } = q(queries.model, request, 'registered-models/get');
    return { registered_model: modelJson(await history(name, 'registered-models/get')) };
  });

  /** Model names in the ledger that pass the filter's clauses on the name. */
  const modelNames = async (clauses: readonly Clause[]): Promise<string[]> => {
    const byName = nameOnly(clauses);
    const names = (await store.listStreams()).filter((s) => isModelStream(s.stream)).map((s) => s.stream.slice(modelStream('').length)).sort();
    return names.filter((name) => matches(MODEL_FIELDS, { name } as ModelJson, byName));
  };

  /** filter + order_by over the items of every model whose name passes the filter, each from its verified history. */
  const searchHistories = async <T>(request: FastifyRequest, where: string, fields: SearchFields<T>, itemsOf: (h: ModelHistory) => T[], defaultOrder: readonly string[] = []) => {
    const body = q(bodies.searchModels, request, where);
    const clauses = parseFilter(body.filter, fields, where);
    const orderings = parseOrderBy(body.order_by !== undefined && body.order_by.length > 0 ? body.order_by : defaultOrder, fields, where);
    const found: T[] = [];
    for (const name of await modelNames(clauses)) for (const item of itemsOf(await history(name, where))) if (matches(fields, item, clauses)) found.push(item);
    return { items: ordered(fields, found, orderings), offset: pageOffset(body.page_token, where), max: body.max_results };
  };

  scope.get(p('registered-models/search'), { config: doc({ query: bodies.searchModels }, 'Registered models (each from its verified history), by name', 'Query: filter (MLflow\'s grammar over name — =, !=, LIKE, ILIKE, IN — and tags, joined by AND), order_by (name, creation_timestamp, last_updated_timestamp), max_results, page_token. Only the models whose name passes the filter are read and verified; one of them that does not verify answers 409.') }, async (request) => {
    const found = await searchHistories(request, 'registered-models/search', MODEL_FIELDS, (h) => [modelJson(h)]);
    const { items, next } = page(found.items, found.offset, Math.min(found.max ?? 100, 1000));
    return { registered_models: items, ...(next ? { next_page_token: next } : {}) };
  });

  scope.get(p('model-versions/search'), { config: doc({ query: bodies.searchModels }, 'Model versions (from each model\'s verified history)', 'Query: filter (MLflow\'s grammar over name, run_id — both also IN (…) — version_number, source_path and tags, joined by AND), order_by (default: last_updated_timestamp DESC, name ASC, version_number DESC), max_results (default 10,000), page_token. Only the models whose name passes the filter are read and verified; one of them that does not verify answers 409.') }, async (request) => {
    const found = await searchHistories(request, 'model-versions/search', VERSION_FIELDS, (h) => h.versions.map((v) => versionJson(h, v)), VERSION_DEFAULT_ORDER);
    const { items, next } = page(found.items, found.offset, Math.min(found.max ?? 10_000, 200_000));
    return { model_versions: items, ...(next ? { next_page_token: next } : {}) };
  });

  scope.post(p('registered-models/get-latest-versions'), { config: doc({ body: bodies.latestVersions }, 'The latest version per stage (MLflow\'s deprecated stages: every version here is in stage None)', 'Body: name, stages. Answers the latest version when stages is empty or names None, and no version for Staging, Production or Archived (runledger records aliases, not stages).') }, async (request) => {
    const where = 'registered-models/get-latest-versions';
    const body = b(bodies.latestVersions, request, where);
    const stages = (body.stages ?? []).map((s) => s.toLowerCase());
    const bad = (body.stages ?? []).find((s) => !STAGES.includes(s.toLowerCase()));
    if (bad !== undefined) throw invalid(`${where}: field stages: ${JSON.stringify(bad)} is not a stage (None, Staging, Production, Archived)`);
    const h = await history(body.name, where);
    const latest = h.versions.at(-1);
    return { model_versions: latest && (stages.length === 0 || stages.includes('none')) ? [versionJson(h, latest)] : [] };
  });

  scope.post(p('model-versions/create'), { config: doc({ body: bodies.createVersion }, 'Register the run\'s logged artifacts at a path, or its signed checkpoint, as the next version (as `runledger model register`)', 'Body: name, run_id, source, description, tags (recorded with the registration in one append). The run must verify and have completed. A source `runs:/<run_id>/<path>` (or `mlflow-artifacts:/<experiment>/<run_id>/artifacts/<path>`) at which the run logged artifacts registers those files (ArtifactRecorded events); otherwise the run\'s final CheckpointWritten is the version. A run with neither is refused.') }, async (request) => {
    const where = 'model-versions/create';
    const body = b(bodies.createVersion, request, where);
    if (body.run_id === undefined || body.run_id === '') throw invalid(`${where}: field run_id is required: a version stands on a verified run's signed checkpoint`);
    // The run's latest events (an MLflow client ends the run and registers it at once) must be under a signed
    // checkpoint for the replay to verify them: sign the log as it stands first, as `runledger checkpoint` would.
    await anchorChange(store, home);
    const model = checked(where, () => checkModelName(body.name));
    const artifact = await artifactSource(store, body.run_id, body.source, where);
    const change = await registerVersion(store, { model, runId: body.run_id, ...(artifact !== undefined ? { artifact } : {}), description: body.description || null, tags: tagsRecord(body.tags), actor, verifierKeys: keys(where) }).catch((err: unknown) => {
      if (err instanceof InputError) throw invalid(`${where}: ${err.message}`);
      throw err;
    });
    await anchorChange(store, home);
    const h = await history(body.name, where);
    return { model_version: versionJson(h, versionOf(h, (change.data as { version: number }).version, where)) };
  });

  scope.get(p('model-versions/get'), { config: doc({ query: queries.version }, 'Get a model version from the verified history', 'Query: name, version.') }, async (request) => {
    const query = q(queries.version, request, 'model-versions/get');
    const h = await history(query.name, 'model-versions/get');
    return { model_version: versionJson(h, versionOf(h, query.version, 'model-versions/get')) };
  });

  scope.post(p('registered-models/alias'), { config: doc({ body: bodies.setAlias }, 'Set or move an alias (a ModelAliasSet event; the reason says it came through MLflow)', 'Body: name, alias, version. Setting an alias to the version it holds records nothing.') }, async (request) => {
    const where = 'registered-models/alias';
    const body = b(bodies.setAlias, request, where);
    checked(where, () => checkAliasName(body.alias));
    const h = await history(body.name, where);
    versionOf(h, body.version, where);
    if (h.aliases[body.alias] === body.version) return {};
    await setAlias(store, { model: body.name, alias: body.alias, version: body.version, reason: MLFLOW_ALIAS_REASON, actor }).catch((err: unknown) => {
      if (err instanceof InputError) throw invalid(`${where}: ${err.message}`);
      throw err;
    });
    await anchorChange(store, home);
    return {};
  });

  scope.delete(p('registered-models/alias'), { config: doc({ body: bodies.deleteAlias }, 'Delete an alias (a ModelAliasDeleted event; its history stays)', 'Body (or query): name, alias.') }, async (request) => {
    const where = 'registered-models/alias';
    const body = parseRequest(bodies.deleteAlias, request.body ?? request.query, where);
    checked(where, () => checkAliasName(body.alias));
    const state = await readModel(store, checked(where, () => checkModelName(body.name)));
    if (state.aliases[body.alias] === undefined) throw notFound(`${where}: model ${body.name} has no alias ${JSON.stringify(body.alias)}`);
    await deleteAlias(store, { model: body.name, alias: body.alias, reason: DELETE_REASON, actor });
    await anchorChange(store, home);
    return {};
  });

  // MLflow's proto serves it as GET registered-models/alias (what the client calls); the longer name is an alias of it.
  for (const where of ['registered-models/alias', 'registered-models/get-model-version-by-alias']) {
    scope.get(p(where), { config: doc({ query: queries.byAlias }, 'The version an alias points at, from the verified history', 'Query: name, alias.') }, async (request) => {
      const query = q(queries.byAlias, request, where);
      const h = await history(query.name, where);
      const version = h.aliases[query.alias];
      if (version === undefined) throw notFound(`${where}: model ${h.model} has no alias ${JSON.stringify(query.alias)}`);
      return { model_version: versionJson(h, versionOf(h, version, where)) };
    });
  }
}

/**
 * The artifact path an MLflow `source` names in the run, when the run logged artifacts there:
 * `runs:/<run>/<path>` or `mlflow-artifacts:/<experiment>/<run>/artifacts/<path>`. Undefined: the
 * run's signed checkpoint is the version (the source names no logged artifact of this run).
 */
async function artifactSource(store: EventStore, runId: string, source: string | undefined, where: string): Promise<string | undefined> {
  if (source === undefined) return undefined;
  const match = /^runs:\/([^/]+)\/(.+)$/.exec(source) ?? /^mlflow-artifacts:\/[^/]+\/([^/]+)\/artifacts\/(.+)$/.exec(source);
  if (!match) return undefined;
  const [, named, rawPath] = match;
  const path = rawPath!.replace(/\/+$/, '');
  if (named !== runId) throw invalid(`${where}: source ${JSON.stringify(source)} names run ${named}, not run_id ${runId}`);
  const { events } = await readRun(store, runId);
  const logged = events.some((e) => {
    if (e.envelope.type !== 'ArtifactRecorded') return false;
    const p = (e.envelope.data as { path?: unknown }).path;
    return typeof p === 'string' && (p === path || p.startsWith(`${path}/`));
  });
  return logged ? path : undefined;
}
