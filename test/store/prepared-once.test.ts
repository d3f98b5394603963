// Validating once on a governed path: a store appends the batch a writer prepared (prepareFrozenBatch,
// trustedRequests) without preparing it again ONLY when that batch cannot have been forged or changed
// since: anything that merely looks prepared, or a copy, gets the full check (src/store/seal.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProposedEvent } from '../../events/envelope.js';
import { InputError } from '../../src/errors.js';
import { canonicalize } from '../../src/integrity/canonical.js';
import type { AppendRequest, EventStore } from '../../src/store/port.js';
import { prepareBatch, preparedOnce, prepareFrozenBatch, trustedRequests, type PreparedRequest } from '../../src/store/seal.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';

const event = (data: Record<string, unknown>): ProposedEvent => ({ type: 'custom.note', data, metadata: { actor: 'writer' } });

describe('store/seal: validating once (trusted prepared batches)', () => {
  let dir: string;
  let store: EventStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runledger-prepared-once-'));
    store = createSqliteStore({ path: join(dir, 'ledger.db') });
    await store.init();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const recordedData = async (stream: string): Promise<string[]> => (await store.readStream(stream)).map((e) => canonicalize(e.envelope.data));

  it('hands a store the very batch prepared, once, with the expected revisions given for it', () => {
    const events = [event({ a: 1 })];
    const batch = prepareFrozenBatch([{ stream: 'lab-a', events }]);
    const requests = trustedRequests(batch, [5]);
    assert.equal(requests[0]!.events, events, 'the events it was prepared from');
    const used = preparedOnce(requests);
    assert.equal(used[0]!.events, batch[0]!.events, 'the prepared events themselves, not a second preparation');
    assert.equal(used[0]!.expectedRevision, 5);
    // A second use is checked in full, like any request: a fresh preparation, a fresh id.
    const again = preparedOnce(requests);
    assert.notEqual(again[0]!.events, batch[0]!.events);
    assert.notEqual(again[0]!.events[0]!.id, batch[0]!.events[0]!.id);
    assert.equal(Object.isFrozen(again[0]!.events[0]), false);
  });

  it('checks in full a batch that only looks prepared: hand-made with a lying data text, copied, or cloned', async () => {
    const honest = prepareBatch([{ stream: 'lab-a', events: [event({ a: 1 })] }]);
    // A caller's own "prepared" batch whose spliced text says something else than its data.
    const forged: PreparedRequest[] = honest.map((r) => ({ ...r, events: r.events.map((e) => ({ ...e, canonicalData: '{"a":2}', contentDigest: '0'.repeat(64) })) }));
    const requests = trustedRequests(forged, [undefined]);
    assert.notEqual(preparedOnce(requests)[0]!.events, forged[0]!.events);
    await store.appendBatch(trustedRequests(forged, [undefined]));
    assert.deepEqual(await recordedData('lab-a'), ['{"a":1}'], 'the bytes come from the data, checked again, not from the forged text');

    const batch = prepareFrozenBatch([{ stream: 'lab-b', events: [event({ b: 1 })] }]);
    const trusted = trustedRequests(batch, [undefined]);
    for (const lookalike of [[...trusted], structuredClone(trusted)] as AppendRequest[][]) {
      const used = preparedOnce(lookalike);
      assert.notEqual(used[0]!.events, batch[0]!.events);
      assert.equal(Object.isFrozen(used[0]!.events[0]), false, 'a fresh preparation');
    }
    // An event that carries a prepared event's own members is not a ProposedEvent at all.
    const carried = [{ stream: 'lab-c', events: [batch[0]!.events[0]!] }] as unknown as AppendRequest[];
    await assert.rejects(store.appendBatch(carried), (err: unknown) => err instanceof InputError && /^request event 1: field contentDigest: unknown field/.test(err.message));
  });

  it('refuses to change a prepared batch or its trusted requests after the check, and records what was checked', async () => {
    const nested = { x: 1 };
    const batch = prepareFrozenBatch([{ stream: 'lab-a', events: [event({ a: 1, nested })] }]);
    const requests = trustedRequests(batch, [undefined]);
    const e = batch[0]!.events[0]!;
    const attempts: [string, () => void][] = [
      ['the batch', () => (batch as PreparedRequest[]).push(batch[0]!)],
      ['a request', () => ((batch[0] as { stream: string }).stream = 'lab-evil')],
      ['its events', () => batch[0]!.events.push(e)],
      ['an event', () => ((e as { type: string }).type = 'custom.evil')],
      ['its text', () => ((e as { canonicalData?: string }).canonicalData = '{"a":2}')],
      ['its metadata', () => ((e.metadata as { actor?: string }).actor = 'evil')],
      ['the trusted list', () => requests.push(requests[0]!)],
      ['a trusted request', () => ((requests[0] as { expectedRevision?: unknown }).expectedRevision = 'any')],
    ];
    for (const [what, mutate] of attempts) assert.throws(mutate, TypeError, `${what} can be changed`);
    // What is left unfrozen — the writer's own events, the data copy the checker's rules read — does not feed the bytes: those are the check's.
    nested.x = 2;
    e.data['a'] = 2;
    (requests[0]!.events[0] as { type: string }).type = 'custom.evil';
    await store.appendBatch(requests);
    assert.deepEqual(await recordedData('lab-a'), ['{"a":1,"nested":{"x":1}}']);
    assert.deepEqual((await store.readStream('lab-a')).map((e) => e.envelope.type), ['custom.note']);
  });

  it("checks in full a batch prepared with other options than the store's (its default actor)", async () => {
    await store.close();
    store = createSqliteStore({ path: join(dir, 'actor.db'), prepare: { actor: 'store-default' } });
    const batch = prepareFrozenBatch([{ stream: 'lab-a', events: [{ type: 'custom.note', data: {} }] }]);
    await store.appendBatch(trustedRequests(batch, [undefined]));
    assert.deepEqual((await store.readStream('lab-a')).map((r) => r.envelope.metadata.actor), ['store-default']);
  });

  it('checks a second append of the same trusted list in full (new events, as for any request), and refuses a revision that is not one', async () => {
    const batch = prepareFrozenBatch([{ stream: 'lab-a', events: [event({ a: 1 }), event({ a: 2 })] }]);
    const requests = trustedRequests(batch, [undefined]);
    assert.deepEqual((await store.appendBatch(requests)).positions, [0, 1]);
    assert.deepEqual((await store.appendBatch(requests)).positions, [2, 3]);
    const ids = (await store.readStream('lab-a')).map((e) => e.envelope.id);
    assert.equal(new Set(ids).size, 4);
    assert.deepEqual(ids.slice(0, 2), batch[0]!.events.map((e) => e.id));
    const bad = trustedRequests(prepareFrozenBatch([{ stream: 'lab-b', events: [event({})] }]), [-7]);
    await assert.rejects(store.appendBatch(bad), (err: unknown) => err instanceof InputError && /expectedRevision must be/.test(err.message));
  });
});
