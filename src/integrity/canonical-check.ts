// Is a JSON text already in RFC 8785 (JCS) form? One pass over the text, without building or
// re-serializing a value: the verifier checks every stored event this way. It accepts exactly
// the texts t for which canonicalize(JSON.parse(t)) === t (a property test holds it to that).
//   - no whitespace outside strings (§3.2.1);
//   - strings escaped as ECMAScript JSON.stringify does (§3.2.2.2): only \" \\ \b \f \n \r \t
//     and \u00xx (lowercase) for other controls; no surrogate escapes, since a lone surrogate is
//     an error (§3.2.2.2) and a paired one is written raw;
//   - numbers spelled as ECMAScript Number-to-String spells them (§3.2.2.3), so no -0;
//   - members strictly ascending by UTF-16 code units, hence no duplicates (§3.2.3);
//   - nesting at most `maxDepth` levels (canonicalize's limit, docs/limits.md).
import { MAX_CANONICAL_DEPTH } from './canonical.js';
import { fixedDecimalVerdict } from './decimal-spelling.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Levels of nesting still allowed below the value being scanned (a module variable: cheaper than a parameter on this hot path). */
let room = 0;

/** True when `text` is the RFC 8785 serialization of the JSON value it denotes, nested at most `maxDepth` levels. */
export function isCanonicalJson(text: string, maxDepth: number = MAX_CANONICAL_DEPTH): boolean {
  room = maxDepth;
  return value(text, 0) === text.length;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Index after the value starting at i, or -1. */
function value(t: string, i: number): number {
  switch (t.charCodeAt(i)) {
    case 0x7b: {
      // {
      if (room === 0) return -1;
      room--;
      const end = object(t, i + 1);
      room++;
      return end;
    }
    case 0x5b: {
      // [
      if (room === 0) return -1;
      room--;
      const end = array(t, i + 1);
      room++;
      return end;
    }
    case QUOTE:
      return string(t, i + 1);
    case 0x74: // t
      return t.startsWith('true', i) ? i + 4 : -1;
    case 0x66: // f
      return t.startsWith('false', i) ? i + 5 : -1;
    case 0x6e: // n
      return t.startsWith('null', i) ? i + 4 : -1;
    default:
      return number(t, i);
  }
}

/** Set by `string`: whether the string just scanned contained an escape sequence. */
let escaped = false;

/** Compares t[a, aEnd) with t[b, bEnd) by UTF-16 code units, in place. */
function compareInPlace(t: string, a: number, aEnd: number, b: number, bEnd: number): number {
  const n = Math.min(aEnd - a, bEnd - b);
  for (let k = 0; k < n; k++) {
    const d = t.charCodeAt(a + k) - t.charCodeAt(b + k);
    if (d !== 0) return d;
  }
  return aEnd - a - (bEnd - b);
}

function object(t: string, i: number): number {
  if (t.charCodeAt(i) === 0x7d) return i + 1;
  // The previous member name, as raw text bounds (decoded only when it holds an escape).
  let prevStart = -1;
  let prevEnd = -1;
  let prevEscaped = false;
  for (;;) {
    if (t.charCodeAt(i) !== QUOTE) return -1;
    const end = string(t, i + 1);
    if (end < 0) return -1;
    const keyEscaped = escaped;
    // RFC 8785 §3.2.3: names strictly ascending by UTF-16 code units (so no duplicates either).
    if (prevStart >= 0) {
      const order =
        keyEscaped || prevEscaped
          ? compareDecoded(t.slice(prevStart - 1, prevEnd + 1), t.slice(i, end))
          : compareInPlace(t, prevStart, prevEnd, i + 1, end - 1);
      if (order >= 0) return -1;
    }
    prevStart = i + 1;
    prevEnd = end - 1;
    prevEscaped = keyEscaped;
    if (t.charCodeAt(end) !== COLON) return -1;
    i = value(t, end + 1);
    if (i < 0) return -1;
    const next = t.charCodeAt(i);
    if (next === 0x7d) return i + 1;
    if (next !== COMMA) return -1;
    i++;
  }
}

function array(t: string, i: number): number {
  if (t.charCodeAt(i) === 0x5d) return i + 1;
  for (;;) {
    i = value(t, i);
    if (i < 0) return -1;
    const next = t.charCodeAt(i);
    if (next === 0x5d) return i + 1;
    if (next !== COMMA) return -1;
    i++;
  }
}

const SHORT_ESCAPES = new Set([QUOTE, BACKSLASH, 0x62, 0x66, 0x6e, 0x72, 0x74]); // " \ b f n r t
const SHORT_ESCAPED_CONTROLS = new Set([0x08, 0x0c, 0x0a, 0x0d, 0x09]);

function lowerHex4(t: string, i: number): number {
  let code = 0;
  for (let k = 0; k < 4; k++) {
    const c = t.charCodeAt(i + k);
    let digit: number;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
    else return -1;
    code = code * 16 + digit;
  }
  return code;
}

/** Order of two JSON string literals by their decoded UTF-16 code units. */
function compareDecoded(a: string, b: string): number {
  const x = JSON.parse(a) as string;
  const y = JSON.parse(b) as string;
  return x < y ? -1 : x === y ? 0 : 1;
}

/** i is just after the opening quote; returns the index after the closing quote, or -1. */
function string(t: string, i: number): number {
  const length = t.length;
  escaped = false;
  while (i < length) {
    const c = t.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c !== BACKSLASH) {
      // A raw surrogate must be half of a pair (JSON.stringify escapes unpaired ones).
      if (isHighSurrogate(c)) {
        if (!isLowSurrogate(t.charCodeAt(i + 1))) return -1;
        i += 2;
        continue;
      }
      if (isLowSurrogate(c)) return -1;
      i++;
      continue;
    }
    escaped = true;
    const e = t.charCodeAt(i + 1);
    if (e !== 0x75) {
      if (!SHORT_ESCAPES.has(e)) return -1;
      i += 2;
      continue;
    }
    // Only controls are written as \u00xx, and only those without a short escape.
    const code = lowerHex4(t, i + 2);
    if (code < 0 || code >= 0x20 || SHORT_ESCAPED_CONTROLS.has(code)) return -1;
    i += 6;
  }
  return -1;
}

