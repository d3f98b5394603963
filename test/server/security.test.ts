// The dashboard never serves a file outside its assets, sends strict headers on every response,
// is read-only without a token, answers only loopback Host names, and never leaks a stack trace.
import assert from 'node:assert/strict';
import { buildApp, startServer, type DashboardServer } from '../../src/server/app.js';
import { checkpointLedger, freshLedger, populate, raw, type Ledger } from './fixture.js';
import { webAssets } from './web-assets.js';


const TRAVERSALS = [
  '/../../etc/passwd',
  '/../../../../../../etc/passwd',
  '/assets/../../../../etc/passwd',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/assets/..%2f..%2f..%2f..%2fetc%2fpasswd',
  '/assets/%252e%252e%252f%252e%252e%252fetc%252fpasswd',
  '/%252e%252e/%252e%252e/etc/passwd',
  '/assets/..%5c..%5c..%5cetc%5cpasswd',
  '/assets/..\\..\\..\\etc\\passwd',
  '/..%5c..%5cetc%5cpasswd',
  '//etc/passwd',
  '/assets//etc/passwd',
  '/assets/%2fetc%2fpasswd',
  '/etc/passwd',
  '/assets/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
  '/assets/app.js%00.html',
  '/assets/.%2e/.%2e/etc/passwd',
  '/assets/../package.json',
  '/assets/../../package.json',
  '/index.html/../../package.json',
  '/api/../../etc/passwd',
  '/file:///etc/passwd',
];

describe('dashboard security', function () {
  let ledger: Ledger;
  let server: DashboardServer;
  let tokenServer: DashboardServer;
  const token = 'correct-horse-battery-staple';

  before(async function () {
    ledger = await freshLedger();
    await populate(ledger);
    const assetsDir = await webAssets();
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, assetsDir });
    tokenServer = await startServer({ store: ledger.store, home: ledger.home, port: 0, assetsDir, token });
  });
  after(async function () {
    await server?.close();
    await tokenServer?.close();
    await ledger?.close();
  });

  it('answers every traversal attempt with 404 and never the file', async function () {
    for (const path of TRAVERSALS) {
      const reply = await raw(server, path);
      assert.equal(reply.status, 404, `${path} → ${reply.status}`);
      assert.doesNotMatch(reply.body, /root:|"dependencies"|"name": ?"runledger"/, path);
      assert.deepEqual(JSON.parse(reply.body), { error: 'not found' }, path);
    }
  });

  it('serves the page and its bundle with a strict Content-Security-Policy and nosniff', async function () {
    for (const path of ['/', '/assets/app.js', '/assets/app.css', '/api/runs', '/nope']) {
      const reply = await raw(server, path);
      const csp = String(reply.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, path);
      assert.equal(reply.headers['x-content-type-options'], 'nosniff', path);
      assert.equal(reply.headers['x-frame-options'], 'DENY', path);
    }
    const page = await raw(server, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    // No inline script or style in the page: everything comes from /assets.
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    assert.doesNotMatch(page.body, /https?:\/\//, 'no CDN or remote resource');
    const js = await raw(server, '/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /javascript/);
  });

  it('is read-only without a token: the mutating endpoint is refused', async function () {
    const before = (await ledger.store.checkpoints()).length;
    const reply = await raw(server, '/api/checkpoints', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(reply.status, 403);
    assert.match(JSON.parse(reply.body).error, /read-only/);
    assert.equal((await ledger.store.checkpoints()).length, before);
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      assert.equal((await raw(server, '/api/runs', { method })).status, 404, method);
    }
  });

  it('with a token, refuses a missing or wrong bearer token and accepts the right one', async function () {
    await ledger.store.append('run-base-1', [{ type: 'custom.note', data: { text: 'grow the tree' } }]);
    const count = (await ledger.store.checkpoints()).length;
    const none = await raw(tokenServer, '/api/checkpoints', { method: 'POST' });
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    const wrong = await raw(tokenServer, '/api/checkpoints', { method: 'POST', headers: { authorization: 'Bearer correct-horse-battery-stapler' } });
    assert.equal(wrong.status, 401);
    const basic = await raw(tokenServer, '/api/checkpoints', { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    assert.equal((await ledger.store.checkpoints()).length, count, 'refused requests changed nothing');
    const ok = await raw(tokenServer, '/api/checkpoints', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).created, true);
    assert.equal((await ledger.store.checkpoints()).length, count + 1);
    assert.equal((await raw(tokenServer, '/api')).body.includes('"readOnly":false'), true);
  });

  it('refuses requests for another host name (DNS rebinding)', async function () {
    const reply = await raw(server, '/api/runs', { headers: { host: 'attacker.example:8787' } });
    assert.equal(reply.status, 421);
    assert.equal(typeof JSON.parse(reply.body).error, 'string');
    assert.equal((await raw(server, '/api/runs', { headers: { host: `localhost:${server.port}` } })).status, 200);
  });

  it('refuses API requests another site makes the browser send (Fetch Metadata)', async function () {
    const cross = await raw(server, '/api/runs/base-1/replay', { headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(cross.status, 403);
    assert.equal((await raw(server, '/api/runs', { headers: { 'sec-fetch-site': 'same-site' } })).status, 403);
    assert.equal((await raw(server, '/api/runs', { headers: { 'sec-fetch-site': 'same-origin' } })).status, 200);
    assert.equal((await raw(server, '/api/runs', { headers: { 'sec-fetch-site': 'none' } })).status, 200);
  });

  it('answers a store failure with one JSON sentence and no stack trace', async function () {
    const other = await freshLedger();
    const broken = await startServer({ store: other.store, home: other.home, port: 0, assetsDir: await webAssets(), log: () => undefined });
    try {
      await checkpointLedger(other);
      await other.store.close();
      const reply = await raw(broken, '/api/verification');
      assert.equal(reply.status, 503);
      assert.deepEqual(Object.keys(JSON.parse(reply.body)), ['error']);
      assert.doesNotMatch(reply.body, /\bat \S+ \(|\.js:\d+|node_modules/);
      // Without its store the dashboard refuses to serve runs rather than show stale ones.
      let runs = await raw(broken, '/api/runs');
      for (let i = 0; i < 50 && runs.status === 200; i++) {
        await new Promise((r) => setTimeout(r, 20));
        runs = await raw(broken, '/api/runs');
      }
      assert.equal(runs.status, 503);
      assert.match(JSON.parse(runs.body).error, /is closed|store subscription failed/);
    } finally {
      await broken.close();
    }
  });

  it('answers an unexpected exception with a generic JSON error and logs the detail server-side', async function () {
    const logged: string[] = [];
    const { app } = await buildApp({ store: ledger.store, home: ledger.home, assetsDir: await webAssets(), log: (m) => logged.push(m) });
    app.get('/api/explode', async () => {
      throw new Error('secret detail from /home/someone/.runledger');
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (app.server.address() as import('node:net').AddressInfo).port;
      const reply = await raw({ port } as DashboardServer, '/api/explode');
      assert.equal(reply.status, 500);
      assert.deepEqual(JSON.parse(reply.body), { error: 'internal error (see the server log)' });
      assert.equal(reply.headers['x-content-type-options'], 'nosniff');
      assert.match(logged.join('\n'), /secret detail/);
    } finally {
      await app.close();
    }
  });
});
