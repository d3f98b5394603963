// The verifier's hot path over the stored bytes themselves: canonical form, UTF-8 validity and the
// Envelope schema (events/envelope.ts) in one scan, with no decode and no JSON.parse. In RFC 8785
// form an envelope's members come in one order (names ascend), so the scan expects their names
// literally and checks each value by its rule; the free-form `data` object goes through the
// canonical byte scan. It may only say "valid" where the text path (isUtf8, JSON.parse,
// isCanonicalJson, "__proto__", isEnvelope / Envelope.safeParse) says so; anything else it leaves
// to that path (test/replay/envelope-scan.test.ts). No zod here: worker threads load this alone.
import { bytesSpellHash, sameHash, type HashText } from '../integrity/hasher.js';
import { canonicalBytesEnd, canonicalStringEnd, lastStringPlain, lastStringCodePoints } from '../integrity/canonical-check.js';

// Days per month of RECORDED_AT's isRealRecordedAt (events/envelope.ts), which this must equal.
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Slots per event in a `scanEnvelope` output array. */
export const SCAN_SLOTS = 6;
/** Slot offsets: byte offsets into the event's bytes, the revision, and flags. */
export const SCAN_ID = 0;
export const SCAN_STREAM_START = 1;
export const SCAN_STREAM_END = 2;
export const SCAN_REVISION = 3;
/** Offset of the 64 hex characters of prevHash, or -1 for null. */
export const SCAN_PREV_HASH = 4;
/** 1 when the type is LedgerKeyRotated. */
export const SCAN_ROTATION = 5;

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const OPEN_DATA = latin1('{"data":');
const ID = latin1(',"id":"');
const METADATA_ACTOR = latin1('","metadata":{"actor":');
const CAUSATION_ID = latin1(',"causationId":');
const CORRELATION_ID = latin1(',"correlationId":');
const RECORDED_AT = latin1(',"recordedAt":"');
const PREV_HASH = latin1('"},"prevHash":');
const REVISION = latin1(',"revision":');
const SCHEMA_VERSION = latin1(',"schemaVersion":');
const STREAM = latin1(',"stream":');
const TYPE = latin1(',"type":"');
const ROTATION_TYPE = latin1('LedgerKeyRotated');
const UUID_LENGTH = 36;
const HASH_HEX_LENGTH = 64;
const RECORDED_AT_LENGTH = 24;
const MAX_STRING_CODE_POINTS = 200;

