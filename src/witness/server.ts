// The witness's HTTP face: `POST /add-checkpoint` (C2SP tlog-witness) and nothing else, under the
// rules `serve` follows (docs/security.md): 127.0.0.1 unless told otherwise; beyond loopback only
// with a token or an explicit --insecure-public; the Host check against DNS rebinding and one Host
// header; bodies of at most LIMITS.requestBodyBytes, refused when not UTF-8; slow requests closed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError } from '../errors.js';
import { allowedHostName, bearerToken, isLoopbackBind, requestRefusal, sameSecret } from '../input/http-host.js';
import { count, LIMITS } from '../input/limits.js';
import type { Witness } from './witness.js';

const TEXT = 'text/plain; charset=utf-8';

export interface WitnessServerOptions {
  port: number;
  host?: string;
  /** Bearer token every add-checkpoint request must carry. */
  token?: string;
  /** Host names answered besides loopback names (and, beyond loopback, IP addresses). */
  allowedHosts?: readonly string[];
  /** Listen beyond loopback without a token: anyone who reaches the port may submit checkpoints. */
  insecurePublic?: boolean;
  /** Time to receive one whole request; default LIMITS.requestMs. */
  requestTimeoutMs?: number;
  onError?: (err: unknown) => void;
}

export interface WitnessServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Refuses a bind beyond loopback that has no token, unless --insecure-public says it is meant. */
export function checkWitnessExposure(host: string, token: string | undefined, insecurePublic: boolean | undefined): void {
  if (isLoopbackBind(host) || token !== undefined || insecurePublic) return;
  throw new InputError(
    `--host ${host} listens beyond loopback: pass --token (or RUNLEDGER_WITNESS_TOKEN) so add-checkpoint requires it, or --insecure-public to let anyone who can reach the port submit checkpoints (each still verified against the log's key)`,
    { field: '--host' },
  );
}

export async function startWitnessServer(witness: Witness, options: WitnessServerOptions): Promise<WitnessServer> {
  const host = options.host ?? '127.0.0.1';
  checkWitnessExposure(host, options.token, options.insecurePublic);
  const policy = { loopbackOnly: isLoopbackBind(host), allowed: new Set((options.allowedHosts ?? []).map(allowedHostName)), who: 'this witness', command: 'witness serve' };
  const limit = LIMITS.requestBodyBytes;
  const requestMs = options.requestTimeoutMs ?? LIMITS.requestMs;
  const server = createServer({ requestTimeout: requestMs, headersTimeout: requestMs, connectionsCheckingInterval: Math.max(100, Math.min(1000, requestMs / 4)) }, (req, res) => {
    const reply = (status: number, body: string, headers: Record<string, string> = {}, contentType = TEXT) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', ...headers });
      res.end(body);
    };
    const refusal = requestRefusal(req.rawHeaders, req.url ?? '', req.headers.host, policy);
    if (refusal) return refuse(req, res, () => reply(refusal.status, `${refusal.message}\n`));
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/add-checkpoint') return refuse(req, res, () => reply(404, 'not found: this witness serves POST /add-checkpoint\n'));
    if (req.method !== 'POST') return refuse(req, res, () => reply(405, 'add-checkpoint must be a POST\n', { allow: 'POST' }));
    if (options.token !== undefined) {
      const given = bearerToken(req.headers.authorization);
      if (given === undefined || !sameSecret(given, options.token)) {
        return refuse(req, res, () => reply(401, 'this witness needs its token (send "Authorization: Bearer <token>"; runledger checkpoint --witness-token)\n', { 'www-authenticate': 'Bearer realm="runledger-witness"' }));
      }
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return refuse(req, res, () => reply(413, `request body of ${count(declared, 'bytes')} is over the limit of ${count(limit, 'bytes')} (docs/limits.md)\n`));
    readBody(req, limit)
      .then(async (body) => {
        if (body === undefined) return refuse(req, res, () => reply(413, `request body over the limit of ${count(limit, 'bytes')} (docs/limits.md)\n`));
        let text: string;
        try {
          // Refused, not repaired: a replaced byte would change the note whose signature is checked. A BOM is kept, so it fails the parse.
          text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
        } catch {
          return reply(400, 'request body is not valid UTF-8\n');
        }
        const response = await witness.addCheckpoint(text);
        reply(response.status, response.body, {}, response.contentType);
      })
      .catch((err: unknown) => {
        options.onError?.(err);
        reply(500, 'internal error (see the witness log)\n');
      });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers without reading the body, and closes the connection so an unread body cannot follow as a request. */
function refuse(req: IncomingMessage, res: ServerResponse, answer: () => void): void {
  res.setHeader('connection', 'close');
  answer();
  req.resume();
}

/** The body, or undefined once it exceeds `limit` bytes (reading stops there). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
