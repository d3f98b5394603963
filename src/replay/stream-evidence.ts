// The checks every event of one stream must pass before a verifier reads its meaning: RFC 8785 bytes
// of a valid envelope (the one the store hands out), the stream's revision and prevHash chain, and an
// RFC 9162 inclusion proof from the recomputed leaf hash to a signed root. Pure and synchronous; the
// model-history verifier (src/registry/model-history.ts) folds a stream through it event by event.
import { Envelope } from '../../events/envelope.js';
import { canonicalBytes, CanonicalizationError } from '../integrity/canonical.js';
import { leafHash } from '../integrity/hasher.js';
import { ProofError, verifyInclusion } from '../integrity/proof.js';
import type { EventEvidence, RunDivergence, TrustedCheckpoint } from './verify-run.js';

export type StreamCheck = 'bytes' | 'chain' | 'inclusion';

/** A divergence of the stream checks: the fields of a run divergence, for the checks this file makes. */
export type StreamDivergence = Omit<RunDivergence, 'check' | 'section'> & { check: StreamCheck };

/** Where the stream's verification stands after its previous event. */
export interface StreamCursor {
  /** Revision and recomputed leaf hash of the previous event; null before the first. */
  head: { revision: number; leafHash: string } | null;
  /** Leaf index of the previous anchored event, -1 before any. */
  lastIndex: number;
  /** An earlier event was not anchored: every later one must be unanchored too. */
  unanchored: boolean;
}

export function streamCursor(): StreamCursor {
  return { head: null, lastIndex: -1, unanchored: false };
}

export interface CheckedStreamEvent {
  envelope: Envelope;
  leaf: Buffer;
  /** True when the event lies inside the checkpoint's tree and its inclusion proof verified. */
  anchored: boolean;
}

function short(hex: string): string {
  return hex.length > 16 ? `${hex.slice(0, 16)}…` : hex;
}

/**
 * Checks event `i` of `stream`. An event beyond the checkpoint (or not integrated yet) is
 * `anchored: false` when `allowUnanchored`, a divergence otherwise; an event inside the tree must
 * prove its inclusion. Advances `cursor` on success.
 */
export function checkStreamEvent(
  stream: string,
  i: number,
  evidence: EventEvidence,
  checkpoint: TrustedCheckpoint,
  cursor: StreamCursor,
  allowUnanchored: boolean,
): CheckedStreamEvent | StreamDivergence {
  const at = `Event ${i} of stream "${stream}"`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(evidence.canonical));
  } catch {
    return { check: 'bytes', stream, revision: i, message: `${at}: the bytes are not UTF-8 JSON.` };
  }
  let recanonical: Buffer;
  try {
    recanonical = canonicalBytes(parsed);
  } catch (err) {
    if (!(err instanceof CanonicalizationError) && !(err instanceof RangeError)) throw err;
    return { check: 'bytes', stream, revision: i, message: `${at}: the bytes cannot be canonicalized (${err.message}).` };
  }
  if (!recanonical.equals(evidence.canonical)) return { check: 'bytes', stream, revision: i, message: `${at}: the bytes are not in RFC 8785 canonical form.` };
  const envelope = Envelope.safeParse(parsed);
  if (!envelope.success) {
    const issue = envelope.error.issues[0]!;
    return { check: 'bytes', stream, revision: i, message: `${at}: envelope field ${issue.path.map(String).join('.') || '(envelope)'} is invalid: ${issue.message}.` };
  }
  const env = envelope.data;
  const where = { stream: env.stream, revision: env.revision, eventId: env.id, type: env.type, ...(evidence.index !== null ? { index: evidence.index } : {}) };
  const label = `Event ${env.id} (${env.type}, stream "${env.stream}" revision ${env.revision})`;
  if (evidence.envelope !== undefined && !sameCanonical(evidence.envelope, evidence.canonical)) {
    return { check: 'bytes', ...where, message: `${label}: the envelope the store returns differs from the one in its canonical bytes.` };
  }
  const leaf = leafHash(evidence.canonical);
  if (env.stream !== stream) return { check: 'chain', ...where, expected: stream, actual: env.stream, message: `${label} belongs to stream "${env.stream}", not "${stream}".` };
  if (env.revision !== i) {
    return { check: 'chain', ...where, expected: String(i), actual: String(env.revision), message: `${label} is at revision ${env.revision}, expected ${i}: an event is missing, duplicated or out of order.` };
  }
  const expectedPrev = cursor.head?.leafHash ?? null;
  if (env.prevHash !== expectedPrev) {
    return { check: 'chain', ...where, expected: String(expectedPrev), actual: String(env.prevHash), message: `${label} has prevHash ${short(String(env.prevHash))}, but the recomputed leaf hash of the event before it is ${short(String(expectedPrev))}.` };
  }

  let anchored = false;
  if (evidence.index === null || evidence.index >= checkpoint.size) {
    cursor.unanchored = true;
    if (!allowUnanchored) {
      return {
        check: 'inclusion',
        ...where,
        expected: `a leaf index below ${checkpoint.size}`,
        actual: evidence.index === null ? 'not integrated' : String(evidence.index),
        message: `${label} is not covered by the latest signed checkpoint (tree size ${checkpoint.size}): run \`runledger checkpoint\` first.`,
      };
    }
  } else {
    // An anchored event after an unanchored one would mean the store reordered the stream.
    if (evidence.index <= cursor.lastIndex || cursor.unanchored) {
      return { check: 'inclusion', ...where, expected: `a leaf index above ${cursor.lastIndex}`, actual: String(evidence.index), message: `${label} has leaf index ${evidence.index}, not after the previous event's.` };
    }
    try {
      if (evidence.proof === null) throw new ProofError('no inclusion proof was given', 'proof-length');
      // RFC 9162 §2.1.3.2, from the recomputed leaf hash to the signed root.
      verifyInclusion(evidence.index, checkpoint.size, leaf, evidence.proof, checkpoint.root);
    } catch (err) {
      if (!(err instanceof ProofError)) throw err;
      return { check: 'inclusion', ...where, expected: checkpoint.root.toString('hex'), message: `${label} at leaf ${evidence.index} is not proven included in the checkpoint of tree size ${checkpoint.size}: ${err.message}.` };
    }
    cursor.lastIndex = evidence.index;
    anchored = true;
  }
  cursor.head = { revision: env.revision, leafHash: leaf.toString('hex') };
  return { envelope: env, leaf, anchored };
}

function sameCanonical(value: unknown, canonical: Buffer): boolean {
  try {
    return canonicalBytes(value).equals(canonical);
  } catch {
    return false;
  }
}
