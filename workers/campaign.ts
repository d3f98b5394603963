// Campaigns: N runs of one plan that differ only in their seed, each seed derived from the plan's
// base seed and the run's position, so two campaigns of the same plan pair up run by run.
import type { ExecutionPlanRecordedData } from '../events/governance.js';
import type { CampaignStarted, CampaignRunCompleted, CheckpointWritten } from '../events/training.js';
import { ConcurrencyError, InputError } from '../src/errors.js';
import { hashPlan, Identifier, type Plan } from '../src/governance/plan.js';
import { NO_STREAM, type EventStore } from '../src/store/port.js';
import type { Backend } from '../events/training-config.js';
import { checkExecutable, completedOutcome, executeRun, readApprovedRun, trainPlan, type ExecuteContext, type RunOutcome } from './execute.js';
import { deriveSeed } from './seeds.js';

export function campaignStream(name: string): string {
  return `campaign-${name}`;
}

/** Seed of run `index` (1-based): deriveSeed(baseSeed, "campaign", index). */
export function campaignSeed(baseSeed: number, index: number): number {
  return deriveSeed(baseSeed, 'campaign', index);
}

/** The plan of one campaign run: the same plan with its training seed replaced, re-hashed. */
export function planWithSeed(plan: Plan, seed: number): Plan {
  const training = plan.governance.training;
  if (!training) return plan;
  return hashPlan({ governance: { ...plan.governance, training: { ...training, seed } }, execution: plan.execution });
}

export interface CampaignOptions {
  name: string;
  repeats: number;
  backend?: Backend;
  onRunStarted?: (runId: string, index: number, total: number) => void;
}

export interface CampaignReport {
  campaign: string;
  stream: string;
  baseSeed: number;
  runs: { runId: string; seed: number; finalCheckpoint: string | null; testAccuracy: number | null; testLoss: number | null }[];
  meanTestAccuracy: number | null;
}

export async function runCampaign(ctx: ExecuteContext, plan: Plan, options: CampaignOptions, where = 'plan'): Promise<CampaignReport> {
  const name = Identifier.safeParse(options.name);
  if (!name.success) throw new InputError(`campaign name "${options.name}" ${name.error.issues[0]!.message}`, { field: '--name' });
  if (!Number.isInteger(options.repeats) || options.repeats < 1) throw new InputError('--repeats must be a positive integer', { field: '--repeats' });
  const config = checkExecutable(plan, where);
  const backend = options.backend ?? config.backend;
  const runs = Array.from({ length: options.repeats }, (_, i) => ({ runId: `${options.name}-${i + 1}`, seed: campaignSeed(config.seed, i + 1) }));
  const stream = campaignStream(options.name);
  const started: CampaignStarted = { campaign: options.name, baseSeed: config.seed, repeats: options.repeats, backend, runs };
  try {
    await ctx.store.append(stream, [{ type: 'CampaignStarted', data: started, metadata: { actor: ctx.worker ?? 'runledger' } }], {
      expectedRevision: NO_STREAM,
    });
  } catch (err) {
    if (err instanceof ConcurrencyError) {
      throw new InputError(`campaign ${options.name} already exists (stream ${stream}); choose another --name`, { stream });
    }
    throw err;
  }
  const outcomes = await executeCampaignRuns(ctx, started, new Set(), (run) => trainPlan(ctx, planWithSeed(plan, run.seed), run.runId, options.backend ? { backend: options.backend } : {}, where), options.onRunStarted);
  return campaignReport(started, stream, outcomes);
}

