// Offline audit bundles: `exportBundle` packs a replayed run (its canonical events, leaf indices,
// inclusion proofs, the signed checkpoint, the plans and the replay manifest) into one file;
// `verifyBundle` checks that file with no store — only its bytes and a trusted verifier key.
// Every section is either covered by the checkpoint signature through the inclusion proofs, or
// rebuilt from what is covered and compared byte for byte, so no byte can change unnoticed.
import { z } from 'zod';
import { IntegrityError, InputError } from '../errors.js';
import { canonicalBytes, canonicalize } from '../integrity/canonical.js';
import { openCheckpoint } from '../integrity/checkpoint.js';
import { NoteError, parseVerifierKey } from '../integrity/note.js';
import type { EventStore } from '../store/port.js';
import { checkWitnessPolicy, type WitnessPolicy, type WitnessVerdict } from '../witness/policy.js';
import { buildManifest, manifestBytes, ReplayManifest } from '../replay/manifest.js';
import { replayRun } from '../replay/replay.js';
import { verifyRun, type EventEvidence, type RunDivergence, type RunVerification, type TrustedCheckpoint } from '../replay/verify-run.js';
import { BundleIntegrityError, encodeBundle, readBundle, type BundleSections, type ReadBundle, type SectionName } from './format.js';

const Hex = z.string().regex(/^[0-9a-f]{64}$/);
const ProofsSection = z.array(z.object({ index: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), proof: z.array(Hex).max(64) }).strict());

/** The plans section: the approved governance plan and the execution plan, as recorded. */
function plansBytes(run: RunVerification): Buffer {
  return canonicalBytes({ governance: run.governance, execution: run.execution });
}

export interface ExportResult {
  bundle: Buffer;
  manifest: ReplayManifest;
}

/** Replays the run against the store and packs it. Refuses a run that does not verify. */
export async function exportBundle(
  store: EventStore,
  runId: string,
  verifierKeys: readonly string[],
  onProgress?: (done: number, total: number) => void,
): Promise<ExportResult> {
  const replay = await replayRun(store, runId, { verifierKeys, ...(onProgress ? { onProgress } : {}) });
  if (!replay.ok || replay.manifest === null || replay.verification === null || replay.checkpoint === null) {
    const d = replay.firstDivergence;
    throw new IntegrityError(`run ${runId} does not verify, so no bundle was written: ${d?.message ?? 'unknown divergence'}`, {
      ...(d?.stream !== undefined ? { stream: d.stream } : {}),
      ...(d?.revision !== undefined ? { revision: d.revision } : {}),
    });
  }
  const sections: BundleSections = {
    manifest: manifestBytes(replay.manifest),
    checkpoint: Buffer.from(replay.checkpoint.note, 'utf8'),
    plans: plansBytes(replay.verification),
    events: Buffer.concat(replay.evidence.flatMap((e) => [e.canonical, Buffer.from('\n')])),
    proofs: canonicalBytes(replay.evidence.map((e) => ({ index: e.index, proof: (e.proof ?? []).map((p) => p.toString('hex')) }))),
  };
  return { bundle: encodeBundle(sections), manifest: replay.manifest };
}

export interface BundleReport {
  ok: boolean;
  runId: string | null;
  events: number;
  checkpoint: { origin: string; size: number; root: string } | null;
  plans: { governance: string; execution: string } | null;
  status: string | null;
  /** Set when a witness policy was given: whether the bundle's checkpoint carries K of N cosignatures. */
  witnesses?: WitnessVerdict;
  firstDivergence?: RunDivergence;
}

/** A section whose content is not what the format requires; names the section. */
class SectionError extends Error {
  constructor(
    readonly section: SectionName,
    message: string,
  ) {
    super(message);
  }
}

/** A JSON section must be RFC 8785 bytes: parse, re-canonicalize, compare. */
function jcsSection(section: SectionName, payload: Buffer): unknown {
  let value: unknown;
  let canonical: string;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    canonical = canonicalize(value);
  } catch {
    // Invalid UTF-8 or JSON, or nesting deep enough to exhaust the stack (RangeError): never a crash.
    throw new SectionError(section, `bundle section "${section}" is not UTF-8 JSON that runledger can read`);
  }
  if (canonical !== payload.toString('utf8')) throw new SectionError(section, `bundle section "${section}" is not in RFC 8785 canonical form`);
  return value;
}

