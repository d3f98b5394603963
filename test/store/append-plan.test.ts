// The append planner every adapter shares: given a prepared batch and what the adapter read (stream
// heads, recorded ids), the rows to write or the typed error. Pure, so tested without a store.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConcurrencyError, IdempotencyError, InputError } from '../../src/errors.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { appendReads, planAppend, type AppendReads, type RecordedIdentity, type StreamHead } from '../../src/store/append-plan.js';
import { ANY, NO_STREAM, STREAM_EXISTS, type AppendRequest, type RecordedEvent } from '../../src/store/port.js';
import { prepareBatch } from '../../src/store/seal.js';
import { assertChainsValid, events } from './conformance.js';

const AT = '2026-11-23T17:30:00.000Z';
const none: AppendReads = { heads: new Map(), recorded: new Map() };
const head = (revision: number, fill: string): StreamHead => ({ revision, leafHash: fill.repeat(64) });

/** A "store" of planned rows, read back the way an adapter would before its next append. */
class PlannedLog {
  readonly log: RecordedEvent[] = [];
  reads(requests: AppendRequest[]): AppendReads {
    const { streams, ids } = appendReads(prepareBatch(requests));
    const heads = new Map<string, StreamHead>();
    const recorded = new Map<string, RecordedIdentity>();
    for (const e of this.log) {
      if (streams.includes(e.envelope.stream)) heads.set(e.envelope.stream, { revision: e.envelope.revision, leafHash: e.leafHash });
      if (ids.includes(e.envelope.id)) {
        recorded.set(e.envelope.id, { id: e.envelope.id, stream: e.envelope.stream, revision: e.envelope.revision, position: e.position, contentDigest: digests.get(e.envelope.id)! });
      }
    }
    return { heads, recorded };
  }
  append(requests: AppendRequest[]) {
    const prepared = prepareBatch(requests);
    const plan = planAppend(prepared, this.reads(requests), AT);
    const positions = plan.rows.map((_, k) => 10 * (this.log.length + k) + 3); // gaps, like a server store
    plan.rows.forEach((row, k) => {
      digests.set(row.envelope.id, row.contentDigest);
      this.log.push({ position: positions[k]!, index: this.log.length, envelope: row.envelope, canonical: row.canonical, leafHash: row.leafHash });
    });
    return { plan, result: plan.result(positions) };
  }
}
const digests = new Map<string, string>();

