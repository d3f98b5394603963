// Campaigns: N runs of one plan that differ only in their seed, each seed derived from the plan's
// base seed and the run's position, so two campaigns of the same plan pair up run by run.
import type { CampaignStarted, CheckpointWritten } from '../events/training.js';
import { ConcurrencyError, InputError } from '../src/errors.js';
import { hashPlan, Identifier, type Plan } from '../src/governance/plan.js';
import { NO_STREAM, type EventStore } from '../src/store/port.js';
import type { Backend } from './config.js';
import { checkExecutable, trainPlan, type ExecuteContext, type RunOutcome } from './execute.js';
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
  const outcomes: RunOutcome[] = [];
  for (const [i, run] of runs.entries()) {
    options.onRunStarted?.(run.runId, i + 1, runs.length);
    const outcome = await trainPlan(ctx, planWithSeed(plan, run.seed), run.runId, options.backend ? { backend: options.backend } : {}, where);
    outcomes.push(outcome);
    const last: CheckpointWritten['metrics'] | null = outcome.metrics;
    await ctx.store.append(stream, [
      {
        type: 'CampaignRunCompleted',
        data: { campaign: options.name, runId: run.runId, seed: run.seed, finalCheckpoint: outcome.finalCheckpoint!, metrics: last! },
        metadata: { actor: ctx.worker ?? 'runledger' },
      },
    ]);
  }
  await ctx.store.append(stream, [
    { type: 'CampaignCompleted', data: { campaign: options.name, runs: runs.map((r) => r.runId) }, metadata: { actor: ctx.worker ?? 'runledger' } },
  ]);
  const accuracies = outcomes.map((o) => o.metrics?.testAccuracy).filter((a): a is number => a !== undefined);
  return {
    campaign: options.name,
    stream,
    baseSeed: config.seed,
    runs: outcomes.map((o, i) => ({
      runId: o.runId,
      seed: runs[i]!.seed,
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
