import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { canonicalize, MAX_CANONICAL_DEPTH } from '../../src/integrity/canonical.js';
import { canonicalBytesEnd, isCanonicalJson } from '../../src/integrity/canonical-check.js';

/** The definition the fast check must agree with: the text re-serializes to itself. */
function oracle(text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  try {
    return canonicalize(value) === text;
  } catch {
    return false; // e.g. 1e999 parses to Infinity, which JCS refuses
  }
}

// Any code point (well-formed strings): values canonicalize accepts.
const anyJson = fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 });
// Any UTF-16 code units, lone surrogates included: what a hostile writer can put in a JS string.
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyCodeUnits = fc.jsonValue({ stringUnit: codeUnit, maxDepth: 4 });

describe('isCanonicalJson', () => {
  it('accepts the canonical form of any JSON value, including -0', () => {
    fc.assert(
      fc.property(anyJson, (value) => {
        assert.equal(isCanonicalJson(canonicalize(value)), true);
      }),
      { numRuns: 400 },
    );
  });

  it('agrees with re-serialization on JSON.stringify text of any code units, lone surrogates included', () => {
    fc.assert(
      fc.property(anyCodeUnits, (value) => {
        const text = JSON.stringify(value);
        assert.equal(isCanonicalJson(text), oracle(text), text);
      }),
      { numRuns: 400, seed: 8785 },
    );
  });

  it(`rejects nesting deeper than ${MAX_CANONICAL_DEPTH} levels and accepts exactly that many, without overflowing the stack`, () => {
    const nested = (d: number, open: string, close: string): string => open.repeat(d) + close.repeat(d);
    assert.equal(isCanonicalJson(nested(MAX_CANONICAL_DEPTH, '[', ']')), true);
    assert.equal(isCanonicalJson(nested(MAX_CANONICAL_DEPTH + 1, '[', ']')), false);
    assert.equal(isCanonicalJson('{"a":'.repeat(MAX_CANONICAL_DEPTH) + '1' + '}'.repeat(MAX_CANONICAL_DEPTH)), true);
    assert.equal(isCanonicalJson('{"a":'.repeat(MAX_CANONICAL_DEPTH + 1) + '1' + '}'.repeat(MAX_CANONICAL_DEPTH + 1)), false);
    assert.equal(isCanonicalJson(nested(200_000, '[', ']')), false);
    assert.equal(isCanonicalJson(nested(3, '[', ']'), 2), false);
    assert.equal(oracle(nested(MAX_CANONICAL_DEPTH + 1, '[', ']')), false, 'the oracle agrees');
  });

  it('agrees with re-serialization on non-canonical spellings of the same values', () => {
    const spelling = fc.tuple(anyJson, fc.constantFrom(undefined, 0, 1, '\t'), fc.boolean()).map(([value, indent, reverse]) => {
      const reorder = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.map(reorder);
        if (v !== null && typeof v === 'object') {
          const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, reorder(x)] as const);
          return Object.fromEntries(reverse ? entries.reverse() : entries);
        }
        return v;
      };
      return JSON.stringify(reorder(value), null, indent);
    });
    fc.assert(
      fc.property(spelling, (text) => {
        assert.equal(isCanonicalJson(text), oracle(text), text);
      }),
      { numRuns: 400 },
    );
  });

  it('spells decimals as Number-to-String does, on its fast path and off it', () => {
    const digits = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
    const decimal = fc
      .tuple(fc.constantFrom('', '-'), fc.oneof(fc.constant('0'), digits(1, 17)), fc.oneof(digits(0, 3).map((z) => z.replace(/./g, '0')), fc.constant('00000'), fc.constant('000000')), digits(0, 18))
      .map(([sign, int, zeros, frac]) => `${sign}${int}.${zeros}${frac}`);
    const doubles = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => String(x));
    fc.assert(
      fc.property(fc.oneof(decimal, doubles), (token) => {
        const n = Number(token);
        const expected = Number.isFinite(n) && String(n) === token;
        assert.equal(isCanonicalJson(token), expected, token);
        assert.equal(isCanonicalJson(`[${token}]`), expected, token);
      }),
      { numRuns: 50_000 },
    );
    for (const token of ['0.000001', '0.0000001', '123456789012345.6', '12345678901234.5', '0.1', '0.10', '1.5', '01.5', '-0.5', '0.30000000000000004', '1e-7', '1.', '.5']) {
      assert.equal(isCanonicalJson(token), String(Number(token)) === token && /^-?\d/.test(token), token);
    }
  });

  it('agrees with re-serialization on random single-character edits of canonical text', () => {
    const alphabet = fc.constantFrom(' ', '\\', '"', 'u', '0', '1', 'e', 'E', '+', '-', '.', ',', ':', '{', '}', '[', ']', 'a', 'F', '\ud800', '\udc00', '\n');
    fc.assert(
      fc.property(anyJson, fc.nat(), alphabet, fc.constantFrom('insert', 'replace', 'delete'), (value, at, c, edit) => {
        const text = canonicalize(value);
        const i = text.length === 0 ? 0 : at % text.length;
        const edited = edit === 'insert' ? text.slice(0, i) + c + text.slice(i) : edit === 'replace' ? text.slice(0, i) + c + text.slice(i + 1) : text.slice(0, i) + text.slice(i + 1);
        assert.equal(isCanonicalJson(edited), oracle(edited), JSON.stringify(edited));
      }),
      { numRuns: 1500 },
    );
  });

  const cases: [string, boolean][] = [
    ['{"a":1,"b":[true,false,null],"c":"x"}', true],
    ['{"b":1,"a":2}', false],
    ['{"a":1,"a":2}', false],
    ['{"a":1 }', false],
    ['[1, 2]', false],
    ['"\\u0041"', false],
    ['"\\u001f"', true],
    ['"\\u001F"', false],
    ['"\\u000a"', false],
    ['"\\n"', true],
    ['"\\/"', false],
    ['"\\ud800"', false],
    ['"a\\udc00"', false],
    ['{"\\ud800":1}', false],
    ['"\\ud83d\\ude00"', false],
    ['"\ud83d\ude00"', true],
    ['1.0', false],
    ['-0', false],
    ['1E3', false],
    ['1e+21', true],
    ['100000000000000000000', true],
    ['0.000001', true],
    ['1e-7', true],
    ['[1,]', false],
    ['', false],
    ['{"\\r":1,"1":2}', true],
    ['{"1":2,"\\r":1}', false],
  ];
  for (const [text, expected] of cases) {
    it(`${expected ? 'accepts' : 'rejects'} ${JSON.stringify(text)}`, () => {
      assert.equal(isCanonicalJson(text), expected);
      assert.equal(oracle(text), expected, 'the oracle agrees');
    });
  }
});

