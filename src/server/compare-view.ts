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

function curves(run: RunRecord): CompareRun['curves'] {
  const stage = chartStage(run);
  const out: CompareRun['curves'] = {};
  for (const key of ['loss', 'accuracy'] as const) {
    const c = { step: [] as number[], time: [] as number[], value: [] as number[] };
    for (const { sample, recordedAt } of run.telemetry) {
      const v = sample[key];
      if (sample.tags.stage !== stage || v === null || v === undefined) continue;
      c.step.push(sample.step);
      c.time.push(Date.parse(recordedAt));
      c.value.push(v);
    }
    if (c.step.length) out[key] = c;
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
