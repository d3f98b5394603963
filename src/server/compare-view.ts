// GET /api/compare?runs=a,b,c (or campaign:NAME entries): 2–50 runs side by side — their rows
// (params, final and latest metrics, live status, verification badge), plan and environment, and
// the training stage's curves. Pure over the live view's records.
import type { CompareRun, CompareView, VerificationRun } from './api-types.js';
import type { LiveView, RunRecord } from './live-view.js';
import { chartStage, runRow } from './views.js';

export const MAX_COMPARED = 50;

/** `a,b,campaign:base` → run ids in order, each once; campaign entries expand to their runs. */
export function comparedRunIds(live: LiveView, refs: string[]): string[] {
  const ids: string[] = [];
  for (const ref of refs) {
    const campaign = ref.startsWith('campaign:') ? live.summaries.state.campaigns.get(ref.slice('campaign:'.length)) : undefined;
    for (const id of campaign ? campaign.runs.map((r) => r.runId) : [ref]) if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** Every metric logged in the run's chart stage, by step, with the time each point was taken (ms since epoch). */
function curves(run: RunRecord): CompareRun['curves'] {
  const stage = chartStage(run);
  const out: CompareRun['curves'] = {};
  for (const { stage: s, point } of run.metrics) {
    if (s !== stage) continue;
    const c = (out[point.key] ??= { step: [], time: [], value: [] });
    c.step.push(point.step);
    c.time.push(point.timestamp);
    c.value.push(point.value);
  }
  return out;
}

export function compareRun(run: RunRecord, check: VerificationRun): CompareRun {
  const p = run.provenance;
  const g = p.governance;
  return {
    row: runRow(run, check.badge),
    verificationDetail: check.detail,
    plan: {
      name: p.planName,
      governancePlanHash: g.governancePlanHash,
      executionPlanHash: g.executionPlanHash,
      configDigest: p.training?.configDigest ?? null,
      seeds: p.seeds,
      budgets: p.budgets,
      gatePolicy: p.gatePolicy,
      stages: g.stages.map((s) => s.id),
    },
    environment: (p.environment as Record<string, unknown> | null) ?? null,
    curves: curves(run),
  };
}

export function compareView(runs: { run: RunRecord; check: VerificationRun }[], missing: string[]): CompareView {
  return { runs: runs.map(({ run, check }) => compareRun(run, check)), missing };
}
