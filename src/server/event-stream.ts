// GET /api/events: Server-Sent Events (WHATWG HTML §9.2) pushing one `change` message per batch of
// events the live view folded, so pages refetch only what moved. The stream is the store
// subscription seen through the projections; a page that reconnects simply refetches.
import type { FastifyInstance } from 'fastify';
import type { ChangeMessage } from './api-types.js';
import type { LiveView } from './live-view.js';
import { SECURITY_HEADERS } from './security.js';

const HEARTBEAT_MS = 15_000;

function frame(event: string, data: unknown, id?: number): string {
  return `${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** `maxConnections`: concurrent streams; one more is refused with 503 (each holds a socket and a subscription). */
export function registerEventStream(app: FastifyInstance, live: LiveView, maxConnections: number): void {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get('/api/events', async (request, reply) => {
    if (live.error) return reply.code(503).send({ error: `the store subscription failed: ${live.error.message}` });
    if (open.size >= maxConnections) {
      return reply.code(503).header('retry-after', '10').send({ error: `this dashboard already serves ${maxConnections} live connections, its limit (docs/limits.md); try again later` });
    }
    // Hijacked: the onSend hook does not run, so the security headers are written here.
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n${frame('hello', { position: live.position })}`);
    const subscription = live.changes.subscribe({
      next: (change: ChangeMessage) => res.write(frame('change', change, change.position)),
      error: (err: unknown) => {
        res.write(frame('failure', { error: `the store subscription failed: ${(err as Error).message}` }));
        end();
      },
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const end = (): void => {
      if (!open.delete(end)) return;
      clearInterval(heartbeat);
      subscription.unsubscribe();
      res.end();
    };
    open.add(end);
    request.raw.on('close', end);
  });
}
