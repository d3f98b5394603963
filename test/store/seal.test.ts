// Sealing writes an envelope's RFC 8785 text with the one canonicalizer, splicing in the data's JCS
// text computed during validation; the bytes must equal canonicalize(envelope) for every envelope,
// including hostile strings — a guard for any future fast path.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalize } from '../../src/integrity/canonical.js';
import { leafHash, sha256Hex } from '../../src/integrity/hasher.js';
import { InputError } from '../../src/errors.js';
import { prepareBatch, sealEvent } from '../../src/store/seal.js';

const text = fc.string({ unit: 'binary', maxLength: 40 });
const json = fc.jsonValue({ maxDepth: 3 });

describe('store/seal', () => {
  it('writes the same text as canonicalize(envelope) for any metadata, stream and data', () => {
    fc.assert(
      fc.property(
        fc.record({
          stream: text.filter((s) => s.length > 0),
          revision: fc.nat(),
          schemaVersion: fc.integer({ min: 1, max: 1000 }),
          data: fc.dictionary(text, json),
          actor: text,
          correlationId: fc.option(text),
          causationId: fc.option(text),
          prevHash: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/)),
        }),
        (r) => {
          const event = {
            id: '3f2a7c1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b',
            type: 'custom.any',
            schemaVersion: r.schemaVersion,
            data: r.data,
            metadata: { recordedAt: '2026-11-23T17:30:00.000Z', actor: r.actor, correlationId: r.correlationId, causationId: r.causationId },
            contentDigest: '',
            canonicalData: canonicalize(r.data),
          };
          const sealed = sealEvent(r.stream, r.revision, r.prevHash, event, '2026-11-24T00:00:00.000Z');
          assert.equal(sealed.canonical.toString('utf8'), canonicalize(sealed.envelope));
          assert.equal(sealed.envelope.metadata.recordedAt, '2026-11-23T17:30:00.000Z');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('writes every event of a sequence as canonicalize(envelope) and digests it as canonicalize(content) when members repeat, change or are refused (property)', () => {
    // Members from small pools, so kept texts are reused, replaced and (after a refusal) not kept.
    const pool = <T>(...values: T[]) => fc.constantFrom(...values);
    const member = pool('a', 'b', 'é', '"q"', 'x\u0001');
    const event = fc.record({
      stream: pool('s', 't', 'u\u00e9'),
      type: pool('custom.a', 'custom.b'),
      actor: fc.option(pool('a', 'b', 'bad\ud800'), { nil: undefined }),
      correlationId: fc.option(fc.option(member), { nil: undefined }),
      causationId: fc.option(fc.option(member), { nil: undefined }),
      recordedAt: fc.option(pool('2026-11-23T17:30:00.000Z', '2026-11-23T17:30:00.001Z'), { nil: undefined }),
      revision: fc.nat(3),
    });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 15 }), fc.option(pool('me', 'you'), { nil: undefined }), (events, defaultActor) => {
        for (const e of events) {
          const metadata: Record<string, unknown> = {};
          for (const key of ['actor', 'correlationId', 'causationId', 'recordedAt'] as const) if (e[key] !== undefined) metadata[key] = e[key];
          const proposed = { type: e.type, data: { n: e.revision }, metadata };
          const options = defaultActor === undefined ? {} : { actor: defaultActor };
          if (e.actor === 'bad\ud800') {
            assert.throws(() => prepareBatch([{ stream: e.stream, events: [proposed] }], options), /field metadata\.actor cannot be recorded as RFC 8785 JSON: lone surrogate/);
            continue;
          }
          const [request] = prepareBatch([{ stream: e.stream, events: [proposed] }], options);
          const prepared = request!.events[0]!;
          const content: Record<string, unknown> = { ...metadata };
          if (content.actor === undefined && defaultActor !== undefined) content.actor = defaultActor;
          assert.equal(prepared.contentDigest, sha256Hex(canonicalize({ stream: e.stream, type: e.type, schemaVersion: prepared.schemaVersion, data: prepared.data, metadata: content })));
          const sealed = sealEvent(e.stream, e.revision, e.revision === 0 ? null : 'ab'.repeat(32), prepared, '2026-11-24T00:00:00.000Z');
          assert.equal(sealed.canonical.toString('utf8'), canonicalize(sealed.envelope));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('seals bytes whose leaf hash is SHA-256(0x00 ‖ JCS(envelope)) and changes with any field', () => {
    const [request] = prepareBatch([{ stream: 's', events: [{ type: 'custom.x', data: { b: 1, a: [1.5, 'é'] }, metadata: { actor: 'me' } }] }]);
    const sealed = sealEvent('s', 0, null, request!.events[0]!, '2026-11-23T17:30:00.000Z');
    assert.equal(sealed.canonical.toString('utf8'), canonicalize(sealed.envelope));
    assert.equal(sealed.leafHash, leafHash(Buffer.from(canonicalize(sealed.envelope))).toString('hex'));
    const next = sealEvent('s', 1, sealed.leafHash, request!.events[0]!, '2026-11-23T17:30:00.000Z');
    assert.notEqual(next.leafHash, sealed.leafHash);
  });

  it('digests content as sha256(canonicalize({ stream, type, schemaVersion, data, metadata })) for any metadata subset, and names the refused member', () => {
    // The digest is what an idempotent retry is matched against in every ledger already written: it may never change.
    const unicode = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(
        fc.record({
          stream: unicode.filter((s) => !/[\s\p{Cc}]/u.test(s)),
          data: fc.dictionary(unicode, fc.jsonValue({ maxDepth: 2 })).filter((d) => !JSON.stringify(d).includes('"__proto__"')),
          schemaVersion: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
          metadata: fc.option(
            fc.record(
              {
                actor: unicode,
                correlationId: fc.option(unicode),
                causationId: fc.option(unicode),
                recordedAt: fc.constant('2026-11-23T17:30:00.000Z'),
              },
              { requiredKeys: [] },
            ),
            { nil: undefined },
          ),
        }),
        fc.option(unicode, { nil: undefined }),
        (r, defaultActor) => {
          const event = { type: 'custom.any', data: r.data, ...(r.schemaVersion === undefined ? {} : { schemaVersion: r.schemaVersion }), ...(r.metadata === undefined ? {} : { metadata: r.metadata }) };
          const [request] = prepareBatch([{ stream: r.stream, events: [event] }], defaultActor === undefined ? {} : { actor: defaultActor });
          const prepared = request!.events[0]!;
          const metadata: Record<string, unknown> = { ...r.metadata };
          if (metadata.actor === undefined && defaultActor !== undefined) metadata.actor = defaultActor;
          const expected = sha256Hex(canonicalize({ stream: r.stream, type: 'custom.any', schemaVersion: prepared.schemaVersion, data: prepared.data, metadata }));
          assert.equal(prepared.contentDigest, expected);
        },
      ),
      { numRuns: 400 },
    );
    for (const [events, stream, field] of [
      [[{ type: 'custom.x', data: {}, metadata: { actor: 'a\ud800' } }], 's', 'metadata.actor'],
      [[{ type: 'custom.x', data: {}, metadata: { causationId: '\udfff' } }], 's', 'metadata.causationId'],
      [[{ type: 'custom.x', data: {} }], 's\ud800', 'stream'],
    ] as const) {
      assert.throws(
        () => prepareBatch([{ stream, events: events as never }]),
        (err: unknown) => err instanceof InputError && err.message.includes(`field ${field} cannot be recorded as RFC 8785 JSON: lone surrogate`),
      );
    }
  });
});
