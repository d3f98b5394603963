// Is a 16- or 17-digit fixed-notation decimal the ECMAScript Number::toString of its own value
// (ECMA-262 §6.1.6.1.20), decided without making a string? `String(Number(token)) === token`
// costs a parse, a shortest-digits search and a string; this decides the same from the digits and
// exact double arithmetic, and says "undecided" wherever the exactness argument does not reach.
//
// For t = m·10^q (m of k digits, last digit not 0) and d the double nearest t, Number::toString(d)
// spells t iff (A) no decimal of fewer digits rounds to d and (B) no k-digit decimal is closer to d.
// (A): any shorter decimal near t is a multiple of 10^(q+1), and the reals rounding to d form an
// interval, so it suffices that neither multiple of 10^(q+1) next to t lies within half an ulp of d.
// (B): t is the multiple of 10^q nearest d iff |d − t| < 10^q / 2.
// Both need d − t in units of 10^q, R = d·10^−q − m: d·10^−q is exact as a double-double (Dekker's
// product; 10^−q ≤ 10^22 is an exact double) and m is held as two exact integers, so R is known to
// within a few 1e-15. Ties, power-of-two doubles (an uneven rounding interval) and anything within
// EPSILON of a boundary stay undecided.

/** Power-of-ten doubles that are exact (10^22 is the last). */
const EXACT_POW10 = Array.from({ length: 23 }, (_, n) => Number(`1e${n}`));
/** Margin (units of 10^q) far above R's rounding error (< 1e-14) and far below any decided gap. */
const EPSILON = 2 ** -20;
/** Veltkamp's splitter for binary64: 2^27 + 1. */
const SPLITTER = 134_217_729;
const LOW_DIGITS = 1e8;

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // the word holding sign and exponent
const LOW = 1 - HIGH;

/** Half an ulp of the positive normal double d, or -1 when d is a power of two (its rounding interval is uneven) or too small. */
function halfUlp(d: number): number {
  bits[0] = d;
  const high = words[HIGH]!;
  const exponent = high >>> 20;
  if (((high & 0xfffff) === 0 && words[LOW] === 0) || exponent <= 53) return -1;
  words[HIGH] = (exponent - 53) << 20;
  words[LOW] = 0;
  return bits[0];
}

/** Set by `residual`: the low word of Dekker's product, the high word being returned. */
let productLow = 0;

/** d·p rounded, with `productLow` holding the exact rest (Dekker's TwoProduct). */
function product(d: number, p: number): number {
  const hi = d * p;
  let c = SPLITTER * d;
  const dh = c - (c - d);
  const dl = d - dh;
  c = SPLITTER * p;
  const ph = c - (c - p);
  const pl = p - ph;
  productLow = dh * ph - hi + dh * pl + dl * ph + dl * pl;
  return hi;
}

/** d·10^fraction − m for m = high·1e8 + low, exact up to one final rounding. */
function residual(d: number, pow: number, high: number, low: number): number {
  const p = product(d, pow);
  // p ≈ m ≥ 1e15 > 2·1e8, so both subtractions are exact (Sterbenz; then small multiples of ulp(p)).
  return p - high * LOW_DIGITS - low + productLow;
}

/**
 * 1 when b[i, j) is a fixed decimal `-?I.F` of 16 or 17 significant digits that Number::toString
 * spells exactly so, 0 when it is such a decimal and it does not, -1 when this cannot tell (any
 * other shape, or too close to call): the caller then decides with String(Number(token)).
 */
export function fixedDecimalVerdict(b: Uint8Array, i: number, j: number): number {
  let k = b[i] === 0x2d ? i + 1 : i;
  const intStart = k;
  while (k < j && b[k]! >= 0x30 && b[k]! <= 0x39) k++;
  const intDigits = k - intStart;
  if (intDigits === 0 || k >= j || b[k] !== 0x2e) return -1;
  const point = k;
  const zeroInt = b[intStart] === 0x30;
  if (zeroInt && intDigits !== 1) return -1;
  const fracDigits = j - point - 1;
  if (fracDigits === 0 || b[j - 1] === 0x30) return -1;
  let first = intStart; // first significant digit
  if (zeroInt) {
    first = point + 1;
    while (first < j && b[first] === 0x30) first++;
    if (first - point - 1 > 5) return -1; // below 1e-6 Number::toString uses an exponent
  }
  const significant = zeroInt ? j - first : intDigits + fracDigits;
  if (significant < 16 || significant > 17) return -1;
  // m = high·1e8 + low, low the last 8 digits: each part an exact integer.
  let high = 0;
  let low = 0;
  let seen = 0;
  for (k = first; k < j; k++) {
    const c = b[k]!;
    if (c === 0x2e) continue;
    if (c < 0x30 || c > 0x39) return -1;
    if (seen < significant - 8) high = high * 10 + (c - 0x30);
    else low = low * 10 + (c - 0x30);
    seen++;
  }
  const pow = EXACT_POW10[fracDigits]!; // fracDigits ≤ 5 + 17 = 22
  // A first guess at d = Number(token), then at most one step to the double whose rounding interval holds t.
  let d = (high * LOW_DIGITS + low) / pow;
  let half = halfUlp(d);
  if (half < 0) return -1;
  let r = residual(d, pow, high, low);
  let h = half * pow; // half an ulp of d in units of 10^q (exact: a power of two times an exact double)
  if (Math.abs(r) > h - EPSILON) {
    if (Math.abs(r) < h + EPSILON || Math.abs(r) > 3 * h) return -1;
    d = r > 0 ? d - 2 * half : d + 2 * half; // the neighbour on t's side
    half = halfUlp(d);
    if (half < 0) return -1;
    r = residual(d, pow, high, low);
    h = half * pow;
    if (Math.abs(r) > h - EPSILON) return -1;
  }
  // (B) t is the k-digit decimal nearest d.
  const ar = Math.abs(r);
  if (ar > 0.5 + EPSILON) return 0;
  if (ar > 0.5 - EPSILON) return -1;
  // (A) neither (k−1)-digit neighbour of t, m − m mod 10 and that + 10, rounds to d.
  const last = low % 10;
  const below = Math.abs(r + last);
  const above = Math.abs(r + last - 10);
  if (below < h - EPSILON || above < h - EPSILON) return 0;
  if (below < h + EPSILON || above < h + EPSILON) return -1;
  return 1;
}
