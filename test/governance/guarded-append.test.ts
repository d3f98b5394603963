// The run-stream door against a real embedded store: a rule check and its append are atomic
// against concurrent writers, retries of recorded events stay idempotent, other streams pass.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ConcurrencyError, InputError } from '../../src/errors.js';
import { guardedAppend, readRun, RunHeads } from '../../src/governance/guarded-append.js';
import type { AppendRequest, EventStore } from '../../src/store/port.js';
import { preparedOnce } from '../../src/store/seal.js';
import type { RunClaimed } from '../../events/training.js';
import { runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { signed } from '../../bench/fixtures/worker-key.js';
import { openTestLedger, type TestLedger } from './fixture.js';

describe('the run-stream door (guardedAppend)', function () {
  this.timeout(30_000);
  let ledger: TestLedger;
  const run = runStreamEvents({ runId: 'r' });
  const planned = run.slice(0, 2);

  beforeEach(async () => {
    ledger = await openTestLedger();
  });
  afterEach(async () => {
    await ledger.close();
  });

  it('lets exactly one of many concurrent writers pass a rule that the first append makes false (once)', async () => {
    await guardedAppend(ledger.store, [{ stream: 'run-r', events: planned }], { allowGovernance: true });
    const claim = (worker: string) => guardedAppend(ledger.store, [{ stream: 'run-r', events: [{ type: 'RunClaimed', data: signed<RunClaimed>('RunClaimed', { runId: 'r', worker, host: 'h' }) }] }]);
    // Every claimant reads the run before any appends; each append is pinned to the revision read.
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => claim(`w${i}`)));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
      assert.ok(o.reason instanceof InputError, String(o.reason));
      assert.match(o.reason.message, /already has a RunClaimed event; nothing was recorded \(rule once\)/);
    }
    assert.equal((await readRun(ledger.store, 'r')).events.filter((e) => e.envelope.type === 'RunClaimed').length, 1);
  });

  it("holds the caller's own expectedRevision against the revision the rules read", async () => {
    await guardedAppend(ledger.store, [{ stream: 'run-r', events: planned }], { allowGovernance: true });
    await assert.rejects(
      guardedAppend(ledger.store, [{ stream: 'run-r', events: [{ type: 'custom.note', data: {} }], expectedRevision: 0 }]),
      (err: unknown) => err instanceof ConcurrencyError && /is at revision 1, expected 0/.test(err.message),
    );
  });

  it('answers a retry of recorded events as the store does, even once the run has ended (no new event, no rule refusal)', async () => {
    const events = run.map((e) => ({ ...e, id: randomUUID() }));
    await guardedAppend(ledger.store, [{ stream: 'run-r', events }], { allowGovernance: true });
    const last = events.at(-3)!; // TrainingCompleted, recorded before the run ended
    const retry = await guardedAppend(ledger.store, [{ stream: 'run-r', events: [last] }]);
    assert.equal(retry.duplicate, true);
    // Re-delivered with the expectation it was first appended under (a Kafka copy pinned to its revision).
    const pinned = await guardedAppend(ledger.store, [{ stream: 'run-r', events: [last], expectedRevision: events.length - 4 }]);
    assert.equal(pinned.duplicate, true);
    await assert.rejects(guardedAppend(ledger.store, [{ stream: 'run-r', events: [{ ...last, id: randomUUID() }] }]), /\(rule run-ended\)/);
  });

  it('passes events on other streams unchanged, in the same atomic batch, and writes nothing when one run event is refused', async () => {
    await guardedAppend(ledger.store, [{ stream: 'run-r', events: planned }], { allowGovernance: true });
    await assert.rejects(
      guardedAppend(ledger.store, [
        { stream: 'notes', events: [{ type: 'custom.note', data: {} }] },
        { stream: 'run-r', events: [{ type: 'custom.note', data: { runId: 'other' } }] },
      ]),
      /custom\.note names run other, not r; nothing was recorded \(rule run-id\)/,
    );
    assert.equal(await ledger.store.streamRevision('notes'), -1);
    await guardedAppend(ledger.store, [{ stream: 'notes', events: [{ type: 'CampaignCompleted', data: { campaign: 'c', runs: [] } }] }]);
    assert.equal(await ledger.store.streamRevision('notes'), 0);
  });

  it('hands the store the batch it checked, to append without preparing it again, pinned to the revision read', async () => {
    await guardedAppend(ledger.store, [{ stream: 'run-r', events: planned }], { allowGovernance: true });
    let checkedId: string | undefined;
    const spy = new Proxy(ledger.store, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property !== 'appendBatch') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        return async (requests: AppendRequest[]) => {
          // What the store will append: the door's own frozen batch (a second preparation is not frozen).
          const used = preparedOnce(requests);
          assert.ok(Object.isFrozen(used) && Object.isFrozen(used[0]!.events[0]));
          checkedId = used[0]!.events[0]!.id;
          assert.equal(used[0]!.expectedRevision, 1);
          return target.appendBatch(requests);
        };
      },
    });
    const result = await guardedAppend(spy, [{ stream: 'run-r', events: [{ type: 'custom.note', data: { n: 1 } }] }]);
    assert.ok(checkedId);
    assert.deepEqual(result.streams, [{ stream: 'run-r', firstRevision: 2, lastRevision: 2 }]);
    assert.deepEqual((await ledger.store.readStream('run-r', { fromRevision: 2 })).map((e) => e.envelope.data), [{ n: 1 }]);
  });

  it("lets a long-lived writer's next append start after its own recorded events instead of reading them back, and still sees other writers'", async () => {
    await guardedAppend(ledger.store, [{ stream: 'run-r', events: planned }], { allowGovernance: true });
    let readBack = 0;
    const counting = new Proxy(ledger.store, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property !== 'readStream') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        return async (...args: Parameters<EventStore['readStream']>) => {
          const events = await target.readStream(...args);
          readBack += events.length;
          return events;
        };
      },
    });
    const heads = new RunHeads();
    const claim = (worker: string) => ({ type: 'RunClaimed', data: signed<RunClaimed>('RunClaimed', { runId: 'r', worker, host: 'h' }) });
    await guardedAppend(counting, [{ stream: 'run-r', events: [claim('w1')] }], { heads });
    assert.equal(readBack, planned.length, 'the first read folds the run');
    readBack = 0;
    // The head kept after the append holds the claim: a second one is refused without reading it back.
    await assert.rejects(guardedAppend(counting, [{ stream: 'run-r', events: [claim('w2')] }], { heads }), /already has a RunClaimed event; nothing was recorded \(rule once\)/);
    assert.equal(readBack, 0);
    // Another writer's event is read and folded before the next check, and the append lands after it.
    await ledger.store.append('run-r', [{ type: 'custom.note', data: { by: 'other' } }]);
    const mine = await guardedAppend(counting, [{ stream: 'run-r', events: [{ type: 'custom.note', data: { by: 'me' } }] }], { heads });
    assert.equal(readBack, 1);
    assert.deepEqual(mine.streams, [{ stream: 'run-r', firstRevision: planned.length + 2, lastRevision: planned.length + 2 }]);
  });
});
