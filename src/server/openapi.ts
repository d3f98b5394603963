// The OpenAPI 3.1 document of the server's API, built from the routes themselves: every route
// under /api carries its documentation in `config.doc` next to the JSON Schemas fastify validates
// its input with (`schema.params`, `.querystring`, `.body`), so the document cannot describe a
// route that does not exist or miss one that does (test/server/openapi.test.ts checks both
// directions against fastify's own route table and calls every documented operation).
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ROUTE_DOCS } from './openapi-routes.js';
import type { DocumentedConfig, RouteDoc } from './route-doc.js';

export type { DocumentedConfig, ResponseDoc, RouteDoc } from './route-doc.js';

type JsonSchema = Record<string, unknown>;

export interface CatalogRoute {
  method: string;
  url: string;
  doc: RouteDoc | undefined;
  schema: { params?: JsonSchema; querystring?: JsonSchema; body?: JsonSchema };
}

const API = /^\/(api(\/|$)|metrics$)/;

/** Records every route under /api (and /metrics) the app registers (install before any route). */
export function collectRoutes(app: FastifyInstance): CatalogRoute[] {
  const routes: CatalogRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    for (const method of [route.method].flat()) {
      // fastify answers HEAD for every GET (exposeHeadRoutes); the document says so once.
      if (method === 'HEAD') continue;
      if (!API.test(route.url)) continue;
      const schema = (route.schema ?? {}) as CatalogRoute['schema'];
      routes.push({ method, url: route.url, doc: (route.config as Partial<DocumentedConfig> | undefined)?.doc, schema });
    }
  });
  return routes;
}

/** `/a/:id/*` → `/a/{id}/{path}`: fastify's path syntax in OpenAPI's. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

function parameters(route: CatalogRoute, doc: RouteDoc): JsonSchema[] {
  const out: JsonSchema[] = [];
  const params = route.schema.params as { properties?: Record<string, JsonSchema> } | undefined;
  for (const [name, schema] of Object.entries(params?.properties ?? {})) {
    out.push({ name: name === '*' ? 'path' : name, in: 'path', required: true, schema });
  }
  if (route.url.endsWith('*') && !params?.properties?.['*']) {
    out.push({ name: 'path', in: 'path', required: true, description: 'the rest of the path, slashes included', schema: { type: 'string' } });
  }
  const query = (route.schema.querystring ?? doc.query) as { properties?: Record<string, JsonSchema>; required?: string[] } | undefined;
  for (const [name, schema] of Object.entries(query?.properties ?? {})) {
    out.push({ name, in: 'query', required: (query?.required ?? []).includes(name), schema });
  }
  return out;
}

function responses(doc: RouteDoc): JsonSchema {
  return Object.fromEntries(
    Object.entries(doc.responses).map(([status, r]) => [
      status,
      { description: r.description, ...(r.schema ? { content: { [r.contentType ?? 'application/json']: { schema: r.schema } } } : {}) },
    ]),
  );
}

/** Routes under /api (and /metrics) the collected table has no documentation for: the test keeps this empty. */
export function undocumentedRoutes(routes: readonly CatalogRoute[]): string[] {
  return routes.filter((r) => !docOf(r)).map((r) => `${r.method} ${r.url}`);
}

/** A route's documentation: its own `config.doc`, else the table of the routes that predate it (openapi-routes.ts). */
function docOf(route: CatalogRoute): RouteDoc | undefined {
  return route.doc ?? ROUTE_DOCS[`${route.method} ${route.url}`];
}

const UNDOCUMENTED: RouteDoc = { summary: 'undocumented', tag: 'undocumented', auth: false, responses: { default: { description: 'undocumented' } } };

/** The OpenAPI 3.1 document for the collected routes. A route without documentation is listed as "undocumented" (and fails the OpenAPI test). */
export function openApiDocument(routes: readonly CatalogRoute[], info: { version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const doc = docOf(route) ?? UNDOCUMENTED;
    const operation: JsonSchema = {
      operationId: `${route.method.toLowerCase()}${openApiPath(route.url).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: doc.summary,
      ...(doc.description ? { description: doc.description } : {}),
      tags: [doc.tag],
      security: doc.auth ? [{ bearer: [] }] : [],
      parameters: parameters(route, doc),
      responses: responses(doc),
    };
    const body = route.schema.body ?? doc.body;
    if (body) operation.requestBody = { required: true, content: { 'application/json': { schema: body } } };
    else if (doc.rawBody) operation.requestBody = { required: true, description: doc.rawBody.description, content: { [doc.rawBody.contentType]: { schema: { type: 'string', format: 'binary' } } } };
    (paths[openApiPath(route.url)] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'runledger',
      version: info.version,
      description:
        'The dashboard read API, the write API (events and runs, docs/http-api.md) and the MLflow tracking and model registry API subset (docs/mlflow.md) of `runledger serve`. Writes need the bearer token `serve --token` was started with.',
    },
    servers: [{ url: '/' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the token given to `runledger serve --token` (env RUNLEDGER_TOKEN)' } } },
    paths,
  };
}

/** Serves the document at GET /api/openapi.json, built once all routes are registered. */
export function registerOpenApi(app: FastifyInstance, routes: readonly CatalogRoute[], version: string): void {
  let document: JsonSchema | undefined;
  app.get(
    '/api/openapi.json',
    {
      config: {
        doc: {
          summary: 'This OpenAPI 3.1 document',
          tag: 'meta',
          auth: false,
          responses: { '200': { description: 'the document', schema: { type: 'object', required: ['openapi', 'paths'] } } },
        },
      } satisfies DocumentedConfig,
    },
    async () => (document ??= openApiDocument(routes, { version })),
  );
}
