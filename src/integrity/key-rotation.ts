// The key rotation statement (docs/integrity.md, "Key rotation"): a C2SP signed note, signed by the
// retiring key and by its successor, that names the log and both keys —
//
//   runledger/key-rotation/v1
//   origin <origin>
//   previous <old verifier key>
//   key <new verifier key>
//
// Its second line is not a decimal size, so it can never be read as a tlog-checkpoint body, nor
// (first line) as a cosignature/v1 message: the old key signing it cannot be replayed as anything else.
import { InputError } from '../errors.js';
import { NoteError, openNote, parseNote, parseVerifierKey, signNote, type NoteSigner } from './note.js';

export const ROTATION_HEADER = 'runledger/key-rotation/v1';

export interface KeyRotation {
  origin: string;
  /** The retired key, as the statement names it. */
  previousKey: string;
  /** Its successor. */
  key: string;
  /** The signed note, verbatim. */
  statement: string;
}

export function rotationStatementText(origin: string, previousKey: string, key: string): string {
  if (origin.length === 0 || origin.includes('\n')) throw new InputError('rotation origin must be one non-empty line', { field: 'origin' });
  return `${ROTATION_HEADER}\norigin ${origin}\nprevious ${previousKey.trim()}\nkey ${key.trim()}\n`;
}

/** Signs the statement with the retiring signer, then its successor: one note, two signature lines. */
export function signRotationStatement(origin: string, previous: { signer: NoteSigner; verifierKey: string }, next: { signer: NoteSigner; verifierKey: string }): string {
  return signNote(rotationStatementText(origin, previous.verifierKey, next.verifierKey), [previous.signer, next.signer]);
}

/** A verifier key in one spelling (the key ID in lowercase), so two texts of one key compare equal. */
export function normalizeVerifierKey(vkey: string): string {
  const text = vkey.trim();
  parseVerifierKey(text);
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  return `${text.slice(0, first)}+${text.slice(first + 1, second).toLowerCase()}${text.slice(second)}`;
}

/**
 * Opens a rotation statement: the text must be exactly the format above, and the note must be
 * signed by both keys it names (every line of either verified). A NoteError says why not.
 */
export function openRotationStatement(statement: string): KeyRotation {
  const { text } = parseNote(statement);
  const lines = text.slice(0, -1).split('\n');
  const [header, originLine, previousLine, keyLine] = lines;
  if (lines.length !== 4 || header !== ROTATION_HEADER || !originLine?.startsWith('origin ') || !previousLine?.startsWith('previous ') || !keyLine?.startsWith('key ')) {
    throw new NoteError(`rotation statement is not "${ROTATION_HEADER}" followed by origin, previous and key lines`, 'malformed');
  }
  const origin = originLine.slice('origin '.length);
  let previousKey: string;
  let key: string;
  try {
    previousKey = normalizeVerifierKey(previousLine.slice('previous '.length));
    key = normalizeVerifierKey(keyLine.slice('key '.length));
  } catch (err) {
    throw new NoteError(`rotation statement names a key that is not a verifier key: ${(err as Error).message}`, 'malformed');
  }
  if (origin.length === 0) throw new NoteError('rotation statement has an empty origin', 'malformed');
  if (previousKey === key) throw new NoteError('rotation statement names the same key as previous and new key', 'malformed');
  const previous = parseVerifierKey(previousKey);
  const next = parseVerifierKey(key);
  const opened = openNote(statement, [previous, next]);
  const signedBy = (v: { name: string; keyId: number }) => opened.verified.some((s) => s.name === v.name && s.keyId === v.keyId);
  if (!signedBy(previous)) throw new NoteError(`rotation statement is not signed by the key it retires (${previousKey})`, 'unknown-key');
  if (!signedBy(next)) throw new NoteError(`rotation statement is not signed by the key it introduces (${key})`, 'unknown-key');
  return { origin, previousKey, key, statement };
}
