// Offline audit bundles: `exportBundle` packs a replayed run (its canonical events, leaf indices,
// inclusion proofs, the signed checkpoint, the plans and the replay manifest) into one file;
// `verifyBundle` checks that file with no store — only its bytes and a trusted verifier key.
// Every section is either covered by the checkpoint signature through the inclusion proofs, or
// rebuilt from what is covered and compared byte for byte, so no byte can change unnoticed.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { IntegrityError, InputError } from '../errors.js';
import { canonicalBytes, canonicalize } from '../integrity/canonical.js';
import { openCheckpoint } from '../integrity/checkpoint.js';
import { NoteError, parseVerifierKey } from '../integrity/note.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import { readStreamPages } from '../ledger/read.js';
import { runStream } from '../governance/run-stream.js';
import { sha256Hex } from '../integrity/hasher.js';
import { BoundedTreeProofs } from '../replay/tree-proofs.js';
import { checkWitnessPolicy, type WitnessPolicy, type WitnessVerdict } from '../witness/policy.js';
import { buildManifest, manifestBytes, ReplayManifest } from '../replay/manifest.js';
import { replayRun } from '../replay/replay.js';
import { verifyRun, type EventEvidence, type RunDivergence, type RunVerification, type TrustedCheckpoint } from '../replay/verify-run.js';
import { BUNDLE_MAGIC, BundleIntegrityError, bufferSource, scanBundle, type BundleSections, type ByteSource, type ScannedBundle, type SectionName, type SectionRange } from './format.js';
import { countEventLines, eventLines, EventsSectionError, proofItems, type ProofItem } from './sections.js';

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

/** Replays the run against the store and packs it in memory (tests, the API). Refuses a run that does not verify. */
export async function exportBundle(
  store: EventStore,
  runId: string,
  verifierKeys: readonly string[],
  onProgress?: (done: number, total: number) => void,
): Promise<ExportResult> {
  const chunks: Buffer[] = [];
  const written = await writeBundle(store, runId, verifierKeys, (chunk) => chunks.push(Buffer.from(chunk)), onProgress);
  return { bundle: Buffer.concat(chunks), manifest: written.manifest };
}

export interface WrittenBundle {
  manifest: ReplayManifest;
  bytes: number;
  sha256: string;
}

/** The proofs section's item for one event: its part of the RFC 8785 array (`canonicalBytes` of the whole array joins these with commas). */
function proofItem(e: EventEvidence): string {
  return canonicalize({ index: e.index, proof: (e.proof ?? []).map((p) => p.toString('hex')) });
}

