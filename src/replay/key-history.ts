// Which ledger key may sign a checkpoint of which tree size. Without rotations, any trusted key signs
// any size. With rotations, the keys form a chain K0 → K1 → … (each rotation statement signed by both
// its keys, each naming the previous one's successor as the key it retires), and key Ki is valid
// from the transition checkpoint that introduced it (the first stored checkpoint signed by both
// K(i-1) and Ki) up to and including the one that retired it. The auditor's trusted keys must meet
// the chain; trust then follows the statements both ways, since each is signed by both of its keys.
import { KEY_STREAM } from '../../events/ledger.js';
import { InputError } from '../errors.js';
import { normalizeVerifierKey, openRotationStatement, type KeyRotation } from '../integrity/key-rotation.js';
import { NoteError, openNote, parseVerifierKey, type NoteVerifier } from '../integrity/note.js';
import type { EventStore, StoredCheckpoint } from '../store/port.js';

export interface KeyEpoch {
  /** Verifier key text (normalized). */
  key: string;
  verifier: NoteVerifier;
  /** First tree size the key may sign: 0, or the transition checkpoint's size. */
  from: number;
  /** Last tree size it may sign (its retiring transition checkpoint's size); null while current. */
  to: number | null;
  /** 1-based position, in the stored list, of the checkpoint that introduced the key. */
  transition: number | null;
}

export interface KeyHistory {
  /** Empty when the ledger never rotated: then `trusted` alone decides. */
  epochs: KeyEpoch[];
  rotations: KeyRotation[];
  /** Statements of other origins (events relayed from another ledger): inert, they change no key here. */
  foreign: ReadonlySet<string>;
  /** A rotation recorded whose transition checkpoint does not exist yet (its key signs nothing yet). */
  pending: KeyRotation | null;
  /** The verifiers a checkpoint of `size` must be signed by one of. */
  keysFor(size: number): NoteVerifier[];
  /** The epochs of keys that may NOT sign `size` (for messages). */
  retiredFor(size: number): KeyEpoch[];
}

/** A rotation record or chain that cannot be trusted; `rotation` is its 1-based position. */
export class KeyHistoryError extends Error {
  constructor(
    message: string,
    readonly rotation: number | null,
  ) {
    super(message);
  }
}

const parseKeys = (keys: readonly (string | NoteVerifier)[]): NoteVerifier[] => keys.map((k) => (typeof k === 'string' ? parseVerifierKey(k) : k));

function signedByBoth(note: string, a: NoteVerifier, b: NoteVerifier): boolean {
  try {
    const opened = openNote(note, [a, b]);
    const has = (v: NoteVerifier) => opened.verified.some((s) => s.name === v.name && s.keyId === v.keyId);
    return has(a) && has(b);
  } catch (err) {
    if (err instanceof NoteError) return false;
    throw err;
  }
}

/**
 * The key history of a ledger from its rotation statements (oldest first, as the `ledger.keys`
 * stream holds them), its stored checkpoints and the auditor's trusted keys. Throws
 * KeyHistoryError for a statement that does not open or does not link, or a chain none of the
 * trusted keys is on; an InputError for a malformed trusted key.
 */
