// Documentation of the routes registered without `config.doc` (the dashboard's read API, the model
// registry, checkpoints, session, /metrics), keyed by "METHOD url" as fastify registers them. The
// OpenAPI test fails when a route has neither this entry nor its own `config.doc`.
import type { ResponseDoc, RouteDoc } from './route-doc.js';

const ERROR = { type: 'object', required: ['error'], properties: { error: { type: 'string' } } } as const;
const json = (description: string): ResponseDoc => ({ description, schema: { type: 'object' } });
const err = (description: string): ResponseDoc => ({ description, schema: ERROR });
const notFound = err('no such run or model');
const unauthorized = err('missing or wrong bearer token');
const readOnly = err('the server is read-only (started without --token)');

const read = (summary: string, extra: Record<string, ResponseDoc> = {}): RouteDoc => ({ summary, tag: 'dashboard', auth: false, responses: { '200': json(summary), ...extra } });
const write = (summary: string, tag: string, extra: Record<string, ResponseDoc> = {}): RouteDoc => ({
  summary,
  tag,
  auth: true,
  responses: { '200': json(summary), '400': err('bad input; nothing was recorded'), '401': unauthorized, '403': readOnly, ...extra },
});

export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /api': read('Server version, store, read-only flag and the live view position'),
  'GET /api/runs': read('Runs with status and verification badge, filtered (?filter= grammar of docs/dashboard.md), searched (?q=), sorted (?sort=) and paged (?offset=&limit=)', { '400': err('a filter or sort that does not parse, naming its column') }),
  'GET /api/runs/:id': read('One run: plan, stages, metrics, checkpoints, badge', { '404': notFound }),
  'GET /api/runs/:id/telemetry': read('Telemetry samples of a run stage after a sequence number', { '404': notFound }),
  'GET /api/runs/:id/checkpoints': read('Checkpoints of a run with their signature checks', { '404': notFound }),
  'GET /api/runs/:id/replay': read('Full replay of a run against the signed checkpoints', { '404': notFound, '409': err('no verifier key in the home') }),
  'GET /api/compare': read('Side-by-side view of 1–50 runs or campaign:NAME entries (?runs=a,b,campaign:c): params, metrics, plans, environment, badges; unknown ids listed as missing', { '400': err('no runs, or more than 50') }),
  'GET /api/runs/:id/files/:digest': {
    summary: 'Download a checkpoint or artifact file the run records, by its SHA-256 (re-hashed before sending)',
    tag: 'dashboard',
    auth: false,
    responses: {
      '200': { description: 'the file', contentType: 'application/octet-stream' },
      '400': err('the digest is not 64 lowercase hex characters'),
      '404': err('no such run, the run records no file with that digest, or the file is not stored here'),
      '409': err('the stored file was altered: its SHA-256 differs from the ledger'),
    },
  },
  'GET /api/comparisons': read('Recorded comparisons'),
  'GET /api/gates': read('Recorded gate decisions'),
  'GET /api/graph': read('Lineage graph of runs, comparisons and gates'),
  'GET /api/verification': read('Verification badges of every run'),
  'GET /api/events': {
    summary: 'Live updates (Server-Sent Events)',
    tag: 'dashboard',
    auth: false,
    responses: { '200': { description: 'an event stream', contentType: 'text/event-stream' }, '503': err('too many live connections') },
  },
  'POST /api/checkpoints': write('Sign a checkpoint of the ledger now', 'write', { '409': err('no signing key in the home') }),
  'POST /api/session': { summary: 'Trade the bearer token for an HttpOnly session cookie (EventSource cannot send headers)', tag: 'dashboard', auth: true, responses: { '204': { description: 'cookie set' }, '401': unauthorized } },
  'GET /api/models': { ...read('Every model with its verified history summary'), tag: 'models' },
  'GET /api/models/:name': { ...read('The verified history of a model', { '404': notFound }), tag: 'models' },
  'GET /api/models/:name/at': { ...read('A model\'s versions and aliases at a time (RFC 3339)', { '404': notFound, '409': err('the model history does not verify') }), tag: 'models' },
  'POST /api/models/:name/versions': write('Register a model version from a verified run', 'models'),
  'PUT /api/models/:name/aliases/:alias': write('Point an alias at a version', 'models'),
  'DELETE /api/models/:name/aliases/:alias': write('Delete an alias (recorded as an event)', 'models'),
  'GET /metrics': {
    summary: 'Prometheus text exposition of the ledger and this process',
    tag: 'meta',
    auth: false,
    responses: { '200': { description: 'Prometheus text format 0.0.4', contentType: 'text/plain; version=0.0.4; charset=utf-8' }, '403': err('cross-site request') },
  },
};
