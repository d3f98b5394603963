// fast-check generators of envelopes: genuine ones as a writer records them, and altered ones that
// break one rule or another. Shared by the tests of the hand-written check and of the byte scan.
import fc from 'fast-check';
import { STREAM_NAME_PATTERN } from '../../events/envelope.js';

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const uuid = fc.oneof(
  fc.uuid().map((u) => u.toLowerCase()),
  fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
);
const instant = fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }).map((t) => new Date(t).toISOString());

/** Valid field values, as a writer records them. */
const valid = {
  id: uuid,
  stream: fc.string({ minLength: 1, maxLength: 200 }).filter((s) => STREAM_NAME_PATTERN.test(s)),
  revision: fc.nat(),
  type: fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,20}(\.[A-Za-z0-9_-]{1,10}){0,3}$/),
  schemaVersion: fc.integer({ min: 1, max: 1000 }),
  data: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
  prevHash: fc.option(hex(64), { nil: null }),
  recordedAt: instant,
  actor: fc.string({ minLength: 1, maxLength: 200 }),
  correlationId: fc.option(fc.string({ maxLength: 200 }), { nil: null }),
  causationId: fc.option(fc.string({ maxLength: 200 }), { nil: null }),
};

/** Values that break one rule or another (and some that happen to be valid). */
const edge = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.constantFrom(-1, 0, 1.5, 2 ** 53, -0, '', ' ', 'a b', 'x'.repeat(201), 'A'.repeat(64), '2026-02-30T00:00:00.000Z', '2026-01-01T00:00:00Z', '2026-01-01T24:00:00.000Z', '00000000-0000-9000-8000-000000000000', '00000000-0000-4000-7000-000000000000', 'a..b', '1a', [], {}, null),
  hex(64),
  uuid.map((u) => u.toUpperCase()),
);

export type Fields = Record<string, unknown>;
export const genuine = fc.record(valid).map(({ recordedAt, actor, correlationId, causationId, ...rest }): Fields => ({ ...rest, metadata: { recordedAt, actor, correlationId, causationId } }));

/** A genuine envelope with some fields replaced, removed or added, at the top level or in metadata. */
export const mutated = fc
  .tuple(
    genuine,
    fc.array(
      fc.tuple(
        fc.constantFrom('id', 'stream', 'revision', 'type', 'schemaVersion', 'data', 'prevHash', 'metadata', 'extra', 'metadata.recordedAt', 'metadata.actor', 'metadata.correlationId', 'metadata.causationId', 'metadata.extra'),
        fc.oneof(edge, fc.constant(undefined)),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  )
  .map(([env, changes]) => {
    const out: Fields = { ...env, metadata: { ...(env.metadata as Fields) } };
    for (const [path, value] of changes) {
      const [first, second] = path.split('.') as [string, string | undefined];
      const target = second === undefined ? out : (out[first] as Fields);
      const key = second ?? first;
      if (typeof target !== 'object' || target === null) continue;
      if (value === undefined) delete target[key];
      // A copy: the edge values `{}` and `[]` are shared, and metadata set to `{}` then metadata.x to `{}` would be a cycle.
      else target[key] = structuredClone(value);
    }
    // What the verifier sees is always the result of JSON.parse.
    return JSON.parse(JSON.stringify(out)) as unknown;
  });