function number(t: string, i: number): number {
  let j = i;
  let plain = true; // only digits after an optional minus sign
  for (;;) {
    const c = t.charCodeAt(j);
    if (c >= 0x30 && c <= 0x39) j++;
    else if (c === 0x2d && j === i) j++;
    else if (c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) {
      plain = false;
      j++;
    } else break;
  }
  if (j === i) return -1;
  return isCanonicalNumber(t, i, j, plain) ? j : -1;
}

/** Whether the number token t[i, j) is its own Number-to-String; `plain` when it is digits after an optional minus. */
function isCanonicalNumber(t: string, i: number, j: number, plain: boolean): boolean {
  // Fast path: an integer of at most 15 digits without leading zeros is its own Number-to-String.
  const digits = t.charCodeAt(i) === 0x2d ? j - i - 1 : j - i;
  if (plain && digits >= 1 && digits <= 15) {
    const first = t.charCodeAt(j - digits);
    if (first !== 0x30) return true;
    return digits === 1 && j - i === 1; // "0" is canonical; "-0" and "01" are not
  }
  if (!plain && isMinimalFixedDecimal(t, i, j)) return true;
  return isNumberToString(t.slice(i, j));
}

/** Whether `token` is the ECMAScript Number-to-String of the number it denotes. */
function isNumberToString(token: string): boolean {
  const n = Number(token);
  // Number-to-String never yields "-0", "Infinity" spellings only for non-finite values.
  return Number.isFinite(n) && String(n) === token;
}

const MAX_EXACT_DIGITS = 15;

/**
 * Fast path for t[i, j): `-?I.F` with I "0" or without a leading zero, F ending in a non-zero
 * digit, at most 15 significant digits, and at most 5 zeros between "0." and the first significant
 * digit. Such a decimal is its own Number-to-String: binary64 round-trips every decimal of at most
 * 15 significant digits, so no shorter decimal names the same value and ECMA-262 Number::toString
 * picks exactly these digits, laid out in fixed notation for 1e-6 <= |x| < 1e21 (§6.1.6.1.20).
 * Spares String(Number(token)) for most telemetry values; anything else takes that path.
 */
function isMinimalFixedDecimal(t: string, i: number, j: number): boolean {
  let k = t.charCodeAt(i) === 0x2d ? i + 1 : i;
  const intStart = k;
  while (k < j && t.charCodeAt(k) >= 0x30 && t.charCodeAt(k) <= 0x39) k++;
  const intDigits = k - intStart;
  if (intDigits === 0 || k >= j || t.charCodeAt(k) !== 0x2e) return false;
  const zeroInt = t.charCodeAt(intStart) === 0x30;
  if (zeroInt && intDigits !== 1) return false; // "01.5"
  const fracStart = k + 1;
  for (k = fracStart; k < j; k++) {
    const c = t.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return false; // an exponent, a second point or sign
  }
  const fracDigits = j - fracStart;
  if (fracDigits === 0 || t.charCodeAt(j - 1) === 0x30) return false; // "1." or a trailing zero
  if (!zeroInt) return intDigits + fracDigits <= MAX_EXACT_DIGITS;
  let zeros = 0;
  while (t.charCodeAt(fracStart + zeros) === 0x30) zeros++;
  return zeros <= 5 && fracDigits - zeros <= MAX_EXACT_DIGITS;
}

