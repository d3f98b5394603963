// GET /api/runs/:id/files/:digest — a checkpoint or artifact of a run, downloaded by its digest.
// Never a path: the digest must be one the run's own events record (CheckpointWritten,
// ArtifactRecorded), the file is found by the home's content-addressed layout, and its SHA-256 is
// recomputed before a byte is sent — a file altered on disk is refused, not served.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { IntegrityError } from '../errors.js';
import { artifactFile } from '../runs/run.js';
import type { LiveView } from './live-view.js';
import { HttpError } from './security.js';

/** `<home>/checkpoints/<digest>.ckpt`: the workers' layout (workers/checkpoint.ts checkpointPaths). */
function checkpointFile(home: string, digest: string): string {
  return join(home, 'checkpoints', `${digest}.ckpt`);
}

const DIGEST = '^[0-9a-f]{64}$';
const RUN_ID = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';

export function registerFileRoutes(app: FastifyInstance, options: { live: LiveView; home: string }): void {
  const { live, home } = options;
  app.get<{ Params: { id: string; digest: string } }>(
    '/api/runs/:id/files/:digest',
    { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: RUN_ID }, digest: { type: 'string', pattern: DIGEST } }, required: ['id', 'digest'] } } },
    async (request, reply) => {
      const { id, digest } = request.params;
      const run = live.run(id);
      if (!run) throw new HttpError(404, `no run "${id}" in this ledger`);
      const checkpoint = run.checkpoints.some((c) => c.data.digest === digest);
      const artifact = run.artifacts.find((a) => a.data.digest === digest);
      if (!checkpoint && !artifact) throw new HttpError(404, `run ${id} records no checkpoint or artifact with digest ${digest}`);
      const file = checkpoint ? checkpointFile(home, digest) : artifactFile(home, digest);
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch {
        throw new HttpError(404, `the ${checkpoint ? 'checkpoint' : 'artifact'} ${digest} of run ${id} is not stored in this server's home`);
      }
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== digest) throw new IntegrityError(`the stored ${checkpoint ? 'checkpoint' : 'artifact'} file of run ${id} was altered: its SHA-256 is ${actual}, the ledger records ${digest}`);
      // Always a download, never rendered: an artifact's bytes are the caller's, not the dashboard's.
      const name = checkpoint ? `${digest}.ckpt` : (artifact!.data.path.split('/').pop() ?? digest).replace(/[^A-Za-z0-9._-]/g, '_');
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('x-content-digest', `sha-256=${Buffer.from(digest, 'hex').toString('base64')}`)
        .send(bytes);
    },
  );
}
