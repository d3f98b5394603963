import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalBytes, canonicalize, CanonicalizationError, MAX_CANONICAL_DEPTH } from '../../src/integrity/canonical.js';

/** IEEE 754 double from its 16-hex-digit bit pattern. */
function double(bits: string): number {
  return Buffer.from(bits, 'hex').readDoubleBE(0);
}

describe('canonicalize (RFC 8785 JCS)', () => {
  // RFC 8785 Appendix B, "Number Serialization Samples": IEEE 754 bit pattern -> JCS text.
  const numberSamples: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];

  for (const [bits, text] of numberSamples) {
    it(`serializes the double ${bits} as ${text} (RFC 8785 Appendix B)`, () => {
      assert.equal(canonicalize(double(bits)), text);
    });
  }

  it('rejects NaN and Infinity (RFC 8785 Appendix B, note 3)', () => {
    assert.throws(() => canonicalize(double('7fffffffffffffff')), CanonicalizationError);
    assert.throws(() => canonicalize(double('7ff0000000000000')), CanonicalizationError);
    assert.throws(() => canonicalize({ a: [1, -Infinity] }), /non-finite number at a\[1\]/);
  });

  it('sorts members by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // Compare text, not Object.keys: JS enumerates integer-like keys such as "1" first.
    const expected =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    assert.equal(canonicalize(input), expected);
  });

  it('reproduces the RFC 8785 §3.2.2 example output byte for byte', () => {
    // Input and output of the RFC's example (also cyberphone/json-canonicalization testdata/values.json).
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    assert.equal(canonicalize(JSON.parse(input)), expected);
    assert.deepEqual(canonicalBytes(JSON.parse(input)), Buffer.from(expected, 'utf8'));
  });

  it('sorts nested objects and keeps array order', () => {
    assert.equal(canonicalize({ b: [3, { z: 1, a: 2 }], a: null }), '{"a":null,"b":[3,{"a":2,"z":1}]}');
  });

  it('refuses values JSON cannot carry', () => {
    assert.throws(() => canonicalize({ a: 1n }), CanonicalizationError);
    assert.throws(() => canonicalize({ f: () => 1 }), CanonicalizationError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.throws(() => canonicalize(cycle), /cycle at self/);
  });

  it('refuses lone surrogates in strings and member names (RFC 8785 §3.2.2.2), accepts pairs', () => {
    assert.throws(() => canonicalize({ s: '\ud800x' }), /lone surrogate.* at s$/);
    assert.throws(() => canonicalize(['ok', 'x\udc00']), /lone surrogate.* at \[1\]$/);
    assert.throws(() => canonicalize({ ['k\ud83d']: 1 }), CanonicalizationError);
    assert.equal(canonicalize({ e: '\ud83d\ude00' }), '{"e":"\ud83d\ude00"}');
  });

  it('refuses objects that are not plain instead of writing them as {}', () => {
    class Point {
      x = 1;
    }
    const refused: [string, unknown][] = [
      ['Date', new Date(0)],
      ['Map', new Map([['a', 1]])],
      ['Set', new Set([1])],
      ['Uint8Array', new Uint8Array([1, 2])],
      ['Float64Array', new Float64Array(2)],
      ['Buffer', Buffer.from('hi')],
      ['Point', new Point()],
      ['RegExp', /x/],
      ['Number', Object(1)],
      ['an object with a custom prototype', Object.create({ inherited: 1 }) as object],
    ];
    for (const [kind, value] of refused) {
      assert.throws(() => canonicalize({ data: { v: value } }), new RegExp(`: ${kind} is not a plain JSON object or array at data\\.v$`), kind);
    }
    class List extends Array {}
    assert.throws(() => canonicalize(List.from([1])), /List is not a plain/);
    assert.equal(canonicalize(Object.assign(Object.create(null), { b: 1, a: 2 })), '{"a":2,"b":1}', 'a null-prototype record is plain');
  });

  it(`refuses nesting deeper than ${MAX_CANONICAL_DEPTH} levels (or maxDepth) with a CanonicalizationError, never a RangeError`, () => {
    const nest = (d: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < d; i++) v = [v];
      return v;
    };
    assert.equal(canonicalize(nest(MAX_CANONICAL_DEPTH)), '['.repeat(MAX_CANONICAL_DEPTH) + '1' + ']'.repeat(MAX_CANONICAL_DEPTH));
    assert.throws(() => canonicalize(nest(MAX_CANONICAL_DEPTH + 1)), new RegExp(`nesting deeper than ${MAX_CANONICAL_DEPTH} levels at \\[0\\]`));
    assert.throws(() => canonicalize(nest(200_000)), CanonicalizationError);
    assert.throws(() => canonicalize({ a: { b: {} } }, { maxDepth: 2 }), /nesting deeper than 2 levels at a\.b$/);
    assert.equal(canonicalize({ a: { b: 1 } }, { maxDepth: 2 }), '{"a":{"b":1}}');
  });

  it('writes objects of repeating shapes as a sort-and-stringify oracle does, whatever their key order (property)', () => {
    // The oracle: keys sorted by Array.prototype.sort (UTF-16 code units, RFC 8785 §3.2.3), the rest JSON.stringify.
    const oracle = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map((item: unknown) => oracle(item === undefined ? null : item)).join(",")}]`;
      if (value !== null && typeof value === 'object') {
        const record = value as Record<string, unknown>;
        return `{${Object.keys(record).sort().filter((k) => record[k] !== undefined).map((k) => `${JSON.stringify(k)}:${oracle(record[k])}`).join(',')}}`;
      }
      return JSON.stringify(value);
    };
    // Few names, so shapes repeat (and member orders are reused) across a sequence, in any insertion order.
    const name = fc.constantFrom('a', 'b', 'B', 'aa', 'é', '\u{1f600}', 'z\u0000', '"q"', '10', '2', '');
    const leaf = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 4 }), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, leaf, tie('object'), fc.array(tie('tree'), { maxLength: 3 })),
      object: fc.array(fc.tuple(name, tie('tree')), { maxLength: 6 }).map((members) => {
        const record: Record<string, unknown> = {};
        for (const [key, value] of members) record[key] = value;
        return record;
      }),
    }));
    fc.assert(
      fc.property(fc.array(tree, { minLength: 1, maxLength: 12 }), (values) => {
        for (const value of values) if (value !== undefined) assert.equal(canonicalize(value), oracle(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes the same keys in another insertion order sorted, also after that shape was written', () => {
    assert.equal(canonicalize({ b: 1, a: 2, c: 3 }), '{"a":2,"b":1,"c":3}');
    assert.equal(canonicalize({ c: 3, b: 1, a: 2 }), '{"a":2,"b":1,"c":3}');
    assert.equal(canonicalize({ b: 1, a: 2, c: 3 }), '{"a":2,"b":1,"c":3}');
    assert.equal(canonicalize({ b: 1, a: 2, d: 3 }), '{"a":2,"b":1,"d":3}');
    assert.throws(() => canonicalize({ b: 1, ['a\ud800']: 2 }), /lone surrogate/);
    assert.equal(canonicalize({ b: 1, ['a\ud800']: undefined }), '{"b":1}');
  });

  it('writes an own member named __proto__ as data (the decoders of untrusted text refuse it)', () => {
    assert.equal(canonicalize(JSON.parse('{"b":1,"a":{"__proto__":{"x":1}}}')), '{"a":{"__proto__":{"x":1}},"b":1}');
  });

  it('never throws anything but a CanonicalizationError on any value (property)', () => {
    fc.assert(
      fc.property(fc.anything({ stringUnit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), withDate: true, withMap: true, withSet: true, withTypedArray: true, withBigInt: true, withNullPrototype: true, withSparseArray: true, maxDepth: 5 }), (value) => {
        try {
          canonicalize(value);
        } catch (err) {
          assert.ok(err instanceof CanonicalizationError, String(err));
        }
      }),
      { seed: 17, numRuns: 500 },
    );
  });

  it('writes every well-formed string as JSON.stringify does and refuses every lone surrogate, short or long (property)', () => {
    // Code units biased to the ones a fast path must not pass through unescaped: controls, quote,
    // backslash, the surrogate range and its edges.
    const unit = fc.oneof(
      fc.constantFrom(0x00, 0x1f, 0x20, 0x22, 0x5c, 0x7f, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff),
      fc.integer({ min: 0x20, max: 0x7e }),
      fc.integer({ min: 0, max: 0xffff }),
    );
    const text = fc.array(unit, { maxLength: 80 }).map((units) => String.fromCharCode(...units));
    fc.assert(
      fc.property(text, (s) => {
        for (const value of [s, { [s]: s }]) {
          if (s.isWellFormed()) assert.equal(canonicalize(value), JSON.stringify(value));
          else assert.throws(() => canonicalize(value), CanonicalizationError);
        }
      }),
      { seed: 23, numRuns: 3000 },
    );
  });
});