// ---------------------------------------------------------------------------------------------
// The same check over UTF-8 bytes, for the verifier's hot path: it proves UTF-8 validity, JSON
// syntax and RFC 8785 form in one pass, with no decode, no JSON.parse and no string per value.
// It may only vouch where isUtf8 + JSON.parse + isCanonicalJson would all accept; anything outside
// its subset (member names with escapes or non-ASCII, "__proto__" members) it leaves undecided (-1),
// and the caller takes the text path, whose verdict and message decide. Property-tested against it.

/** Levels of nesting still allowed (the byte scan's twin of `room`). */
let byteRoom = 0;
/** Set by `bytesString`: the code points of the string just scanned (what zod's string min/max count), and whether it was plain ASCII without escapes. */
let stringCodePoints = 0;
let stringPlain = true;

/**
 * Index after the RFC 8785 value at bytes[i], which sits `depth` levels deep (the top value is
 * level 1), or -1 when the scan cannot vouch for it (see above). Valid UTF-8 throughout.
 */
export function canonicalBytesEnd(bytes: Buffer, i: number, depth = 1, maxDepth: number = MAX_CANONICAL_DEPTH): number {
  byteRoom = maxDepth - depth + 1;
  return bytesValue(bytes, i);
}

/** Index after the string whose opening quote is at bytes[i], or -1; `lastStringCodePoints` and `lastStringPlain` describe it. */
export function canonicalStringEnd(bytes: Buffer, i: number): number {
  return bytes[i] === QUOTE ? bytesString(bytes, i + 1) : -1;
}

export function lastStringCodePoints(): number {
  return stringCodePoints;
}

export function lastStringPlain(): boolean {
  return stringPlain;
}

function bytesValue(b: Buffer, i: number): number {
  switch (b[i]) {
    case 0x7b: {
      if (byteRoom === 0) return -1;
      byteRoom--;
      const end = bytesObject(b, i + 1);
      byteRoom++;
      return end;
    }
    case 0x5b: {
      if (byteRoom === 0) return -1;
      byteRoom--;
      const end = bytesArray(b, i + 1);
      byteRoom++;
      return end;
    }
    case QUOTE:
      return bytesString(b, i + 1);
    case 0x74: // true
      return b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65 ? i + 4 : -1;
    case 0x66: // false
      return b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65 ? i + 5 : -1;
    case 0x6e: // null
      return b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c ? i + 4 : -1;
    default:
      return bytesNumber(b, i);
  }
}

const PROTO = Buffer.from('__proto__');

function bytesObject(b: Buffer, i: number): number {
  if (b[i] === 0x7d) return i + 1;
  let prevStart = -1;
  let prevEnd = -1;
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    const end = bytesString(b, i + 1);
    // Names with escapes or non-ASCII (UTF-8 order is not UTF-16 order everywhere) take the text path.
    if (end < 0 || !stringPlain) return -1;
    const start = i + 1;
    const nameEnd = end - 1;
    if (nameEnd - start === PROTO.length && compareBytes(b, start, nameEnd, PROTO, 0, PROTO.length) === 0) return -1;
    // RFC 8785 §3.2.3: ASCII names ascend bytewise exactly as by UTF-16 code units.
    if (prevStart >= 0 && compareBytes(b, prevStart, prevEnd, b, start, nameEnd) >= 0) return -1;
    prevStart = start;
    prevEnd = nameEnd;
    if (b[end] !== COLON) return -1;
    i = bytesValue(b, end + 1);
    if (i < 0) return -1;
    const next = b[i];
    if (next === 0x7d) return i + 1;
    if (next !== COMMA) return -1;
    i++;
  }
}

/** Compares a[aStart, aEnd) with b[bStart, bEnd) bytewise (a loop: member names are short, a native call costs more). */
function compareBytes(a: Buffer, aStart: number, aEnd: number, b: Buffer, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  for (let k = 0; k < n; k++) {
    const d = a[aStart + k]! - b[bStart + k]!;
    if (d !== 0) return d;
  }
  return aEnd - aStart - (bEnd - bStart);
}

function bytesArray(b: Buffer, i: number): number {
  if (b[i] === 0x5d) return i + 1;
  for (;;) {
    i = bytesValue(b, i);
    if (i < 0) return -1;
    const next = b[i];
    if (next === 0x5d) return i + 1;
    if (next !== COMMA) return -1;
    i++;
  }
}

