// governance events. Each definition is declared once here; types derive from the schemas.
// One stream per run (`run-<runId>`, see src/governance/run-stream.ts): the approved governance
// plan, the execution plan, every stage transition and the run's end, in that order.
import { z } from 'zod';
import { defineEvent, type EventDefinition } from './registry.js';
import { ExecutionPlan, GovernancePlan, Identifier } from './plan.js';
import { WorkerKey } from './training.js';

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
/** Named content digests, e.g. `{ "model.bin": "<sha256>" }`. */
const Digests = z.record(z.string().min(1).max(500), Sha256Hex);
const Attempt = z.number().int().min(1);
const WallMs = z.number().nonnegative();
const MemoryDelta = z.number().int().nullable();

const GovernancePlanApprovedV1 = z
  .object({
    runId: Identifier,
    /** The normalized governance plan (defaults applied): the body the hash is computed from. */
    plan: GovernancePlan,
    /** SHA-256 hex of the JCS of `plan`. */
    planHash: Sha256Hex,
    approver: z.string().min(1).max(200),
  })
  .strict();
export const GovernancePlanApprovedData = GovernancePlanApprovedV1.extend({
  /**
   * The worker keys this approval trusts to sign the run's training events (raw Ed25519 public keys,
   * base64). Part of the approval, not of the plan body, so the plan hashes do not depend on them.
   */
  workerKeys: z.array(WorkerKey).max(64),
}).strict();
export type GovernancePlanApprovedData = z.infer<typeof GovernancePlanApprovedData>;

export const ExecutionPlanRecordedData = z
  .object({
    runId: Identifier,
    plan: ExecutionPlan,
    /** SHA-256 hex of the JCS of `plan`. */
    planHash: Sha256Hex,
    /** The approved governance plan this execution plan carries out. */
    governancePlanHash: Sha256Hex,
  })
  .strict();
export type ExecutionPlanRecordedData = z.infer<typeof ExecutionPlanRecordedData>;

export const StageStartedData = z
  .object({
    runId: Identifier,
    stageId: Identifier,
    attempt: Attempt,
    inputs: Digests,
  })
  .strict();
export type StageStartedData = z.infer<typeof StageStartedData>;

export const StageCompletedData = z
  .object({
    runId: Identifier,
    stageId: Identifier,
    attempt: Attempt,
    outputs: Digests,
    wallMs: WallMs,
    memoryDeltaBytes: MemoryDelta,
    /** Items per second as the executor measures them; null when not measured. */
    throughput: z.number().nonnegative().nullable(),
  })
  .strict();
export type StageCompletedData = z.infer<typeof StageCompletedData>;

export const StageFailedData = z
  .object({
    runId: Identifier,
    stageId: Identifier,
    attempt: Attempt,
    reason: z.string().min(1).max(10_000),
    outputs: Digests,
    wallMs: WallMs,
    memoryDeltaBytes: MemoryDelta,
  })
  .strict();
export type StageFailedData = z.infer<typeof StageFailedData>;

export const RunCompletedData = z
  .object({
    runId: Identifier,
    /** Digest of the run summary projection just before this event (replay recomputes it). */
    summaryDigest: Sha256Hex,
  })
  .strict();
export type RunCompletedData = z.infer<typeof RunCompletedData>;

export const RunFailedData = z
  .object({
    runId: Identifier,
    /** The stage whose failure ended the run; null when the run was failed explicitly. */
    stageId: Identifier.nullable(),
    reason: z.string().min(1).max(10_000),
    summaryDigest: Sha256Hex,
  })
  .strict();
export type RunFailedData = z.infer<typeof RunFailedData>;

export const Severity = z.enum(['hard', 'soft', 'info']);
export type Severity = z.infer<typeof Severity>;

/** A finding about a run by any checker (replay, gates, budgets): generic so every checker reuses it. */
export const AuditFindingData = z
  .object({
    runId: Identifier,
    severity: Severity,
    /** Which check produced it, e.g. `budget.maxWallMs` or `replay.chain`. */
    check: z.string().min(1).max(200),
    message: z.string().min(1).max(10_000),
    /** What it is about, e.g. `stage:train` or `event:run-r1@7`; null for the run as a whole. */
    subject: z.string().max(500).nullable(),
    /** Check-specific evidence (expected, actual, thresholds). */
    details: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type AuditFindingData = z.infer<typeof AuditFindingData>;
/** What a checker writes (`details` may be omitted). */
export type AuditFindingInput = z.input<typeof AuditFindingData>;

export const governanceEvents: EventDefinition[] = [
  // Version 1 approvals trust no worker key: such a run can record no training event.
  defineEvent('GovernancePlanApproved', 1, GovernancePlanApprovedV1, 'A governance plan approved for a run (no trusted worker keys; superseded by version 2).', (data) => ({ ...data, workerKeys: [] })),
  defineEvent('GovernancePlanApproved', 2, GovernancePlanApprovedData, 'A governance plan approved for a run, with its canonical hash and the worker keys it trusts.'),
  defineEvent('ExecutionPlanRecorded', 1, ExecutionPlanRecordedData, 'The ordered stages that execute an approved governance plan.'),
  defineEvent('StageStarted', 1, StageStartedData, 'A stage of the execution plan started, with its input digests.'),
  defineEvent('StageCompleted', 1, StageCompletedData, 'A stage completed, with output digests, wall time and memory delta.'),
  defineEvent('StageFailed', 1, StageFailedData, 'A stage failed; the run fails with it.'),
  defineEvent('RunCompleted', 1, RunCompletedData, 'Every stage of the execution plan completed.'),
  defineEvent('RunFailed', 1, RunFailedData, 'The run ended without completing its execution plan.'),
  defineEvent('AuditFinding', 1, AuditFindingData, 'A finding about a run by a checker, with severity hard, soft or info.'),
];

/** The governance event types, for consumers that switch on them. */
export const GOVERNANCE_TYPES = [
  'GovernancePlanApproved',
  'ExecutionPlanRecorded',
  'StageStarted',
  'StageCompleted',
  'StageFailed',
  'RunCompleted',
  'RunFailed',
  'AuditFinding',
] as const;
export type GovernanceType = (typeof GOVERNANCE_TYPES)[number];
