// The verifier's hand-written envelope check says "valid" only when the Envelope schema does, and
// says it for every envelope a writer records (so genuine logs stay on the fast path).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Envelope } from '../../events/envelope.js';
import { isEnvelope } from '../../src/replay/envelope-check.js';
import { genuine, mutated } from './envelope-arbitraries.js';

describe('isEnvelope (the verifier\'s hand-written envelope check)', () => {
  it('accepts every envelope a writer records, as the schema does', () => {
    fc.assert(
      fc.property(genuine, (env) => {
        assert.equal(Envelope.safeParse(env).success, true);
        assert.equal(isEnvelope(env), true);
      }),
      { numRuns: 2000 },
    );
  });

  it('never accepts what the schema refuses, and agrees with it on altered envelopes', () => {
    let refused = 0;
    fc.assert(
      fc.property(mutated, (value) => {
        const schema = Envelope.safeParse(value).success;
        if (!schema) refused++;
        // Agreement both ways on these: the fast path is exact, not merely safe.
        assert.equal(isEnvelope(value), schema, JSON.stringify(value));
      }),
      { numRuns: 5000 },
    );
    assert.ok(refused > 1000, `the generator produces invalid envelopes (${refused})`);
  });

  it('refuses arbitrary JSON values that are not envelopes', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => {
        if (isEnvelope(value)) assert.equal(Envelope.safeParse(value).success, true);
      }),
      { numRuns: 2000 },
    );
  });
});
