// `runledger runs`: every run in the ledger with its status, plan, metrics and verification badge.
// The listing is the dashboard's (src/server/run-list.ts over a live view folded afresh from the
// log, no snapshot trusted; badges from src/server/verification.ts; --filter is the same grammar as
// the runs table), so the CLI and the page can never disagree about what a run is or what "verified" means.
import type { Command } from 'commander';
import type { LatestMetricsView, RunRow, RunStatus, VerificationBadge } from '../../server/api-types.js';
import { LiveView } from '../../server/live-view.js';
import { listRuns as listRunRows } from '../../server/run-list.js';
import type { RunQuery } from '../../server/run-query.js';
import { VerificationCache } from '../../server/verification.js';
import type { EventStore } from '../../store/port.js';
import { count, type Style, type Tone } from '../style.js';
import { withJson, type CliContext } from '../context.js';

export interface RunListing {
  runId: string;
  /** The governance status, or `running` while a stage is in progress (`stage` names it). */
  status: RunStatus;
  stage: string | null;
  plan: string | null;
  campaign: string | null;
  /** Final metrics: only once training completed; null for runs still training or that trained nothing. */
  metrics: RunRow['metrics'];
  /** Final values of every metric (built-in training, or the last point of each once the run completed). */
  final: RunRow['final'];
  /** The latest checkpoint's metrics, labelled latest (never final). */
  latest: LatestMetricsView | null;
  params: RunRow['params'];
  tags: RunRow['tags'];
  checkpoints: number;
  events: number;
  verification: VerificationBadge;
  verificationDetail: string;
  /** recordedAt of the run stream's last event. */
  updatedAt: string | null;
}

const BADGE_TONE: Record<VerificationBadge, Tone> = { verified: 'ok', pending: 'warn', unsigned: 'warn', failed: 'fail' };

export function registerRunsCommand(program: Command, ctx: CliContext): void {
  withJson(program.command('runs'))
    .description('list runs: status, plan, metrics and verification badge (as the dashboard shows them), most recent first')
    .option('--filter <expr>', 'only runs matching a filter expression, e.g. "metrics.testAccuracy > 0.9 and campaign = candidate" (docs/dashboard.md)')
    .option('--sort <field>', 'sort by a field, "-" first for descending, e.g. -metrics.testAccuracy')
    .option('--search <words>', 'only runs whose id, plan, campaign, status, params or tags contain every word')
    .action(async (opts: { json?: boolean; filter?: string; sort?: string; search?: string }) => {
      const store = await ctx.store();
      const runs = await listRuns(store, ctx.home(), { filter: opts.filter, sort: opts.sort, q: opts.search });
      const narrowed = Boolean(opts.filter || opts.search);
      ctx.print(opts.json ?? false, { count: runs.length, runs }, () =>
        runs.length === 0 && narrowed ? 'No run matches the filter and search.' : describeRuns(runs, ctx.style),
      );
    });
}

/** The dashboard's own listing (run-list.ts), folded afresh from the log: the CLI and the page cannot disagree. */
export async function listRuns(store: EventStore, home: string, query: RunQuery = {}): Promise<RunListing[]> {
  const live = await LiveView.open(store, { pollMs: 60_000 });
  try {
    const { rows, verification } = await listRunRows(live, new VerificationCache(store, home), query, { filter: '--filter', sort: '--sort' });
    return rows.map((r, i): RunListing => ({
      runId: r.runId,
      status: r.status,
      stage: r.stage,
      plan: r.plan,
      campaign: r.campaign,
      metrics: r.metrics,
      final: r.final,
      latest: r.latest,
      params: r.params,
      tags: r.tags,
      checkpoints: r.checkpoints,
      events: live.run(r.runId)!.provenance.governance.eventCount,
      verification: verification[i]!.badge,
      verificationDetail: verification[i]!.detail,
      updatedAt: r.updatedAt,
    }));
  } finally {
    live.close();
  }
}

/** The held-out accuracy and loss of a built-in training run, else the first few metrics by name. */
function describeMetrics(metrics: Record<string, number>): string {
  const { testAccuracy, testLoss } = metrics;
  if (testAccuracy !== undefined && testLoss !== undefined) return `acc ${testAccuracy.toFixed(4)} loss ${testLoss.toFixed(4)}`;
  const names = Object.keys(metrics).sort();
  const shown = names.slice(0, 3).map((k) => `${k} ${Number(metrics[k]!.toPrecision(4))}`);
  return names.length > 3 ? `${shown.join(' ')} (+${names.length - 3})` : shown.join(' ') || '-';
}

export function describeRuns(runs: RunListing[], style: Style): string {
  if (runs.length === 0) return 'No runs yet: "runledger plan approve", "runledger train" or "runledger demo" record one.';
  const rows = runs.map((r) => [
    r.runId,
    r.stage ? `${r.status} (${r.stage})` : r.status,
    r.plan ?? '-',
    r.metrics
      ? describeMetrics(r.metrics)
      : r.latest
        ? `latest (step ${r.latest.step}): ${describeMetrics(r.latest.values)}`
        : '-',
    `${style.symbol(BADGE_TONE[r.verification])}${r.verification}`,
    r.updatedAt ?? '-',
  ]);
  const header = ['RUN', 'STATUS', 'PLAN', 'METRICS', 'VERIFICATION', 'UPDATED'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  // Pad before colouring: escape codes have no width on screen.
  const line = (cells: string[], paint: (cell: string, c: number) => string = (cell) => cell): string =>
    cells.map((cell, c) => paint(c === cells.length - 1 ? cell : cell.padEnd(widths[c]!), c)).join('  ').trimEnd();
  return [
    style.bold(line(header)),
    ...rows.map((row, i) => line(row, (cell, c) => (c === 4 ? style.tone(BADGE_TONE[runs[i]!.verification], cell) : c === 1 && runs[i]!.status === 'failed' ? style.tone('fail', cell) : cell))),
    ...runs.filter((r) => r.verification !== 'verified').map((r) => style.dim(`${r.runId}: ${r.verification}: ${r.verificationDetail}`)),
    style.dim(`${count(runs.length, 'run')}; "runledger replay RUN" re-checks one run end to end`),
  ].join('\n');
}
