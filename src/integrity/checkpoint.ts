// C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed note body
// `<origin>\n<decimal size>\n<base64 root>\n[extension lines\n]`, signed with signed-note Ed25519.
import { InputError } from '../errors.js';
import { HASH_SIZE } from './hasher.js';
import { NoteError, openNote, signNote, type NoteSigner, type NoteVerifier } from './note.js';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** Opaque extension lines (tlog-checkpoint §Note text, item 4); runledger writes none. */
  extensions: string[];
}

/** tlog-checkpoint §Note text item 2: ASCII decimal, no leading zeroes. */
const DECIMAL_SIZE = /^(0|[1-9][0-9]*)$/;

/** The checkpoint body. Rejects what could not be parsed back to the same values. */
export function formatCheckpoint(origin: string, size: number, root: Buffer, extensions: readonly string[] = []): string {
  if (origin.length === 0 || origin.includes('\n')) throw new InputError('checkpoint origin must be one non-empty line', { field: 'origin' });
  if (!Number.isSafeInteger(size) || size < 0) throw new InputError(`checkpoint size ${size} is not a non-negative integer`, { field: 'size' });
  if (root.length !== HASH_SIZE) throw new InputError(`checkpoint root is ${root.length} bytes, expected ${HASH_SIZE}`, { field: 'root' });
  for (const line of extensions) {
    if (line.length === 0 || line.includes('\n')) throw new InputError('checkpoint extension lines must be non-empty single lines', { field: 'extensions' });
  }
  return [origin, String(size), root.toString('base64'), ...extensions].map((line) => `${line}\n`).join('');
}

/** Strictly parses a checkpoint body (the note text, not the signed note). */
export function parseCheckpoint(text: string): Checkpoint {
  const malformed = (why: string): NoteError => new NoteError(`checkpoint body ${why}`, 'malformed');
  if (!text.endsWith('\n')) throw malformed('does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed(`has ${lines.length} lines, expected at least origin, size and root`);
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw malformed('has an empty origin line');
  if (!DECIMAL_SIZE.test(sizeText)) throw malformed(`size line "${sizeText}" is not a decimal number without leading zeroes`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw malformed(`size ${sizeText} is too large`);
  const root = Buffer.from(rootText, 'base64');
  if (root.length !== HASH_SIZE || root.toString('base64') !== rootText) throw malformed(`root line "${rootText}" is not the base64 of ${HASH_SIZE} bytes`);
  if (extensions.some((line) => line.length === 0)) throw malformed('has an empty extension line');
  return { origin, size, root, extensions };
}

/** Signs the checkpoint of a tree: a complete signed note, ready to store or publish. */
export function signCheckpoint(origin: string, size: number, root: Buffer, signer: NoteSigner): string {
  return signNote(formatCheckpoint(origin, size, root), [signer]);
}

/** Verifies a checkpoint note under trusted verifier keys and returns what it attests. */
export function openCheckpoint(note: string, verifiers: readonly (NoteVerifier | string)[]): Checkpoint {
  return parseCheckpoint(openNote(note, verifiers).text);
}
