// The HTTP write API (docs/http-api.md): POST /api/events takes exactly what `runledger append`
// takes (NDJSON, one event per line, one atomic batch, idempotent by event id) through the same
// door, and the run routes serve the run API (src/runs/) — start a run, log params, metrics and
// tags, record artifacts, end or fail it. Every route needs the bearer token and is rate limited
// per client; the write rules decide what is recorded, exactly as for every other writer.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { appendInput, checkAppendInput } from '../governance/append-events.js';
import type { RunHeads } from '../governance/guarded-append.js';
import { parseAppendInput } from '../ledger/append-input.js';
import type { EventStore } from '../store/port.js';
import type { DocumentedConfig, RouteDoc } from './openapi.js';
import { rateLimitHook, type TokenBuckets } from './rate-limit.js';
import { HttpError, requireToken } from './security.js';
import { logBatch, openRun, startRun, type RunApiContext } from '../runs/run.js';

export interface WriteApiOptions {
  store: EventStore;
  home: string;
  token: string | undefined;
  buckets: TokenBuckets;
  /** Recorded as `metadata.actor` unless an event names its own: the token holder, as this server knows them. */
  actor: string;
  heads: RunHeads;
  /** Largest POST /api/events body. */
  eventsBodyBytes: number;
}

export const ERROR_SCHEMA = { type: 'object', required: ['error'], properties: { error: { type: 'string' } }, additionalProperties: false } as const;

/** The error answers every write route may give, besides its own. */
export function writeErrors(extra: Record<string, string> = {}): RouteDoc['responses'] {
  const base: Record<string, string> = {
    '400': 'bad input or a write rule refused it (one sentence naming the line, field or rule); nothing was recorded',
    '401': 'missing or wrong bearer token',
    '403': 'the server is read-only (started without --token)',
    '413': 'the request body is larger than the limit',
    '429': 'too many requests from this client; Retry-After says when to retry',
    ...extra,
  };
  return Object.fromEntries(Object.entries(base).map(([status, description]) => [status, { description, schema: ERROR_SCHEMA }]));
}

const APPEND_REPORT = {
  type: 'object',
  required: ['appended', 'duplicate', 'streams'],
  properties: {
    appended: { type: 'integer', description: 'events recorded by this request (0 for an idempotent retry)' },
    duplicate: { type: 'boolean', description: 'every event was already recorded with identical content' },
    streams: { type: 'integer' },
    firstPosition: { type: 'integer' },
    lastPosition: { type: 'integer' },
  },
} as const;

const RUN_ID = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' } as const;
const RUN_PARAMS = { type: 'object', required: ['id'], properties: { id: RUN_ID } } as const;
const RUN_REPORT = { type: 'object', required: ['runId'], properties: { runId: { type: 'string' } } } as const;

