// Takes the screenshots in docs/images/ from a real home (e.g. after `runledger demo`):
//   node dist/test/server/doc-screenshots.js <home> [outDir]
// Same browser setup as the browser suite; not a test (mocha runs only *.test.js).
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../../src/server/app.js';
import { defaultStoreUrl, openStore } from '../../src/store/open.js';
import { repoRoot } from '../support/cli.js';
import { webAssets } from './web-assets.js';

async function main(home: string, outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const store = await openStore(defaultStoreUrl(home));
  const server = await startServer({ store, home, port: 0, assetsDir: await webAssets() });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, reducedMotion: 'reduce' });
    const go = async (hash: string, ready: string): Promise<void> => {
      await page.goto(`${server.url}/${hash}`);
      await page.waitForSelector(ready);
      await page.waitForSelector('#live-status[data-state="live-on"]');
    };
    // The acceptance walk: sort by test accuracy, filter to campaign candidate (campaign = candidate), select 3, compare (only differences, log-scale loss).
    await go('#/runs?sort=-metrics.testAccuracy&filter=campaign%20%3D%20candidate', '.runs-table a[data-run]');
    const picked = (await page.locator('.runs-table a[data-run]').evaluateAll((links) => links.map((a) => a.getAttribute('data-run')!))).slice(0, 3);
    for (const id of picked) await page.check(`input[data-select="${id}"]`);
    await page.screenshot({ path: join(outDir, 'dashboard-runs.png') });
    // The demo's candidate campaign samples its loss once per run; candidate-2's runs have curves worth overlaying.
    await go('#/runs?sort=-metrics.testAccuracy&filter=campaign%20%3D%20candidate-2', '.runs-table a[data-run]');
    const curved = (await page.locator('.runs-table a[data-run]').evaluateAll((links) => links.map((a) => a.getAttribute('data-run')!))).slice(0, 3);
    await go(`#/compare?runs=${[...curved, picked[0]!].map(encodeURIComponent).join(',')}&diff=1&log=1&smooth=0.6`, '#compare-curves canvas');
    await page.screenshot({ path: join(outDir, 'dashboard-compare.png'), fullPage: true });
    await go('#/runs', '.runs-table a[data-run]');
    const first = await page.locator('.runs-table a[data-run]').last().getAttribute('data-run');
    await go(`#/runs/${first}`, 'figure[data-chart="loss"] canvas');
    await page.screenshot({ path: join(outDir, 'dashboard-run.png'), fullPage: true });
    await go('#/comparisons', 'main h1');
    await page.screenshot({ path: join(outDir, 'dashboard-comparisons.png'), fullPage: true });
    await go('#/graph', '#graph canvas');
    await page.screenshot({ path: join(outDir, 'dashboard-graph.png') });
    await go('#/verification', `button[aria-label="Replay run ${first}"]`);
    await page.click(`button[aria-label="Replay run ${first}"]`);
    await page.waitForSelector('[data-replay]');
    await page.screenshot({ path: join(outDir, 'dashboard-verification.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await go(`#/runs/${first}`, 'figure[data-chart="loss"] canvas');
    await page.screenshot({ path: join(outDir, 'dashboard-narrow.png') });
  } finally {
    await browser.close();
    await server.close();
    await store.close();
  }
}

const [home, outDir] = process.argv.slice(2);
if (!home) {
  process.stderr.write('usage: node dist/test/server/doc-screenshots.js <home> [outDir]\n');
  process.exit(2);
}
main(resolve(home), resolve(outDir ?? join(repoRoot, 'docs', 'images'))).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
