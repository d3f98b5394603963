// MLflow's artifact proxy (`mlflow-artifacts`): the client PUTs a file to
// /api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>, lists a directory with
// ?path= and GETs a file back. Here an upload is the run API's logArtifact — bytes kept
// content-addressed under <home>/artifacts/<sha256>, the digest recorded in the run's stream by a
// signed ArtifactRecorded event — and a download re-hashes the file against the recorded digest
// before sending a byte of it. Nothing is overwritten or deleted: a path logged again records a new
// digest, and the run's log keeps both.
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { IntegrityError } from '../../errors.js';
import { sha256Hex } from '../../integrity/hasher.js';
import { artifactFile, openRun, type RunApiContext } from '../../runs/run.js';
import type { DocumentedConfig, RouteDoc } from '../route-doc.js';
import { invalid, MLFLOW_ERROR_SCHEMA, MlflowError, notFound } from './errors.js';
import { getRunView } from './run-view.js';

export const ARTIFACTS_PATH = '/mlflow-artifacts/artifacts';

const ERRORS: RouteDoc['responses'] = {
  '400': { description: 'INVALID_PARAMETER_VALUE: the path is not <experiment>/<run>/artifacts/<file>, or the run has ended', schema: MLFLOW_ERROR_SCHEMA },
  '401': { description: 'UNAUTHENTICATED: missing or wrong bearer token', schema: MLFLOW_ERROR_SCHEMA },
  '403': { description: 'PERMISSION_DENIED: the server is read-only (started without --token)', schema: MLFLOW_ERROR_SCHEMA },
  '404': { description: 'RESOURCE_DOES_NOT_EXIST: no such run or artifact', schema: MLFLOW_ERROR_SCHEMA },
  '409': { description: 'RESOURCE_CONFLICT: the stored bytes do not match the digest the ledger recorded', schema: MLFLOW_ERROR_SCHEMA },
  '413': { description: 'BAD_REQUEST: the artifact is larger than the limit', schema: MLFLOW_ERROR_SCHEMA },
  '429': { description: 'REQUEST_LIMIT_EXCEEDED', schema: MLFLOW_ERROR_SCHEMA },
};

/** `<experiment>/<run>/artifacts[/<path>]`, split; INVALID_PARAMETER_VALUE otherwise. */
export function artifactTarget(full: string, needsFile: boolean): { experimentId: string; runId: string; path: string } {
  const [experimentId, runId, root, ...rest] = full.split('/');
  if (!experimentId || !runId || root !== 'artifacts' || (needsFile && rest.length === 0)) {
    throw invalid(`artifact path ${JSON.stringify(full.slice(0, 200))} is not <experiment id>/<run id>/artifacts${needsFile ? '/<file>' : '[/<directory>]'}`);
  }
  return { experimentId, runId, path: rest.join('/') };
}

/** The run's view, refused unless it belongs to the experiment the path names. */
async function runIn(ctx: RunApiContext, experimentId: string, runId: string) {
  const view = await getRunView(ctx.store, runId);
  if ((view.mlflow?.experimentId ?? '0') !== experimentId) throw notFound(`run ${runId} is not in experiment ${experimentId}`);
  return view;
}

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/;

