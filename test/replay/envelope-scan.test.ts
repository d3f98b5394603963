// The byte scan of stored envelopes says "valid" only where the text path (isUtf8, JSON.parse,
// isCanonicalJson, "__proto__", the Envelope schema) does, locates exactly the fields JSON.parse
// reads, and decides every genuine envelope with ASCII member names (so genuine logs stay fast).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalize } from '../../src/integrity/canonical.js';
import { chainFromScan, reusedChain, scanEnvelope, SCAN_SLOTS } from '../../src/replay/envelope-scan.js';
import { contentDivergence } from '../../src/replay/verify-log.js';
import { recordFromCanonical } from '../../src/store/recorded.js';
import { genuine, mutated } from './envelope-arbitraries.js';
import { buildLog, withDataText } from './verify-log-fixtures.js';

/** The text path's verdict on bytes a store decodes on demand. */
function textPathAccepts(bytes: Buffer): boolean {
  return contentDivergence(recordFromCanonical(0, 0, bytes, ''), 0) === undefined;
}

/** The scan's fields, or undefined when it leaves the bytes undecided. */
function scanned(bytes: Buffer): Record<string, unknown> | undefined {
  const out = new Float64Array(SCAN_SLOTS);
  if (!scanEnvelope(bytes, out, 0)) return undefined;
  const chain = chainFromScan(bytes, out, 0)!;
  return { id: chain.id, stream: chain.stream, revision: chain.revision, prevHash: chain.prevHash, rotation: chain.rotation };
}

function parsedFields(bytes: Buffer): Record<string, unknown> {
  const env = JSON.parse(bytes.toString('utf8')) as { id: string; stream: string; revision: number; prevHash: string | null; type: string };
  return { id: env.id, stream: env.stream, revision: env.revision, prevHash: env.prevHash, rotation: env.type === 'LedgerKeyRotated' };
}

/** The scan's verdict must imply the text path's, with the same fields. */
function assertSafe(bytes: Buffer): boolean {
  const fields = scanned(bytes);
  if (fields === undefined) return false;
  assert.equal(textPathAccepts(bytes), true, `scan accepted what the text path refuses: ${bytes.toString('latin1')}`);
  assert.deepEqual(fields, parsedFields(bytes));
  return true;
}

/** Names and strings without escapes or non-ASCII: inside the scan's subset. */
function plainAscii(value: unknown): boolean {
  return /^[\x20-\x7e]*$/.test(JSON.stringify(value)) && !/\\|__proto__/.test(JSON.stringify(value));
}

