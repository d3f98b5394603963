// The run verifier: one pass of a replay cursor over a run's events, in stream order, checking
// everything an auditor needs to believe the run — from raw canonical bytes and a checkpoint whose
// signature the caller has already verified. Pure and synchronous; the online replay (store) and the
// offline bundle verifier feed it the same evidence, so both reach the same verdict on the same run.
import { Envelope } from '../../events/envelope.js';
import { ExecutionPlanRecordedData, GovernancePlanApprovedData } from '../../events/governance.js';
import { registry } from '../../events/index.js';
import { InputError } from '../errors.js';
import { canonicalBytes, CanonicalizationError } from '../integrity/canonical.js';
import { leafHash } from '../integrity/hasher.js';
import { ProofError, rootFromInclusionProof, verifyInclusion } from '../integrity/proof.js';
import { runStream } from '../governance/run-stream.js';
import type { RunSummary } from '../governance/run-state.js';
import { evolveRules, initialRuleState, ruleViolation } from '../governance/write-rules.js';
import { runSummaryProjection, type RunProvenance, type RunSummaries } from '../../projections/run-summary.js';

/** The checks of a replay, in the order a report names them. */
export type RunCheck =
  /** The bytes are not RFC 8785 JSON of a valid envelope, or the store's envelope differs from them. */
  | 'bytes'
  /** The event's data does not match its type's schema in the catalog. */
  | 'schema'
  /** Stream name, revision or prevHash break the run's chain. */
  | 'chain'
  /** The event has no leaf index under the checkpoint, or its inclusion proof fails. */
  | 'inclusion'
  /** A plan's hash is not the hash of its body, its body is not normalized, or the plans, approver and budgets do not agree. */
  | 'plan-parity'
  /** An event out of the plan's order: before the plans, or a stage transition the execution plan does not allow. */
  | 'stage-order'
  /** A run-summary digest recorded at the run's end differs from the re-projected one. */
  | 'run-summary'
  /** An event nobody may have written where it is: who may write what (docs/governance.md), e.g. an unsigned or out-of-stage training event, or anything after the run ended. */
  | 'write-rule'
  /** The checkpoint cannot be trusted or does not cover the run. */
  | 'checkpoint'
  /** A bundle's framing, section digest or derived section does not match. */
  | 'bundle'
  /** The whole-log verifier found a divergence (replay --full). */
  | 'log';

export interface RunDivergence {
  check: RunCheck;
  /** For plan-parity, stage-order, run-summary and write-rule: the stable name of the rule broken (docs/governance.md). */
  rule?: string;
  /** One sentence naming the item and what differed. */
  message: string;
  stream?: string;
  revision?: number;
  eventId?: string;
  type?: string;
  /** Leaf index in the log. */
  index?: number;
  /** Bundle section, for bundle checks. */
  section?: string;
  expected?: string;
  actual?: string;
}

/** One event as evidence: its stored bytes, leaf index and the inclusion proof under the checkpoint. */
export interface EventEvidence {
  canonical: Buffer;
  index: number | null;
  /** RFC 9162 inclusion proof of `index` in the checkpoint's tree; null when none could be produced. */
  proof: Buffer[] | null;
  /** The envelope a store returned alongside the bytes (online replay); must equal the bytes. */
  envelope?: unknown;
}

/** A checkpoint whose signature the caller verified. */
export interface TrustedCheckpoint {
  origin: string;
  size: number;
  root: Buffer;
  note: string;
}

export interface RunVerification {
  ok: boolean;
  runId: string;
  stream: string;
  /** Events checked before the first divergence (all of them when ok). */
  events: number;
  firstDivergence?: RunDivergence;
  summary: RunSummary;
  /** Last verified event: revision and recomputed leaf hash. */
  head: { revision: number; leafHash: string } | null;
  governance: GovernancePlanApprovedData | null;
  execution: ExecutionPlanRecordedData | null;
  /** Data of the last RunEnvironmentRecorded event (where the run executed), if any. */
  environment: Record<string, unknown> | null;
  /** The run's entry in the run-summary projection (projections/run-summary.ts), re-projected from the verified events. */
  provenance: RunProvenance | null;
}

function short(hex: string): string {
  return hex.length > 16 ? `${hex.slice(0, 16)}…` : hex;
}

