// The auditor's log verifier. It trusts nothing stored but the raw canonical bytes and the signed
// checkpoint notes: every leaf hash, chain link and root is recomputed, events stream through one
// at a time, and memory is the compact range plus one head per stream. Pure and synchronous per
// event; `verifyLog` only adds iteration over an async source.
import { isUtf8 } from 'node:buffer';
import { Envelope } from '../../events/envelope.js';
import { adoptParsedEnvelope, envelopeIsFromBytes } from '../store/recorded.js';
import { isEnvelope } from './envelope-check.js';
import { chainFromEnvelope, chainFromScan, reusedChain, scanEnvelope, SCAN_SLOTS, type ChainFields } from './envelope-scan.js';
import { IntegrityError, InputError, type ErrorLocation } from '../errors.js';
import { canonicalize, CanonicalizationError } from '../integrity/canonical.js';
import { isCanonicalJson } from '../integrity/canonical-check.js';
import { protoMember } from '../input/decode.js';
import { describeIssue, fieldPath } from '../input/limits.js';
import { openCheckpoint, type Checkpoint } from '../integrity/checkpoint.js';
import { CompactRange } from '../integrity/compact-range.js';
import { hashHex, hashPacked, hexSpellsPacked, leafHashPacked, type HashText, type PackedHash } from '../integrity/hasher.js';
import { NoteError, parseVerifierKey, type NoteVerifier } from '../integrity/note.js';
import { ConsistencyProofBuilder, ProofError, verifyConsistency } from '../integrity/proof.js';
import { TreeConsistency } from '../integrity/tree-consistency.js';
import type { RecordedEvent, StoredCheckpoint } from '../store/port.js';
import { KEY_STREAM } from '../../events/ledger.js';
import { describeEpoch, keyHistory, KeyHistoryError, type KeyHistory } from './key-history.js';

export type DivergenceCheck =
  /** Leaf indices are not 0, 1, 2, … in input order. */
  | 'index'
  /** Stored bytes are not UTF-8 JSON in RFC 8785 canonical form. */
  | 'bytes'
  /** The envelope in the bytes does not match the Envelope schema. */
  | 'schema'
  /** The envelope the store hands out differs from the one in the bytes. */
  | 'envelope'
  /** The bytes do not hash to the recorded leaf hash. */
  | 'leafHash'
  /** Revision or prevHash breaks the stream's chain. */
  | 'chain'
  /** A checkpoint note is unsigned, forged, from another origin, disagrees with its stored columns, or is out of order. */
  | 'checkpoint'
  /** The recomputed tree root differs from a signed checkpoint's root. */
  | 'root'
  /** A checkpoint is not an extension of the one before it (RFC 9162 §2.1.4). */
  | 'consistency'
  /** A key rotation record is not signed by both its keys, does not link, is missing from the log, or a checkpoint is signed by a key outside its valid tree sizes. */
  | 'key'
  /** The store's read of a stream does not end at the stream's last event in the log: its index columns, which no hash covers, hide events. */
  | 'stream';

export interface Divergence {
  check: DivergenceCheck;
  /** Leaf index of the event (or the tree size a checkpoint claims, for checkpoint checks). */
  index?: number;
  stream?: string;
  revision?: number;
  eventId?: string;
  /** 1-based position of the checkpoint in the stored list. */
  checkpoint?: number;
  expected?: string;
  actual?: string;
  /** One sentence naming the item and what differed. */
  message: string;
}

export interface VerifyLogReport {
  ok: boolean;
  events: number;
  streams: number;
  /** Checkpoints fully verified (signature, origin, columns, root, consistency). */
  checkpoints: number;
  treeSize: number;
  /** Recomputed root of the events verified, hex. */
  root: string;
  firstDivergence?: Divergence;
}

