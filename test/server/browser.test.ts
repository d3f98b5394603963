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
import { campaignStreamEvents, metrics as benchMetrics, runStreamEvents } from '../../bench/fixtures/projection-log.js';

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

  it('shows a run in training as "running" with its stage, and its checkpoint accuracy as latest, not final', async function () {
    const cand = page.locator('tr[data-row="cand-1"]');
    assert.equal(await cand.locator('[data-status]').getAttribute('data-status'), 'running');
    assert.equal(await cand.locator('[data-stage]').getAttribute('data-stage'), 'train');
    assert.equal(await cand.locator('[data-final]').count(), 0, 'nothing is final before TrainingCompleted');
    assert.match((await cand.locator('[data-latest="testAccuracy"]').textContent()) ?? '', /^\d+\.\d% latest$/);
    assert.equal(await page.locator('tr[data-row="base-1"] [data-final="testAccuracy"]').count(), 1);
  });

  it('sorts by a column on the server, in the order the server hands out, and keeps the sort in the URL', async function () {
    await page.click('button[data-sort="run"]');
    await page.waitForFunction(() => location.hash.includes('sort=run'));
    await page.waitForSelector('th[data-col="run"][aria-sort="ascending"]');
    const order = async () => page.locator('tbody tr[data-row]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-row')));
    assert.deepEqual(await order(), ['base-1', 'base-2', 'cand-1']);
    await page.click('button[data-sort="run"]');
    await page.waitForSelector('th[data-col="run"][aria-sort="descending"]');
    assert.deepEqual(await order(), ['cand-1', 'base-2', 'base-1']);
    await page.click('button[data-sort="metrics.testAccuracy"]');
    await page.waitForSelector('th[data-col="testAccuracy"][aria-sort="descending"]');
    assert.equal((await order())[2], 'cand-1', 'a run without a final accuracy sorts last');
  });

  it('filters with an expression, says which column is wrong, searches, and restores it all from a shared link', async function () {
    await page.fill('#runs-filter', 'campaign = base and metrics.testAccuracy >');
    await page.press('#runs-filter', 'Enter');
    await page.waitForSelector('#runs-query-error [role=alert]');
    assert.match((await page.locator('#runs-query-error').textContent()) ?? '', /column 43: expected a value after ">"/);
    // The browser logs the 400 it was meant to get; it is this test's, not a problem of the page.
    const expected = problems.findIndex((p) => /status of 400/.test(p));
    assert.ok(expected >= 0);
    problems.splice(expected, 1);
    await page.fill('#runs-filter', 'campaign = base and metrics.testAccuracy > 0.5');
    await page.press('#runs-filter', 'Enter');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-row]').length === 2);
    assert.equal(await page.locator('#runs-query-error [role=alert]').count(), 0);
    assert.match((await page.locator('#runs-count').textContent()) ?? '', /^2 of 3 runs match/);
    await page.fill('#runs-search', 'base-2');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-row]').length === 1);
    await page.fill('#runs-search', '');
    await page.waitForFunction(() => document.querySelectorAll('tbody tr[data-row]').length === 2);
    // Select two runs and share the link: a fresh tab shows the same filter, sort and selection.
    await page.check('input[data-select="base-1"]');
    await page.check('input[data-select="base-2"]');
    assert.equal(await page.locator('#compare-selected').textContent(), 'Compare 2 selected');
    const shared = page.url();
    const tab = await context.newPage();
    watch(tab);
    try {
      await tab.goto(shared);
      await tab.waitForFunction(() => document.querySelectorAll('tbody tr[data-row]').length === 2);
      assert.equal(await tab.inputValue('#runs-filter'), 'campaign = base and metrics.testAccuracy > 0.5');
      assert.equal(await tab.locator('input[data-select="base-2"]').isChecked(), true);
      assert.equal(await tab.locator('th[data-col="testAccuracy"]').getAttribute('aria-sort'), 'descending');
    } finally {
      await tab.close();
    }
    await shot(page, 'runs-filtered.png');
  });

  it('chooses columns: a plan param appears, a default column goes, both kept in the URL', async function () {
    await page.click('details.columns summary');
    await page.check('input[data-column="params.learningRate"]');
    await page.uncheck('input[data-column="updated"]');
    await page.waitForSelector('th[data-col="params.learningRate"]');
    assert.equal(await page.locator('th[data-col="updated"]').count(), 0);
    assert.match(page.url(), /cols=[^&]*params.learningRate/);
    assert.equal(await page.locator('tr[data-row="base-1"] td').last().textContent(), '0.01');
  });

  it('compares the selected runs side by side with only differences, and overlays their loss curves on a log scale', async function () {
    // A shared selection: base-2 (completed) and cand-1 (still training), same plan.
    await page.goto(`${server.url}/#/runs?sel=base-2,cand-1`);
    await page.waitForSelector('input[data-select="cand-1"]:checked');
    await page.click('#compare-selected');
    await page.waitForSelector('#compare-table');
    await page.waitForSelector('#compare-curves canvas');
    assert.equal(await page.locator('#compare-table thead th.run-col').count(), 2);
    const all = Number(await page.locator('#compare-table').getAttribute('data-rows'));
    await page.check('#only-differences');
    await page.waitForFunction((n) => Number(document.querySelector('#compare-table')?.getAttribute('data-rows')) < n, all);
    const fields = await page.locator('#compare-table tbody tr[data-field]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-field')));
    assert.ok(fields.includes('Run:status') && fields.includes('Final metrics:testAccuracy'), fields.join(', '));
    assert.ok(fields.every((f) => !/^(Params|Plan):/.test(f ?? '')), `same plan, same params: ${fields.join(', ')}`);
    assert.equal(await page.locator('#compare-table tr.same').count(), 0, 'only differences: no equal row left');
    assert.equal(await page.locator('#compare-curves').getAttribute('data-series'), '2');
    await page.check('#curve-log');
    await page.waitForSelector('#compare-curves[data-scale="log"]');
    await page.fill('#curve-smoothing', '0.6');
    await page.waitForSelector('#compare-curves[data-smoothing="0.6"]');
    assert.match((await page.locator('#compare-curves-summary').textContent()) ?? '', /^loss of 2 runs by step, log scale, smoothed \(EMA 0\.6\)/);
    assert.match(page.url(), /#\/compare\?runs=base-2%2Ccand-1&diff=1&log=1&smooth=0\.6$/);
    await shot(page, 'compare.png', true);
  });

  it('compares a campaign by name: parallel coordinates of params → metric and a box plot per campaign', async function () {
    await page.goto(`${server.url}/#/compare?runs=campaign:base,cand-1`);
    await page.waitForSelector('#campaign-boxes');
    assert.equal(await page.locator('#compare-table thead th.run-col').count(), 3);
    assert.equal(await page.inputValue('#plot-metric'), 'testAccuracy');
    assert.equal(await page.locator('#campaign-boxes rect[data-campaign="base"]').count(), 1);
    assert.equal(await page.locator('#campaign-boxes circle[data-run]').count(), 2, 'cand-1 has no final value: not drawn');
    assert.match((await page.locator('#campaign-boxes + .chart-summary, figure:has(#campaign-boxes) .chart-summary').first().textContent()) ?? '', /^base: n=2, median 0\.85/);
    assert.equal(await page.locator('#parallel polyline[data-run]').count(), 2);
  });

  it('scrolls a table of 450 runs with a bounded number of rows in the page, loading each page as it comes into view', async function () {
    const big = await freshLedger();
    const ids: string[] = [];
    for (let c = 0; c < 45; c++) {
      const campaign = Array.from({ length: 10 }, (_, i) => `c${String(c).padStart(2, '0')}-r${i}`);
      for (const [i, runId] of campaign.entries()) await big.store.append(runStream(runId), runStreamEvents({ runId, seed: i + 1, metrics: benchMetrics(0.8 + i / 100) }));
      await big.store.append(`campaign-c${c}`, campaignStreamEvents(`c${c}`, campaign));
      ids.push(...campaign);
    }
    const bigServer = await startServer({ store: big.store, home: big.home, port: 0, assetsDir: await webAssets(), pollMs: 1000 });
    // Another server, another origin: this tab is not watched for off-origin requests.
    const tab = await context.newPage();
    try {
      await tab.goto(`${bigServer.url}/#/runs?sort=run`);
      await tab.waitForSelector('tbody tr[data-row]');
      assert.equal(await tab.locator('#runs-grid').getAttribute('aria-rowcount'), '451');
      const rendered = await tab.locator('tbody tr').count();
      assert.ok(rendered < 80, `${rendered} rows in the DOM for 450 runs`);
      // To the bottom: rows 200–449 come from pages the first reply did not carry.
      await tab.locator('.runs-scroller').evaluate((s) => (s.scrollTop = s.scrollHeight));
      await tab.waitForSelector(`tbody tr[data-row="${ids.at(-1)}"]`);
      assert.equal(await tab.locator('tbody tr.placeholder').count(), 0);
      assert.ok((await tab.locator('tbody tr').count()) < 80);
      await tab.locator('.runs-scroller').evaluate((s) => (s.scrollTop = s.scrollHeight / 2));
      await tab.waitForSelector(`tbody tr[data-row="${ids[225]}"]`);
    } finally {
      await tab.close();
      await bigServer.close();
      await big.close();
    }
  });

  it('opens a run and draws its telemetry chart with the budget line', async function () {
    await page.goto(`${server.url}/#/runs`);
    await page.click('a[data-run="base-1"]');
    await page.waitForSelector('figure[data-chart="loss"][data-points="40"] canvas');
    assert.equal(await page.locator('h1').first().textContent().then((t) => t?.startsWith('Run base-1')), true);
    // The throughput chart carries the plan's minimum-throughput budget as a series of its own.
    assert.match((await page.locator('figure[data-chart="throughput"] .chart-summary').textContent()) ?? '', /budget: at least 100 examples\/s/);
    assert.equal(await page.locator('.timeline li').count(), 2);
    assert.equal(await page.locator('#checkpoints-title + * tbody tr').count(), 2);
    assert.equal(await page.locator('.checkpoint-table [data-signature="valid"]').count(), 2);
    assert.equal(await page.locator('.checkpoint-table a[data-download]').count(), 2);
    // Lineage: plan → stages → checkpoints → gates, as a keyboard-driven graph and as a list of links.
    await page.waitForSelector('#lineage canvas');
    const kinds = await page.locator('#lineage-list [data-lineage]').evaluateAll((items) => items.map((i) => i.getAttribute('data-lineage')));
    assert.deepEqual(kinds, ['plan', 'stage', 'stage', 'checkpoint', 'checkpoint']);
    await page.focus('#lineage');
    await page.keyboard.press('End');
    assert.match((await page.locator('#lineage-focus').textContent()) ?? '', /^checkpoint epoch 4 .*node 5 of 5/);
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
    // The canvas is keyboard-driven: Tab reaches it, arrows walk the nodes, a live region reads each out.
    await page.focus('#graph');
    await page.keyboard.press('Home');
    const first = await page.locator('#graph').getAttribute('data-selected');
    assert.ok(first);
    await page.keyboard.press('ArrowRight');
    const second = await page.locator('#graph').getAttribute('data-selected');
    assert.notEqual(second, first);
    assert.match((await page.locator('#graph-focus').textContent()) ?? '', /node 2 of \d+/);
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.locator('#graph').getAttribute('data-selected'), first);
    await shot(page, 'graph.png', true);
    // Enter on a run node opens it.
    while (!((await page.locator('#graph').getAttribute('data-selected')) ?? '').startsWith('run:')) await page.keyboard.press('ArrowRight');
    const run = (await page.locator('#graph').getAttribute('data-selected'))!.slice(4);
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => location.hash === `#/runs/${id}`, run);
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
