// The run verifier re-checks at replay time what the writer enforces at append time: stored data
// canonicalize refuses is a `bytes` divergence naming the event, and stored data a writer would
// have normalized (a default left out) is a `schema` divergence — never an exception.
import assert from 'node:assert/strict';
import type { Envelope } from '../../events/envelope.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { verifyRun, type RunVerification } from '../../src/replay/verify-run.js';

import { HOSTILE_DATA, withDataText } from './verify-log-fixtures.js';


const ID = '00000000-0000-4000-8000-000000000001';

/** A one-event run whose only event is `type` with the given data text, proven by a one-leaf tree. */
function replayOne(type: string, dataText: string): RunVerification {
  const envelope = {
    id: ID,
    stream: 'run-r1',
    revision: 0,
    type,
    schemaVersion: 1,
    data: {},
    metadata: { recordedAt: '2026-11-23T10:00:00.000Z', actor: 'mallory', correlationId: null, causationId: null },
    prevHash: null,
  } satisfies Envelope;
  const canonical = Buffer.from(withDataText(envelope, dataText), 'utf8');
  const leaf = leafHash(canonical);
  return verifyRun('r1', [{ canonical, index: 0, proof: [] }], { origin: 'test/log', size: 1, root: leaf, note: '' });
}

const finding = (details: string): string =>
  `{"check":"c",${details}"message":"m","runId":"r1","severity":"info","subject":null}`;

describe('verifyRun on stored data no runledger writer records', () => {
  for (const [name, text, reason] of HOSTILE_DATA) {
    it(`reports stored data with ${name} as a bytes divergence naming the event`, () => {
      const result = replayOne('custom.note', text);
      assert.equal(result.ok, false);
      assert.equal(result.firstDivergence?.check, 'bytes');
      assert.equal(result.firstDivergence?.revision, 0);
      assert.match(result.firstDivergence?.message ?? '', /^Event 0 of run r1: the bytes cannot be canonicalized/);
      assert.match(result.firstDivergence?.message ?? '', reason);
    });
  }

  it('reports stored data that leaves out a default (not normalized) as a schema divergence naming the field', () => {
    const result = replayOne('AuditFinding', finding(''));
    assert.equal(result.firstDivergence?.check, 'schema');
    assert.equal(result.firstDivergence?.eventId, ID);
    assert.match(result.firstDivergence?.message ?? '', /AuditFinding field data\.details is not in normalized form/);
  });

  it('passes the schema check once the default is written out', () => {
    const result = replayOne('AuditFinding', finding('"details":{},'));
    assert.notEqual(result.firstDivergence?.check, 'schema', result.firstDivergence?.message);
    assert.notEqual(result.firstDivergence?.check, 'bytes', result.firstDivergence?.message);
  });
});