export interface VerifyLogOptions {
  /** Stored checkpoints, oldest first. */
  checkpoints: readonly StoredCheckpoint[];
  /** Trusted verifier keys (vkey text or parsed). */
  verifierKeys: readonly (string | NoteVerifier)[];
  /** The log origin every checkpoint must name. */
  origin: string;
  /**
   * The rotation statements of the `ledger.keys` stream, oldest first (`readRotationStatements`).
   * Every LedgerKeyRotated event of the log must be one of them, in order, and each checkpoint must
   * be signed by a key valid at its size (src/replay/key-history.ts). Default: none.
   */
  rotations?: readonly string[];
  /**
   * Called in `finish` with each stream's head as the log's bytes have it (last revision and its
   * recomputed leaf hash, hex), in order of first appearance: what the store's own stream reads,
   * which go by index columns no hash covers, are compared with (`verifyLedger`, replay --full).
   */
  onStreamHead?: (stream: string, revision: number, leafHash: string) => void;
  /** Called with the number of events verified so far, every `progressEvery` events and at the end. */
  onProgress?: (eventsDone: number) => void;
  progressEvery?: number;
}

interface StreamHead {
  revision: number;
  /** Packed when this verifier hashed it, hex when a worker thread did. */
  leafHash: HashText;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Where a divergence of an event with these fields is (built on failure only: no closure per event). */
function named(index: number, env: ChainFields): Pick<Divergence, 'index' | 'stream' | 'revision' | 'eventId'> {
  return { index, stream: env.stream, revision: env.revision, eventId: env.id };
}

function at(index: number, env: ChainFields): string {
  return `Leaf ${index} (event ${env.id}, stream "${env.stream}" revision ${env.revision})`;
}

function short(hex: string): string {
  return hex.length > 16 ? `${hex.slice(0, 16)}…` : hex;
}

/**
 * Structural JSON equality: same own enumerable keys (ignoring undefined members), same values.
 * Own keys only, as JSON.stringify and structured clone see an object, so a worker comparing a
 * cloned envelope decides exactly as the main thread would on the original.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let count = 0;
  for (const key of Object.keys(ra)) {
    if (ra[key] === undefined) continue;
    count++;
    if (!Object.prototype.hasOwnProperty.call(rb, key) || !sameJson(ra[key], rb[key])) return false;
  }
  for (const key of Object.keys(rb)) if (rb[key] !== undefined) count--;
  return count === 0;
}

export type { ChainFields } from './envelope-scan.js';

/** Reused output of the single-threaded scan, and the chain fields read from it (used up before the next event). */
const scanned = new Float64Array(SCAN_SLOTS);
const scannedChain = reusedChain();

/**
 * (a) for one event, by the fastest path that decides it: the byte scan for a record whose envelope
 * the store decodes from these very bytes on demand (nothing to compare, nothing decoded), else
 * `contentDivergence`. Returns the chain fields, or the divergence.
 */
function checkContent(event: RecordedEvent, index: number): ChainFields | Divergence {
  const bytes = event.canonical;
  // prevHash's digits are left to the chain check, which compares those bytes with a hash's digits anyway (`failAfterScan`).
  if (envelopeIsFromBytes(event) && Buffer.isBuffer(bytes) && scanEnvelope(bytes, scanned, 0, true)) return chainFromScan(bytes, scanned, 0, scannedChain)!;
  return contentDivergence(event, index) ?? chainFromEnvelope(event.envelope);
}

function isDivergence(value: ChainFields | Divergence): value is Divergence {
  return 'check' in value;
}

/** The part of a stored event whose checks do not depend on its position in the log. */
export interface EventContent {
  canonical: Buffer;
  envelope: unknown;
}

/**
 * (a) The bytes are the RFC 8785 form of a valid envelope, and the store's envelope is that envelope.
 * Order-independent, so parallel verification runs it in worker threads; `index` only names the
 * event in the message. Returns the divergence, or undefined when the content is sound.
 */
export function contentDivergence(event: EventContent, index: number): Divergence | undefined {
  // Read only on the failure paths: a store may decode its envelope from the bytes on first read.
  const where = (): Pick<Divergence, 'index' | 'stream' | 'revision' | 'eventId'> => {
    const stored = storedEnvelope(event);
    return { index, stream: stored?.stream, revision: stored?.revision, eventId: stored?.id };
  };
  // What the store hands out is not validated yet: clip it, a hostile row must not make the message huge.
  const label = (): string => {
    const stored = storedEnvelope(event);
    return `Leaf ${index} (event ${clip(stored?.id)}, stream "${clip(stored?.stream)}" revision ${clip(stored?.revision)})`;
  };
  const bytes = event.canonical;
  // Valid UTF-8 decodes one-to-one, so comparing text afterwards compares the bytes.
  if (!isUtf8(bytes)) {
    return { check: 'bytes', ...where(), message: `${label()}: stored canonical bytes are not valid UTF-8.` };
  }
  const text = bytes.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { check: 'bytes', ...where(), message: `${label()}: stored canonical bytes are not valid JSON.` };
  }
  if (!isCanonicalJson(text)) {
    return { check: 'bytes', ...where(), message: `${label()}: stored bytes are not in RFC 8785 canonical form${whyNotCanonical(parsed)}, so they were not written by a runledger store.` };
  }
  // A writer refuses "__proto__" members (zod and JavaScript would drop them); in canonical text a
  // member name is always `"name":`, so one cheap scan finds every candidate, confirmed on the value.
  if (text.includes('"__proto__":')) {
    const path = protoMember(parsed);
    if (path !== undefined) return { check: 'schema', ...where(), message: `${label()}: the stored bytes have a member named "__proto__" at ${fieldPath(path)}, which no runledger writer records.` };
  }
  // The hand-written check accepts only what the schema accepts; anything else gets zod's verdict and message.
  if (!isEnvelope(parsed)) {
    const envelope = Envelope.safeParse(parsed);
    if (!envelope.success) {
      const { field, message } = describeIssue(envelope.error.issues[0]!);
      return { check: 'schema', ...where(), message: `${label()}: envelope field ${field || '(envelope)'} in the stored bytes is invalid: ${message}.` };
    }
  }
  const env = parsed as Envelope;
  // An envelope the store decodes from these very bytes on demand takes this parse: nothing to compare.
  if (!adoptParsedEnvelope(event as RecordedEvent, env, bytes) && !sameJson(parsed, event.envelope)) {
    return {
      check: 'envelope',
      index,
      stream: env.stream,
      revision: env.revision,
      eventId: env.id,
      message: `Leaf ${index} (event ${env.id}, stream "${env.stream}" revision ${env.revision}): the envelope the store returns differs from the envelope in its canonical bytes.`,
    };
  }
  return undefined;
}