/** Replays a run's evidence; stops at the first divergence. Reads `events` once, in order, holding none of them. */
export function verifyRun(runId: string, events: Iterable<EventEvidence>, checkpoint: TrustedCheckpoint): RunVerification {
  const verifier = runVerifier(runId, checkpoint);
  for (const evidence of events) if (!verifier.push(evidence)) break;
  return verifier.result();
}

/** The replay cursor of `verifyRun`, fed one event at a time: what streaming export and verify-bundle drive. */
export interface RunVerifier {
  /** Checks the next event; false once a divergence was found (then the verdict is final). */
  push(evidence: EventEvidence): boolean;
  /** The verdict over the events pushed so far (a run of none diverges: it is empty). */
  result(): RunVerification;
}

export function runVerifier(runId: string, checkpoint: TrustedCheckpoint): RunVerifier {
  const stream = runStream(runId);
  let rules = initialRuleState(runId);
  let head: RunVerification['head'] = null;
  let governance: GovernancePlanApprovedData | null = null;
  let execution: ExecutionPlanRecordedData | null = null;
  let environment: Record<string, unknown> | null = null;
  let lastIndex = -1;
  // The same projection the dashboards and `runledger project` fold, over this run's verified events only.
  let summaries: RunSummaries = runSummaryProjection.initial;
  const report = (checked: number, firstDivergence?: RunDivergence): RunVerification => ({
    ok: firstDivergence === undefined,
    runId,
    stream,
    events: checked,
    ...(firstDivergence ? { firstDivergence } : {}),
    summary: rules.run,
    head,
    governance,
    execution,
    environment,
    provenance: summaries.runs.get(runId) ?? null,
  });

  let checked = 0;
  let verdict: RunVerification | undefined;
  const check = (i: number, evidence: EventEvidence): RunVerification | undefined => {
    const at = `Event ${i} of run ${runId}`;
    // Bytes: RFC 8785 JSON of a valid envelope, identical to what the store hands out.
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(evidence.canonical));
    } catch {
      return report(i, { check: 'bytes', stream, revision: i, message: `${at}: the bytes are not UTF-8 JSON.` });
    }
    let recanonical: Buffer;
    try {
      recanonical = canonicalBytes(parsed);
    } catch (err) {
      // RangeError: JSON nested deeper than the stack allows — hostile input, not a crash.
      if (!(err instanceof CanonicalizationError) && !(err instanceof RangeError)) throw err;
      return report(i, { check: 'bytes', stream, revision: i, message: `${at}: the bytes cannot be canonicalized (${err.message}).` });
    }
    if (!recanonical.equals(evidence.canonical)) {
      return report(i, { check: 'bytes', stream, revision: i, message: `${at}: the bytes are not in RFC 8785 canonical form.` });
    }
    const envelope = Envelope.safeParse(parsed);
    if (!envelope.success) {
      const issue = envelope.error.issues[0]!;
      return report(i, { check: 'bytes', stream, revision: i, message: `${at}: envelope field ${issue.path.map(String).join('.') || '(envelope)'} is invalid: ${issue.message}.` });
    }
    const env = envelope.data;
    const where = { stream: env.stream, revision: env.revision, eventId: env.id, type: env.type, ...(evidence.index !== null ? { index: evidence.index } : {}) };
    const label = `Event ${env.id} (${env.type}, stream "${env.stream}" revision ${env.revision})`;
    if (evidence.envelope !== undefined && !canonicalOf(evidence.envelope)?.equals(evidence.canonical)) {
      return report(i, { check: 'bytes', ...where, message: `${label}: the envelope the store returns differs from the one in its canonical bytes.` });
    }
    const leaf = leafHash(evidence.canonical);
    const leafHex = leaf.toString('hex');

    // Chain: this run's stream, revisions 0, 1, 2, … and each prevHash the recomputed leaf hash before it.
    if (env.stream !== stream) {
      return report(i, { check: 'chain', ...where, expected: stream, actual: env.stream, message: `${label} belongs to stream "${env.stream}", not "${stream}".` });
    }
    if (env.revision !== i) {
      return report(i, { check: 'chain', ...where, expected: String(i), actual: String(env.revision), message: `${label} is at revision ${env.revision}, expected ${i}: an event is missing, duplicated or out of order.` });
    }
    const expectedPrev = head?.leafHash ?? null;
    if (env.prevHash !== expectedPrev) {
      return report(i, {
        check: 'chain',
        ...where,
        expected: String(expectedPrev),
        actual: String(env.prevHash),
        message: `${label} has prevHash ${short(String(env.prevHash))}, but the recomputed leaf hash of the event before it is ${short(String(expectedPrev))}.`,
      });
    }

    // Inclusion: RFC 9162 §2.1.3.2, from the recomputed leaf hash to the signed root.
    if (evidence.index === null || evidence.index >= checkpoint.size) {
      return report(i, {
        check: 'inclusion',
        ...where,
        expected: `a leaf index below ${checkpoint.size}`,
        actual: evidence.index === null ? 'not integrated' : String(evidence.index),
        message: `${label} is not covered by the latest signed checkpoint (tree size ${checkpoint.size}): run \`runledger checkpoint\` first.`,
      });
    }
    if (evidence.index <= lastIndex) {
      return report(i, { check: 'inclusion', ...where, expected: `a leaf index above ${lastIndex}`, actual: String(evidence.index), message: `${label} has leaf index ${evidence.index}, not after the previous event's ${lastIndex}.` });
    }
    try {
      if (evidence.proof === null) throw new ProofError('no inclusion proof was given', 'proof-length');
      verifyInclusion(evidence.index, checkpoint.size, leaf, evidence.proof, checkpoint.root);
    } catch (err) {
      if (!(err instanceof ProofError)) throw err;
      return report(i, {
        check: 'inclusion',
        ...where,
        expected: checkpoint.root.toString('hex'),
        actual: provenRoot(evidence.index, checkpoint.size, leaf, evidence.proof),
        message: `${label} at leaf ${evidence.index} is not proven included in the checkpoint of tree size ${checkpoint.size}: ${err.message}.`,
      });
    }
    lastIndex = evidence.index;

    // Schema: the data is what the catalog says this type carries.
    try {
      registry.validate(env.type, env.data, env.schemaVersion, '', { normalized: true });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      return report(i, { check: 'schema', ...where, message: `${label}: ${err.message}.` });
    }

    // Who may write what: plan parity, stage order, run summary and the write rules — the very check
    // every door ran when it appended the event (src/governance/write-rules.ts).
    const violation = ruleViolation(rules, env);
    if (violation) {
      return report(i, {
        check: violation.check,
        rule: violation.rule,
        ...where,
        ...(violation.expected !== undefined ? { expected: violation.expected } : {}),
        ...(violation.actual !== undefined ? { actual: violation.actual } : {}),
        message: `${label}: ${violation.message} (rule ${violation.rule}).`,
      });
    }
    if (env.type === 'GovernancePlanApproved') governance = env.data as GovernancePlanApprovedData;
    if (env.type === 'ExecutionPlanRecorded') execution = env.data as ExecutionPlanRecordedData;
    if (env.type === 'RunEnvironmentRecorded') environment = env.data;
    rules = evolveRules(rules, env);
    summaries = runSummaryProjection.evolve(summaries, { position: evidence.index, index: evidence.index, envelope: env, canonical: evidence.canonical, leafHash: leafHex });
    head = { revision: env.revision, leafHash: leafHex };
    return undefined;
  };
  return {
    push(evidence) {
      if (verdict !== undefined) return false;
      verdict = check(checked, evidence);
      if (verdict === undefined) checked++;
      return verdict === undefined;
    },
    result() {
      if (verdict !== undefined) return verdict;
      if (checked === 0) return report(0, { check: 'chain', stream, message: `Run ${runId} has no events (stream "${stream}" is empty).` });
      return report(checked);
    },
  };
}

/** The root a failing inclusion proof leads to, or why it leads nowhere. */
function provenRoot(index: number, size: number, leaf: Buffer, proof: Buffer[] | null): string {
  if (proof === null) return 'no proof';
  try {
    return rootFromInclusionProof(index, size, leaf, proof).toString('hex');
  } catch (err) {
    return err instanceof ProofError ? `no root: ${err.message}` : String(err);
  }
}

function canonicalOf(value: unknown): Buffer | undefined {
  try {
    return canonicalBytes(value);
  } catch {
    return undefined;
  }
}
