// The model registry on `serve`: the JSON API (reads verified from the log, writes only with the
// token, bad bodies refused, every write anchored), and the Models pages in the system Chromium —
// list, alias timeline, changes table, the at-a-time form — with no CSP violation or script error.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type DashboardServer } from '../../src/server/app.js';
import { modelStream } from '../../src/registry/model-rules.js';
import { freshLedger, populate, raw, type Ledger } from './fixture.js';
import { repoRoot } from '../support/cli.js';
import { webAssets } from './web-assets.js';

const TOKEN = 'models-test-token-0123456789';
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = join(repoRoot, 'test-artifacts', 'dashboard');

interface HistoryView {
  ok: boolean;
  anchored: boolean;
  aliases: Record<string, number>;
  entries: { change: string; actor: string; reason: string | null; anchored: boolean; inclusion: { index: number } | null }[];
}

describe('model registry on serve', function () {
  this.timeout(120_000);
  let ledger: Ledger;
  let server: DashboardServer;
  let readOnly: DashboardServer;

  const send = async (method: string, path: string, body: unknown, token: string | null = TOKEN, target = server): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${target.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const get = async <T>(path: string): Promise<T> => {
    const reply = await raw(server, path);
    assert.equal(reply.status, 200, `${path}: ${reply.body}`);
    return JSON.parse(reply.body) as T;
  };

  before(async () => {
    ledger = await freshLedger();
    await populate(ledger);
    const assetsDir = await webAssets();
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, token: TOKEN, assetsDir });
    readOnly = await startServer({ store: ledger.store, home: ledger.home, port: 0, pollMs: 20, assetsDir });
  });
  after(async () => {
    await server?.close();
    await readOnly?.close();
    await ledger?.close();
  });

  it('refuses writes on a read-only server (403), without the token (401), and bad bodies (400), writing nothing', async () => {
    assert.equal((await send('POST', '/api/models/iris/versions', { runId: 'base-1' }, null, readOnly)).status, 403);
    assert.equal((await send('POST', '/api/models/iris/versions', { runId: 'base-1' }, null)).status, 401);
    assert.equal((await send('POST', '/api/models/iris/versions', { runId: 'base-1' }, 'wrong-token-wrong-token')).status, 401);
    const bad = await send('POST', '/api/models/iris/versions', { runId: 'base-1', extra: 1 });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /body field/);
    assert.equal((await send('PUT', '/api/models/iris/aliases/Prod', { version: 1, reason: 'x' })).status, 400, 'alias pattern');
    assert.equal((await send('PUT', '/api/models/iris/aliases/production', { version: 1 })).status, 400, 'reason required');
    assert.equal((await send('POST', '/api/models/iris/versions', { runId: 'cand-1' })).status, 409, 'an unverifiable run');
    assert.equal((await ledger.store.readStream(modelStream('iris'))).length, 0);
    assert.equal((await raw(server, '/api/models/iris')).status, 404);
  });

  it('registers, sets, moves and deletes through the API, each change anchored by a signed checkpoint', async () => {
    const v1 = await send('POST', '/api/models/iris/versions', { runId: 'base-1', actor: 'alice' });
    assert.equal(v1.status, 200, JSON.stringify(v1.json));
    assert.ok(v1.json.anchoredBy !== null);
    assert.equal((await send('POST', '/api/models/iris/versions', { runId: 'base-2', actor: 'alice' })).status, 200);
    assert.equal((await send('PUT', '/api/models/iris/aliases/production', { version: 1, reason: 'first', actor: 'bob' })).status, 200);
    assert.equal((await send('PUT', '/api/models/iris/aliases/staging', { version: 2, reason: 'try v2', actor: 'bob' })).status, 200);
    assert.equal((await send('PUT', '/api/models/iris/aliases/production', { version: 2, reason: 'v2 is better', actor: 'carol' })).status, 200);
    assert.equal((await send('DELETE', '/api/models/iris/aliases/staging', { reason: 'promoted', actor: 'carol' })).status, 200);
    const conflict = await send('PUT', '/api/models/iris/aliases/production', { version: 3, reason: 'x' });
    assert.equal(conflict.status, 400);
    assert.match(String(conflict.json.error), /only versions 1\.\.2/);
  });

  it('reads the verified history, the list and the aliases at a time', async () => {
    const history = await get<HistoryView>('/api/models/iris');
    assert.equal(history.ok, true);
    assert.equal(history.anchored, true);
    assert.deepEqual(history.aliases, { production: 2 });
    assert.deepEqual(history.entries.map((e) => [e.change, e.actor]), [
      ['registered', 'alice'],
      ['registered', 'alice'],
      ['alias-set', 'bob'],
      ['alias-set', 'bob'],
      ['alias-moved', 'carol'],
      ['alias-deleted', 'carol'],
    ]);
    assert.ok(history.entries.every((e) => e.anchored && e.inclusion !== null));
    const { models } = await get<{ models: { model: string; versions: number; ok: boolean }[] }>('/api/models');
    assert.deepEqual(models.map((m) => [m.model, m.versions, m.ok]), [['iris', 2, true]]);
    const past = await get<{ aliases: { alias: string; version: number }[] }>('/api/models/iris/at?t=2000-01-01T00:00:00Z');
    assert.deepEqual(past.aliases, []);
    assert.equal((await raw(server, '/api/models/iris/at?t=never')).status, 400);
  });

  describe('Models pages in a browser', function () {
    let context: BrowserContext;
    let page: Page;
    let userDataDir: string;
    const problems: string[] = [];

    before(async function () {
      if (!existsSync(CHROMIUM)) {
        console.log(`models browser suite skipped: ${CHROMIUM} not found; install with apt-get install chromium`);
        this.skip();
      }
      mkdirSync(SCREENSHOTS, { recursive: true });
      userDataDir = mkdtempSync(join(tmpdir(), 'runledger-chromium-'));
      context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'], viewport: { width: 1280, height: 900 } });
      page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (m) => {
        if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(m.text());
      });
      page.on('pageerror', (err) => problems.push(err.message));
    });
    after(async () => {
      await context?.close();
      if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    });

    it('lists the model and opens its alias timeline: one lane per alias, segments in time order', async () => {
      await page.goto(`${server.url}/#/models`);
      await page.click('a[data-model="iris"]');
      await page.waitForSelector('.alias-lane');
      assert.equal(await page.title(), 'Model iris · runledger');
      const lanes = await page.locator('.alias-name').allTextContents();
      assert.deepEqual(lanes, ['production', 'staging']);
      const production = await page.locator('.alias-segment[data-alias="production"]').evaluateAll((bars) => bars.map((b) => ({ version: b.getAttribute('data-version'), left: parseFloat((b as HTMLElement).style.left) })));
      assert.deepEqual(production.map((p) => p.version), ['1', '2']);
      assert.ok(production[0]!.left < production[1]!.left, 'v1 before v2');
      assert.equal(await page.locator('.model-changes tbody tr').count(), 6);
      assert.equal(await page.locator('.model-changes tbody .badge-verified').count(), 6);
      await page.screenshot({ path: join(SCREENSHOTS, 'model.png'), fullPage: true });
    });

    it('answers which version each alias named at a chosen time', async () => {
      const history = await get<{ entries: { recordedAt: string }[] }>('/api/models/iris');
      await page.fill('#model-at-time', history.entries[3]!.recordedAt);
      await page.click('text=Show aliases');
      await page.waitForSelector('.model-at-output tbody tr');
      const rows = await page.locator('.model-at-output tbody tr').allTextContents();
      assert.equal(rows.length, 2);
      assert.match(rows[0]!, /^production\s*v1/);
      assert.match(rows[1]!, /^staging\s*v2/);
      assert.deepEqual(problems, []);
    });
  });
});