/** Index after `literal` at b[i], or -1. */
function literal(b: Buffer, i: number, lit: Buffer): number {
  if (i < 0 || i + lit.length > b.length) return -1;
  for (let k = 0; k < lit.length; k++) if (b[i + k] !== lit[k]) return -1;
  return i + lit.length;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** 1 for the bytes of lowercase hex digits. */
const LOWER_HEX = new Uint8Array(256);
for (const c of Buffer.from('0123456789abcdef', 'latin1')) LOWER_HEX[c] = 1;

/** By byte: 1 for a lowercase hex digit, 2 for "-" (one load per byte of a UUID). */
const UUID_CLASS = new Uint8Array(256);
for (const c of Buffer.from('0123456789abcdef', 'latin1')) UUID_CLASS[c] = 1;
UUID_CLASS[0x2d] = 2;
/** By position in a UUID: the class its byte must have (8-4-4-4-12). */
const UUID_TEMPLATE = Uint8Array.from({ length: UUID_LENGTH }, (_, k) => (k === 8 || k === 13 || k === 18 || k === 23 ? 2 : 1));

/** EVENT_ID_PATTERN over b[s, s + 36). */
function isEventIdAt(b: Buffer, s: number): boolean {
  if (s + UUID_LENGTH > b.length) return false;
  for (let k = 0; k < UUID_LENGTH; k++) if (UUID_CLASS[b[s + k]!] !== UUID_TEMPLATE[k]) return false;
  const version = b[s + 14]!;
  const variant = b[s + 19]!;
  if (version >= 0x31 && version <= 0x38 && (variant === 0x38 || variant === 0x39 || variant === 0x61 || variant === 0x62)) return true;
  return isUuidOf(b, s, 0x30) || isUuidOf(b, s, 0x66); // the nil and max UUIDs (RFC 9562 §5.9, §5.10)
}

/** Whether every digit of the UUID at b[s] (dashes already checked) is `digit`. */
function isUuidOf(b: Buffer, s: number, digit: number): boolean {
  for (let k = 0; k < UUID_LENGTH; k++) if (UUID_TEMPLATE[k] === 1 && b[s + k] !== digit) return false;
  return true;
}

/** HEX_HASH_PATTERN over b[s, s + 64). */
function isHashHexAt(b: Buffer, s: number): boolean {
  if (s + HASH_HEX_LENGTH > b.length) return false;
  for (let k = 0; k < HASH_HEX_LENGTH; k++) if (LOWER_HEX[b[s + k]!] !== 1) return false;
  return true;
}

/** Decimal value of the digits b[s, s + n), all digits. */
function digitsAt(b: Buffer, s: number, n: number): number {
  let v = 0;
  for (let k = 0; k < n; k++) v = v * 10 + (b[s + k]! - 0x30);
  return v;
}

/** By byte: "0" for every digit, the byte itself otherwise, so a timestamp matches RECORDED_AT_TEMPLATE byte for byte. */
const DIGIT_AS_ZERO = Uint8Array.from({ length: 256 }, (_, c) => (c >= 0x30 && c <= 0x39 ? 0x30 : c));
const RECORDED_AT_TEMPLATE = latin1('0000-00-00T00:00:00.000Z'); // yyyy-mm-ddThh:mm:ss.sssZ

/** RECORDED_AT_PATTERN and isRealRecordedAt over b[s, s + 24). */
function isRecordedAtAt(b: Buffer, s: number): boolean {
  if (s + RECORDED_AT_LENGTH > b.length) return false;
  for (let k = 0; k < RECORDED_AT_LENGTH; k++) if (DIGIT_AS_ZERO[b[s + k]!] !== RECORDED_AT_TEMPLATE[k]) return false;
  const year = digitsAt(b, s, 4);
  const month = digitsAt(b, s + 5, 2);
  const day = digitsAt(b, s + 8, 2);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return false;
  return digitsAt(b, s + 11, 2) <= 23 && digitsAt(b, s + 14, 2) <= 59 && digitsAt(b, s + 17, 2) <= 59;
}

/** Set by `integerAt`: the value of the integer just scanned. */
let integerValue = 0;

/** A non-negative safe integer in canonical spelling at b[i]: index after it, or -1 (a fraction, exponent or sign goes to the text path). */
function integerAt(b: Buffer, i: number): number {
  let j = i;
  while (isDigit(b[j])) j++;
  const n = j - i;
  if (n === 0 || n > 16 || (n > 1 && b[i] === 0x30)) return -1;
  const next = b[j];
  if (next === 0x2e || next === 0x65 || next === 0x45 || next === 0x2d || next === 0x2b) return -1;
  integerValue = digitsAt(b, i, n); // exact up to 2^53; a larger value is not safe either way
  return Number.isSafeInteger(integerValue) ? j : -1;
}

/** A string of `min` to 200 code points (zod's min/max count code points), or null when `nullable`: index after it, or -1. */
function boundedStringAt(b: Buffer, i: number, min: number, nullable: boolean): number {
  if (nullable && b[i] === 0x6e) return literal(b, i, NULL);
  const end = canonicalStringEnd(b, i);
  const codePoints = lastStringCodePoints();
  return end >= 0 && codePoints >= min && codePoints <= MAX_STRING_CODE_POINTS ? end : -1;
}

const NULL = latin1('null');

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isWord(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 0x5f;
}

/** EVENT_TYPE_PATTERN over b[i, …) up to a quote: index of that quote, or -1. */
function eventTypeEnd(b: Buffer, i: number): number {
  const first = b[i];
  if (first === undefined || !isLetter(first)) return -1;
  let j = i + 1;
  let segment = -1; // length of the current dotted segment, -1 before the first dot
  for (;;) {
    const c = b[j];
    if (c === undefined) return -1;
    if (c === QUOTE) return segment === 0 ? -1 : j;
    if (c === 0x2e) {
      if (segment === 0) return -1;
      segment = 0;
    } else if (segment < 0 ? isWord(c) : isWord(c) || c === 0x2d) {
      if (segment >= 0) segment++;
    } else return -1;
    j++;
  }
}

const QUOTE = 0x22;

/**
 * When the stored bytes b are, provably, the RFC 8785 form of a valid envelope: true, with the
 * fields the ordered checks read written to out[at, at + SCAN_SLOTS). False means "not decided
 * here" (invalid, or outside the subset: a non-ASCII or escaped stream name, a member named
 * "__proto__", …): the caller must take the text path. With `prevHashDigitsLater`, the 64 bytes of
 * a prevHash are not checked here: "valid" then holds only if `prevHashDigitsValid` says so, which a
 * caller need not ask once those bytes matched a hash's hex digits (the chain check).
 */
export function scanEnvelope(b: Buffer, out: Float64Array, at: number, prevHashDigitsLater = false): boolean {
  let i = literal(b, 0, OPEN_DATA);
  if (i < 0 || b[i] !== 0x7b) return false;
  i = canonicalBytesEnd(b, i, 2); // the envelope is level 1, data level 2
  const id = literal(b, i, ID);
  if (id < 0 || !isEventIdAt(b, id)) return false;
  i = literal(b, id + UUID_LENGTH, METADATA_ACTOR);
  if (i < 0) return false;
  i = boundedStringAt(b, i, 1, false);
  i = literal(b, i, CAUSATION_ID);
  if (i < 0) return false;
  i = boundedStringAt(b, i, 0, true);
  i = literal(b, i, CORRELATION_ID);
  if (i < 0) return false;
  i = boundedStringAt(b, i, 0, true);
  i = literal(b, i, RECORDED_AT);
  if (i < 0 || !isRecordedAtAt(b, i)) return false;
  i = literal(b, i + RECORDED_AT_LENGTH, PREV_HASH);
  if (i < 0) return false;
  let prevHash = -1;
  if (b[i] === QUOTE) {
    if ((!prevHashDigitsLater && !isHashHexAt(b, i + 1)) || b[i + 1 + HASH_HEX_LENGTH] !== QUOTE) return false;
    prevHash = i + 1;
    i += HASH_HEX_LENGTH + 2;
  } else i = literal(b, i, NULL);
  i = integerAt(b, literal(b, i, REVISION));
  if (i < 0) return false;
  const revision = integerValue;
  i = integerAt(b, literal(b, i, SCHEMA_VERSION));
  if (i < 0 || integerValue === 0) return false;
  const stream = literal(b, i, STREAM);
  if (stream < 0) return false;
  const streamEnd = canonicalStringEnd(b, stream);
  // STREAM_NAME_PATTERN on plain ASCII: no space (the other whitespace and controls are not plain).
  if (streamEnd < 0 || !lastStringPlain() || lastStringCodePoints() < 1 || lastStringCodePoints() > MAX_STRING_CODE_POINTS) return false;
  for (let k = stream + 1; k < streamEnd - 1; k++) if (b[k] === 0x20) return false;
  const type = literal(b, streamEnd, TYPE);
  if (type < 0) return false;
  const typeEnd = eventTypeEnd(b, type);
  if (typeEnd < 0 || typeEnd - type > MAX_STRING_CODE_POINTS || b[typeEnd + 1] !== 0x7d || typeEnd + 2 !== b.length) return false;
  out[at + SCAN_ID] = id;
  out[at + SCAN_STREAM_START] = stream + 1;
  out[at + SCAN_STREAM_END] = streamEnd - 1;
  out[at + SCAN_REVISION] = revision;
  out[at + SCAN_PREV_HASH] = prevHash;
  out[at + SCAN_ROTATION] = typeEnd - type === ROTATION_TYPE.length && literal(b, type, ROTATION_TYPE) === typeEnd ? 1 : 0;
  return true;
}

/** The envelope fields the ordered checks read: from the bytes by `scanEnvelope`, or from an envelope. */
export interface ChainFields {
  readonly id: string;
  readonly stream: string;
  readonly revision: number;
  readonly prevHash: string | null;
  /** The type is LedgerKeyRotated. */
  readonly rotation: boolean;
  /** prevHash is this hash (packed or hex, see HashText) or both are null, without making the prevHash string where it can. */
  prevHashIs(hash: HashText | null): boolean;
}

/** Chain fields located in the bytes: id and prevHash become strings only when a message needs them. */
class ScannedFields implements ChainFields {
  constructor(
    private bytes: Buffer,
    private idAt: number,
    public stream: string,
    public revision: number,
    private prevHashAt: number,
    public rotation: boolean,
  ) {}

  /** Points this object at another scanned event (the single-threaded verifier reuses one). */
  set(bytes: Buffer, idAt: number, stream: string, revision: number, prevHashAt: number, rotation: boolean): this {
    this.bytes = bytes;
    this.idAt = idAt;
    this.stream = stream;
    this.revision = revision;
    this.prevHashAt = prevHashAt;
    this.rotation = rotation;
    return this;
  }

  get id(): string {
    return this.bytes.toString('latin1', this.idAt, this.idAt + UUID_LENGTH);
  }

  get prevHash(): string | null {
    return this.prevHashAt < 0 ? null : this.bytes.toString('latin1', this.prevHashAt, this.prevHashAt + HASH_HEX_LENGTH);
  }

  prevHashIs(hash: HashText | null): boolean {
    if (this.prevHashAt < 0 || hash === null) return hash === null && this.prevHashAt < 0;
    return bytesSpellHash(this.bytes, this.prevHashAt, hash);
  }

  /** HEX_HASH_PATTERN over the prevHash bytes (true for null): what a scan with `prevHashDigitsLater` left out. */
  prevHashDigitsValid(): boolean {
    return this.prevHashAt < 0 || isHashHexAt(this.bytes, this.prevHashAt);
  }
}

class EnvelopeFields implements ChainFields {
  readonly id: string;
  readonly stream: string;
  readonly revision: number;
  readonly prevHash: string | null;
  readonly rotation: boolean;

  constructor(env: EnvelopeChainSource) {
    this.id = env.id;
    this.stream = env.stream;
    this.revision = env.revision;
    this.prevHash = env.prevHash;
    this.rotation = env.type === 'LedgerKeyRotated';
  }

  prevHashIs(hash: HashText | null): boolean {
    if (this.prevHash === null || hash === null) return this.prevHash === hash;
    return typeof this.prevHash === 'string' && sameHash(this.prevHash, hash);
  }
}

/** What `chainFromEnvelope` reads of an envelope. */
export interface EnvelopeChainSource {
  id: string;
  stream: string;
  revision: number;
  prevHash: string | null;
  type: string;
}

/** The chain fields of an envelope that passed the content checks. */
export function chainFromEnvelope(env: EnvelopeChainSource): ChainFields {
  return new EnvelopeFields(env);
}

/** One ChainFields object `chainFromScan` may fill in again and again, for a caller done with it before the next event. */
export type ReusedChain = ScannedFields;

export function reusedChain(): ReusedChain {
  return new ScannedFields(Buffer.alloc(0), 0, '', 0, -1, false);
}

/** Stream names seen lately, by a hash of their bytes (a slot keeps the last name that fell in it). */
const STREAM_NAME_SLOTS = 1024;
const streamNames = new Array<string | undefined>(STREAM_NAME_SLOTS).fill(undefined);

/**
 * The stream name b[s, e) (plain ASCII, as the scan proved, so latin1 is its text): the same string
 * for every event of a stream, made once instead of per event, whose hash the heads Map then
 * computes once too. The bytes are compared with the kept name, so a collision only costs a new string.
 */
function streamNameAt(b: Buffer, s: number, e: number): string {
  let h = 0;
  for (let k = s; k < e; k++) h = (Math.imul(h, 31) + b[k]!) | 0;
  const slot = h & (STREAM_NAME_SLOTS - 1);
  const kept = streamNames[slot];
  if (kept !== undefined && kept.length === e - s) {
    let k = 0;
    while (k < kept.length && kept.charCodeAt(k) === b[s + k]) k++;
    if (k === kept.length) return kept;
  }
  return (streamNames[slot] = b.toString('latin1', s, e));
}

/**
 * The fields `scanEnvelope` located in `bytes` (slots out[at, at + SCAN_SLOTS)), or undefined when
 * the scan did not decide that event (NaN in its first slot). The stream name is plain ASCII.
 * Into `reuse` when given (overwritten by the next call), else a new object.
 */
export function chainFromScan(bytes: Buffer, out: Float64Array, at: number, reuse?: ReusedChain): ChainFields | undefined {
  const id = out[at + SCAN_ID]!;
  if (Number.isNaN(id)) return undefined;
  const stream = streamNameAt(bytes, out[at + SCAN_STREAM_START]!, out[at + SCAN_STREAM_END]!);
  const revision = out[at + SCAN_REVISION]!;
  const prevHash = out[at + SCAN_PREV_HASH]!;
  const rotation = out[at + SCAN_ROTATION] === 1;
  return reuse === undefined ? new ScannedFields(bytes, id, stream, revision, prevHash, rotation) : reuse.set(bytes, id, stream, revision, prevHash, rotation);
}
