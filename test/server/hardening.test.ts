// A dashboard bound beyond loopback is safe by default (docs/security.md): it needs a token (or an
// explicit --insecure-public), answers only Host names it was told of, refuses duplicate Host
// headers, caps live connections, closes requests that arrive too slowly and refuses bodies that
// are not bounded, valid UTF-8 JSON. Probed with raw sockets, as an attacker would.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { buildApp, startServer, type DashboardServer } from '../../src/server/app.js';
import { InputError } from '../../src/errors.js';
import { LIMITS } from '../../src/input/limits.js';
import { cliPath, repoRoot, runCli } from '../support/cli.js';
import { rawRequest } from '../support/raw-http.js';
import { freshLedger, populate, type Ledger } from './fixture.js';

const TOKEN = 'correct-horse-battery-staple';

const get = (path: string, headers: string[] = ['Host: localhost']): string => `GET ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n`;

describe('dashboard hardening', function () {
  this.timeout(60_000);
  let ledger: Ledger;
  const servers: DashboardServer[] = [];
  const start = async (options: Partial<Parameters<typeof startServer>[0]> = {}): Promise<DashboardServer> => {
    const server = await startServer({ store: ledger.store, home: ledger.home, port: 0, ...options });
    servers.push(server);
    return server;
  };

  before(async function () {
    ledger = await freshLedger();
    await populate(ledger);
  });
  after(async function () {
    for (const server of servers) await server.close();
    await ledger?.close();
  });

  describe('where it listens', () => {
    it('refuses to listen beyond loopback without a token, unless --insecure-public says so', async () => {
      for (const host of ['0.0.0.0', '::', '10.1.2.3', 'example.org']) {
        await assert.rejects(buildApp({ store: ledger.store, home: ledger.home, host }), (err: unknown) => err instanceof InputError && /listens beyond loopback: pass --token/.test(err.message), host);
      }
      for (const host of ['127.0.0.1', '::1', 'localhost', '127.9.9.9']) {
        const { app } = await buildApp({ store: ledger.store, home: ledger.home, host });
        await app.close();
      }
    });

    it('refuses an empty or invalid --host before opening anything', async () => {
      for (const host of ['', ' ', '999.1.1.1', '1.2.3.256', 'a..b', '-x', 'exa mple', '[::1', '10.0.0']) {
        await assert.rejects(buildApp({ store: ledger.store, home: ledger.home, host, token: TOKEN }), InputError, JSON.stringify(host));
      }
    });

    it('runledger serve: exit 2 with one sentence for --host "", 999.1.1.1 and 0.0.0.0 without a token', async () => {
      for (const [args, message] of [
        [['--host', ''], /^runledger: --host is empty: name the address to listen on/],
        [['--host', '999.1.1.1'], /^runledger: --host "999\.1\.1\.1" is neither an IP address nor a host name$/],
        [['--host', '0.0.0.0'], /^runledger: --host 0\.0\.0\.0 listens beyond loopback: pass --token \(or RUNLEDGER_TOKEN\)/],
        [['--host', '::'], /listens beyond loopback/],
      ] as const) {
        const result = await runCli(['--home', ledger.home, 'serve', '--port', '0', ...args]);
        assert.equal(result.code, 2, result.stderr);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        assert.match(result.stderr.trim(), message);
      }
    });

    it('runledger serve --host 0.0.0.0 --insecure-public starts with a warning on stderr', async () => {
      const child = spawn(process.execPath, [cliPath, '--home', ledger.home, 'serve', '--port', '0', '--host', '0.0.0.0', '--insecure-public'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
      try {
        let stderr = '';
        await new Promise<void>((resolve, reject) => {
          child.stderr.setEncoding('utf8').on('data', (d: string) => {
            stderr += d;
            if (/dashboard on/.test(stderr)) resolve();
          });
          child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
        });
        assert.match(stderr, /WARNING: --insecure-public: anyone who can reach http:\/\/0\.0\.0\.0:\d+ reads this whole ledger, with no token/);
        assert.match(stderr, /\(read-only\)/);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });

  describe('Host headers', () => {
    it('on loopback: answers localhost names and --allowed-host names, refuses others and duplicate Host headers', async () => {
      const server = await start({ allowedHosts: ['dash.example'] });
      assert.equal((await rawRequest(server.port, [get('/api', [`Host: localhost:${server.port}`])])).status, 200);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: DASH.example:1'])])).status, 200);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: evil.com'])])).status, 421);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: 192.168.1.5'])])).status, 421, 'no foreign address on a loopback bind');
      const twice = await rawRequest(server.port, [get('/api', ['Host: localhost', 'Host: evil.com'])]);
      assert.equal(twice.status, 400, twice.text);
      assert.match(twice.text, /exactly one Host header/);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: evil.com', 'Host: localhost'])])).status, 400);
      assert.equal((await rawRequest(server.port, [`GET http://evil.com/api HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`])).status, 400, 'absolute-form target');
    });

    it('beyond loopback: answers IP addresses and allowed names, never another name (DNS rebinding)', async () => {
      const server = await start({ host: '0.0.0.0', token: TOKEN, allowedHosts: ['ledger.example'] });
      const auth = `Authorization: Bearer ${TOKEN}`;
      assert.equal((await rawRequest(server.port, [get('/api', [`Host: 127.0.0.1:${server.port}`, auth])])).status, 200);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: 10.0.0.7:8787', auth])])).status, 200);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: [fe80::1]:8787', auth])])).status, 200);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: ledger.example', auth])])).status, 200);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: evil.com', auth])])).status, 421);
      assert.equal((await rawRequest(server.port, [get('/api', ['Host: 127.0.0.1', 'Host: evil.com', auth])])).status, 400);
    });
  });

  describe('the token beyond loopback', () => {
    it('guards reads too: 401 without it, 200 with the bearer header or the session cookie it is traded for', async () => {
      const server = await start({ host: '0.0.0.0', token: TOKEN });
      const host = `Host: 127.0.0.1:${server.port}`;
      const none = await rawRequest(server.port, [get('/api/runs', [host])]);
      assert.equal(none.status, 401);
      assert.match(none.text, /www-authenticate: Bearer/i);
      assert.equal((await rawRequest(server.port, [get('/api/runs', [host, 'Authorization: Bearer wrong-token-wrong-token'])])).status, 401);
      assert.equal((await rawRequest(server.port, [get('/api/runs', [host, `Authorization: Bearer ${TOKEN}`])])).status, 200);
      assert.equal((await rawRequest(server.port, [get('/', [host])])).status, 200, 'the page itself carries no ledger data');

      const login = await rawRequest(server.port, [`POST /api/session HTTP/1.1\r\n${host}\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`]);
      assert.equal(login.status, 204, login.text);
      const cookie = /set-cookie: (runledger_session=[^;]+);[^\r]*HttpOnly; SameSite=Strict/i.exec(login.text)?.[1];
      assert.ok(cookie, login.text);
      assert.ok(!cookie.includes(TOKEN), 'the cookie is not the token');
      assert.equal((await rawRequest(server.port, [get('/api/runs', [host, `Cookie: ${cookie}`])])).status, 200);
      assert.equal((await rawRequest(server.port, [get('/api/runs', [host, 'Cookie: runledger_session=forged'])])).status, 401);
      const badLogin = await rawRequest(server.port, [`POST /api/session HTTP/1.1\r\n${host}\r\nAuthorization: Bearer nope-nope-nope-nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`]);
      assert.equal(badLogin.status, 401);
      // A cookie opens reads, never a change: mutations need the bearer header.
      const post = await rawRequest(server.port, [`POST /api/checkpoints HTTP/1.1\r\n${host}\r\nCookie: ${cookie}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`]);
      assert.equal(post.status, 401);
    });

    it('with --insecure-public, reads are open and changes refused (read-only)', async () => {
      const server = await start({ host: '0.0.0.0', insecurePublic: true });
      assert.equal((await rawRequest(server.port, [get('/api/runs', [`Host: 127.0.0.1:${server.port}`])])).status, 200);
      assert.equal((await rawRequest(server.port, [`POST /api/checkpoints HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`])).status, 403);
    });
  });

  it(`caps concurrent live (SSE) connections (default ${LIMITS.sseConnections}) and accepts again when one closes`, async () => {
    const server = await start({ maxLiveConnections: 2 });
    const open = (): Promise<{ status: number; close: () => void }> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: server.port });
        let text = '';
        socket.setEncoding('utf8').on('data', (d: string) => {
          text += d;
          const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
          if (status && text.includes('\r\n\r\n')) resolve({ status: Number(status[1]), close: () => socket.destroy() });
        });
        socket.on('error', reject);
        socket.write(get('/api/events').replace('Connection: close\r\n', ''));
      });
    const first = await open();
    const second = await open();
    const third = await open();
    assert.deepEqual([first.status, second.status, third.status], [200, 200, 503]);
    third.close();
    first.close();
    let again = await open();
    for (let i = 0; i < 20 && again.status !== 200; i++) {
      again.close();
      await new Promise((r) => setTimeout(r, 50));
      again = await open();
    }
    assert.equal(again.status, 200);
    second.close();
    again.close();
  });

  it('closes a request whose body (or headers) arrive too slowly (slowloris)', async () => {
    const server = await start({ token: TOKEN, requestTimeoutMs: 600 });
    const head = `POST /api/checkpoints HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n`;
    const drip = Array.from({ length: 30 }, () => ' ');
    const slowBody = await rawRequest(server.port, [head, ...drip], { gapMs: 200, waitMs: 8000 });
    assert.ok(slowBody.closedAfterMs !== null && slowBody.closedAfterMs < 4000, `closed after ${slowBody.closedAfterMs} ms: ${slowBody.text}`);
    assert.equal(slowBody.status, 408);
    const slowHeaders = await rawRequest(server.port, ['GET /api HTTP/1.1\r\n', ...Array.from({ length: 30 }, (_, i) => `X-${i}: y\r\n`)], { gapMs: 200, waitMs: 8000 });
    assert.ok(slowHeaders.closedAfterMs !== null && slowHeaders.closedAfterMs < 4000, `closed after ${slowHeaders.closedAfterMs} ms`);
    // A live connection is a request already received: the timeout does not end it.
    const live = await rawRequest(server.port, [get('/api/events').replace('Connection: close\r\n', '')], { waitMs: 1500 });
    assert.equal(live.status, 200);
    assert.equal(live.closedAfterMs, null, 'the SSE stream stayed open');
  });

  it('refuses request bodies that are too large, not UTF-8, not JSON or hostile JSON, with one sentence', async () => {
    const server = await start({ token: TOKEN });
    const post = (type: string, body: Buffer): (string | Buffer)[] => [`POST /api/checkpoints HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, body];
    const cases: [string, string, Buffer, number, RegExp][] = [
      ['invalid UTF-8', 'application/json', Buffer.from('{"a":"\xff"}', 'latin1'), 400, /not valid UTF-8/],
      ['not JSON', 'application/json', Buffer.from('{'), 400, /^request body is not JSON/],
      ['a __proto__ member', 'application/json', Buffer.from('{"__proto__":{"x":1}}'), 400, /"__proto__" is refused/],
      ['nesting beyond the limit', 'application/json', Buffer.from('['.repeat(100) + ']'.repeat(100)), 400, /nests deeper than the limit of 64 levels/],
      ['a body over the limit', 'application/json', Buffer.alloc(LIMITS.requestBodyBytes + 1, 0x20), 413, /./],
      ['text/plain', 'text/plain', Buffer.from('hello'), 415, /./],
    ];
    for (const [what, type, body, status, message] of cases) {
      const reply = await rawRequest(server.port, post(type, body), { waitMs: 4000 });
      assert.equal(reply.status, status, `${what}: ${reply.text}`);
      const json = JSON.parse(reply.text.slice(reply.text.indexOf('\r\n\r\n') + 4)) as { error: string };
      assert.deepEqual(Object.keys(json), ['error'], what);
      assert.match(json.error, message, what);
    }
  });
});
