// The OpenAPI document served at /api/openapi.json is checked against the implementation in both
// directions: every route fastify has under /api (and /metrics) is in the document, every documented
// operation exists, and each answers with a status the document lists — JSON bodies valid against
// the documented schema.
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { startServer, type DashboardServer } from '../../src/server/app.js';
import { freshLedger, populate, type Ledger } from './fixture.js';

const TOKEN = 'openapi-test-token-0123456789';

interface Operation {
  security: unknown[];
  parameters: { name: string; in: string; required: boolean }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

const SAMPLE: Record<string, string> = { id: 'base-1', name: 'no-such-model', alias: 'prod', path: 'x/y.txt' };

describe('OpenAPI document', function () {
  this.timeout(60_000);
  let ledger: Ledger;
  let server: DashboardServer;
  let document: Document;
  /** Every route fastify registered, as its onRoute hook reported them (not the catalog the document is built from). */
  const registered: string[] = [];

  before(async () => {
    ledger = await freshLedger();
    await populate(ledger);
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN, onRoute: (method, url) => registered.push(`${method} ${url}`) });
    const res = await fetch(`${server.url}/api/openapi.json`);
    assert.equal(res.status, 200);
    document = (await res.json()) as Document;
  });
  after(async () => {
    await server?.close();
    await ledger?.close();
  });

  it('is OpenAPI 3.1 with a bearer security scheme and no undocumented operation', () => {
    assert.equal(document.openapi, '3.1.0');
    const undocumented = Object.entries(document.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => (op as unknown as { summary: string }).summary === 'undocumented').map(([m]) => `${m} ${path}`));
    assert.deepEqual(undocumented, []);
  });

  it('lists exactly the routes fastify registered under /api and /metrics, and fastify has each of them', () => {
    const table = registered
      .filter((r) => / \/(api|metrics)/.test(r) && !r.startsWith('HEAD '))
      .map((r) => r.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}'))
      .sort();
    const documented = Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    assert.ok(table.length > 10, `routes seen: ${table.join(', ')}`);
    assert.deepEqual(documented, table);
    for (const [path, ops] of Object.entries(document.paths)) {
      const url = path.replace(/\{path\}$/, '*').replace(/\{([^}]+)\}/g, ':$1');
      for (const method of Object.keys(ops)) assert.ok(server.app.hasRoute({ method: method.toUpperCase() as 'GET', url }), `fastify has ${method.toUpperCase()} ${url}`);
    }
  });

  it('answers every documented operation with a documented status and a body valid against its schema', async () => {
    const ajv = new Ajv2020({ strict: false });
    const failures: string[] = [];
    for (const [path, ops] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (path === '/api/events' && method === 'get') continue; // an endless event stream: its route is checked above
        const url = path.replace(/\{([^}]+)\}/g, (_m, name: string) => SAMPLE[name] ?? 'x');
        const query = op.parameters.filter((p) => p.in === 'query' && p.required).map((p) => `${p.name}=${p.name === 't' ? '2020-01-01T00:00:00Z' : 'x'}`);
        const headers: Record<string, string> = op.security.length ? { authorization: `Bearer ${TOKEN}` } : {};
        const [contentType] = Object.keys(op.requestBody?.content ?? {});
        if (contentType) headers['content-type'] = contentType;
        const body = contentType === undefined ? undefined : contentType === 'application/json' ? '{}' : 'x';
        const res = await fetch(`${server.url}${url}${query.length ? `?${query.join('&')}` : ''}`, { method: method.toUpperCase(), headers, ...(body !== undefined ? { body } : {}) });
        const text = await res.text();
        const documented = op.responses[String(res.status)];
        if (!documented) {
          failures.push(`${method.toUpperCase()} ${url}: ${res.status} is not documented (${text.slice(0, 200)})`);
          continue;
        }
        const [type, media] = Object.entries(documented.content ?? {})[0] ?? [];
        if (type?.startsWith('application/json') && media) {
          const validate = ajv.compile(media.schema);
          if (!validate(JSON.parse(text))) failures.push(`${method.toUpperCase()} ${url}: ${res.status} body does not match its schema: ${ajv.errorsText(validate.errors)}`);
        }
        // A route that needs the token refuses a request without it, as documented.
        if (op.security.length) {
          const bare = await fetch(`${server.url}${url}`, { method: method.toUpperCase(), ...(contentType ? { headers: { 'content-type': contentType }, body: body! } : {}) });
          await bare.arrayBuffer();
          if (bare.status !== 401 || !op.responses['401']) failures.push(`${method.toUpperCase()} ${url} without the token answered ${bare.status}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});