// Bodies are checked strictly (an unknown field is refused, never dropped; no type coercion), by
// these schemas; the OpenAPI document shows their JSON Schema. Names and values are the run API's to check.
const Params = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
const Tags = z.record(z.string(), z.string());
const Metrics = z.array(z.object({ key: z.string(), value: z.number(), step: z.number().int().min(0).optional(), timestamp: z.number().int().min(0).optional() }).strict()).max(10_000);
const LogBody = z.object({ params: Params.optional(), metrics: Metrics.optional(), tags: Tags.optional() }).strict();
const StartBody = z
  .object({
    runId: z.string().optional(),
    external: z.object({ name: z.string(), approver: z.string().optional(), description: z.string().optional(), stages: z.array(z.string()).min(1).max(100).optional() }).strict(),
    params: Params.optional(),
    tags: Tags.optional(),
    environment: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const FailBody = z.object({ reason: z.string().min(1).max(10_000) }).strict();

/** A body checked against `schema`: a 400 naming the field otherwise. */
function body<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new HttpError(400, `request body${issue.path.length ? ` field ${issue.path.map(String).join('.')}` : ''}: ${issue.message}`);
}
const jsonSchema = (schema: z.ZodType): Record<string, unknown> => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

/** The run API (src/runs/) over HTTP: start a run with an open plan, log to it, record artifacts, end or fail it. */
function registerRunRoutes(scope: FastifyInstance, ctx: RunApiContext): void {
  // A log of many metrics is larger than the dashboard's 64 KiB bodies; artifacts set their own limit.
  scope.addHook('onRoute', (route) => {
    route.bodyLimit ??= RUN_BODY_BYTES;
  });
  const doc = (summary: string, description: string, schema?: z.ZodType): DocumentedConfig => ({
    doc: { summary, description, tag: 'runs', auth: true, ...(schema ? { body: jsonSchema(schema) } : {}), responses: { '200': { description: 'recorded', schema: RUN_REPORT }, ...writeErrors() } },
  });
  scope.post(
    '/api/runs',
    { config: doc('Start a run with an open plan', 'Approves the plan (trusting this server\'s worker key, which signs every event of the run on behalf of the token holder), starts its first stage, records the environment, params and tags.', StartBody) },
    async (request) => {
      const run = await startRun(ctx, { ...body(StartBody, request.body), source: 'http' });
      return { runId: run.runId };
    },
  );
  scope.post<{ Params: { id: string } }>(
    '/api/runs/:id/log',
    { schema: { params: RUN_PARAMS }, config: doc('Log params, metrics and tags in one atomic append', 'Params are write-once (the same value again is a no-op, another value is refused); metrics append (step default 0, timestamp default now); tags change, their history stays in the log.', LogBody) },
    async (request) => {
      await logBatch(ctx, request.params.id, body(LogBody, request.body));
      return { runId: request.params.id };
    },
  );
  scope.delete<{ Params: { id: string; key: string } }>(
    '/api/runs/:id/tags/:key',
    { schema: { params: { type: 'object', required: ['id', 'key'], properties: { id: RUN_ID, key: { type: 'string', maxLength: 250 } } } }, config: doc('Delete a tag: a TagDeleted event, never an erasure', 'The earlier value stays in the log.') },
    async (request) => {
      await (await openRun(ctx, request.params.id)).deleteTag(request.params.key);
      return { runId: request.params.id };
    },
  );
  scope.post<{ Params: { id: string } }>(
    '/api/runs/:id/end',
    { schema: { params: RUN_PARAMS }, config: doc('End a run: its open stages complete, then the run', 'Nothing can be logged to it afterwards.') },
    async (request) => {
      await (await openRun(ctx, request.params.id)).end();
      return { runId: request.params.id };
    },
  );
  scope.post<{ Params: { id: string } }>(
    '/api/runs/:id/fail',
    { schema: { params: RUN_PARAMS }, config: doc('Fail a run with a reason', 'Nothing can be logged to it afterwards.', FailBody) },
    async (request) => {
      await (await openRun(ctx, request.params.id)).fail(body(FailBody, request.body).reason);
      return { runId: request.params.id };
    },
  );
  void scope.register(async (bytes) => {
    bytes.removeAllContentTypeParsers();
    bytes.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: ARTIFACT_BYTES }, (_request, body, done) => done(null, body));
    bytes.put<{ Params: { id: string; '*': string } }>(
      '/api/runs/:id/artifacts/*',
      {
        bodyLimit: ARTIFACT_BYTES,
        config: {
          doc: {
            summary: 'Record an artifact of a run: stored by its SHA-256 under the home, the digest in the run\'s stream',
            tag: 'runs',
            auth: true,
            rawBody: { contentType: 'application/octet-stream', description: 'the bytes; Content-Type is recorded as the media type' },
            responses: { '200': { description: 'recorded', schema: { type: 'object', required: ['digest', 'bytes'], properties: { digest: { type: 'string' }, bytes: { type: 'integer' } } } }, ...writeErrors() },
          },
        } satisfies DocumentedConfig,
      },
      async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const handle = await openRun(ctx, request.params.id);
        return handle.logArtifact({ path: request.params['*'], bytes: body, ...(type && type !== 'application/octet-stream' ? { mediaType: type } : {}) });
      },
    );
  });
}

/** Largest JSON body of the run routes. */
export const RUN_BODY_BYTES = 1024 * 1024;

/** Largest artifact PUT /api/runs/:id/artifacts/* takes. */
export const ARTIFACT_BYTES = 64 * 1024 * 1024;

export function registerWriteApi(app: FastifyInstance, options: WriteApiOptions): void {
  void app.register(async (scope) => {
    scope.addHook('onRequest', rateLimitHook(options.buckets));
    scope.addHook('onRequest', requireToken(options.token));
    scope.addContentTypeParser('application/x-ndjson', { parseAs: 'buffer', bodyLimit: options.eventsBodyBytes }, (_request, body, done) => done(null, body));

    scope.post(
      '/api/events',
      {
        bodyLimit: options.eventsBodyBytes,
        config: {
          doc: {
            summary: 'Append events (NDJSON, one atomic batch), as `runledger append`',
            description:
              'One JSON object per line: {"stream","type","data","id"?,"schemaVersion"?,"metadata"?,"expectedRevision"?}. All or nothing; events on run streams must pass the write rules (docs/governance.md "Who may write what"); plan and stage events are refused (the recorder writes them). Idempotent by event id: the same ids with the same content again record nothing and answer duplicate: true; the same id with other content is refused.',
            tag: 'write',
            auth: true,
            rawBody: { contentType: 'application/x-ndjson', description: 'NDJSON events, as `runledger append` reads them' },
            responses: { '200': { description: 'recorded (or already recorded)', schema: APPEND_REPORT }, ...writeErrors({ '415': 'the body is not application/x-ndjson' }) },
          },
        } satisfies DocumentedConfig,
      },
      async (request) => {
        if (!Buffer.isBuffer(request.body)) throw new HttpError(415, 'POST /api/events takes NDJSON: send "Content-Type: application/x-ndjson", one event per line');
        const source = 'request body';
        const input = parseAppendInput(request.body, source);
        return appendInput(options.store, checkAppendInput(input, source, options.actor), source, { heads: options.heads });
      },
    );

    registerRunRoutes(scope, { store: options.store, home: options.home, actor: options.actor, heads: options.heads });
  });
}
