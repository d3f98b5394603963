// The replay manifest: what a verified run is, as RFC 8785 JSON. It holds no timestamp or path
// of its own, so replaying the same ledger twice yields the same bytes; `runledger retrain` and
// the bundle verifier rebuild it from verified events and compare byte for byte.
import { z } from 'zod';
import { canonicalBytes } from '../integrity/canonical.js';
import { InputError } from '../errors.js';
import { runSummaryDigest } from '../governance/run-state.js';
import { stateDigest } from '../../projections/projection.js';
import type { RunVerification, TrustedCheckpoint } from './verify-run.js';

export const MANIFEST_FORMAT = 'runledger.replay-manifest/1';

const Hex = z.string().regex(/^[0-9a-f]{64}$/);

export const ReplayManifest = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    runId: z.string(),
    stream: z.string(),
    status: z.enum(['empty', 'approved', 'planned', 'completed', 'failed']),
    approver: z.string().nullable(),
    plans: z.object({ governance: Hex, execution: Hex }).strict(),
    /** The governance plan's named seeds and its training seed (null without a training section). */
    seeds: z.object({ named: z.record(z.string(), z.number()), training: z.number().nullable() }).strict(),
    /** The approved training section, when the plan has one: what `runledger retrain` re-executes. */
    training: z.record(z.string(), z.unknown()).nullable(),
    /** Where the run executed (the last RunEnvironmentRecorded), null when not recorded. */
    environment: z.record(z.string(), z.unknown()).nullable(),
    eventCount: z.number().int().nonnegative(),
    streamHead: z.object({ revision: z.number().int(), leafHash: Hex }).strict(),
    checkpoint: z.object({ origin: z.string(), size: z.number().int().nonnegative(), root: Hex, note: z.string() }).strict(),
    /**
     * SHA-256 of the JCS of each projection's state after the last event: `runState` is the
     * governance reducer (src/governance/run-state.ts), `runSummary` this run's entry in the
     * run-summary projection (projections/run-summary.ts) that dashboards and gates read.
     */
    projections: z.object({ runState: Hex, runSummary: Hex }).strict(),
    runledgerVersion: z.string(),
  })
  .strict();
export type ReplayManifest = z.infer<typeof ReplayManifest>;

/** Builds the manifest of a verified run. `version` is the runledger version that produced it. */
export function buildManifest(run: RunVerification, checkpoint: TrustedCheckpoint, version: string): ReplayManifest {
  if (!run.ok || run.governance === null || run.execution === null || run.head === null) {
    throw new InputError(`run ${run.runId} did not verify or has no approved plans; no manifest can be built`, { stream: run.stream });
  }
  const plan = run.governance.plan;
  return {
    format: MANIFEST_FORMAT,
    runId: run.runId,
    stream: run.stream,
    status: run.summary.status,
    approver: run.governance.approver,
    plans: { governance: run.governance.planHash, execution: run.execution.planHash },
    seeds: { named: plan.seeds, training: plan.training?.seed ?? null },
    training: (plan.training as Record<string, unknown> | undefined) ?? null,
    environment: run.environment,
    eventCount: run.events,
    streamHead: run.head,
    checkpoint: { origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root.toString('hex'), note: checkpoint.note },
    projections: { runState: runSummaryDigest(run.summary), runSummary: stateDigest(run.provenance) },
    runledgerVersion: version,
  };
}

/** The manifest's bytes: RFC 8785, no trailing newline. */
export function manifestBytes(manifest: ReplayManifest): Buffer {
  return canonicalBytes(manifest);
}
