// The hostile-input corpus: fast-check arbitraries that turn a decoder's valid samples into the
// inputs an attacker sends — byte flips, truncations, splices of hostile fragments (invalid UTF-8,
// lone-surrogate escapes, "__proto__", nesting far past the limit, NaN and 1e999, YAML tags,
// anchors and aliases), and random bytes. A new decoder joins the suite by listing its valid
// samples and fragments in decoders.ts; this file needs no change.
import fc from 'fast-check';

/** Byte sequences that are not UTF-8: a lone continuation byte, truncated and overlong sequences, an encoded surrogate, 0xff. */
export const INVALID_UTF8: readonly Buffer[] = [[0xff], [0x80], [0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xfe, 0xfe]].map((b) => Buffer.from(b));

/** JSON-level fragments any JSON or YAML decoder must refuse cleanly (or accept as plain data). */
export const JSON_FRAGMENTS: readonly string[] = [
  '"\\ud800"',
  '"x\\udc00y"',
  '{"__proto__":{"polluted":true}}',
  '"__proto__"',
  '1e999',
  '-1e999',
  'NaN',
  '-0',
  '0.1e-400',
  '123456789012345678901234567890',
  '{"a":1,"a":2}',
  '\u0000',
  '\ufeff',
  '"\u2028\u2029"',
  '[' .repeat(5000) + ']'.repeat(5000),
  '{"a":'.repeat(200) + '1' + '}'.repeat(200),
  '['.repeat(70),
  `"${'x'.repeat(10_000)}"`,
  '{"stream":"","type":"","data":null}',
];

/** YAML-level fragments: tags that would build non-JSON values, alias bombs, directives, documents. */
export const YAML_FRAGMENTS: readonly string[] = [
  '!custom x',
  '!!python/object:os.system ls',
  '!!binary aGk=',
  '!!timestamp 2001-01-01',
  '!!set {a, b}',
  '!!omap [a: 1]',
  '&a [*a]',
  'a: &a ["x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c]',
  '<<: *nowhere',
  '%YAML 1.1\n---\n',
  '%TAG ! tag:evil.example,2026:\n---\n',
  '---\n---\n',
  '? [complex, key]\n: value',
  '.inf',
  '.nan',
  '"\\ud800"',
  '__proto__: {x: 1}',
  '\t- tab-indented',
  `${Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')}\n${' '.repeat(300)}x`,
];

export interface CorpusOptions {
  /** Valid inputs of the decoder: mutated, they stay close enough to be parsed far into the decoder. */
  samples: readonly Buffer[];
  /** Decoder-specific hostile fragments, spliced into the samples. */
  fragments: readonly string[];
  /** Largest random input (bytes). */
  maxBytes?: number;
}

const byte = fc.integer({ min: 0, max: 255 });

/** Hostile inputs for one decoder: mutated samples, spliced fragments, invalid UTF-8, random bytes. */
export function hostileInputs(options: CorpusOptions): fc.Arbitrary<Buffer> {
  const { samples, fragments } = options;
  const sample = fc.constantFrom(...samples);
  const fragment = fc.oneof(fc.constantFrom(...fragments).map((f) => Buffer.from(f, 'utf8')), fc.constantFrom(...INVALID_UTF8));
  const at = (b: Buffer): fc.Arbitrary<number> => fc.integer({ min: 0, max: b.length });

  const flipped = sample.chain((b) => fc.array(fc.tuple(fc.nat(Math.max(0, b.length - 1)), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => {
    const copy = Buffer.from(b);
    for (const [i, mask] of flips) if (copy.length > 0) copy[i % copy.length]! ^= mask;
    return copy;
  }));
  const truncated = sample.chain((b) => at(b).map((n) => b.subarray(0, n)));
  const spliced = sample.chain((b) => fc.tuple(at(b), fc.nat(16), fragment).map(([i, cut, f]) => Buffer.concat([b.subarray(0, i), f, b.subarray(Math.min(b.length, i + cut))])));
  const replacedValue = sample.chain((b) => {
    // Swap a JSON or YAML scalar (after ": " or ":") for a fragment: keeps the structure, poisons a value.
    const text = b.toString('utf8');
    const spots = [...text.matchAll(/: ?/g)].map((m) => m.index! + m[0].length);
    if (spots.length === 0) return fc.constant(b);
    return fc.tuple(fc.constantFrom(...spots), fc.constantFrom(...fragments)).map(([i, f]) => {
      const end = text.slice(i).search(/[,}\n\]]/);
      return Buffer.from(text.slice(0, i) + f + text.slice(end < 0 ? text.length : i + end), 'utf8');
    });
  });
  const random = fc.uint8Array({ maxLength: options.maxBytes ?? 512 }).map((a) => Buffer.from(a));
  const repeated = sample.chain((b) => fc.integer({ min: 2, max: 50 }).map((n) => Buffer.concat(Array.from({ length: n }, () => b))));
  const noise = fc.array(byte, { maxLength: 8 }).map((a) => Buffer.from(a));
  const prefixed = fc.tuple(noise, sample).map(([n, b]) => Buffer.concat([n, b]));
  return fc.oneof(
    { arbitrary: flipped, weight: 3 },
    { arbitrary: truncated, weight: 2 },
    { arbitrary: spliced, weight: 4 },
    { arbitrary: replacedValue, weight: 4 },
    { arbitrary: random, weight: 2 },
    { arbitrary: repeated, weight: 1 },
    { arbitrary: prefixed, weight: 1 },
    { arbitrary: sample, weight: 1 },
  );
}