/** Runs each campaign run not yet recorded as completed, then records the campaign's completion. */
async function executeCampaignRuns(
  ctx: ExecuteContext,
  started: CampaignStarted,
  done: Set<string>,
  execute: (run: CampaignStarted['runs'][number]) => Promise<RunOutcome>,
  onRunStarted?: (runId: string, index: number, total: number) => void,
): Promise<RunOutcome[]> {
  const stream = campaignStream(started.campaign);
  const actor = ctx.worker ?? 'runledger';
  const outcomes: RunOutcome[] = [];
  for (const [i, run] of started.runs.entries()) {
    if (done.has(run.runId)) continue;
    onRunStarted?.(run.runId, i + 1, started.runs.length);
    const outcome = await execute(run);
    outcomes.push(outcome);
    if (outcome.status !== 'completed') return outcomes;
    const metrics: CheckpointWritten['metrics'] = outcome.metrics!;
    const data: CampaignRunCompleted = { campaign: started.campaign, runId: run.runId, seed: run.seed, finalCheckpoint: outcome.finalCheckpoint!, metrics };
    await ctx.store.append(stream, [{ type: 'CampaignRunCompleted', data, metadata: { actor } }]);
  }
  await ctx.store.append(stream, [{ type: 'CampaignCompleted', data: { campaign: started.campaign, runs: started.runs.map((r) => r.runId) }, metadata: { actor } }]);
  return outcomes;
}

/**
 * Continues an interrupted campaign: resumes its started runs, and approves and executes the runs
 * it had not reached with the first run's approved plans and their recorded seeds.
 */
export async function resumeCampaign(ctx: ExecuteContext, name: string, onRunStarted?: (runId: string, index: number, total: number) => void): Promise<CampaignReport> {
  const stream = campaignStream(name);
  const events = await ctx.store.readStream(stream);
  const started = events[0]?.envelope.type === 'CampaignStarted' ? (events[0].envelope.data as CampaignStarted) : undefined;
  if (!started) throw new InputError(`no campaign named ${name} (stream ${stream} is empty)`, { stream });
  if (events.some((e) => e.envelope.type === 'CampaignCompleted')) throw new InputError(`campaign ${name} has already completed; nothing to resume`, { stream });
  const done = new Set(events.filter((e) => e.envelope.type === 'CampaignRunCompleted').map((e) => (e.envelope.data as CampaignRunCompleted).runId));
  const first = await readApprovedRun(ctx.store, started.runs[0]!.runId);
  const execution = first.snapshot.events.find((e) => e.envelope.type === 'ExecutionPlanRecorded')?.envelope.data as ExecutionPlanRecordedData | undefined;
  if (!execution) throw new InputError(`campaign ${name}: run ${started.runs[0]!.runId} has no execution plan`, { stream });
  const template = hashPlan({ governance: first.approval.plan, execution: execution.plan });
  const outcomes = await executeCampaignRuns(
    ctx,
    started,
    done,
    async (run) => {
      const state = (await ctx.store.readStream(`run-${run.runId}`)).length > 0 ? await readApprovedRun(ctx.store, run.runId) : null;
      if (!state) return trainPlan(ctx, planWithSeed(template, run.seed), run.runId, { backend: started.backend });
      if (state.snapshot.state.status === 'completed') return completedOutcome(ctx.store, run.runId);
      const begun = state.snapshot.state.stages.some((s) => s.status !== 'pending');
      return executeRun(ctx, run.runId, { backend: started.backend, resume: begun });
    },
    onRunStarted,
  );
  return campaignReport(started, stream, outcomes);
}

function campaignReport(started: CampaignStarted, stream: string, outcomes: RunOutcome[]): CampaignReport {
  const seeds = new Map(started.runs.map((r) => [r.runId, r.seed]));
  const accuracies = outcomes.map((o) => o.metrics?.testAccuracy).filter((a): a is number => a !== undefined);
  return {
    campaign: started.campaign,
    stream,
    baseSeed: started.baseSeed,
    runs: outcomes.map((o) => ({
      runId: o.runId,
      seed: seeds.get(o.runId)!,
      finalCheckpoint: o.finalCheckpoint,
      testAccuracy: o.metrics?.testAccuracy ?? null,
      testLoss: o.metrics?.testLoss ?? null,
    })),
    meanTestAccuracy: accuracies.length ? accuracies.reduce((a, b) => a + b, 0) / accuracies.length : null,
  };
}

/** The runs of a campaign, in order, or null when no such campaign exists. */
export async function campaignRuns(store: EventStore, name: string): Promise<string[] | null> {
  const events = await store.readStream(campaignStream(name), { limit: 1 });
  const first = events[0];
  if (!first || first.envelope.type !== 'CampaignStarted') return null;
  return (first.envelope.data as CampaignStarted).runs.map((r) => r.runId);
}
