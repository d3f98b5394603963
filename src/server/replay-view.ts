// A replay result as the verification page shows it: every check of the run verifier, in report
// order, with what it establishes — passed, failed (the first divergence), or not reached.
import type { ReplayResult } from '../replay/replay.js';
import type { RunCheck } from '../replay/verify-run.js';
import type { ReplayCheckView, ReplayView } from './api-types.js';

/** The checks a run replay performs (src/replay/verify-run.ts), and what passing each one means. */
export const REPLAY_CHECKS: readonly { check: RunCheck; establishes: string }[] = [
  { check: 'checkpoint', establishes: 'the latest checkpoint is signed by a trusted key and matches its stored size and root' },
  { check: 'bytes', establishes: 'every event is RFC 8785 canonical JSON of a valid envelope, identical to what the store returns' },
  { check: 'schema', establishes: "every event's data matches its type's schema in the event catalog" },
  { check: 'chain', establishes: "stream, revisions and prevHash links form an unbroken chain" },
  { check: 'inclusion', establishes: 'every event is inside the signed checkpoint (RFC 9162 inclusion proofs)' },
  { check: 'plan-parity', establishes: 'the plan hashes are the hashes of the recorded plan bodies, and the plans link' },
  { check: 'write-rule', establishes: "every event is one the plan and the run's state allowed where it stands (who may write what: signed training events inside their stage, nothing after the run ended)" },
  { check: 'stage-order', establishes: 'every stage transition is allowed by the execution plan' },
  { check: 'run-summary', establishes: 'the run-summary digests recorded at the run end match the re-projected state' },
];

export function replayView(runId: string, result: ReplayResult): ReplayView {
  const failed = result.firstDivergence?.check;
  // The checkpoint is opened before any event is read; the event checks run per event, so when one
  // fails the others are only known for the events before it.
  const checks: ReplayCheckView[] = REPLAY_CHECKS.map(({ check, establishes }) => {
    if (failed === undefined) return { check, status: 'passed', message: establishes };
    if (check === failed) return { check, status: 'failed', message: result.firstDivergence!.message };
    if (check === 'checkpoint') return { check, status: failed === 'log' ? 'not-reached' : 'passed', message: establishes };
    return { check, status: 'not-reached', message: `not conclusive: replay stopped at the first divergence (${failed})` };
  });
  if (failed !== undefined && !REPLAY_CHECKS.some((c) => c.check === failed)) {
    checks.push({ check: failed, status: 'failed', message: result.firstDivergence!.message });
  }
  const d = result.firstDivergence;
  return {
    runId,
    ok: result.ok,
    events: result.verification?.events ?? 0,
    checks,
    firstDivergence: d
      ? {
          check: d.check,
          message: d.message,
          ...(d.revision !== undefined ? { revision: d.revision } : {}),
          ...(d.expected !== undefined ? { expected: d.expected } : {}),
          ...(d.actual !== undefined ? { actual: d.actual } : {}),
        }
      : null,
    checkpointSize: result.checkpoint?.size ?? null,
  };
}
