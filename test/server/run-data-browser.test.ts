// The run page in the system Chromium for a run logged from user code: its params and tags, a table
// and a chart per metric name (here `f1` and `val/loss`, not the built-in trainer's four), and the
// recorded environment — with no script error.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startRun } from '../../src/runs/run.js';
import { startServer, type DashboardServer } from '../../src/server/app.js';
import { findChromium } from '../support/chromium.js';
import { freshLedger, type Ledger } from './fixture.js';
import { webAssets } from './web-assets.js';

describe('dashboard in a browser: a run logged through the run API', function () {
  this.timeout(120_000);
  let ledger: Ledger;
  let server: DashboardServer;
  let context: BrowserContext;
  let userDataDir: string;

  before(async function () {
    const found = findChromium();
    if ('skip' in found) {
      console.log(`browser suite skipped: ${found.skip}`);
      this.skip();
    }
    ledger = await freshLedger();
    const run = await startRun({ store: ledger.store, home: ledger.home, actor: 'alice' }, { runId: 'ext', external: { name: 'bert' }, params: { lr: 0.001, optimizer: 'adamw' }, tags: { team: 'nlp' }, environment: { python: '3.12.1' } });
    for (let step = 0; step < 4; step++) await run.logMetrics({ f1: 0.5 + step / 10, 'val/loss': 1 - step / 10 }, { step });
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, assetsDir: await webAssets(), pollMs: 50 });
    userDataDir = mkdtempSync(join(tmpdir(), 'runledger-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: found.path, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
  });
  after(async () => {
    await context?.close();
    await server?.close();
    await ledger?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('shows params, tags, every metric with a chart of its own, and the environment', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (m) => (m.type() === 'error' ? problems.push(m.text()) : undefined));
    await page.goto(`${server.url}/#/runs/ext`);
    await page.waitForSelector('figure[data-chart="metric-f1"][data-points="4"]');
    assert.equal(await page.locator('figure[data-chart="metric-val/loss"]').getAttribute('data-points'), '4');
    const params = await page.locator('[aria-labelledby="params-title"]').innerText();
    assert.match(params, /lr\s+0\.001/);
    assert.match(params, /optimizer\s+adamw/);
    assert.match(params, /team\s+nlp/);
    const metrics = await page.locator('[aria-labelledby="metrics-title"]').innerText();
    assert.match(metrics, /f1\s+0\.8000\s+3/);
    const env = await page.locator('[aria-labelledby="environment-title"]').innerText();
    assert.match(env, /source\s+typescript/);
    assert.match(env, /python\s+3\.12\.1/);
    assert.deepEqual(problems, []);
  });
});
