// Plan schemas: a governance plan (what is approved: config, data, seeds, budgets, gates, training)
// and an execution plan (the ordered stages that carry it out). Part of the event catalog because
// GovernancePlanApproved and ExecutionPlanRecorded embed them; hashing lives in src/governance/plan.ts.
import { z } from 'zod';
import { canonicalize, CanonicalizationError } from '../src/integrity/canonical.js';
import { TrainingConfig, Seed } from './training-config.js';
import { MetricName } from './names.js';

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 digest: 64 lowercase hex characters');

/** Stage and run ids: safe in stream names, file names and command lines. */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const Identifier = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(IDENTIFIER_PATTERN, 'must start with a letter or digit and use only letters, digits, ".", "_" and "-"');

/** Any JSON value JCS can encode (finite numbers, no undefined). */
export const JsonObjectValue = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  try {
    canonicalize(value);
  } catch (err) {
    if (!(err instanceof CanonicalizationError)) throw err;
    ctx.addIssue({ code: 'custom', message: `is not plain JSON: ${err.message}` });
  }
});

export const DatasetDigest = z
  .object({
    name: z.string().min(1).max(200),
    /** SHA-256 (hex) of the dataset's content, as its producer defines it. */
    digest: Sha256Hex,
    source: z.string().min(1).max(1000).optional(),
  })
  .strict();

export const StageBudget = z
  .object({
    maxWallMs: z.number().positive().optional(),
    maxMemoryDeltaBytes: z.number().int().optional(),
    minThroughput: z.number().nonnegative().optional(),
  })
  .strict();
export type StageBudget = z.infer<typeof StageBudget>;

export const GovernancePlan = z
  .object({
    name: Identifier,
    description: z.string().max(10_000).default(''),
    /** Who must approve this plan; recorded in GovernancePlanApproved. */
    approver: z.string().min(1).max(200),
    config: JsonObjectValue.default({}),
    datasets: z.array(DatasetDigest).default([]),
    /** Named seeds, e.g. `{ data: 7, init: 42 }`; non-zero 32-bit integers. */
    seeds: z.record(Identifier, Seed).default({}),
    /** Per-stage budgets, keyed by stage id (evaluated by `runledger gate`). */
    budgets: z.record(Identifier, StageBudget).default({}),
    /** Reference to the gate policy that judges the run (path or name); null when none. */
    gatePolicy: z.string().min(1).max(1000).nullable().default(null),
    training: TrainingConfig.optional(),
    /** The metric names the run may log (MetricsLogged); absent: any name. */
    metrics: z
      .array(MetricName)
      .max(1000)
      .refine((names) => new Set(names).size === names.length, 'names a metric twice')
      .optional(),
  })
  .strict();
export type GovernancePlan = z.infer<typeof GovernancePlan>;

export const Stage = z
  .object({
    id: Identifier,
    description: z.string().max(10_000).default(''),
    /** Stages that must be completed before this one starts; each must appear earlier in the list. */
    dependsOn: z.array(Identifier).default([]),
  })
  .strict();
export type Stage = z.infer<typeof Stage>;

export const ExecutionPlan = z
  .object({
    stages: z.array(Stage).min(1, 'an execution plan needs at least one stage').max(1000),
  })
  .strict()
  .superRefine((plan, ctx) => {
    const seen = new Map<string, number>();
    plan.stages.forEach((stage, i) => {
      if (seen.has(stage.id)) {
        ctx.addIssue({ code: 'custom', path: ['stages', i, 'id'], message: `stage id "${stage.id}" is used twice` });
      }
      stage.dependsOn.forEach((dep, d) => {
        if (!seen.has(dep)) {
          const later = plan.stages.some((s) => s.id === dep);
          ctx.addIssue({
            code: 'custom',
            path: ['stages', i, 'dependsOn', d],
            message: later
              ? `stage "${stage.id}" depends on "${dep}", which comes later: list stages in an order that satisfies their dependencies`
              : `stage "${stage.id}" depends on "${dep}", which is not a stage of this plan`,
          });
        }
      });
      seen.set(stage.id, i);
    });
  });
export type ExecutionPlan = z.infer<typeof ExecutionPlan>;

export const PlanFile = z
  .object({
    governance: GovernancePlan,
    execution: ExecutionPlan,
  })
  .strict()
  .superRefine((plan, ctx) => {
    const ids = new Set(plan.execution.stages.map((s) => s.id));
    for (const stageId of Object.keys(plan.governance.budgets)) {
      if (!ids.has(stageId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['governance', 'budgets', stageId],
          message: `budget for "${stageId}", which is not a stage of the execution plan`,
        });
      }
    }
  });
export type PlanFile = z.infer<typeof PlanFile>;
/** What a plan author may write (defaults not yet applied). */
export type PlanFileInput = z.input<typeof PlanFile>;