export function registerArtifactRoutes(scope: FastifyInstance, options: { ctx: RunApiContext; artifactBytes: number }): void {
  const { ctx } = options;
  void scope.register(async (artifacts) => {
    // Artifact bodies are bytes of any type (the client sends the file's guessed media type).
    artifacts.removeAllContentTypeParsers();
    artifacts.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.artifactBytes }, (_request, body, done) => done(null, body));

    const put: DocumentedConfig = {
      doc: {
        summary: 'Upload an artifact of a run: stored by its SHA-256, the digest recorded in the run\'s stream',
        tag: 'mlflow-artifacts',
        auth: true,
        rawBody: { contentType: 'application/octet-stream', description: 'the file\'s bytes (any media type)' },
        responses: { '200': { description: 'recorded', schema: { type: 'object' } }, ...ERRORS },
      },
    };
    artifacts.put<{ Params: { '*': string } }>(`${ARTIFACTS_PATH}/*`, { bodyLimit: options.artifactBytes, config: put }, async (request) => {
      const { experimentId, runId, path } = artifactTarget(request.params['*'], true);
      await runIn(ctx, experimentId, runId);
      const bytes = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
      const handle = await openRun(ctx, runId);
      await handle.logArtifact({ path, bytes, ...(MEDIA_TYPE.test(type) && type.length <= 255 ? { mediaType: type } : {}) });
      return {};
    });

    const get: DocumentedConfig = {
      doc: {
        summary: 'Download an artifact, its bytes checked against the recorded digest first',
        tag: 'mlflow-artifacts',
        auth: true,
        responses: { '200': { description: 'the bytes', contentType: 'application/octet-stream' }, ...ERRORS },
      },
    };
    artifacts.get<{ Params: { '*': string } }>(`${ARTIFACTS_PATH}/*`, { config: get }, async (request, reply) => {
      const { experimentId, runId, path } = artifactTarget(request.params['*'], true);
      const view = await runIn(ctx, experimentId, runId);
      const artifact = view.artifacts.get(path);
      if (!artifact) throw notFound(`run ${runId} has no artifact ${JSON.stringify(path)}`);
      let bytes: Buffer;
      try {
        bytes = readFileSync(artifactFile(ctx.home, artifact.digest));
      } catch {
        throw new MlflowError('RESOURCE_DOES_NOT_EXIST', 404, `artifact ${path} of run ${runId}: its file ${artifact.digest} is missing from this home`);
      }
      if (sha256Hex(bytes) !== artifact.digest) throw new IntegrityError(`artifact ${path} of run ${runId}: the stored file does not match the digest ${artifact.digest} the ledger recorded`);
      // Served as bytes, never rendered: no type sniffing (nosniff is set on every answer) and no inline display.
      return reply.type('application/octet-stream').header('content-disposition', 'attachment').send(bytes);
    });

    const list: DocumentedConfig = {
      doc: {
        summary: 'List a run\'s artifact directory',
        description: 'Query: path = <experiment id>/<run id>/artifacts[/<directory>]. Names are relative to the directory.',
        tag: 'mlflow-artifacts',
        auth: true,
        responses: {
          '200': {
            description: 'the directory',
            schema: { type: 'object', properties: { files: { type: 'array', items: { type: 'object', required: ['path', 'is_dir'], properties: { path: { type: 'string' }, is_dir: { type: 'boolean' }, file_size: { type: 'integer' } } } } } },
          },
          ...ERRORS,
        },
      },
    };
    const ListQuery = z.object({ path: z.string().min(1).max(2000) });
    artifacts.get(ARTIFACTS_PATH, { config: list }, async (request) => {
      const parsed = ListQuery.safeParse(request.query ?? {});
      if (!parsed.success) throw invalid('mlflow-artifacts list: query parameter path (<experiment id>/<run id>/artifacts[/<directory>]) is required');
      const { experimentId, runId, path } = artifactTarget(parsed.data.path.replace(/\/+$/, ''), false);
      const view = await runIn(ctx, experimentId, runId);
      const prefix = path === '' ? '' : `${path}/`;
      const entries = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
      for (const [name, artifact] of view.artifacts) {
        if (!name.startsWith(prefix)) continue;
        const [first, ...deeper] = name.slice(prefix.length).split('/');
        if (deeper.length) entries.set(first!, { path: first!, is_dir: true });
        else if (!entries.has(first!)) entries.set(first!, { path: first!, is_dir: false, file_size: artifact.bytes });
      }
      return { files: [...entries.values()].sort((a, b) => a.path.localeCompare(b.path)) };
    });

    const del: DocumentedConfig = {
      doc: { summary: 'Not supported: artifacts are never deleted from the ledger', tag: 'mlflow-artifacts', auth: true, responses: { '501': { description: 'NOT_IMPLEMENTED', schema: MLFLOW_ERROR_SCHEMA }, ...ERRORS } },
    };
    artifacts.delete(`${ARTIFACTS_PATH}/*`, { config: del }, async () => {
      throw new MlflowError('NOT_IMPLEMENTED', 501, 'deleting artifacts is not supported by runledger\'s MLflow API: the ledger never erases what it recorded (docs/mlflow.md "Not supported")');
    });
  });
}
