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

interface Snapshot {
  position: number;
  badges: string;
  rows: RunRow[];
  records: Map<RunRow, RunQueryRecord>;
  checks: Map<string, VerificationRun>;
}

/** The last listing per live view: rows and their query records only change with the log or a badge. */
const snapshots = new WeakMap<LiveView, Snapshot>();

async function snapshot(live: LiveView, verification: VerificationCache): Promise<Snapshot> {
  const ids = live.runIds();
  const checks = await verification.runs(ids.map((runId) => ({ runId, revision: live.run(runId)!.provenance.governance.lastRevision })));
  const badges = checks.map((c) => c.badge[0]).join('');
  const last = snapshots.get(live);
  if (last && last.position === live.position && last.badges === badges) return last;
  const rows = ids.map((id, i) => runRow(live.run(id)!, checks[i]!.badge)).sort(byActivity);
  const next: Snapshot = {
    position: live.position,
    badges,
    rows,
    records: new Map(rows.map((r) => [r, runQueryRecord(r)])),
    checks: new Map(ids.map((id, i) => [id, checks[i]!])),
  };
  snapshots.set(live, next);
  return next;
}

/** Every run matching the query, in order, with each one's verification (badge and detail). */
export async function listRuns(live: LiveView, verification: VerificationCache, query: RunQuery, names: { filter?: string; sort?: string } = {}): Promise<ListedRuns> {
  // Parse errors answer before any replay runs: bad input costs nothing.
  queryRuns([], query, runQueryRecord, names);
  const snap = await snapshot(live, verification);
  const selected = queryRuns(snap.rows, query, (r) => snap.records.get(r)!, names);
  return { rows: selected, verification: selected.map((r) => snap.checks.get(r.runId)!), total: snap.rows.length };
}

export async function runPage(live: LiveView, verification: VerificationCache, query: RunQuery & { offset?: number; limit?: number }): Promise<RunPage> {
  const { rows, total } = await listRuns(live, verification, query);
  const offset = query.offset ?? 0;
  const limit = query.limit ?? rows.length;
  return { position: live.position, total, matched: rows.length, offset, runs: rows.slice(offset, offset + limit) };
}
