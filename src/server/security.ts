// What keeps a dashboard from becoming a way into the machine (threat model: docs/security.md):
// strict response headers; a Host check against DNS rebinding on every bind, duplicate Host
// headers refused; no bind beyond loopback without a token (or an explicit --insecure-public);
// on such a bind with a token, the API's reads need the token too; bearer-token auth for the few
// mutating endpoints; and errors that say what went wrong in one sentence without a stack trace.
import { createHmac } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InputError, LedgerError } from '../errors.js';
import { decodeUtf8, parseJson } from '../input/decode.js';
import { fieldPath, LIMITS, tooDeep } from '../input/limits.js';
import { allowedHostName, bearerToken, isLoopbackBind, requestRefusal, sameSecret } from '../input/http-host.js';

// The listen-address and Host rules live in src/input/http-host.ts (the witness shares them).
export { allowedHostName, hostName, isLoopback, isLoopbackBind, listenAddress } from '../input/http-host.js';

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

export interface SecurityOptions {
  /** Bearer token that unlocks mutating endpoints; undefined = read-only server. */
  token?: string;
  /** The address the server listens on. */
  host: string;
  /** Host names answered besides loopback names (and, on a bind beyond loopback, IP addresses). */
  allowedHosts?: readonly string[];
  /** Listen beyond loopback without a token, read-only, for anyone who can reach the port. */
  insecurePublic?: boolean;
}

/** Cookie a browser presents instead of the bearer header (EventSource cannot send headers). */
export const SESSION_COOKIE = 'runledger_session';

/** The session cookie's value for a token: a MAC of it, so the cookie is not the token itself. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('runledger dashboard session').digest('base64url');
}

function cookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether a request carries the token, as `Authorization: Bearer` or (for reads) the session cookie. */
function bearer(request: FastifyRequest): string | undefined {
  return bearerToken(request.headers.authorization);
}

/** Refuses a bind beyond loopback that has no token, unless --insecure-public says it is meant. */
export function checkExposure(options: SecurityOptions): void {
  if (isLoopbackBind(options.host) || options.token !== undefined || options.insecurePublic) return;
  throw new InputError(
    `--host ${options.host} listens beyond loopback: pass --token (or RUNLEDGER_TOKEN) so the API requires it, or --insecure-public to serve the ledger read-only to anyone who can reach the port`,
    { field: '--host' },
  );
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

/** Installs headers, the Host check, read protection, JSON errors and the 404 handler on an app. */
export function installSecurity(app: FastifyInstance, options: SecurityOptions): void {
  checkExposure(options);
  const loopbackOnly = isLoopbackBind(options.host);
  const allowed = new Set((options.allowedHosts ?? []).map(allowedHostName));
  // Beyond loopback with a token, reading the ledger needs the token as well as changing it.
  const protectReads = !loopbackOnly && options.token !== undefined;
  const session = options.token === undefined ? undefined : sessionValue(options.token);

  app.addHook('onRequest', async (request) => {
    const refusal = requestRefusal(request.raw.rawHeaders, request.url, request.headers.host, { loopbackOnly, allowed, who: 'this dashboard', command: 'serve' });
    if (refusal) throw new HttpError(refusal.status, refusal.message);
    if (protectReads && (request.url.startsWith('/api') || request.url.startsWith('/metrics')) && !request.url.startsWith('/api/session')) {
      const given = bearer(request);
      const ok = given !== undefined ? sameSecret(given, options.token!) : sameSecret(cookie(request, SESSION_COOKIE) ?? '', session!);
      if (!ok) throw new HttpError(401, 'this dashboard needs its token (send "Authorization: Bearer <token>", or sign in on the page)', { 'www-authenticate': 'Bearer realm="runledger"' });
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
 * Request bodies: JSON only, at most LIMITS.requestBodyBytes (fastify's bodyLimit), invalid UTF-8
 * refused rather than repaired, no "__proto__" members, nesting bounded (docs/limits.md). Any other
 * content type is 415. Each refusal is a 400 with one sentence.
 */
export function installJsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      const value = parseJson(decodeUtf8(body as Buffer, 'request body'), 'request body');
      const deep = tooDeep(value, LIMITS.depth);
      if (deep) throw new InputError(`request body: field ${fieldPath(deep)} nests deeper than the limit of ${LIMITS.depth} levels (docs/limits.md)`);
      done(null, value);
    } catch (err) {
      done(err as Error, undefined);
    }
  });
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
    const given = bearer(request);
    if (given === undefined || !sameSecret(given, token)) {
      throw new HttpError(401, 'missing or wrong bearer token (send "Authorization: Bearer <token>")', { 'www-authenticate': 'Bearer realm="runledger"' });
    }
  };
}
