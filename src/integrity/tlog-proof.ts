// C2SP tlog-proof (https://c2sp.org/tlog-proof): an offline-verifiable inclusion proof — the entry's
// index, its RFC 9162 inclusion path and the signed checkpoint it leads to, as one text file:
//   c2sp.org/tlog-proof@v1\n [extra <base64>\n] index <decimal>\n <base64 hash>\n… \n <checkpoint note>
import { InputError, IntegrityError } from '../errors.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { HASH_SIZE } from './hasher.js';
import type { NoteVerifier } from './note.js';
import { verifyInclusion } from './proof.js';

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

export interface TlogProof {
  index: number;
  /** Inclusion path, leaf's sibling first (RFC 6962 §2.1.1). */
  proof: Buffer[];
  /** The checkpoint note, verbatim. */
  checkpoint: string;
  /** Opaque, unauthenticated extra data; runledger writes none. */
  extra?: Buffer;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

export function formatTlogProof(p: TlogProof): string {
  return [
    TLOG_PROOF_HEADER,
    ...(p.extra ? [`extra ${p.extra.toString('base64')}`] : []),
    `index ${p.index}`,
    ...p.proof.map((h) => h.toString('base64')),
    '',
  ].join('\n') + `\n${p.checkpoint}`;
}

function base64Exact(text: string, what: string, length?: number): Buffer {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text || (length !== undefined && bytes.length !== length)) {
    throw new InputError(`tlog-proof ${what} "${text}" is not standard padded base64${length !== undefined ? ` of ${length} bytes` : ''}`, { field: what });
  }
  return bytes;
}

/** Strictly parses a tlog-proof. The checkpoint is returned as text: open it with `verifyTlogProof`. */
export function parseTlogProof(text: string): TlogProof {
  const malformed = (why: string, line: number): InputError => new InputError(`tlog-proof line ${line}: ${why}`, { line });
  const blank = text.indexOf('\n\n');
  if (blank < 0) throw malformed('no empty line before the checkpoint', 1);
  const lines = text.slice(0, blank).split('\n');
  const checkpoint = text.slice(blank + 2);
  if (lines[0] !== TLOG_PROOF_HEADER) throw malformed(`expected "${TLOG_PROOF_HEADER}"`, 1);
  let at = 1;
  let extra: Buffer | undefined;
  if (lines[at]?.startsWith('extra ')) {
    extra = base64Exact(lines[at]!.slice('extra '.length), 'extra', undefined);
    at++;
  }
  const indexLine = lines[at] ?? '';
  const indexText = indexLine.startsWith('index ') ? indexLine.slice('index '.length) : undefined;
  if (indexText === undefined || !DECIMAL.test(indexText) || !Number.isSafeInteger(Number(indexText))) {
    throw malformed('expected "index <decimal, no leading zeroes>"', at + 1);
  }
  const proof = lines.slice(at + 1).map((line, i) => {
    if (line === '') throw malformed('empty proof line', at + 2 + i);
    return base64Exact(line, `proof hash ${i}`, HASH_SIZE);
  });
  if (checkpoint === '') throw malformed('no checkpoint after the empty line', at + 2 + proof.length);
  return { index: Number(indexText), proof, checkpoint, ...(extra ? { extra } : {}) };
}

/**
 * Verifies a tlog-proof for an entry's leaf hash: the checkpoint must be signed by a trusted key for
 * `origin`, and the inclusion path must lead from the leaf to its root. Returns the checkpoint.
 * Throws NoteError (signature), ProofError (path), IntegrityError (origin) or InputError (format).
 */
export function verifyTlogProof(text: string, leafHash: Uint8Array, verifiers: readonly (NoteVerifier | string)[], origin: string): Checkpoint {
  const parsed = parseTlogProof(text);
  const checkpoint = openCheckpoint(parsed.checkpoint, verifiers);
  if (checkpoint.origin !== origin) throw new IntegrityError(`tlog-proof checkpoint is for log origin "${checkpoint.origin}", not "${origin}"`);
  verifyInclusion(parsed.index, checkpoint.size, leafHash, parsed.proof, checkpoint.root);
  return checkpoint;
}
