// Streaming readers of a bundle's two large sections (docs/bundle-format.md), so verify-bundle
// holds one chunk and one event at a time: `events` (canonical bytes, one per line) and `proofs`
// (the RFC 8785 array of {index, proof}). Each refuses exactly what the in-memory checks refused;
// the proofs reader accepts only the one canonical spelling and otherwise says so (`undefined`),
// and the caller then lets the whole-section check give its verdict and message.
import { CHUNK, type ByteSource, type SectionRange } from './format.js';

const NEWLINE = 0x0a;

/** A problem the in-memory check would report for the events section, with its exact message. */
export class EventsSectionError extends Error {}

/**
 * The events section's lines, in order: each event's canonical bytes (without the newline). Checks
 * what the in-memory split checked, in its order: not empty, ends with a newline, no empty line.
 */
export function* eventLines(source: ByteSource, range: SectionRange): Generator<Buffer> {
  const { start, length } = range;
  if (length === 0) throw new EventsSectionError('bundle section "events" is empty');
  if (source.read(start + length - 1, 1)[0] !== NEWLINE) throw new EventsSectionError('bundle section "events" does not end with a newline');
  let carry: Buffer | undefined;
  let line = 0;
  for (let at = start; at < start + length; at += CHUNK) {
    const chunk = source.read(at, Math.min(CHUNK, start + length - at));
    let from = 0;
    for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, from)) {
      const piece = chunk.subarray(from, i);
      const bytes = carry === undefined ? piece : Buffer.concat([carry, piece]);
      carry = undefined;
      if (bytes.length === 0) throw new EventsSectionError(`bundle section "events" has an empty line at event ${line}`);
      yield bytes;
      line++;
      from = i + 1;
    }
    if (from < chunk.length) carry = carry === undefined ? Buffer.from(chunk.subarray(from)) : Buffer.concat([carry, chunk.subarray(from)]);
  }
}

/** Checks the events section's framing without keeping anything; returns the number of events. */
export function countEventLines(source: ByteSource, range: SectionRange): number {
  let n = 0;
  for (const _ of eventLines(source, range)) n++;
  return n;
}

export interface ProofItem {
  index: number;
  proof: Buffer[];
}

/** Bytes one item can take: `{"index":` 16 digits `,"proof":[` 64 quoted hashes with commas `]},`. */
const MAX_ITEM = 9 + 16 + 10 + 64 * 67 + 3;
const MAX_PROOF = 64;
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdef') HEX[c.charCodeAt(0)] = 1;
const INDEX_KEY = Buffer.from('{"index":', 'ascii');
const PROOF_KEY = Buffer.from(',"proof":[', 'ascii');

/**
 * The proofs section item by item, when it is spelt exactly as RFC 8785 spells an array of
 * `{"index": <safe integer ≥ 0>, "proof": [<≤ 64 lowercase 64-hex strings>]}` — then it is canonical
 * and matches the section's schema. Yields `undefined` once and stops at the first byte that departs
 * from that spelling: the caller checks the section the in-memory way for the verdict and message.
 */
export function* proofItems(source: ByteSource, range: SectionRange): Generator<ProofItem | undefined> {
  const end = range.start + range.length;
  let buf = Buffer.alloc(0);
  let at = range.start; // source offset of buf[0]
  let pos = 0;
  const ensure = (n: number): void => {
    if (buf.length - pos >= n) return;
    const next = at + buf.length;
    const want = Math.min(end - next, Math.max(CHUNK, n));
    buf = Buffer.concat([buf.subarray(pos), want > 0 ? source.read(next, want) : Buffer.alloc(0)]);
    at += pos;
    pos = 0;
  };
  const matches = (literal: Buffer): boolean => {
    for (let k = 0; k < literal.length; k++) if (buf[pos + k] !== literal[k]) return false;
    pos += literal.length;
    return true;
  };
  ensure(2);
  if (buf[pos] !== 0x5b /* [ */) return yield undefined;
  pos++;
  if (buf[pos] === 0x5d /* ] */ && at + pos + 1 === end) return;
  for (;;) {
    ensure(MAX_ITEM);
    if (buf.length - pos < INDEX_KEY.length || !matches(INDEX_KEY)) return yield undefined;
    let digits = 0;
    while (buf[pos + digits]! >= 0x30 && buf[pos + digits]! <= 0x39) digits++;
    if (digits === 0 || digits > 16 || (digits > 1 && buf[pos] === 0x30)) return yield undefined;
    const index = Number(buf.toString('latin1', pos, pos + digits));
    if (!Number.isSafeInteger(index)) return yield undefined;
    pos += digits;
    if (!matches(PROOF_KEY)) return yield undefined;
    const proof: Buffer[] = [];
    if (buf[pos] === 0x5d) pos++;
    else {
      for (;;) {
        if (proof.length === MAX_PROOF || buf[pos] !== 0x22 /* " */ || buf[pos + 65] !== 0x22) return yield undefined;
        for (let k = 1; k <= 64; k++) if (HEX[buf[pos + k]!] !== 1) return yield undefined;
        proof.push(Buffer.from(buf.toString('latin1', pos + 1, pos + 65), 'hex'));
        pos += 66;
        if (buf[pos] === 0x2c /* , */) pos++;
        else if (buf[pos] === 0x5d) {
          pos++;
          break;
        } else return yield undefined;
      }
    }
    if (buf[pos] !== 0x7d /* } */) return yield undefined;
    pos++;
    yield { index, proof };
    if (buf[pos] === 0x2c) {
      pos++;
      continue;
    }
    if (buf[pos] === 0x5d && at + pos + 1 === end) return;
    return yield undefined;
  }
}