/** Length and SHA-256 of a section written piece by piece. */
class SectionDigest {
  length = 0;
  private readonly hash = createHash('sha256');
  add(piece: Buffer | string): void {
    const bytes = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    this.length += bytes.length;
    this.hash.update(bytes);
  }
  hex(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Streaming export: replays the run against the store page by page (keeping no event), measuring
 * the events and proofs sections as it goes; then writes the bundle to `sink` in file order, reading
 * the run a second time for those two sections, whose bytes must hash to what was verified. Memory:
 * one page of events and the bounded proof source (O(√n): the subtrees above one chunk of the
 * log and the chunk being proven, docs/bundle-format.md), never the run nor the tree. Refuses a run that
 * does not verify, or that changes while it is written (nothing then counts as a bundle).
 */
export async function writeBundle(
  store: EventStore,
  runId: string,
  verifierKeys: readonly string[],
  sink: (chunk: Buffer) => void,
  onProgress?: (done: number, total: number) => void,
): Promise<WrittenBundle> {
  const events = new SectionDigest();
  const proofs = new SectionDigest();
  let proofsOpen = false;
  const measure = (e: EventEvidence): void => {
    events.add(e.canonical);
    events.add('\n');
    proofs.add(`${proofsOpen ? ',' : '['}${proofItem(e)}`);
    proofsOpen = true;
  };
  let trees: BoundedTreeProofs | undefined;
  const replay = await replayRun(store, runId, {
    verifierKeys,
    onEvidence: measure,
    // The second pass needs the same proofs: the top of the tree is read once, each chunk once per pass.
    proofs: async (size) => (trees = await BoundedTreeProofs.read(store, size)),
    ...(onProgress ? { onProgress } : {}),
  });
  if (!replay.ok || replay.manifest === null || replay.verification === null || replay.checkpoint === null) {
    const d = replay.firstDivergence;
    throw new IntegrityError(`run ${runId} does not verify, so no bundle was written: ${d?.message ?? 'unknown divergence'}`, {
      ...(d?.stream !== undefined ? { stream: d.stream } : {}),
      ...(d?.revision !== undefined ? { revision: d.revision } : {}),
    });
  }
  proofs.add(proofsOpen ? ']' : '[]');
  const checkpoint = replay.checkpoint;
  const out = new BundleWriter(sink);
  out.section('manifest', manifestBytes(replay.manifest));
  out.section('checkpoint', Buffer.from(checkpoint.note, 'utf8'));
  out.section('plans', plansBytes(replay.verification));
  // Second pass: the verified events, their number and bytes checked against the first.
  const stream = runStream(runId);
  const again = (): AsyncGenerator<RecordedEvent> => readStreamPages(store, stream);
  const changed = (section: string): IntegrityError =>
    new IntegrityError(`run ${runId} changed while it was exported (section "${section}" differs from the verified events), so no bundle was written`, { stream });
  const eventsDigest = events.hex();
  const rewritten = new SectionDigest();
  out.header('events', events.length, eventsDigest);
  let count = 0;
  for await (const e of again()) {
    if (count === replay.verification.events) break;
    out.payload(e.canonical);
    out.payload(NEWLINE);
    rewritten.add(e.canonical);
    rewritten.add(NEWLINE);
    count++;
  }
  out.endSection();
  if (rewritten.length !== events.length || rewritten.hex() !== eventsDigest) throw changed('events');
  const proofsDigest = proofs.hex();
  const reproved = new SectionDigest();
  out.header('proofs', proofs.length, proofsDigest);
  count = 0;
  for await (const e of again()) {
    if (count === replay.verification.events) break;
    const proof = e.index !== null && e.index < checkpoint.size ? await trees!.proof(e.index) : null;
    const piece = Buffer.from(`${count === 0 ? '[' : ','}${proofItem({ canonical: e.canonical, index: e.index, proof })}`, 'utf8');
    out.payload(piece);
    reproved.add(piece);
    count++;
  }
  const close = Buffer.from(count === 0 ? '[]' : ']', 'utf8');
  out.payload(close);
  reproved.add(close);
  out.endSection();
  if (reproved.length !== proofs.length || reproved.hex() !== proofsDigest) throw changed('proofs');
  return { manifest: replay.manifest, ...out.end() };
}

const NEWLINE = Buffer.from('\n', 'ascii');

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
export function verifyBundle(bytes: Buffer | ByteSource, verifierKeys: readonly string[], options: { witnesses?: WitnessPolicy } = {}): BundleReport {
  const source = Buffer.isBuffer(bytes) ? bufferSource(bytes) : bytes;
  if (verifierKeys.length === 0) throw new InputError('verify-bundle needs a trusted verifier key (--key)', { field: 'key' });
  for (const key of verifierKeys) {
    try {
      parseVerifierKey(key);
    } catch (err) {
      throw new InputError(`--key is not a C2SP verifier key (<name>+<hex id>+<base64 key>): ${(err as Error).message}`, { field: 'key' });
    }
  }
  const fail = (d: RunDivergence): BundleReport => ({ ok: false, runId: null, events: 0, checkpoint: null, plans: null, status: null, firstDivergence: d });
  let read: ScannedBundle;
  try {
    read = scanBundle(source);
  } catch (err) {
    if (!(err instanceof BundleIntegrityError)) throw err;
    return fail({ check: 'bundle', section: err.section, message: `${err.message}.` });
  }
  let verdict = verifySections(source, read, verifierKeys);
  if (verdict.ok && options.witnesses && verdict.checkpoint) {
    // The checkpoint section's note opened with the log key above; now the cosignatures on it.
    const witnesses = checkWitnessPolicy([{ note: read.sections.checkpoint!.toString('utf8'), label: 'Bundle section "checkpoint"' }], verdict.checkpoint.size, options.witnesses);
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

/** Checks the scanned sections: signature, events, proofs, plans, manifest — streaming the events and proofs from the source. */
function verifySections(source: ByteSource, scanned: ScannedBundle, verifierKeys: readonly string[]): BundleReport {
  const sections = scanned.sections as Omit<BundleSections, 'events' | 'proofs'>;
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

    // The in-memory checks' order: the events' framing, then the proofs' form and schema, then their counts.
    const eventsRange = scanned.ranges.events;
    const proofsRange = scanned.ranges.proofs;
    const events = countEvents(source, eventsRange);
    let proofs = countProofs(source, proofsRange);
    // Not in the one canonical spelling the streaming reader knows: the whole-section check decides (and names the problem).
    const inMemory = proofs === undefined ? parseSection('proofs', ProofsSection, Buffer.from(source.read(proofsRange.start, proofsRange.length))) : undefined;
    proofs ??= inMemory!.length;
    if (proofs !== events) {
      throw new SectionError('proofs', `bundle section "proofs" has ${proofs} proofs for ${events} events`);
    }
    const items: Iterator<ProofItem | undefined> = inMemory
      ? inMemory.map((p) => ({ index: p.index, proof: p.proof.map((h) => Buffer.from(h, 'hex')) }))[Symbol.iterator]()
      : proofItems(source, proofsRange);
    function* evidence(): Generator<EventEvidence> {
      for (const canonical of eventLines(source, eventsRange)) {
        const item = items.next().value;
        // Only a file rewritten between the scan and this read gets here: its proofs no longer pair with its events.
        if (item === undefined) throw new SectionError('proofs', 'bundle section "proofs" changed while it was read');
        yield { canonical, index: item.index, proof: item.proof };
      }
    }
    const run = verifyRun(manifest.runId, evidence(), trusted);
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

/** The events section's framing checked, as SectionErrors; its number of events. */
function countEvents(source: ByteSource, range: SectionRange): number {
  try {
    return countEventLines(source, range);
  } catch (err) {
    if (err instanceof EventsSectionError) throw new SectionError('events', err.message);
    throw err;
  }
}

/** The number of proofs when the section is in the canonical spelling the streaming reader accepts; else undefined. */
function countProofs(source: ByteSource, range: SectionRange): number | undefined {
  let n = 0;
  for (const item of proofItems(source, range)) {
    if (item === undefined) return undefined;
    n++;
  }
  return n;
}

/** Writes the container (docs/bundle-format.md) piece by piece, in file order, digesting every byte for the end line. */
class BundleWriter {
  private readonly whole = createHash('sha256');
  private bytes = 0;

  constructor(private readonly sink: (chunk: Buffer) => void) {
    this.emit(Buffer.from(`${BUNDLE_MAGIC}\n`, 'ascii'));
  }

  private emit(chunk: Buffer): void {
    this.whole.update(chunk);
    this.bytes += chunk.length;
    this.sink(chunk);
  }

  header(name: SectionName, length: number, sha256: string): void {
    this.emit(Buffer.from(`${name} ${length} ${sha256}\n`, 'ascii'));
  }

  payload(chunk: Buffer): void {
    this.emit(chunk);
  }

  endSection(): void {
    this.emit(NEWLINE);
  }

  /** A whole section at once. */
  section(name: SectionName, payload: Buffer): void {
    this.header(name, payload.length, sha256Hex(payload));
    this.payload(payload);
    this.endSection();
  }

  end(): { bytes: number; sha256: string } {
    const line = Buffer.from(`end ${this.whole.copy().digest('hex')}\n`, 'ascii');
    this.emit(line);
    return { bytes: this.bytes, sha256: this.whole.digest('hex') };
  }
}