describe('scanEnvelope (the verifier\'s byte scan)', () => {
  it('decides every envelope of a sealed log, with the fields JSON.parse reads', () => {
    for (const event of buildLog()) assert.equal(assertSafe(Buffer.from(event.canonical)), true);
  });

  it('names each event\'s own stream when thousands of same-length names share the kept-name slots', () => {
    // 5,000 names of one length in 1,024 slots: slots collide, and a kept name must never stand in for another.
    const plan = Array.from({ length: 5000 }, (_, k) => `st-${String(k).padStart(4, '0')}`);
    const log = buildLog([...plan, ...plan.slice().reverse()]);
    for (const event of log) assert.equal(scanned(Buffer.from(event.canonical))?.stream, event.envelope.stream);
  });

  it('decides the canonical bytes of every genuine envelope with plain ASCII text, and is right about the others', () => {
    let decided = 0;
    fc.assert(
      fc.property(genuine, (env) => {
        const bytes = Buffer.from(canonicalize(env));
        const ok = assertSafe(bytes);
        if (plainAscii(env)) assert.equal(ok, true, bytes.toString());
        if (ok) decided++;
      }),
      { numRuns: 2000 },
    );
    assert.ok(decided > 500, `most genuine envelopes are decided by the scan (${decided})`);
  });

  it('never says valid where the text path refuses: altered envelopes, canonical or not', () => {
    let refused = 0;
    fc.assert(
      fc.property(mutated, fc.boolean(), (value, canonical) => {
        let text: string;
        try {
          text = canonical ? canonicalize(value) : JSON.stringify(value);
        } catch {
          text = JSON.stringify(value);
        }
        const bytes = Buffer.from(text);
        if (!textPathAccepts(bytes)) refused++;
        assertSafe(bytes);
      }),
      { numRuns: 5000 },
    );
    assert.ok(refused > 1000, `the generator produces refused bytes (${refused})`);
  });

  it('never says valid where the text path refuses: byte edits of genuine bytes', () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
    );
    fc.assert(
      fc.property(genuine, fc.array(edit, { minLength: 1, maxLength: 3 }), (env, edits) => {
        let bytes = Buffer.from(canonicalize(env));
        for (const e of edits) {
          const at = e.at % (bytes.length + 1);
          if (e.kind === 'set' && at < bytes.length) bytes[at] = e.byte;
          else if (e.kind === 'delete') bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + e.length)]);
          else if (e.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(e.bytes), bytes.subarray(at)]);
        }
        assertSafe(bytes);
      }),
      { numRuns: 5000 },
    );
  });

  it('leaves malformed UTF-8, non-canonical text and "__proto__" members in the data undecided (the text path refuses them)', () => {
    const [event] = buildLog();
    const env = event!.envelope as unknown as Record<string, unknown>;
    const withData = (dataText: string): Buffer => Buffer.from(withDataText(env, dataText));
    const cases: Buffer[] = [
      // overlong "/", a UTF-16 surrogate in UTF-8 (CESU), a code point above U+10FFFF, a truncated sequence
      Buffer.concat([withData('{"a":"x"}').subarray(0, 14), Buffer.from([0xc0, 0xaf]), withData('{"a":"x"}').subarray(15)]),
      Buffer.concat([withData('{"a":"x"}').subarray(0, 14), Buffer.from([0xed, 0xa0, 0x80]), withData('{"a":"x"}').subarray(15)]),
      Buffer.concat([withData('{"a":"x"}').subarray(0, 14), Buffer.from([0xf4, 0x90, 0x80, 0x80]), withData('{"a":"x"}').subarray(15)]),
      Buffer.concat([withData('{"a":"x"}').subarray(0, 14), Buffer.from([0xe2, 0x82]), withData('{"a":"x"}').subarray(15)]),
      withData('{"b":1,"a":2}'),
      withData('{"a":1,"a":2}'),
      withData('{"a":1.0}'),
      withData('{"a":1e2}'),
      withData('{"a":-0}'),
      withData('{"a":01}'),
      withData('{"a":"\\u0041"}'),
      withData('{"a":"\\u001F"}'),
      withData('{"a":"\\/"}'),
      withData('{"__proto__":{}}'),
      withData('{"a":[{"__proto__":1}]}'),
      withData('{"a": 1}'),
      withData('{"a":tru}'),
      withData('[]'),
    ];
    for (const bytes of cases) {
      assert.equal(textPathAccepts(bytes), false, bytes.toString('latin1'));
      assert.equal(scanned(bytes), undefined, bytes.toString('latin1'));
    }
    // and the same shapes, well formed, are decided
    for (const good of ['{"a":"x€😀"}', '{"a":"\\u001f\\n"}', '{"a":1.5,"b":0.16666666666666666,"c":-3,"d":1e+21}', '{"a":[true,false,null,{}]}']) {
      assert.equal(assertSafe(withData(good)), true, good);
    }
  });

  it('refuses each field value the schema refuses, and decides the values at its limits', () => {
    const [event] = buildLog();
    const base = event!.envelope as unknown as Record<string, unknown>;
    const metadata = base.metadata as Record<string, unknown>;
    const at = (field: string, value: unknown): Record<string, unknown> => {
      const [first, second] = field.split('.') as [string, string | undefined];
      if (second === undefined) return value === undefined ? Object.fromEntries(Object.entries(base).filter(([k]) => k !== first)) : { ...base, [first]: value };
      return { ...base, metadata: value === undefined ? Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== second)) : { ...metadata, [second]: value } };
    };
    const day = (d: string): string => `${d}T00:00:00.000Z`;
    const refused: [string, unknown[]][] = [
      ['id', ['00000000-0000-9000-8000-000000000000', '00000000-0000-4000-7000-000000000000', 'ffffffff-ffff-ffff-ffff-fffffffffff0', '0000000f-0000-0000-0000-000000000000', '00000000-0000-4000-8000-00000000000A', '00000000-0000-4000-8000-0000000000000', 1, undefined]],
      ['stream', ['', 'a b', 'a\tb', 'x'.repeat(201), 1, null, undefined]],
      ['revision', [-1, 1.5, 2 ** 53, '1', null, undefined]],
      ['schemaVersion', [0, -1, 1.5, 2 ** 53, '1', undefined]],
      ['type', ['', '1a', 'a..b', 'a.', '.a', 'a-b', 'a.b c', 'x'.repeat(201), 1, undefined]],
      ['prevHash', ['A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64), 1, undefined]],
      ['data', [[], 'x', null, 1, undefined]],
      ['metadata', [null, [], 'x', undefined]],
      ['extra', [1, null]],
      ['metadata.recordedAt', [day('2026-13-01'), day('2026-00-01'), day('2026-01-00'), day('2026-02-29'), day('1900-02-29'), day('2026-04-31'), '2026-01-01T24:00:00.000Z', '2026-01-01T23:60:00.000Z', '2026-01-01T23:00:60.000Z', '2026-01-01T00:00:00Z', '2026-01-01 00:00:00.000Z', '2026-01-01T00:00:00.000z', 1, undefined]],
      ['metadata.actor', ['', 'x'.repeat(201), '😀'.repeat(201), 'é'.repeat(201), null, 1, undefined]],
      ['metadata.correlationId', ['x'.repeat(201), 1, undefined]],
      ['metadata.causationId', ['x'.repeat(201), 1, undefined]],
      ['metadata.extra', [1]],
    ];
    for (const [field, values] of refused) {
      for (const value of values) {
        const bytes = Buffer.from(canonicalize(at(field, value)));
        assert.equal(textPathAccepts(bytes), false, `${field} = ${JSON.stringify(value)}`);
        assert.equal(scanned(bytes), undefined, `${field} = ${JSON.stringify(value)}`);
      }
    }
    const decided: [string, unknown[]][] = [
      ['id', ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '0123abcd-ef01-8abc-bdef-0123456789ab']],
      ['stream', ['x'.repeat(200), 'a', '~!#$%&()*+-./:;<=>?@[]^_`{|}\x7f']],
      ['revision', [0, 2 ** 53 - 1, 9_999_999_999_999_99]],
      ['schemaVersion', [1, 2 ** 53 - 1]],
      ['type', ['a', 'A.b-c.9_', 'LedgerKeyRotated', 'x'.repeat(200)]],
      ['prevHash', ['0123456789abcdef'.repeat(4), null]],
      ['metadata.recordedAt', [day('2024-02-29'), day('2000-02-29'), '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00.000Z']],
      ['metadata.actor', ['x'.repeat(200), 'é', '😀'.repeat(200), 'é'.repeat(200)]],
      ['metadata.correlationId', ['', 'x'.repeat(200), null]],
      ['metadata.causationId', ['', 'x'.repeat(200), null]],
    ];
    for (const [field, values] of decided) {
      for (const value of values) {
        const bytes = Buffer.from(canonicalize(at(field, value)));
        assert.equal(assertSafe(bytes), true, `${field} = ${JSON.stringify(value)}`);
      }
    }
  });

  it('with prevHash digits left for later, says valid only together with prevHashDigitsValid', () => {
    const [, , third] = buildLog();
    const base = third!.envelope as unknown as Record<string, unknown>;
    const out = new Float64Array(SCAN_SLOTS);
    const cases: [unknown, boolean][] = [['A'.repeat(64), false], ['g'.repeat(64), false], ['0123456789abcdeF'.repeat(4), false], ['0123456789abcdef'.repeat(4), true], [null, true]];
    for (const [prevHash, valid] of cases) {
      const bytes = Buffer.from(canonicalize({ ...base, prevHash }));
      assert.equal(textPathAccepts(bytes), valid, String(prevHash));
      assert.equal(scanEnvelope(bytes, out, 0), valid, `the full scan on ${String(prevHash)}`);
      // Every other check still runs: the deferred scan decides these bytes, and the digits tell.
      assert.equal(scanEnvelope(bytes, out, 0, true), true, String(prevHash));
      const chain = reusedChain();
      chainFromScan(bytes, out, 0, chain);
      assert.equal(chain.prevHashDigitsValid(), valid, String(prevHash));
    }
    // 63 or 65 characters is not a prevHash of the right length, digits or not.
    for (const prevHash of ['a'.repeat(63), 'a'.repeat(65)]) assert.equal(scanEnvelope(Buffer.from(canonicalize({ ...base, prevHash })), out, 0, true), false, prevHash);
  });
});