/** The envelope the store hands out, for naming an event that failed a check; undefined when it has none or cannot decode one. */
function storedEnvelope(event: { envelope: unknown }): Partial<Envelope> | undefined {
  try {
    return event.envelope as Partial<Envelope> | undefined;
  } catch {
    return undefined;
  }
}

function clip(value: unknown): string {
  const text = String(value ?? '?');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Why a parsed value has no canonical form (a lone surrogate, nesting too deep, …), or '' when it has one. Failure path only. */
function whyNotCanonical(parsed: unknown): string {
  try {
    canonicalize(parsed);
    return '';
  } catch (err) {
    if (err instanceof CanonicalizationError) return ` (${err.message})`;
    throw err;
  }
}

/** Streaming verifier: feed events in leaf order with `push`, then `finish`. Stops at the first divergence. */
export class LogVerifier {
  private readonly verifiers: NoteVerifier[];
  private readonly range = CompactRange.empty();
  private readonly heads = new Map<string, StreamHead>();
  private nextCheckpoint = 0;
  private verifiedCheckpoints = 0;
  private previous: { ordinal: number; size: number; root: Buffer } | undefined;
  /** The proof to the next checkpoint, from the tree's own nodes. */
  private fromTree: TreeConsistency | undefined;
  /** …or from the leaves again, where the tree cannot supply a node (not for proofs split at powers of two). */
  private builder: ConsistencyProofBuilder | undefined;
  private divergence: Divergence | undefined;
  private events = 0;
  private readonly history: KeyHistory | undefined;
  /** LedgerKeyRotated events seen so far. */
  private rotationsSeen = 0;

  constructor(private readonly options: VerifyLogOptions) {
    // A bad key is the caller's input error, not a verification failure.
    this.verifiers = options.verifierKeys.map((key) => (typeof key === 'string' ? parseVerifierKey(key) : key));
    if (this.verifiers.length === 0) throw new InputError('log verification needs at least one verifier key', { field: 'key' });
    try {
      this.history = keyHistory(options.rotations ?? [], options.checkpoints, options.verifierKeys, options.origin);
    } catch (err) {
      if (!(err instanceof KeyHistoryError)) throw err;
      this.fail({ check: 'key', message: err.message });
      return;
    }
    this.checkpointsAtCurrentSize();
  }

  get failed(): boolean {
    return this.divergence !== undefined;
  }

  /** Events verified so far: the leaf index the next event must have. */
  get treeSize(): number {
    return this.range.size;
  }

  /** Verifies the next event. Returns false once a divergence has been found (further events are ignored). */
  push(event: RecordedEvent): boolean {
    return this.pushEvent(event, undefined);
  }

  /**
   * Like `push`, for an event whose content checks (`checkContent`) already passed elsewhere
   * (a worker thread) and whose leaf hash was recomputed there from the same bytes. The
   * order-dependent checks (index, recorded leaf hash, chain, tree, checkpoints) still run here.
   * `chain`: the fields the worker located in the bytes, else they are read from the envelope; not
   * kept past this call (the caller may fill the same object in for the next event).
   */
  pushChecked(event: RecordedEvent, leafHex: string, chain?: ChainFields): boolean {
    return this.pushEvent(event, leafHex, chain);
  }

  /**
   * Whether the next `width` events may go in as one subtree (`pushCheckedBlock`): no checkpoint
   * is due before the last of them (so none would be checked between them one by one), and the
   * consistency proof is taken from the tree's nodes, not from each leaf.
   */
  takesBlock(width: number): boolean {
    if (this.divergence !== undefined || this.builder !== undefined) return false;
    const next = this.options.checkpoints[this.nextCheckpoint];
    return next === undefined || (Number.isSafeInteger(next.size) && next.size >= this.range.size + width);
  }

  /**
   * `pushChecked` for `events`, a perfect subtree of the tree (`takesBlock` said yes) whose root a
   * worker hashed from the same leaf hashes: every ordered check still runs per event, in order;
   * the tree takes the root instead of each leaf. On a divergence at event k the tree holds the
   * events before k, as after pushing them one by one.
   */
  pushCheckedBlock(events: readonly RecordedEvent[], leafHex: (k: number) => string, chain: (k: number) => ChainFields | undefined, root: PackedHash): boolean {
    if (this.divergence !== undefined) return false;
    const base = this.range.size;
    const every = this.options.progressEvery ?? 4096;
    for (let k = 0; k < events.length; k++) {
      const event = events[k]!;
      const index = base + k;
      const fields = this.verifyEvent(event, index, leafHex(k), chain(k));
      if (fields === undefined || (fields.rotation && !this.checkRotationEvent(event, index))) {
        // The tree as the events before this one left it, one leaf at a time.
        for (let j = 0; j < k; j++) this.range.appendPacked(hashPacked(leafHex(j))!);
        return false;
      }
      this.events++;
      if (this.options.onProgress !== undefined && this.events % every === 0) this.options.onProgress(this.events);
    }
    this.range.appendSubtree(root, events.length);
    return this.checkpointsAtCurrentSize();
  }

  private pushEvent(event: RecordedEvent, checkedLeaf: string | undefined, chain?: ChainFields): boolean {
    if (this.divergence !== undefined) return false;
    const index = this.range.size;
    const fields = this.verifyEvent(event, index, checkedLeaf, chain);
    if (fields === undefined) return false;
    const lastLeaf = this.lastLeaf;
    if (fields.rotation && !this.checkRotationEvent(event, index)) return false;
    // Packed once for the tree and the consistency proof (our own hash or a worker's: always well formed).
    const leaf = hashPacked(lastLeaf)!;
    this.range.appendPacked(leaf);
    this.builder?.appendPacked(leaf);
    this.events++;
    const every = this.options.progressEvery ?? 4096;
    if (this.options.onProgress !== undefined && this.events % every === 0) this.options.onProgress(this.events);
    return this.checkpointsAtCurrentSize();
  }

  /** A LedgerKeyRotated event must be the next rotation of the key history, on the key stream. */
  private checkRotationEvent(event: RecordedEvent, index: number): boolean {
    const env = event.envelope;
    const named = { index, stream: env.stream, revision: env.revision, eventId: env.id };
    const at = `Leaf ${index} (event ${env.id}, stream "${env.stream}" revision ${env.revision})`;
    const rotations = this.history!.rotations;
    const expected = rotations[this.rotationsSeen]?.statement;
    const data = env.data as { statement?: unknown; previousKey?: unknown; key?: unknown };
    if (env.stream === KEY_STREAM && typeof data.statement === 'string' && this.history!.foreign.has(data.statement)) return true;
    if (env.stream !== KEY_STREAM) {
      return this.fail({ check: 'key', ...named, message: `${at}: a LedgerKeyRotated event outside the "${KEY_STREAM}" stream, where only "runledger keys rotate" records rotations.` }) ?? false;
    }
    if (expected === undefined || data.statement !== expected) {
      return this.fail({ check: 'key', ...named, message: `${at}: LedgerKeyRotated is not rotation ${this.rotationsSeen + 1} of the ${rotations.length} rotations of this log the "${KEY_STREAM}" stream holds.` }) ?? false;
    }
    const rotation = this.history!.rotations[this.rotationsSeen]!;
    if (data.previousKey !== rotation.previousKey || data.key !== rotation.key) {
      return this.fail({ check: 'key', ...named, message: `${at}: LedgerKeyRotated names keys ${String(data.previousKey)} → ${String(data.key)}, but its signed statement names ${rotation.previousKey} → ${rotation.key}.` }) ?? false;
    }
    this.rotationsSeen++;
    return true;
  }

  /** Checks the checkpoints that claim more leaves than the log has, then reports. */
  finish(): VerifyLogReport {
    const rotations = this.history?.rotations.length ?? 0;
    if (this.divergence === undefined && this.nextCheckpoint >= this.options.checkpoints.length && this.rotationsSeen < rotations) {
      this.fail({ check: 'key', message: `The "${KEY_STREAM}" stream holds ${rotations} key rotations, but the log's integrated events contain only ${this.rotationsSeen}.` });
    }
    if (this.divergence === undefined) {
      const pending = this.options.checkpoints[this.nextCheckpoint];
      if (pending !== undefined) {
        const ordinal = this.nextCheckpoint + 1;
        const opened = this.openStored(pending, ordinal);
        if (opened !== undefined) {
          this.fail({
            check: 'checkpoint',
            checkpoint: ordinal,
            index: pending.size,
            expected: `at most ${this.range.size}`,
            actual: String(pending.size),
            message: `Checkpoint ${ordinal} claims tree size ${pending.size}, but the log has only ${this.range.size} events.`,
          });
        }
      }
    }
    this.options.onProgress?.(this.events);
    const report: VerifyLogReport = {
      ok: this.divergence === undefined,
      events: this.events,
      streams: this.heads.size,
      checkpoints: this.verifiedCheckpoints,
      treeSize: this.range.size,
      root: this.range.root().toString('hex'),
    };
    const onHead = this.options.onStreamHead;
    if (onHead !== undefined) for (const [stream, head] of this.heads) onHead(stream, head.revision, hashHex(head.leafHash));
    if (this.divergence !== undefined) report.firstDivergence = this.divergence;
    return report;
  }

  private fail(divergence: Divergence): undefined {
    this.divergence = divergence;
    return undefined;
  }

  /**
   * Records a divergence of an event that passed the content checks (a), unless the byte scan left
   * its prevHash digits to the chain check and they are not a hash: then (a) fails first, with the
   * text path's verdict, as if the scan had checked them.
   */
  private failAfterScan(event: RecordedEvent, index: number, env: ChainFields, divergence: Divergence): undefined {
    if (env === scannedChain && !scannedChain.prevHashDigitsValid()) return this.fail(contentDivergence(event, index) ?? divergence);
    return this.fail(divergence);
  }

  /** Leaf hash of the event `verifyEvent` last accepted. */
  private lastLeaf: HashText = '';

  /** Checks one event; returns its chain fields (its leaf hash in `lastLeaf`), or undefined after recording a divergence. */
  private verifyEvent(event: RecordedEvent, index: number, checkedLeaf: string | undefined, chain: ChainFields | undefined): ChainFields | undefined {
    // (d) RFC 9162 leaf indices are dense and in input order.
    if (event.index !== index) {
      const stored = storedEnvelope(event);
      const label = `Leaf ${index} (event ${stored?.id ?? '?'}, stream "${stored?.stream ?? '?'}" revision ${stored?.revision ?? '?'})`;
      // JSON.stringify shows a string or null index for what it is (an adapter bug, not a gap).
      const actual = JSON.stringify(event.index);
      return this.fail({ check: 'index', index, stream: stored?.stream, revision: stored?.revision, eventId: stored?.id, expected: String(index), actual, message: `${label} has leaf index ${actual}, expected ${index}: the log has a gap, a duplicate or is out of order.` });
    }

    let env: ChainFields;
    if (checkedLeaf === undefined) {
      const content = checkContent(event, index);
      if (isDivergence(content)) return this.fail(content);
      env = content;
    } else {
      // The content checks passed, so the store's envelope is the one in the bytes; a worker that
      // scanned the bytes of a record the store decodes on demand sends the fields read here instead.
      env = chain ?? chainFromEnvelope(event.envelope);
    }

    // (b) The leaf hash is recomputed, never read: packed here, compared digit by digit with the recorded hex.
    const leaf = checkedLeaf ?? leafHashPacked(event.canonical);
    if (checkedLeaf === undefined ? !hexSpellsPacked(event.leafHash, leaf) : leaf !== event.leafHash) {
      const leafHex = hashHex(leaf);
      return this.failAfterScan(event, index, env, { check: 'leafHash', ...named(index, env), expected: leafHex, actual: event.leafHash, message: `${at(index, env)}: canonical bytes hash to leaf ${short(leafHex)}, but the recorded leaf hash is ${short(String(event.leafHash))}: the event or its hash was altered.` });
    }

    // (c) The per-stream chain fixed at append time.
    const head = this.heads.get(env.stream);
    const expectedRevision = head === undefined ? 0 : head.revision + 1;
    if (env.revision !== expectedRevision) {
      return this.failAfterScan(event, index, env, { check: 'chain', ...named(index, env), expected: String(expectedRevision), actual: String(env.revision), message: `${at(index, env)}: stream "${env.stream}" continues at revision ${env.revision}, expected ${expectedRevision}.` });
    }
    const expectedPrev = head === undefined ? null : head.leafHash;
    if (!env.prevHashIs(expectedPrev)) {
      return this.failAfterScan(event, index, env, {
        check: 'chain',
        ...named(index, env),
        expected: expectedPrev === null ? 'null' : hashHex(expectedPrev),
        actual: String(env.prevHash),
        message: head === undefined
          ? `${at(index, env)}: first event of stream "${env.stream}" has prevHash ${short(String(env.prevHash))}, expected null.`
          : `${at(index, env)}: prevHash ${short(String(env.prevHash))} is not the recomputed leaf hash ${short(hashHex(head.leafHash))} of revision ${head.revision}.`,
      });
    }
    if (head === undefined) this.heads.set(env.stream, { revision: env.revision, leafHash: leaf });
    else {
      head.revision = env.revision;
      head.leafHash = leaf;
    }
    this.lastLeaf = leaf;
    return env;
  }

  /** (f) Signature, origin and stored columns of one checkpoint; undefined after recording a divergence. */
  private openStored(stored: StoredCheckpoint, ordinal: number): Checkpoint | undefined {
    const label = `Checkpoint ${ordinal} (tree size ${stored.size})`;
    const base = { check: 'checkpoint' as const, checkpoint: ordinal, index: stored.size };
    if (!Number.isSafeInteger(stored.size) || stored.size < 0) return this.fail({ ...base, message: `${label}: stored size is not a non-negative integer.` });
    if (!HEX64.test(stored.root)) return this.fail({ ...base, message: `${label}: stored root "${stored.root}" is not 64 lowercase hex characters.` });
    let checkpoint: Checkpoint;
    try {
      checkpoint = openCheckpoint(stored.note, this.history!.keysFor(stored.size));
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
      const retired = err.reason === 'unknown-key' ? this.history!.retiredFor(stored.size).find((e) => opensWith(stored.note, e)) : undefined;
      if (retired !== undefined) {
        return this.fail({ ...base, check: 'key', message: `${label} is signed by ${describeEpoch(retired)}, not by a key valid at size ${stored.size}.` });
      }
      return this.fail({ ...base, message: `${label}: ${err.message}.` });
    }
    const epoch = this.history!.epochs.findIndex((e) => e.transition === ordinal);
    if (epoch > 0 && this.rotationsSeen < epoch) {
      return this.fail({ ...base, check: 'key', message: `${label} is the transition checkpoint of key rotation ${epoch}, but the log before it does not contain that rotation's LedgerKeyRotated event.` });
    }
    if (checkpoint.origin !== this.options.origin) {
      return this.fail({ ...base, expected: this.options.origin, actual: checkpoint.origin, message: `${label} is for log origin "${checkpoint.origin}", not "${this.options.origin}".` });
    }
    if (checkpoint.size !== stored.size) {
      return this.fail({ ...base, expected: String(checkpoint.size), actual: String(stored.size), message: `${label}: the signed note says tree size ${checkpoint.size}, the stored size column says ${stored.size}.` });
    }
    const signedRoot = checkpoint.root.toString('hex');
    if (signedRoot !== stored.root) {
      return this.fail({ ...base, expected: signedRoot, actual: stored.root, message: `${label}: the signed note's root ${short(signedRoot)} differs from the stored root column ${short(stored.root)}.` });
    }
    return checkpoint;
  }

  /** Verifies every checkpoint whose size is the current tree size. Returns false on divergence. */
  private checkpointsAtCurrentSize(): boolean {
    const { checkpoints } = this.options;
    const size = this.range.size;
    for (;;) {
      const stored = checkpoints[this.nextCheckpoint];
      if (stored === undefined) return true;
      const ordinal = this.nextCheckpoint + 1;
      // Sizes are checked as the tree grows past them, so a smaller size than the tree means out of order.
      if (Number.isSafeInteger(stored.size) && stored.size > size) return true;
      const checkpoint = this.openStored(stored, ordinal);
      if (checkpoint === undefined) return false;
      if (checkpoint.size < size) {
        const before = this.previous === undefined ? '' : `, after checkpoint ${this.previous.ordinal} with size ${this.previous.size}`;
        this.fail({ check: 'checkpoint', checkpoint: ordinal, index: checkpoint.size, message: `Checkpoint ${ordinal} has tree size ${checkpoint.size}${before}: checkpoint sizes must not decrease.` });
        return false;
      }
      const root = this.range.root();
      if (!root.equals(checkpoint.root)) {
        const expected = root.toString('hex');
        const actual = checkpoint.root.toString('hex');
        this.fail({ check: 'root', checkpoint: ordinal, index: size, expected, actual, message: `Checkpoint ${ordinal} signs root ${short(actual)} for tree size ${size}, but the events recompute to ${short(expected)}.` });
        return false;
      }
      if (this.previous !== undefined) {
        // RFC 9162 §2.1.4: prove this checkpoint extends the previous one, from the recomputed leaves.
        // A node the tree did not supply makes the proof empty, so it fails rather than passes.
        const proof = this.fromTree?.size2 === size ? (this.fromTree.proof() ?? []) : this.builder?.size2 === size ? this.builder.proof() : [];
        try {
          verifyConsistency(this.previous.size, size, this.previous.root, checkpoint.root, proof);
        } catch (err) {
          if (!(err instanceof ProofError)) throw err;
          this.fail({ check: 'consistency', checkpoint: ordinal, index: size, message: `Checkpoint ${ordinal} (tree size ${size}) is not consistent with checkpoint ${this.previous.ordinal} (tree size ${this.previous.size}): ${err.message}.` });
          return false;
        }
      }
      this.verifiedCheckpoints++;
      this.previous = { ordinal, size, root: checkpoint.root };
      this.nextCheckpoint++;
      const following = checkpoints[this.nextCheckpoint];
      const next = following !== undefined && Number.isSafeInteger(following.size) && following.size >= size ? following.size : undefined;
      if (next === undefined) this.range.watch([]);
      this.fromTree = next === undefined ? undefined : TreeConsistency.watch(this.range, next);
      this.builder = next === undefined || this.fromTree !== undefined ? undefined : new ConsistencyProofBuilder(this.range.clone(), next);
    }
  }
}

function opensWith(note: string, epoch: { verifier: NoteVerifier }): boolean {
  try {
    openCheckpoint(note, [epoch.verifier]);
    return true;
  } catch (err) {
    if (err instanceof NoteError) return false;
    throw err;
  }
}

/** Verifies a log held in memory or read synchronously. */
export function verifyLogSync(events: Iterable<RecordedEvent>, options: VerifyLogOptions): VerifyLogReport {
  const verifier = new LogVerifier(options);
  for (const event of events) if (!verifier.push(event)) break;
  return verifier.finish();
}

/** Verifies a log streamed from a store or a bundle (sync or async iterable). */
export async function verifyLog(events: Iterable<RecordedEvent> | AsyncIterable<RecordedEvent>, options: VerifyLogOptions): Promise<VerifyLogReport> {
  if (!(Symbol.asyncIterator in events)) return verifyLogSync(events, options);
  const verifier = new LogVerifier(options);
  for await (const event of events) if (!verifier.push(event)) break;
  return verifier.finish();
}

/** Throws the IntegrityError a CLI reports (exit 1) when a report is not ok. */
export function assertLogVerified(report: VerifyLogReport): void {
  const d = report.firstDivergence;
  if (report.ok || d === undefined) return;
  const location: ErrorLocation = {};
  if (d.index !== undefined) location.index = d.index;
  if (d.stream !== undefined) location.stream = d.stream;
  if (d.revision !== undefined) location.revision = d.revision;
  if (d.eventId !== undefined) location.eventId = d.eventId;
  throw new IntegrityError(d.message, location);
}
