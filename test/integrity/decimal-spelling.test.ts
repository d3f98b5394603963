import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalBytesEnd } from '../../src/integrity/canonical-check.js';
import { fixedDecimalVerdict } from '../../src/integrity/decimal-spelling.js';

/** The definition: the token is the ECMAScript Number::toString of the number it denotes. */
function spellsItself(token: string): boolean {
  const n = Number(token);
  return Number.isFinite(n) && String(n) === token;
}

function verdict(token: string): number {
  const bytes = Buffer.from(token, 'latin1');
  return fixedDecimalVerdict(bytes, 0, bytes.length);
}

/** A decided verdict equals the definition; the byte scan, which uses it, accepts exactly what the definition accepts. */
function agrees(token: string): void {
  const v = verdict(token);
  if (v >= 0) assert.equal(v === 1, spellsItself(token), `${token}: verdict ${v}, String(Number(token)) is ${String(Number(token))}`);
  assert.equal(canonicalBytesEnd(Buffer.from(`[${token}]`), 0) === token.length + 2, spellsItself(token), `byte scan of ${token}`);
}

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);
/** The double one ulp away from x (towards +∞ for step 1n, −∞ for -1n, x > 0). */
function neighbour(x: number, step: bigint): number {
  f64[0] = x;
  u64[0] = u64[0]! + step;
  return f64[0];
}

/** x's spellings a writer might produce: its own, 15/16/17 significant digits (with and without trailing zeros), negated. */
function spellings(x: number): string[] {
  const out = [String(x)];
  for (const digits of [15, 16, 17]) {
    const s = x.toPrecision(digits);
    out.push(s);
    if (s.includes('.') && !s.includes('e')) out.push(s.replace(/0+$/, '').replace(/\.$/, ''));
  }
  return [...out, ...out.map((s) => `-${s}`)];
}

const digitString = (min: number, max: number): fc.Arbitrary<string> => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));

describe('fixedDecimalVerdict (Number::toString without a string)', () => {
  it('agrees with String(Number(token)) === token on random doubles, their ±1 ulp neighbours, spelled with 15, 16 and 17 digits', () => {
    const magnitude = fc.oneof(fc.double({ min: 1e-7, max: 1e22, noNaN: true }), fc.double({ min: 1e-7, max: 1, noNaN: true }), fc.double({ noNaN: true, noDefaultInfinity: true }));
    fc.assert(
      fc.property(magnitude, (y) => {
        const x = Math.abs(y);
        if (x === 0 || !Number.isFinite(x)) return;
        for (const z of [x, neighbour(x, 1n), neighbour(x, -1n)]) for (const token of spellings(z)) agrees(token);
      }),
      { numRuns: 60_000 },
    );
  });

  it('agrees on random digit strings of 15 to 18 significant digits in fixed notation', () => {
    const small = fc.tuple(fc.constantFrom('', '-'), fc.integer({ min: 0, max: 6 }), digitString(15, 18), fc.integer({ min: 1, max: 9 })).map(([sign, zeros, digits, last]) => `${sign}0.${'0'.repeat(zeros)}${digits.replace(/^0/, '1')}${last}`);
    const large = fc
      .tuple(fc.constantFrom('', '-'), digitString(14, 17), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 17 }))
      .map(([sign, digits, last, intDigits]) => {
        const all = `${digits.replace(/^0/, '1')}${last}`;
        const cut = Math.min(intDigits, all.length - 1);
        return `${sign}${all.slice(0, cut)}.${all.slice(cut)}`;
      });
    fc.assert(
      fc.property(fc.oneof(small, large), (token) => agrees(token)),
      { numRuns: 300_000 },
    );
  });

  it('agrees on one-digit extensions of shorter spellings (a longer decimal that rounds to the same double)', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1e16, noNaN: true }), fc.integer({ min: 13, max: 16 }), (x, digits) => {
        const short = x.toPrecision(digits);
        if (short.includes('e')) return;
        const fixed = short.includes('.') ? short : `${short}.`;
        // The next digit 1 above, and 9 one unit below: both may still round to Number(short).
        const below = (Number(short) - 10 ** (Math.floor(Math.log10(Number(short))) - digits + 1)).toPrecision(digits);
        for (const token of [`${fixed}1`, `${fixed}9`, `${fixed}01`, `${fixed}99`, below.includes('e') ? fixed : `${below.includes('.') ? below : `${below}.`}9`]) agrees(token);
      }),
      { numRuns: 100_000 },
    );
  });

  it('agrees on boundary spellings', () => {
    const boundaries = [
      String(2 ** 53 - 1), String(2 ** 53), String(2 ** 53 + 2), '9007199254740993', '1e21', '1e-7', '5e-324', '1.7976931348623157e308', '-0', '0',
      String(0.1 + 0.2), '0.30000000000000004', '0.3000000000000000', '0.1', '0.000001', '0.0000012345678901234567', '0.00000123456789012345678',
      '9.999999999999999', '9.9999999999999999', '99999999999999.99', '1.0000000000000002', '1.0000000000000001', '0.9999999999999999', '0.99999999999999999',
      '84725468357.60938', '84725468357.60937', '0.5000000000000001', '2.220446049250313e-16', '4503599627370495.5', '4503599627370496.5', '1234567890123456.7',
    ];
    for (const token of boundaries) agrees(token);
    for (let i = 0; i < 20_000; i++) for (const token of spellings(1 / (i + 1))) agrees(token);
  });

  it('decides nearly every 16- and 17-digit telemetry value itself, so String() is the exception', () => {
    let decided = 0;
    let total = 0;
    for (let i = 0; i < 100_000; i++) {
      const token = String(1 / (i + 7));
      if (!/^0\.\d{16,17}$|^0\.0+\d{16,17}$/.test(token) || token.replace(/^0\.0*/, '').length < 16) continue;
      total++;
      if (verdict(token) === 1) decided++;
    }
    assert.ok(total > 50_000, `${total} tokens of 16 or 17 digits`);
    assert.ok(decided >= 0.99 * total, `${decided} of ${total} decided without String()`);
  });
});
