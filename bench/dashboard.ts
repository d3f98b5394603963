// The runs table with 10,000 runs, driven in the system Chromium (playwright-core): first page,
// sort by a metric, a filter expression, and scrolling through every row. Each measurement is held
// to a budget (ratio = measured p50 ÷ budget, goal ≤ 1) — a benchmark's JSON, never a test assertion.
// `npm run bench -- dashboard [--runs N] [--scale X]` (scale 1 = 10,000 runs).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { startServer } from '../src/server/app.js';
import { openStore } from '../src/store/open.js';
import { campaignStreamEvents, metrics, runStreamEvents } from './fixtures/projection-log.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';
import { findChromium } from '../test/support/chromium.js';

/** Milliseconds each interaction may take at the median (scroll: per frame at p90). */
export const BUDGETS_MS = { firstPage: 1500, sort: 1000, filter: 1000, scrollFrame: 50 } as const;


function result(name: string, unit: string, samples: number[], units: number, budgetMs: number, p: 'p50' | 'p90' = 'p50', extra: Record<string, unknown> = {}): BenchResult {
  const wallMs = summarizeRuns(samples);
  return {
    name,
    unit,
    runs: samples.length,
    wallMs,
    throughputPerSec: wallMs.mean > 0 ? (units * 1000) / wallMs.mean : 0,
    memoryDeltaBytes: 0,
    ratio: wallMs[p] / budgetMs,
    goal: 1,
    goalIs: 'max',
    environment: { ...benchEnvironment(), budgetMs, measuredAt: p, ...extra },
  };
}

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const runs = Math.max(10, Math.round(10_000 * (options.scale ?? 1)));
  const repeats = options.runs ?? 5;
  const home = mkdtempSync(join(tmpdir(), 'runledger-bench-dashboard-'));
  const store = await openStore(`sqlite:${join(home, 'ledger.db')}`);
  await store.init();
  const setup = performance.now();
  for (let c = 0; c < runs / 10; c++) {
    const ids = Array.from({ length: 10 }, (_, i) => `c${c}-r${i}`);
    for (const [i, runId] of ids.entries()) await store.append(`run-${runId}`, runStreamEvents({ runId, seed: i + 1, metrics: metrics(0.8 + ((c * 10 + i) % 97) / 1000) }));
    await store.append(`campaign-c${c}`, campaignStreamEvents(`c${c}`, ids));
  }
  process.stderr.write(`bench: dashboard — ${runs} runs recorded in ${Math.round(performance.now() - setup)} ms\n`);
  // The same Chromium the browser suites drive (RUNLEDGER_CHROMIUM, else chromium on PATH).
  const found = findChromium();
  if ('skip' in found) throw new Error(`dashboard benchmark: ${found.skip}`);
  const server = await startServer({ store, home, port: 0, pollMs: 1000 });
  const browser = await chromium.launch({ executablePath: found.path, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const firstRow = () => page.locator('tbody tr[data-row]').first().getAttribute('data-row');
    const timed = async (action: () => Promise<unknown>, done: () => Promise<unknown>): Promise<number> => {
      const t0 = performance.now();
      await action();
      await done();
      return performance.now() - t0;
    };
    const first: number[] = [];
    const sort: number[] = [];
    const filter: number[] = [];
    for (let i = 0; i < repeats; i++) {
      first.push(await timed(() => page.goto(`${server.url}/#/runs`), () => page.waitForSelector('tbody tr[data-row]')));
      const before = await firstRow();
      sort.push(
        await timed(
          () => page.click('button[data-sort="metrics.testAccuracy"]'),
          () => page.waitForFunction((b) => document.querySelector('tbody tr[data-row]')?.getAttribute('data-row') !== b && document.querySelector('th[aria-sort="descending"]'), before),
        ),
      );
      await page.fill('#runs-filter', 'metrics.testAccuracy > 0.85 and campaign ~ c1');
      filter.push(await timed(() => page.press('#runs-filter', 'Enter'), () => page.waitForFunction(() => /runs match/.test(document.querySelector('#runs-count')?.textContent ?? ''))));
    }
    // Scroll the whole table: frame-to-frame time while rows page in, and how many rows exist at once.
    await page.goto(`${server.url}/#/runs`);
    await page.waitForSelector('tbody tr[data-row]');
    const scroll = await page.evaluate(async () => {
      const scroller = document.querySelector('.runs-scroller') as HTMLElement;
      const frames: number[] = [];
      let maxRows = 0;
      let last = performance.now();
      for (let step = 0; step < 120; step++) {
        scroller.scrollTop = ((step + 1) / 120) * scroller.scrollHeight;
        await new Promise((r) => requestAnimationFrame(() => r(null)));
        const now = performance.now();
        frames.push(now - last);
        last = now;
        maxRows = Math.max(maxRows, document.querySelectorAll('tbody tr').length);
      }
      // Let the last page arrive, then check the bottom row is the last run.
      for (let i = 0; i < 100 && !document.querySelector('tbody tr[data-row]:last-of-type, tbody tr[data-row] + tr.spacer'); i++) await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 600 && document.querySelector('tbody tr.placeholder'); i++) await new Promise((r) => setTimeout(r, 50));
      const rows = document.querySelectorAll('tbody tr[data-row]');
      return { frames, maxRows, lastRowNumber: Number(rows[rows.length - 1]?.getAttribute('aria-rowindex') ?? 1) - 1 };
    });
    return [
      result('dashboard-runs-first-page', 'runs', first, runs, BUDGETS_MS.firstPage, 'p50', { runsInLedger: runs }),
      result('dashboard-runs-sort', 'runs', sort, runs, BUDGETS_MS.sort, 'p50', { runsInLedger: runs }),
      result('dashboard-runs-filter', 'runs', filter, runs, BUDGETS_MS.filter, 'p50', { runsInLedger: runs }),
      result('dashboard-runs-scroll-frame', 'frames', scroll.frames, 1, BUDGETS_MS.scrollFrame, 'p90', { runsInLedger: runs, maxRowsInDom: scroll.maxRows, lastRowNumber: scroll.lastRowNumber }),
    ];
  } finally {
    await browser.close();
    await server.close();
    await store.close();
    rmSync(home, { recursive: true, force: true });
  }
}