describe('canonicalBytesEnd (the byte scan)', () => {
  /** The scan vouches for the whole buffer. */
  const vouches = (bytes: Buffer): boolean => canonicalBytesEnd(bytes, 0) === bytes.length;
  /** What it must imply: valid UTF-8 whose text is canonical. */
  const textAccepts = (bytes: Buffer): boolean => isUtf8(bytes) && isCanonicalJson(bytes.toString('utf8'));

  it('vouches only for valid UTF-8 in canonical form: JSON.stringify text of any code units, and byte edits of it', () => {
    const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(anyCodeUnits, fc.array(edit, { maxLength: 2 }), (value, edits) => {
        const bytes = Buffer.from(JSON.stringify(value));
        for (const [at, byte] of edits) if (bytes.length > 0) bytes[at % bytes.length] = byte;
        if (vouches(bytes)) assert.equal(textAccepts(bytes), true, bytes.toString('latin1'));
      }),
      { numRuns: 2000, seed: 8785 },
    );
  });

  it('vouches for the canonical form of any value whose member names are plain ASCII', () => {
    fc.assert(
      fc.property(anyJson, (value) => {
        const text = canonicalize(value);
        const names = [...text.matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => m[1]!);
        if (names.every((n) => /^[\x20-\x7e]*$/.test(n) && !n.includes('\\') && n !== '__proto__')) assert.equal(vouches(Buffer.from(text)), true, text);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses nesting deeper than the limit, as the text check does', () => {
    const nested = (d: number): Buffer => Buffer.from('['.repeat(d) + ']'.repeat(d));
    assert.equal(vouches(nested(MAX_CANONICAL_DEPTH)), true);
    assert.equal(vouches(nested(MAX_CANONICAL_DEPTH + 1)), false);
    assert.equal(vouches(nested(200_000)), false);
  });
});