function isContinuation(c: number | undefined): boolean {
  return c !== undefined && (c & 0xc0) === 0x80;
}

function inRange(c: number | undefined, lo: number, hi: number): boolean {
  return c !== undefined && c >= lo && c <= hi;
}

/** i is just after the opening quote; returns the index after the closing quote, or -1. */
function bytesString(b: Buffer, i: number): number {
  const length = b.length;
  let codePoints = 0;
  let plain = true;
  while (i < length) {
    const c = b[i]!;
    if (c === QUOTE) {
      stringCodePoints = codePoints;
      stringPlain = plain;
      return i + 1;
    }
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      plain = false;
      codePoints++;
      const e = b[i + 1];
      if (e !== 0x75) {
        if (e === undefined || !SHORT_ESCAPES.has(e)) return -1;
        i += 2;
        continue;
      }
      const code = lowerHex4Bytes(b, i + 2);
      if (code < 0 || code >= 0x20 || SHORT_ESCAPED_CONTROLS.has(code)) return -1;
      i += 6;
      continue;
    }
    if (c < 0x80) {
      codePoints++;
      i++;
      continue;
    }
    plain = false;
    // RFC 3629 §4 well-formed sequences: no overlong forms, no surrogates (so no lone one), at most U+10FFFF.
    if (c >= 0xc2 && c <= 0xdf) {
      if (!isContinuation(b[i + 1])) return -1;
      codePoints++;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (!inRange(b[i + 1], c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf) || !isContinuation(b[i + 2])) return -1;
      codePoints++;
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (!inRange(b[i + 1], c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf) || !isContinuation(b[i + 2]) || !isContinuation(b[i + 3])) return -1;
      codePoints++;
      i += 4;
    } else return -1;
  }
  return -1;
}

function lowerHex4Bytes(b: Buffer, i: number): number {
  let code = 0;
  for (let k = 0; k < 4; k++) {
    const c = b[i + k];
    let digit: number;
    if (c === undefined) return -1;
    if (c >= 0x30 && c <= 0x39) digit = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) digit = c - 0x61 + 10;
    else return -1;
    code = code * 16 + digit;
  }
  return code;
}

function bytesNumber(b: Buffer, i: number): number {
  let j = i;
  let plain = true;
  for (;;) {
    const c = b[j];
    if (c === undefined) break;
    if (c >= 0x30 && c <= 0x39) j++;
    else if (c === 0x2d && j === i) j++;
    else if (c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) {
      plain = false;
      j++;
    } else break;
  }
  if (j === i) return -1;
  // The common case, a short integer, without making a string (as isCanonicalNumber decides it).
  const digits = b[i] === 0x2d ? j - i - 1 : j - i;
  if (plain && digits >= 1 && digits <= 15 && b[j - digits] !== 0x30) return j;
  if (!plain && isMinimalFixedDecimalBytes(b, i, j)) return j;
  // What isCanonicalNumber decides past the two fast paths above (both already false here).
  if (plain && digits >= 1 && digits <= 15) return digits === 1 && j - i === 1 ? j : -1; // "0"; not "-0", "01"
  // 16- and 17-digit fixed decimals (most measured values), decided without a string where exactness allows.
  if (!plain) {
    const verdict = fixedDecimalVerdict(b, i, j);
    if (verdict >= 0) return verdict === 1 ? j : -1;
  }
  // ASCII only, so latin1 is the text.
  const token = b.toString('latin1', i, j);
  return isNumberToString(token) ? j : -1;
}

/** isMinimalFixedDecimal over bytes (its twin, without making the token a string; see there for why it holds). */
function isMinimalFixedDecimalBytes(b: Buffer, i: number, j: number): boolean {
  let k = b[i] === 0x2d ? i + 1 : i;
  const intStart = k;
  while (k < j && b[k]! >= 0x30 && b[k]! <= 0x39) k++;
  const intDigits = k - intStart;
  if (intDigits === 0 || k >= j || b[k] !== 0x2e) return false;
  const zeroInt = b[intStart] === 0x30;
  if (zeroInt && intDigits !== 1) return false;
  const fracStart = k + 1;
  for (k = fracStart; k < j; k++) if (b[k]! < 0x30 || b[k]! > 0x39) return false;
  const fracDigits = j - fracStart;
  if (fracDigits === 0 || b[j - 1] === 0x30) return false;
  if (!zeroInt) return intDigits + fracDigits <= MAX_EXACT_DIGITS;
  let zeros = 0;
  while (b[fracStart + zeros] === 0x30) zeros++;
  return zeros <= 5 && fracDigits - zeros <= MAX_EXACT_DIGITS;
}