function parseSection<T>(section: SectionName, schema: z.ZodType<T>, payload: Buffer): T {
  const parsed = schema.safeParse(jcsSection(section, payload));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SectionError(section, `bundle section "${section}" field ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Verifies a bundle with no store. `verifierKeys` are the trusted C2SP vkeys (a malformed key is an
 * InputError). A file that is not a bundle is an InputError; every other failure is reported as
 * the first divergence, naming the bundle section and, within the events, the event.
 */
export function verifyBundle(bytes: Buffer, verifierKeys: readonly string[], options: { witnesses?: WitnessPolicy } = {}): BundleReport {
  if (verifierKeys.length === 0) throw new InputError('verify-bundle needs a trusted verifier key (--key)', { field: 'key' });
  for (const key of verifierKeys) {
    try {
      parseVerifierKey(key);
    } catch (err) {
      throw new InputError(`--key is not a C2SP verifier key (<name>+<hex id>+<base64 key>): ${(err as Error).message}`, { field: 'key' });
    }
  }
  const fail = (d: RunDivergence): BundleReport => ({ ok: false, runId: null, events: 0, checkpoint: null, plans: null, status: null, firstDivergence: d });
  let read: ReadBundle;
  try {
    read = readBundle(bytes);
  } catch (err) {
    if (!(err instanceof BundleIntegrityError)) throw err;
    return fail({ check: 'bundle', section: err.section, message: `${err.message}.` });
  }
  let verdict = verifySections(read.sections, verifierKeys);
  if (verdict.ok && options.witnesses && verdict.checkpoint) {
    // The checkpoint section's note opened with the log key above; now the cosignatures on it.
    const witnesses = checkWitnessPolicy([{ note: read.sections.checkpoint.toString('utf8'), label: 'Bundle section "checkpoint"' }], verdict.checkpoint.size, options.witnesses);
    verdict = witnesses.ok ? { ...verdict, witnesses } : { ...verdict, ok: false, witnesses, firstDivergence: { check: 'checkpoint', section: 'checkpoint', message: `Witness policy not met: ${witnesses.message}` } };
  }
  const altered = read.altered[0];
  if (altered === undefined) return verdict;
  // A section failed its digest: name it (the bytes that changed are there), plus the first item that
  // no longer verifies because of it — e.g. the event whose proof in `proofs` was altered.
  const inner = verdict.firstDivergence;
  const d: RunDivergence = inner
    ? { ...inner, section: altered.section, message: `${altered.message}; first divergence: ${inner.message}` }
    : { check: 'bundle', section: altered.section, message: `${altered.message}.` };
  return { ...verdict, ok: false, firstDivergence: d };
}

/** Checks decoded sections: signature, events, proofs, plans, manifest. */
function verifySections(sections: BundleSections, verifierKeys: readonly string[]): BundleReport {
  const report: BundleReport = { ok: false, runId: null, events: 0, checkpoint: null, plans: null, status: null };
  const fail = (d: RunDivergence): BundleReport => ({ ...report, ok: false, firstDivergence: d });
  try {
    const manifest = parseSection('manifest', ReplayManifest, sections.manifest);
    report.runId = manifest.runId;

    let trusted: TrustedCheckpoint;
    try {
      const note = new TextDecoder('utf-8', { fatal: true }).decode(sections.checkpoint);
      const checkpoint = openCheckpoint(note, verifierKeys);
      trusted = { origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root, note };
    } catch (err) {
      if (err instanceof NoteError) return fail({ check: 'checkpoint', section: 'checkpoint', message: `Bundle section "checkpoint": ${err.message}.` });
      if (err instanceof TypeError) return fail({ check: 'checkpoint', section: 'checkpoint', message: 'Bundle section "checkpoint" is not UTF-8 text.' });
      throw err;
    }
    report.checkpoint = { origin: trusted.origin, size: trusted.size, root: trusted.root.toString('hex') };

    const events = splitEvents(sections.events);
    const proofs = parseSection('proofs', ProofsSection, sections.proofs);
    if (proofs.length !== events.length) {
      throw new SectionError('proofs', `bundle section "proofs" has ${proofs.length} proofs for ${events.length} events`);
    }
    const evidence: EventEvidence[] = events.map((canonical, i) => ({
      canonical,
      index: proofs[i]!.index,
      proof: proofs[i]!.proof.map((h) => Buffer.from(h, 'hex')),
    }));
    const run = verifyRun(manifest.runId, evidence, trusted);
    report.events = run.events;
    report.status = run.summary.status;
    if (run.governance && run.execution) report.plans = { governance: run.governance.planHash, execution: run.execution.planHash };
    if (!run.ok) return fail({ section: 'events', ...run.firstDivergence! });
    if (run.governance === null || run.execution === null) {
      return fail({ check: 'plan-parity', section: 'events', message: `Run ${manifest.runId} has no GovernancePlanApproved and ExecutionPlanRecorded, so the bundle proves no approved run.` });
    }

    if (!plansBytes(run).equals(sections.plans)) {
      return fail({ check: 'plan-parity', section: 'plans', message: 'Bundle section "plans" differs from the plans recorded in the run\'s events.' });
    }
    const rebuilt = buildManifest(run, trusted, manifest.runledgerVersion);
    if (!manifestBytes(rebuilt).equals(sections.manifest)) {
      const field = (Object.keys(rebuilt) as (keyof ReplayManifest)[]).find((k) => canonicalize(rebuilt[k]) !== canonicalize(manifest[k])) ?? '(manifest)';
      return fail({
        check: 'bundle',
        section: 'manifest',
        expected: canonicalize(rebuilt[field as keyof ReplayManifest] ?? null),
        actual: canonicalize(manifest[field as keyof ReplayManifest] ?? null),
        message: `Bundle section "manifest" field ${field} differs from the manifest rebuilt from the verified events.`,
      });
    }
    return { ...report, ok: true };
  } catch (err) {
    if (err instanceof SectionError) return fail({ check: 'bundle', section: err.section, message: `${err.message}.` });
    throw err;
  }
}

/** The events section: each event's canonical bytes followed by a newline (JCS never contains one). */
function splitEvents(payload: Buffer): Buffer[] {
  if (payload.length === 0) throw new SectionError('events', 'bundle section "events" is empty');
  if (payload[payload.length - 1] !== 0x0a) throw new SectionError('events', 'bundle section "events" does not end with a newline');
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] !== 0x0a) continue;
    if (i === start) throw new SectionError('events', `bundle section "events" has an empty line at event ${lines.length}`);
    lines.push(payload.subarray(start, i));
    start = i + 1;
  }
  return lines;
}
