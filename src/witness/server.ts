// The witness's HTTP face: `POST /add-checkpoint` (C2SP tlog-witness) and nothing else. Binds
// 127.0.0.1 unless told otherwise; bodies are capped, so a client cannot make it buffer without end.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Witness } from './witness.js';

const MAX_BODY = 256 * 1024;

export interface WitnessServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startWitnessServer(witness: Witness, options: { port: number; host?: string; onError?: (err: unknown) => void }): Promise<WitnessServer> {
  const server = createServer((req, res) => {
    const reply = (status: number, contentType: string, body: string) => {
      res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/add-checkpoint') return reply(404, 'text/plain; charset=utf-8', 'not found: this witness serves POST /add-checkpoint\n');
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return reply(405, 'text/plain; charset=utf-8', 'add-checkpoint must be a POST\n');
    }
    readBody(req).then(
      async (body) => {
        if (body === undefined) return reply(413, 'text/plain; charset=utf-8', `request body larger than ${MAX_BODY} bytes\n`);
        const decoded = new TextDecoder('utf-8', { fatal: false }).decode(body);
        const response = await witness.addCheckpoint(decoded);
        reply(response.status, response.contentType, response.body);
      },
    ).catch((err: unknown) => {
      options.onError?.(err);
      if (!res.headersSent) reply(500, 'text/plain; charset=utf-8', 'internal error\n');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The body, or undefined when it exceeds MAX_BODY. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_BODY) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
