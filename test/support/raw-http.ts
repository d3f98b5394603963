// A raw HTTP/1.1 client for hardening tests: the request goes on the wire exactly as written
// (duplicate headers, absolute-form targets, slow or oversized bodies), as an attacker would send it.
import { connect } from 'node:net';

export interface RawReply {
  /** Everything the server sent before closing (or before `waitMs` passed). */
  text: string;
  status: number | null;
  /** Whether the server closed the connection, and after how long. */
  closedAfterMs: number | null;
}

/**
 * Writes `chunks` to a fresh connection, `gapMs` apart, and collects the answer for at most
 * `waitMs`. The request goes on the wire exactly as written (duplicate headers, slow bodies).
 */
export function rawRequest(port: number, chunks: (string | Buffer)[], options: { gapMs?: number; waitMs?: number } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    let closedAfterMs: number | null = null;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ text, status: status ? Number(status[1]) : null, closedAfterMs });
    };
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    socket.on('close', () => {
      closedAfterMs = Date.now() - started;
      finish();
    });
    socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) break;
        socket.write(chunk);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
      timer = setTimeout(finish, options.waitMs ?? 2000);
    });
  });
}

