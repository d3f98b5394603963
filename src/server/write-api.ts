// The HTTP write API (docs/http-api.md): POST /api/events takes exactly what `runledger append`
// takes (NDJSON, one event per line, one atomic batch, idempotent by event id) through the same
// door, and the run routes serve the run API (src/runs/) — start a run, log params, metrics and
// tags, record artifacts, end or fail it. Every route needs the bearer token and is rate limited
// per client; the write rules decide what is recorded, exactly as for every other writer.
import type { FastifyInstance } from 'fastify';
import { appendInput, checkAppendInput } from '../governance/append-events.js';
import type { RunHeads } from '../governance/guarded-append.js';
import { parseAppendInput } from '../ledger/append-input.js';
import type { EventStore } from '../store/port.js';
import type { DocumentedConfig, RouteDoc } from './openapi.js';
import { rateLimitHook, type TokenBuckets } from './rate-limit.js';
import { HttpError, requireToken } from './security.js';

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
        checkAppendInput(input, source, options.actor);
        return appendInput(options.store, input, source, { heads: options.heads });
      },
    );
  });
}