export function keyHistory(statements: readonly string[], checkpoints: readonly StoredCheckpoint[], trusted: readonly (string | NoteVerifier)[], origin: string): KeyHistory {
  const trustedVerifiers = parseKeys(trusted);
  const opened: KeyRotation[] = statements.map((statement, i) => {
    try {
      return openRotationStatement(statement);
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
      throw new KeyHistoryError(`Key rotation ${i + 1}: ${err.message}.`, i + 1);
    }
  });
  const rotations = opened.filter((r) => r.origin === origin);
  const foreign = new Set(opened.filter((r) => r.origin !== origin).map((r) => r.statement));
  if (rotations.length === 0) {
    return { epochs: [], rotations: [], foreign, pending: null, keysFor: () => trustedVerifiers, retiredFor: () => [] };
  }
  rotations.forEach((r, i) => {
    const before = rotations[i - 1];
    if (before !== undefined && before.key !== r.previousKey) {
      throw new KeyHistoryError(`Key rotation ${i + 1} retires key ${r.previousKey}, but the key in use after rotation ${i} is ${before.key}.`, i + 1);
    }
  });
  const chain = [rotations[0]!.previousKey, ...rotations.map((r) => r.key)];
  const trustedText = new Set(trusted.filter((k): k is string => typeof k === 'string').map((k) => safeNormalize(k)));
  // Parsed verifiers (no key text to compare) are matched by name and key ID.
  const trustedIds = new Set(trusted.filter((k): k is NoteVerifier => typeof k !== 'string').map((v) => `${v.name}+${v.keyId}`));
  const verifiers = chain.map((k) => parseVerifierKey(k));
  const onChain = chain.some((k, i) => trustedText.has(k) || trustedIds.has(`${verifiers[i]!.name}+${verifiers[i]!.keyId}`));
  if (!onChain) {
    throw new KeyHistoryError(`None of the trusted verifier keys is in the ledger's key history (${chain.join(' → ')}): get the ledger's key from its operator out of band.`, null);
  }

  const epochs: KeyEpoch[] = [{ key: chain[0]!, verifier: verifiers[0]!, from: 0, to: null, transition: null }];
  let searchFrom = 0;
  let pending: KeyRotation | null = null;
  for (const [i, rotation] of rotations.entries()) {
    const previous = verifiers[i]!;
    const next = verifiers[i + 1]!;
    const at = checkpoints.findIndex((c, j) => j >= searchFrom && signedByBoth(c.note, previous, next));
    if (at < 0) {
      if (i < rotations.length - 1) throw new KeyHistoryError(`Key rotation ${i + 1} (to ${rotation.key}) has no transition checkpoint signed by both keys, yet rotation ${i + 2} follows it.`, i + 1);
      pending = rotation;
      break;
    }
    const size = checkpoints[at]!.size;
    epochs[i]!.to = size;
    epochs.push({ key: chain[i + 1]!, verifier: next, from: size, to: null, transition: at + 1 });
    searchFrom = at;
  }
  const valid = (e: KeyEpoch, size: number) => e.from <= size && (e.to === null || size <= e.to);
  return {
    epochs,
    rotations,
    foreign,
    pending,
    keysFor: (size) => epochs.filter((e) => valid(e, size)).map((e) => e.verifier),
    retiredFor: (size) => epochs.filter((e) => !valid(e, size)),
  };
}

function safeNormalize(vkey: string): string {
  try {
    return normalizeVerifierKey(vkey);
  } catch {
    return vkey.trim();
  }
}

/** The statements of the integrated rotation events on the `ledger.keys` stream, in order (below leaf index `treeSize`, if given). */
export async function readRotationStatements(store: EventStore, treeSize = Infinity): Promise<string[]> {
  const events = await store.readStream(KEY_STREAM);
  return events.filter((e) => e.index !== null && e.index < treeSize && e.envelope.type === 'LedgerKeyRotated').map((e) => String((e.envelope.data as { statement?: unknown }).statement ?? ''));
}

/** The key history of a store for the trusted keys (a malformed trusted key is an InputError). */
export async function loadKeyHistory(store: EventStore, trusted: readonly string[], origin: string, checkpoints?: readonly StoredCheckpoint[]): Promise<KeyHistory> {
  if (trusted.length === 0) throw new InputError('no verifier key: pass --key <vkey>', { field: '--key' });
  return keyHistory(await readRotationStatements(store), checkpoints ?? (await store.checkpoints()), trusted, origin);
}

/** One line per epoch, for messages: `key K valid for tree sizes A–B`. */
export function describeEpoch(e: KeyEpoch): string {
  return `key ${e.key} (valid for tree sizes ${e.from}–${e.to ?? '…'})`;
}