describe('store/append-plan', function () {
  it('names what the adapter must read: each stream once, every event id', function () {
    const prepared = prepareBatch([
      { stream: 'a', events: events(2, 'a') },
      { stream: 'b', events: events(1, 'b') },
      { stream: 'a', events: events(1, 'a2') },
    ]);
    const reads = appendReads(prepared);
    assert.deepEqual(reads.streams, ['a', 'b']);
    assert.deepEqual(reads.ids, prepared.flatMap((r) => r.events.map((e) => e.id)));
  });

  it('looks up only the ids callers named, not the ones the ledger generated for this append', function () {
    const named = events(2, 'n');
    const prepared = prepareBatch([{ stream: 'a', events: [named[0]!, { type: 'custom.x', data: {} }, named[1]!] }, { stream: 'b', events: [{ type: 'custom.y', data: {} }] }]);
    assert.deepEqual(appendReads(prepared).ids, [named[0]!.id, named[1]!.id]);
    assert.deepEqual(prepared.flatMap((r) => r.events.map((e) => e.idGenerated)), [false, true, false, true]);
    // The same id named twice is still refused; two generated ids never collide.
    assert.throws(() => prepareBatch([{ stream: 'a', events: [named[0]!, named[0]!] }]), InputError);
  });

  it('starts a new stream at revision 0 with prevHash null and chains each event to the one before', function () {
    const plan = planAppend(prepareBatch([{ stream: 's', events: events(3, 'x') }]), none, AT);
    assert.deepEqual(plan.rows.map((r) => r.envelope.revision), [0, 1, 2]);
    assert.equal(plan.rows[0]!.envelope.prevHash, null);
    assert.equal(plan.rows[1]!.envelope.prevHash, plan.rows[0]!.leafHash);
    assert.equal(plan.rows[2]!.envelope.prevHash, plan.rows[1]!.leafHash);
    for (const r of plan.rows) assert.equal(r.leafHash, leafHash(r.canonical).toString('hex'));
    assert.deepEqual(plan.heads, new Map([['s', { revision: 2, leafHash: plan.rows[2]!.leafHash }]]));
    assert.equal(plan.duplicate, false);
    assert.deepEqual(plan.result([7, 9, 12]), { streams: [{ stream: 's', firstRevision: 0, lastRevision: 2 }], positions: [7, 9, 12], duplicate: false });
  });

  it('continues a stream from the head the adapter read', function () {
    const plan = planAppend(prepareBatch([{ stream: 's', events: events(1, 'x'), expectedRevision: 4 }]), { heads: new Map([['s', head(4, 'a')]]), recorded: new Map() }, AT);
    assert.equal(plan.rows[0]!.envelope.revision, 5);
    assert.equal(plan.rows[0]!.envelope.prevHash, 'a'.repeat(64));
  });

  it('applies the requests of a batch in order: a later request to the same stream sees the earlier one', function () {
    const prepared = prepareBatch([
      { stream: 's', events: events(2, 'x'), expectedRevision: NO_STREAM },
      { stream: 't', events: events(1, 'y') },
      { stream: 's', events: events(1, 'z'), expectedRevision: 1 },
    ]);
    const plan = planAppend(prepared, none, AT);
    assert.deepEqual(plan.rows.map((r) => `${r.envelope.stream}@${r.envelope.revision}`), ['s@0', 's@1', 't@0', 's@2']);
    assert.equal(plan.rows[3]!.envelope.prevHash, plan.rows[1]!.leafHash);
    assert.throws(
      () => planAppend(prepareBatch([{ stream: 's', events: events(1, 'x') }, { stream: 's', events: events(1, 'y'), expectedRevision: 0 }]), { heads: new Map([['s', head(3, 'b')]]), recorded: new Map() }, AT),
      (err: unknown) => err instanceof ConcurrencyError && err.stream === 's' && err.actual === 4,
    );
  });

  it('checks every expected revision against the current head and names stream and actual revision', function () {
    const reads: AppendReads = { heads: new Map([['s', head(2, 'c')]]), recorded: new Map() };
    const attempt = (expectedRevision: AppendRequest['expectedRevision'], stream = 's') => () => planAppend(prepareBatch([{ stream, events: events(1, 'x'), expectedRevision }]), reads, AT);
    for (const [expected, stream, actual] of [[NO_STREAM, 's', 2], [1, 's', 2], [3, 's', 2], [STREAM_EXISTS, 'new', -1], [0, 'new', -1]] as const) {
      assert.throws(attempt(expected, stream), (err: unknown) => err instanceof ConcurrencyError && err.stream === stream && err.actual === actual && err.expected === expected);
    }
    for (const [expected, stream] of [[ANY, 's'], [2, 's'], [STREAM_EXISTS, 's'], [NO_STREAM, 'new'], [-1, 'new'], [ANY, 'new']] as const) {
      assert.equal(attempt(expected, stream)().rows.length, 1);
    }
  });

  it('answers a retry of recorded events as a duplicate with the recorded positions, whatever its expectation', function () {
    const planned = new PlannedLog();
    const first: AppendRequest[] = [{ stream: 's', events: events(2, 'x'), expectedRevision: NO_STREAM }];
    const original = planned.append(first).result;
    planned.append([{ stream: 's', events: events(1, 'later') }]);
    const { plan, result } = planned.append(first);
    assert.equal(plan.rows.length, 0);
    assert.equal(plan.duplicate, true);
    assert.deepEqual(result, { ...original, duplicate: true });
  });

  it('plans only the new requests of a batch that also retries one, keeping positions in request order', function () {
    const planned = new PlannedLog();
    const retried = { stream: 'a', events: events(2, 'x') };
    const original = planned.append([retried]).result;
    const { plan, result } = planned.append([{ stream: 'b', events: events(1, 'y') }, retried, { stream: 'a', events: events(1, 'z') }]);
    assert.deepEqual(plan.rows.map((r) => `${r.envelope.stream}@${r.envelope.revision}`), ['b@0', 'a@2']);
    assert.equal(result.duplicate, false);
    assert.deepEqual(result.positions, [planned.log[2]!.position, ...original.positions, planned.log[3]!.position]);
    assert.deepEqual(result.streams, [
      { stream: 'b', firstRevision: 0, lastRevision: 0 },
      { stream: 'a', firstRevision: 0, lastRevision: 1 },
      { stream: 'a', firstRevision: 2, lastRevision: 2 },
    ]);
  });

  it('refuses the same id with other content (IdempotencyError) and a request mixing recorded and new events (InputError)', function () {
    const planned = new PlannedLog();
    const [e1, e2] = events(2, 'x');
    planned.append([{ stream: 's', events: [e1!] }]);
    assert.throws(() => planned.append([{ stream: 's', events: [{ ...e1!, data: { other: true } }] }]), IdempotencyError);
    assert.throws(() => planned.append([{ stream: 'elsewhere', events: [e1!] }]), IdempotencyError, 'the stream is part of the content');
    assert.throws(
      () => planned.append([{ stream: 's', events: [e1!, e2!] }]),
      (err: unknown) => err instanceof InputError && !(err instanceof IdempotencyError) && /mixes 1 already recorded event/.test(err.message),
    );
    assert.equal(planned.log.length, 1);
  });

  it('is deterministic: the same batch and reads give the same bytes', function () {
    const prepared = prepareBatch([{ stream: 's', events: events(3, 'x') }]);
    const reads: AppendReads = { heads: new Map([['s', head(9, 'd')]]), recorded: new Map() };
    const a = planAppend(prepared, reads, AT);
    const b = planAppend(prepared, reads, AT);
    assert.deepEqual(a.rows.map((r) => r.canonical), b.rows.map((r) => r.canonical));
  });

  it('refuses positions that do not match its rows', function () {
    const plan = planAppend(prepareBatch([{ stream: 's', events: events(2, 'x') }]), none, AT);
    assert.throws(() => plan.result([1]), /2 rows but the adapter assigned 1 positions/);
  });

  it('any sequence of batches planned one after another, reads fed back, forms valid per-stream chains in write order', function () {
    const request = fc.record({
      stream: fc.constantFrom('a', 'b', 'c'),
      count: fc.integer({ min: 1, max: 3 }),
      any: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(fc.array(request, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }), (batches) => {
        const planned = new PlannedLog();
        const revisions = new Map<string, number>();
        for (const batch of batches) {
          const expected = new Map(revisions);
          const requests = batch.map((r): AppendRequest => {
            const current = expected.get(r.stream) ?? -1;
            expected.set(r.stream, current + r.count);
            return { stream: r.stream, events: events(r.count, 'p'), expectedRevision: r.any ? ANY : current };
          });
          planned.append(requests);
          for (const [s, rev] of expected) revisions.set(s, rev);
        }
        assertChainsValid(planned.log, 'write order');
      }),
      { numRuns: 200 },
    );
  });
});
