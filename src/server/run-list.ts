// The runs listing behind GET /api/runs and `runledger runs`: rows of the live view, each with its
// verification badge, filtered, searched, sorted and paged on the server (run-query.ts). One code
// path for the page and the CLI, so they cannot disagree about what a filter selects.
import type { RunRow, VerificationRun } from './api-types.js';
import type { LiveView } from './live-view.js';
import { queryRuns, type RunQuery, type RunQueryRecord } from './run-query.js';
import type { VerificationCache } from './verification.js';
import { runRow } from './views.js';

export interface RunPage {
  position: number;
  /** Runs in the ledger; `matched` of them pass the filter and search; `runs` is the page asked for. */
  total: number;
  matched: number;
  offset: number;
  runs: RunRow[];
}

/** What a filter sees of a row: `metrics.X` are final values, `latest.X` the latest checkpoint's and the latest loss. */
export function runQueryRecord(row: RunRow): RunQueryRecord {
  const latest: Record<string, number> = { ...(row.latest?.values ?? {}) };
  if (row.lastLoss !== null) latest.loss = row.lastLoss;
  return {
    fields: {
      run: row.runId,
      status: row.status,
      stage: row.stage,
      plan: row.plan,
      campaign: row.campaign,
      verification: row.verification,
      backend: row.backend,
      seed: row.seed,
      step: row.step,
      checkpoints: row.checkpoints,
      updated: row.updatedAt,
    },
    params: row.params,
    metrics: { ...(row.final ?? {}) },
    latest,
    tags: row.tags,
  };
}

/** The default order: most recent activity first, then by run id. */
function byActivity(a: RunRow, b: RunRow): number {
  return (b.updatedAt ?? '').localeCompare(a.updatedAt ?? '') || a.runId.localeCompare(b.runId);
}

export interface ListedRuns {
  rows: RunRow[];
  verification: VerificationRun[];
  total: number;
}

/** Every run matching the query, in order, with each one's verification (badge and detail). */
export async function listRuns(live: LiveView, verification: VerificationCache, query: RunQuery, names: { filter?: string; sort?: string } = {}): Promise<ListedRuns> {
  // Parse errors answer before any replay runs: bad input costs nothing.
  queryRuns([], query, runQueryRecord, names);
  const ids = live.runIds();
  const runs = ids.map((runId) => live.run(runId)!);
  const checks = await verification.runs(runs.map((r) => ({ runId: r.runId, revision: r.provenance.governance.lastRevision })));
  const byId = new Map(ids.map((id, i) => [id, checks[i]!]));
  const rows = runs.map((run, i) => runRow(run, checks[i]!.badge)).sort(byActivity);
  const selected = queryRuns(rows, query, runQueryRecord, names);
  return { rows: selected, verification: selected.map((r) => byId.get(r.runId)!), total: ids.length };
}

export async function runPage(live: LiveView, verification: VerificationCache, query: RunQuery & { offset?: number; limit?: number }): Promise<RunPage> {
  const { rows, total } = await listRuns(live, verification, query);
  const offset = query.offset ?? 0;
  const limit = query.limit ?? rows.length;
  return { position: live.position, total, matched: rows.length, offset, runs: rows.slice(offset, offset + limit) };
}
