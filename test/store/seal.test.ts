// Sealing writes an envelope's RFC 8785 text with the one canonicalizer, splicing in the data's JCS
// text computed during validation; the bytes must equal canonicalize(envelope) for every envelope,
// including hostile strings — a guard for any future fast path.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalize } from '../../src/integrity/canonical.js';
import { leafHash } from '../../src/integrity/hasher.js';
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

  it('seals bytes whose leaf hash is SHA-256(0x00 ‖ JCS(envelope)) and changes with any field', () => {
    const [request] = prepareBatch([{ stream: 's', events: [{ type: 'custom.x', data: { b: 1, a: [1.5, 'é'] }, metadata: { actor: 'me' } }] }]);
    const sealed = sealEvent('s', 0, null, request!.events[0]!, '2026-11-23T17:30:00.000Z');
    assert.equal(sealed.canonical.toString('utf8'), canonicalize(sealed.envelope));
    assert.equal(sealed.leafHash, leafHash(Buffer.from(canonicalize(sealed.envelope))).toString('hex'));
    const next = sealEvent('s', 1, sealed.leafHash, request!.events[0]!, '2026-11-23T17:30:00.000Z');
    assert.notEqual(next.leafHash, sealed.leafHash);
  });
});
