// `runledger runs`: every run in the ledger with its status, plan, metrics and verification badge.
// Status, plan and metrics are the run-summary projection folded afresh from the log (no snapshot
// is trusted); the badge is the dashboard's (src/server/verification.ts), so the CLI and the page
// can never disagree about what "verified" means.
import type { Command } from 'commander';
import { catchUp } from '../../../projections/catch-up.js';
import { runSummaryProjection, type RunProvenance, type RunSummaries } from '../../../projections/run-summary.js';
import { runStream } from '../../governance/recorder.js';
import type { VerificationBadge } from '../../server/api-types.js';
import { VerificationCache } from '../../server/verification.js';
import type { EventStore } from '../../store/port.js';
import { count, type Style, type Tone } from '../style.js';
import { withJson, type CliContext } from '../context.js';

export interface RunListing {
  runId: string;
  status: RunProvenance['governance']['status'];
  plan: string | null;
  campaign: string | null;
  /** Final metrics, else those of the latest checkpoint; null for runs that trained nothing. */
  metrics: RunProvenance['finalMetrics'];
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
    .action(async (opts: { json?: boolean }) => {
      const store = await ctx.store();
      const runs = await listRuns(store, ctx.home());
      ctx.print(opts.json ?? false, { count: runs.length, runs }, () => describeRuns(runs, ctx.style));
    });
}

export async function listRuns(store: EventStore, home: string): Promise<RunListing[]> {
  const { state } = await catchUp(store, home, runSummaryProjection, { rebuild: true, persist: false });
  const ids = state.runs.sortedKeys();
  const provenance = ids.map((id) => state.runs.get(id)!);
  const badges = await new VerificationCache(store, home).runs(provenance.map((p) => ({ runId: p.runId, revision: p.governance.lastRevision })));
  const listing = await Promise.all(
    provenance.map(async (p, i): Promise<RunListing> => ({
      runId: p.runId,
      status: p.governance.status,
      plan: p.planName,
      campaign: campaignOf(state, p.runId),
      metrics: p.finalMetrics ?? p.checkpoints.at(-1)?.metrics ?? null,
      checkpoints: p.checkpoints.length,
      events: p.governance.eventCount,
      verification: badges[i]!.badge,
      verificationDetail: badges[i]!.detail,
      updatedAt: await lastRecordedAt(store, p),
    })),
  );
  // The dashboard's order: most recently updated first, then by run id.
  return listing.sort((a, b) => (b.updatedAt ?? '').localeCompare(a.updatedAt ?? '') || a.runId.localeCompare(b.runId));
}

function campaignOf(state: RunSummaries, runId: string): string | null {
  return [...state.campaigns.values()].find((c) => c.runs.some((r) => r.runId === runId))?.campaign ?? null;
}

async function lastRecordedAt(store: EventStore, p: RunProvenance): Promise<string | null> {
  if (p.governance.lastRevision < 0) return null;
  const [last] = await store.readStream(runStream(p.runId), { fromRevision: p.governance.lastRevision, limit: 1 });
  return last?.envelope.metadata.recordedAt ?? null;
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
    r.status,
    r.plan ?? '-',
    r.metrics ? describeMetrics(r.metrics) : '-',
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
