// The dashboard end to end in the system Chromium (headless, via playwright-core): runs list, run
// detail with its charts, a live update arriving without reload, the graph, verification, a narrow
// screen — with no CSP violation, no script error and no request leaving the dashboard's origin.
// Screenshots go to test-artifacts/dashboard/.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { runStream } from '../../src/governance/recorder.js';
import { startServer, type DashboardServer } from '../../src/server/app.js';
import { findChromium } from '../support/chromium.js';
import { repoRoot, runCli } from '../support/cli.js';
import { freshLedger, populate, telemetry, type Ledger } from './fixture.js';
import { webAssets } from './web-assets.js';

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];
export const SCREENSHOTS = join(repoRoot, 'test-artifacts', 'dashboard');

describe('dashboard in a browser', function () {
  this.timeout(120_000);
  let ledger: Ledger;
  let server: DashboardServer;
  let context: BrowserContext;
  let page: Page;
  let userDataDir: string;
  const problems: string[] = [];

  const watch = (p: Page): void => {
    p.on('console', (message) => {
      if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    p.on('request', (request) => {
      if (!request.url().startsWith(`${server.url}/`)) problems.push(`request left the origin: ${request.url()}`);
    });
  };
  const shot = (p: Page, name: string, fullPage = false): Promise<Buffer> => p.screenshot({ path: join(SCREENSHOTS, name), fullPage });

  before(async function () {
    const chromiumFound = findChromium();
    if ('skip' in chromiumFound) {
      console.log(`browser suite skipped: ${chromiumFound.skip}`);
      this.skip();
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    ledger = await freshLedger();
    await populate(ledger);
    server = await startServer({ store: ledger.store, home: ledger.home, port: 0, assetsDir: await webAssets(), pollMs: 50 });
    userDataDir = mkdtempSync(join(tmpdir(), 'runledger-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumFound.path,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 800 },
      reducedMotion: 'reduce',
    });
    page = context.pages()[0] ?? (await context.newPage());
    watch(page);
  });

  after(async function () {
    await context?.close();
    await server?.close();
    await ledger?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('opens the runs list with statuses and verification badges', async function () {
    await page.goto(`${server.url}/`);
    await page.waitForSelector('a[data-run="base-1"]');
    const rows = await page.locator('.runs-table tbody tr').count();
    assert.equal(rows, 3);
    assert.equal(await page.locator('tr:has(a[data-run="base-1"]) [data-badge]').getAttribute('data-badge'), 'verified');
    assert.equal(await page.title(), 'Runs · runledger');
    await page.waitForSelector('#live-status[data-state="live-on"]');
    await shot(page, 'runs.png');
  });

  it('opens a run and draws its telemetry chart with the budget line', async function () {
    await page.click('a[data-run="base-1"]');
    await page.waitForSelector('figure[data-chart="loss"][data-points="40"] canvas');
    assert.equal(await page.locator('h1').first().textContent().then((t) => t?.startsWith('Run base-1')), true);
    // The throughput chart carries the plan's minimum-throughput budget as a series of its own.
    assert.match((await page.locator('figure[data-chart="throughput"] .chart-summary').textContent()) ?? '', /budget: at least 100 examples\/s/);
    assert.equal(await page.locator('.timeline li').count(), 2);
    assert.equal(await page.locator('#checkpoints-title + * tbody tr').count(), 2);
    await shot(page, 'run.png', true);
  });

  it('grows the loss curve of a running run within 2 seconds of another process appending, without reloading', async function () {
    await page.goto(`${server.url}/#/runs/cand-1`);
    await page.waitForSelector('figure[data-chart="loss"][data-points="10"] canvas');
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    // Another process appends, as a worker in another terminal would: the server sees it by polling the store.
    const ndjson = telemetry('cand-1', 10, 15).map((e) => JSON.stringify({ stream: runStream('cand-1'), ...e })).join('\n');
    const appended = await runCli(['--home', ledger.home, 'append', '-'], { input: ndjson });
    assert.equal(appended.code, 0, appended.stderr);
    const started = Date.now();
    await page.waitForSelector('figure[data-chart="loss"][data-points="25"]', { timeout: 2000 });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2000, `chart updated after ${elapsed} ms`);
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was not reloaded');
    assert.match((await page.locator('figure[data-chart="loss"] .chart-summary').textContent()) ?? '', /up to step 24/);
    await shot(page, 'run-live.png', true);
  });

  it('shows a training run started in another terminal within 2 seconds, with its loss curve', async function () {
    this.timeout(120_000);
    await page.click('nav a[data-nav="runs"]');
    await page.waitForSelector('a[data-run="cand-1"]');
    const training = runCli(['--home', ledger.home, 'train', '--plan', join(repoRoot, 'docs', 'examples', 'train.yaml'), '--run', 'live-2']);
    await page.waitForSelector('a[data-run="live-2"]', { timeout: 60_000 });
    const seenAt = Date.now();
    const [first] = await ledger.store.readStream(runStream('live-2'), { limit: 1 });
    const latency = seenAt - Date.parse(first!.envelope.metadata.recordedAt);
    assert.ok(latency < 2000, `the run appeared ${latency} ms after its first event`);
    const result = await training;
    assert.equal(result.code, 0, result.stderr);
    await page.click('a[data-run="live-2"]');
    await page.waitForSelector('figure[data-chart="loss"] canvas');
    const samples = (await ledger.store.readStream(runStream('live-2'))).filter((e) => e.envelope.type === 'TelemetrySample' && (e.envelope.data as { tags: { stage: string } }).tags.stage === 'train');
    await page.waitForSelector(`figure[data-chart="loss"][data-points="${samples.length}"]`);
    assert.ok(samples.length > 0);
    await shot(page, 'run-trained.png', true);
  });

  it('opens the experiment graph', async function () {
    await page.click('nav a[data-nav="graph"]');
    await page.waitForSelector('#graph canvas');
    const nodes = Number(await page.locator('#graph').getAttribute('data-nodes'));
    assert.ok(nodes >= 4, `${nodes} nodes`);
    assert.ok((await page.locator('#edges-title + * tbody tr').count()) >= 3);
    await shot(page, 'graph.png', true);
  });

  it('lists comparisons with their verdicts', async function () {
    await page.click('nav a[data-nav="comparisons"]');
    await page.waitForSelector('.comparison .verdict-fail');
    await shot(page, 'comparisons.png', true);
  });

  it('replays a run from the verification page and shows every check', async function () {
    await page.click('nav a[data-nav="verification"]');
    await page.waitForSelector('button[aria-label="Replay run base-1"]');
    await page.click('button[aria-label="Replay run base-1"]');
    await page.waitForSelector('[data-replay="ok"]');
    assert.ok((await page.locator('[data-replay="ok"] .check-passed').count()) >= 8);
    await shot(page, 'verification.png', true);
  });

  it('stays readable on a narrow screen: nothing overflows the viewport sideways', async function () {
    const narrow = await context.newPage();
    watch(narrow);
    await narrow.setViewportSize({ width: 390, height: 844 });
    try {
      for (const route of ['#/runs', '#/runs/base-1', '#/verification']) {
        await narrow.goto(`${server.url}/${route}`);
        await narrow.waitForSelector('main h1');
        await narrow.waitForLoadState('networkidle').catch(() => undefined);
        const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${route} overflows by ${overflow}px`);
      }
      await narrow.goto(`${server.url}/#/runs/base-1`);
      await narrow.waitForSelector('figure[data-chart="loss"] canvas');
      await shot(narrow, 'run-narrow.png');
    } finally {
      await narrow.close();
    }
  });

  it('uses landmarks, labelled controls and table headers', async function () {
    await page.goto(`${server.url}/#/runs/base-1`);
    await page.waitForSelector('figure[data-chart="loss"] canvas');
    const audit = await page.evaluate(() => ({
      header: document.querySelectorAll('header').length,
      nav: document.querySelectorAll('nav[aria-label]').length,
      main: document.querySelectorAll('main').length,
      h1: document.querySelectorAll('main h1').length,
      unscopedHeaders: document.querySelectorAll('thead th:not([scope])').length,
      // uPlot's legend table sits inside the chart's role=img, whose text summary and data table speak for it.
      tablesWithoutCaption: Array.from(document.querySelectorAll('table')).filter((t) => !t.closest('[role=img]') && !t.querySelector('caption')).length,
      unlabelledCharts: Array.from(document.querySelectorAll('.plot')).filter((p) => p.getAttribute('role') !== 'img' || !p.getAttribute('aria-labelledby')).length,
      unlabelledButtons: Array.from(document.querySelectorAll('button')).filter((b) => !(b.getAttribute('aria-label') || b.textContent?.trim())).length,
      lang: document.documentElement.lang,
    }));
    assert.deepEqual(audit, { header: 1, nav: 1, main: 1, h1: 1, unscopedHeaders: 0, tablesWithoutCaption: 0, unlabelledCharts: 0, unlabelledButtons: 0, lang: 'en' });
  });

  it('beyond loopback, asks for the token once, then shows the runs and goes live (session cookie)', async function () {
    const token = 'correct-horse-battery-staple';
    const exposed = await startServer({ store: ledger.store, home: ledger.home, host: '0.0.0.0', port: 0, token, assetsDir: await webAssets(), pollMs: 50 });
    const tab = await context.newPage();
    try {
      await tab.goto(`http://127.0.0.1:${exposed.port}/`);
      await tab.waitForSelector('main h1:text("Sign in")');
      await tab.fill('#session-token', 'not-the-token-at-all');
      await tab.click('button:text("Sign in")');
      await tab.waitForSelector('p:text("Wrong token.")');
      await tab.fill('#session-token', token);
      await tab.click('button:text("Sign in")');
      await tab.waitForSelector('a[data-run="base-1"]');
      await tab.waitForSelector('#live-status[data-state="live-on"]');
      const cookies = await context.cookies(`http://127.0.0.1:${exposed.port}`);
      assert.equal(cookies.find((c) => c.name === 'runledger_session')?.httpOnly, true);
      assert.ok(!cookies.some((c) => c.value.includes(token)), 'the token itself is not stored');
    } finally {
      await tab.close();
      await exposed.close();
    }
  });

  it('shows a run with one altered stored event as failed, with the divergence, on the runs and verification pages', async function () {
    // Another process rewrites one byte of base-2's first event; a dashboard started afterwards must not vouch for it.
    const db = new Database(join(ledger.home, 'ledger.db'));
    const row = db.prepare('SELECT position, canonical FROM events WHERE stream = ? AND revision = 0').get(runStream('base-2')) as { position: number; canonical: Buffer };
    const bytes = Buffer.from(row.canonical);
    const at = bytes.indexOf('Z"', bytes.indexOf('"recordedAt":"')) - 1;
    bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30;
    db.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(bytes, row.position);
    db.close();
    const restarted = await startServer({ store: ledger.store, home: ledger.home, port: 0, assetsDir: await webAssets(), pollMs: 50 });
    const other = await context.newPage();
    try {
      await other.goto(`${restarted.url}/`);
      await other.waitForSelector('a[data-run="base-2"]');
      assert.equal(await other.locator('tr:has(a[data-run="base-2"]) [data-badge]').getAttribute('data-badge'), 'failed');
      assert.equal(await other.locator('tr:has(a[data-run="base-1"]) [data-badge]').getAttribute('data-badge'), 'verified');
      await other.goto(`${restarted.url}/#/verification`);
      const detail = other.locator('tr:has(a[href="#/runs/base-2"]) .detail');
      await detail.waitFor();
      assert.match((await detail.textContent()) ?? '', /^inclusion: Event .*revision 0\)/);
    } finally {
      await other.close();
      await restarted.close();
    }
  });

  it('met no CSP violation, script error or off-origin request on any page', function () {
    assert.deepEqual(problems, []);
  });
});
