// The dashboard's static files. The set of servable files is listed once at startup; a request
// is answered only when its path is exactly one of them, so no URL — dot segments, encoded or
// double-encoded separators, backslashes, absolute paths — is ever turned into a filesystem path.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build` puts the bundle (src/server/build-web.ts): `dist/web`, next to the compiled server. */
export function defaultAssetsDir(): string {
  // dist/src/server/assets.js → dist/web
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
}

/** Relative paths (with `/`) of every regular file under `root`. */
export function listAssets(root: string): Set<string> {
  const files = new Set<string>();
  if (!existsSync(root)) return files;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile()) files.add(relative(root, path).split(sep).join('/'));
    }
  };
  walk(root);
  return files;
}

/** Serves `index.html` at `/` and the listed files under `/assets/`; everything else is the JSON 404. */
export async function registerAssets(app: FastifyInstance, root: string): Promise<{ files: Set<string> }> {
  const files = listAssets(root);
  // serve: false — @fastify/static only provides reply.sendFile (ETag, ranges, MIME); no wildcard route.
  await app.register(fastifyStatic, { root, serve: false, dotfiles: 'deny', index: false, cacheControl: false });
  const send = (file: string, cacheControl: string) => async (_request: unknown, reply: import('fastify').FastifyReply) => {
    reply.header('cache-control', cacheControl);
    return reply.sendFile(file);
  };
  if (files.has('index.html')) {
    app.get('/', send('index.html', 'no-cache'));
    app.get('/index.html', send('index.html', 'no-cache'));
  } else {
    app.get('/', async (_request, reply) =>
      reply.code(503).send({ error: 'the dashboard pages are not built: run "npm run build" (the JSON API under /api works)' }),
    );
  }
  app.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => {
    const wanted = `assets/${request.params['*']}`;
    if (!files.has(wanted)) return reply.code(404).send({ error: 'not found' });
    reply.header('cache-control', 'no-cache');
    return reply.sendFile(wanted);
  });
  return { files };
}
