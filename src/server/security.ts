// What keeps a local dashboard from becoming a way into the machine: strict response headers,
// a Host check against DNS rebinding, bearer-token auth for the few mutating endpoints, and
// errors that say what went wrong in one sentence without a stack trace.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LedgerError } from '../errors.js';

/** No inline script or style anywhere: the bundle is two files served from this origin. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), interest-cohort=()',
};

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The host name of a Host header value, without the port. */
export function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith('[')) return value.slice(0, value.indexOf(']') + 1);
  const colon = value.lastIndexOf(':');
  return colon < 0 ? value : value.slice(0, colon);
}

function sameSecret(given: string, expected: string): boolean {
  // Compare digests so neither the length nor the content leaks through timing.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export interface SecurityOptions {
  /** Bearer token that unlocks mutating endpoints; undefined = read-only server. */
  token?: string;
  /** The address the server listens on: a loopback bind only answers loopback Host names. */
  host: string;
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Installs headers, the Host check, JSON errors and the 404 handler on an app. */
export function installSecurity(app: FastifyInstance, options: SecurityOptions): void {
  const loopbackOnly = isLoopback(options.host);

  app.addHook('onRequest', async (request) => {
    // A page on another site that resolves its own name to 127.0.0.1 (DNS rebinding) sends its own
    // name as Host: a loopback-bound dashboard answers only loopback names.
    if (loopbackOnly && !isLoopback(hostName(request.headers.host ?? ''))) {
      throw new HttpError(421, `this dashboard only answers requests for localhost, not "${request.headers.host ?? ''}"`);
    }
    // Fetch Metadata (W3C): another site's page may make the browser send requests here (an <img>,
    // a form) even though it cannot read the answers; refuse them before they cost a replay.
    const site = request.headers['sec-fetch-site'];
    if (request.url.startsWith('/api') && site !== undefined && site !== 'same-origin' && site !== 'none') {
      throw new HttpError(403, 'cross-site requests to the API are refused');
    }
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setNotFoundHandler(async (_request, reply) => {
    return reply.code(404).send({ error: 'not found' });
  });

  app.setErrorHandler(async (error: FastifyError | HttpError | LedgerError | Error, _request, reply) => {
    const { status, message, headers } = describeError(error);
    for (const [name, value] of Object.entries(headers)) reply.header(name, value);
    return reply.code(status).send({ error: message });
  });
}

function describeError(error: Error): { status: number; message: string; headers: Record<string, string> } {
  if (error instanceof HttpError) return { status: error.statusCode, message: error.message, headers: error.headers };
  if (error instanceof LedgerError) {
    const status = error.exitCode === 2 ? 400 : error.exitCode === 3 ? 503 : 409;
    return { status, message: error.message, headers: {} };
  }
  const status = (error as FastifyError).statusCode;
  // Fastify's own 4xx (bad URL, bad body, unsupported media type) carry safe, short messages.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status: (error as FastifyError).code === 'FST_ERR_BAD_URL' ? 404 : status, message: status === 404 ? 'not found' : error.message, headers: {} };
  }
  return { status: 500, message: 'internal error (see the server log)', headers: {} };
}

/**
 * Errors fastify raises before routing (malformed percent-encoding, over-long parameters): a URL
 * that cannot be decoded names no asset, so it is the same JSON 404 as any other unknown path.
 */
export function frameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
  reply.header('cache-control', 'no-store');
  if (error.code === 'FST_ERR_BAD_URL') void reply.code(404).send({ error: 'not found' });
  else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') void reply.code(414).send({ error: 'URL parameter too long' });
  else void reply.code(400).send({ error: 'bad request' });
}

/** preHandler for mutating routes: refused on a read-only server, 401 without the right token. */
export function requireToken(token: string | undefined) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (token === undefined) {
      throw new HttpError(403, 'this dashboard is read-only: restart "runledger serve" with --token to allow changes');
    }
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    if (!match || !sameSecret(match[1]!, token)) {
      throw new HttpError(401, 'missing or wrong bearer token (send "Authorization: Bearer <token>")', { 'www-authenticate': 'Bearer realm="runledger"' });
    }
  };
}
