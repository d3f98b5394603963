// One conformance suite for every store adapter (sqlite, postgres, kurrentdb). It speaks only the
// port in src/store/port.ts: no SQL, no adapter internals, no assumption that positions are dense
// (server stores may leave gaps) — only leaf indices are dense, after integrate().
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import type { ProposedEvent } from '../../events/envelope.js';
import { ConcurrencyError, IdempotencyError, InputError } from '../../src/errors.js';
import { canonicalBytes } from '../../src/integrity/canonical.js';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { CompactRange, rootOfLeaves } from '../../src/integrity/compact-range.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { noteKeyFromSeed, parseSignerKey } from '../../src/integrity/note.js';
import { readLogPages } from '../../src/ledger/read.js';
import { verifyLog } from '../../src/replay/verify-log.js';
import { ANY, NO_STREAM, STREAM_EXISTS, type AppendRequest, type EventStore, type RecordedEvent } from '../../src/store/port.js';
import { runAppenders } from './appenders.js';

export interface StoreHarness {
  /** A fresh, initialised, empty store. */
  store: EventStore;
  /** The store's URL, for cases that open it from other processes (skipped when absent). */
  url?: string;
  cleanup(): Promise<void>;
}

/**
 * Returns a fresh empty store per call, or null when the service is missing — in that case the
 * factory prints one line saying why and how to enable it, and the whole suite is skipped.
 */
export type StoreFactory = () => Promise<StoreHarness | null>;

export function event(data: Record<string, unknown>, id: string = randomUUID()): ProposedEvent {
  return { id, type: 'custom.conformance', data };
}

export function events(count: number, tag: string): ProposedEvent[] {
  return Array.from({ length: count }, (_, i) => event({ tag, i }));
}

/**
 * Checks events in the order given — the order the store handed them out, never re-sorted: each
 * stored leaf hash is its bytes' hash, each envelope is its bytes, and each stream's events come
 * revision 0, 1, 2, … with prevHash naming the previous one's leaf hash. So an event of revision
 * n + 1 handed out before revision n fails here, as it fails the auditor's log verifier.
 */
export function assertChainsValid(log: readonly RecordedEvent[], order = 'store order'): void {
  const heads = new Map<string, { revision: number; leaf: string }>();
  for (const e of log) {
    const at = `${e.envelope.stream}@${e.envelope.revision} (${order}, position ${e.position})`;
    const leaf = leafHash(e.canonical).toString('hex');
    assert.equal(e.leafHash, leaf, `stored leaf hash of ${at} matches its bytes`);
    assert.deepEqual(canonicalBytes(e.envelope), e.canonical, `envelope of ${at} is its bytes`);
    const head = heads.get(e.envelope.stream);
    assert.equal(e.envelope.revision, head ? head.revision + 1 : 0, `${at} follows revision ${head?.revision ?? 'none'} of its stream in ${order}`);
    assert.equal(e.envelope.prevHash, head ? head.leaf : null, `prevHash of ${at}`);
    heads.set(e.envelope.stream, { revision: e.envelope.revision, leaf });
  }
}

/** A signing key for test checkpoints; verification needs one even when the log has no checkpoint. */
const testOrigin = 'runledger.test/conformance';
const testKey = noteKeyFromSeed(testOrigin, Buffer.alloc(32, 11));

/**
 * The auditor's check of the whole store: integrate, sign a checkpoint of the tree, then run the
 * log verifier (src/replay/verify-log.ts) over readLog, which recomputes every leaf, chain, root and
 * signature from the raw bytes. Also holds readAll and readLog to per-stream order as handed out.
 */
export async function assertStoreVerifies(store: EventStore, expectedEvents: number): Promise<RecordedEvent[]> {
  const state = await store.integrate();
  assert.equal(state.size, expectedEvents, 'every event is integrated');
  const root = CompactRange.fromState(state.size, state.range.map((h) => Buffer.from(h, 'hex'))).root();
  await store.addCheckpoint({
    size: state.size,
    root: root.toString('hex'),
    note: signCheckpoint(testOrigin, state.size, root, parseSignerKey(testKey.signerKey)),
    createdAt: new Date().toISOString(),
  });
  const report = await verifyLog(readLogPages(store, 97), {
    checkpoints: await store.checkpoints(),
    verifierKeys: [testKey.verifierKey],
    origin: testOrigin,
  });
  assert.equal(report.firstDivergence?.message, undefined, 'the log verifier finds no divergence');
  assert.equal(report.ok, true);
  assert.equal(report.events, expectedEvents);
  const all = await store.readAll();
  assert.equal(all.length, expectedEvents);
  assertChainsValid(all, 'readAll order');
  const log = await store.readLog();
  assert.deepEqual(log.map((e) => e.index), [...log.keys()], 'leaf indices are dense in readLog order');
  assertChainsValid(log, 'readLog order');
  assert.deepEqual(log.map((e) => e.envelope.id), all.map((e) => e.envelope.id), 'leaf order is store order');
  return log;
}

/** Collects `count` events from an observable, failing after `timeoutMs`. Unsubscribes when done. */
export function take(source: Observable<RecordedEvent>, count: number, timeoutMs = 5000, onEvent?: (e: RecordedEvent) => void): Promise<RecordedEvent[]> {
  return new Promise((resolve, reject) => {
    const seen: RecordedEvent[] = [];
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      reject(new Error(`received ${seen.length} of ${count} events within ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = source.subscribe({
      next(e) {
        seen.push(e);
        onEvent?.(e);
        if (seen.length === count) {
          clearTimeout(timer);
          // Unsubscribing inside next: the subscription object exists by the time events arrive
          // because stores deliver asynchronously.
          queueMicrotask(() => subscription.unsubscribe());
          resolve(seen);
        }
      },
      error(err) {
        clearTimeout(timer);
        reject(err);
      },
    });
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `count` appends, all `expectedRevision: any`, into four shared streams: appender i writes
 * 1 + i % 3 events to stream i % 4; every fifth one is an atomic batch that also writes to the next
 * stream, listed first, so batches name their streams in both orders (deadlock bait).
 */
export function anyWorkload(tag: string, count: number): AppendRequest[][] {
  return Array.from({ length: count }, (_, i) => {
    const own: AppendRequest = { stream: `${tag}-shared-${i % 4}`, events: events(1 + (i % 3), `${tag}-a${i}`), expectedRevision: ANY };
    if (i % 5 !== 4) return [own];
    return [{ stream: `${tag}-shared-${(i + 1) % 4}`, events: events(1, `${tag}-b${i}`), expectedRevision: ANY }, own];
  });
}

export function runConformance(name: string, factory: StoreFactory): void {
  describe(`store conformance: ${name}`, function () {
    let pending: StoreHarness | undefined;
    let harness: StoreHarness | undefined;
    let store: EventStore;

    before(async function () {
      const probe = await factory();
      if (!probe) return this.skip();
      pending = probe;
    });

    beforeEach(async function () {
      harness = pending ?? (await factory()) ?? undefined;
      pending = undefined;
      if (!harness) throw new Error(`${name} store factory returned null after the suite started`);
      store = harness.store;
    });

    afterEach(async function () {
      await harness?.cleanup();
      harness = undefined;
    });

    after(async function () {
      await pending?.cleanup();
    });

    describe('appending', function () {
      it('appends to a new stream from revision 0 and reads the events back in order', async function () {
        const proposed = events(3, 'new');
        const result = await store.append('run-new', proposed);
        assert.deepEqual(result.streams, [{ stream: 'run-new', firstRevision: 0, lastRevision: 2 }]);
        assert.equal(result.duplicate, false);
        assert.equal(result.positions.length, 3);
        assert.ok(result.positions[0]! < result.positions[1]! && result.positions[1]! < result.positions[2]!, 'positions increase');
        assert.equal(await store.streamRevision('run-new'), 2);
        const read = await store.readStream('run-new');
        assert.deepEqual(read.map((e) => e.envelope.revision), [0, 1, 2]);
        assert.deepEqual(read.map((e) => e.envelope.id), proposed.map((e) => e.id));
        assert.deepEqual(read.map((e) => e.envelope.data), proposed.map((e) => e.data));
        assert.deepEqual(read.map((e) => e.position), result.positions);
        assert.equal(read[0]!.envelope.prevHash, null);
        assert.equal(read[0]!.envelope.stream, 'run-new');
        assert.match(read[0]!.envelope.metadata.recordedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      });

      it('keeps stream names and metadata with quotes, backslashes, braces, commas and non-ASCII text byte for byte', async function () {
        // Stores that write values as SQL or array literals must escape them; none may alter them.
        // Each quote also alone in its batch (no backslash beside it), where an escaper may take a shortcut.
        const streams = [`lab-q"uo\\te'{x},y`, 'lab-\\"', "lab-o'brien", 'lab-say"hi', 'lab-ü€😀', 'lab-NULL'];
        for (const [k, stream] of streams.entries()) {
          const actor = `a'"\\{},${k}`;
          await store.append(stream, [{ ...event({ k }), metadata: { actor, correlationId: 'c"\\', causationId: null } }], { expectedRevision: 'no_stream' });
          const [read] = await store.readStream(stream);
          assert.equal(read!.envelope.stream, stream);
          assert.equal(read!.envelope.metadata.actor, actor);
          assert.equal(read!.envelope.metadata.correlationId, 'c"\\');
          assert.equal(await store.streamRevision(stream), 0);
        }
        await store.integrate();
        assertChainsValid(await store.readAll());
        assert.deepEqual((await store.listStreams()).map((s) => s.stream).sort(), [...streams].sort());
      });

      it('reports a missing stream as revision -1 and reads it as empty', async function () {
        assert.equal(await store.streamRevision('nowhere'), -1);
        assert.deepEqual(await store.readStream('nowhere'), []);
        assert.deepEqual(await store.readAll(), []);
      });

      it('rejects an invalid event with an InputError and writes nothing', async function () {
        await store.append('run-a', events(1, 'a'));
        await assert.rejects(store.append('run-a', [event({ ok: true }), { type: 'NoSuchEventType', data: {} }]), InputError);
        await assert.rejects(store.append('run-a', [{ type: 'custom.x', data: { n: Number.NaN } }]), InputError);
        assert.equal(await store.streamRevision('run-a'), 0);
        assert.equal((await store.readAll()).length, 1);
      });
    });

    describe('expected revision', function () {
      async function assertConflict(attempt: () => Promise<unknown>, stream: string, actual: number): Promise<void> {
        const before = (await store.readAll()).length;
        await assert.rejects(attempt(), (err: unknown) => {
          assert.ok(err instanceof ConcurrencyError, `expected ConcurrencyError, got ${String(err)}`);
          assert.equal(err.stream, stream);
          assert.equal(err.actual, actual);
          return true;
        });
        assert.equal((await store.readAll()).length, before, 'a conflict writes nothing');
        assert.equal(await store.streamRevision(stream), actual);
      }

      it('no_stream succeeds on a new stream and conflicts once it exists', async function () {
        await store.append('s', events(2, 'first'), { expectedRevision: NO_STREAM });
        await assertConflict(() => store.append('s', events(1, 'again'), { expectedRevision: NO_STREAM }), 's', 1);
      });

      it('stream_exists conflicts on a new stream and succeeds once it exists', async function () {
        await assertConflict(() => store.append('s', events(1, 'x'), { expectedRevision: STREAM_EXISTS }), 's', -1);
        await store.append('s', events(1, 'y'));
        const result = await store.append('s', events(1, 'z'), { expectedRevision: STREAM_EXISTS });
        assert.equal(result.streams[0]!.firstRevision, 1);
      });

      it('a revision number succeeds only when it is the current revision', async function () {
        await store.append('s', events(1, 'a'), { expectedRevision: -1 });
        await store.append('s', events(2, 'b'), { expectedRevision: 0 });
        await assertConflict(() => store.append('s', events(1, 'stale'), { expectedRevision: 0 }), 's', 2);
        await assertConflict(() => store.append('s', events(1, 'ahead'), { expectedRevision: 5 }), 's', 2);
        await assertConflict(() => store.append('t', events(1, 'none'), { expectedRevision: 0 }), 't', -1);
        const result = await store.append('s', events(1, 'c'), { expectedRevision: 2 });
        assert.deepEqual(result.streams, [{ stream: 's', firstRevision: 3, lastRevision: 3 }]);
      });

      it('any appends whatever the stream state', async function () {
        await store.append('s', events(1, 'a'), { expectedRevision: ANY });
        await store.append('s', events(1, 'b'), { expectedRevision: ANY });
        await store.append('s', events(1, 'c'));
        assert.equal(await store.streamRevision('s'), 2);
      });

      it('of many concurrent appends expecting the same revision exactly one wins', async function () {
        await store.append('race', events(1, 'base'));
        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.append('race', events(2, `w${i}`), { expectedRevision: 0 })),
        );
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
        for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof ConcurrencyError, String(o.reason));
        assert.equal(await store.streamRevision('race'), 2);
        await assertStoreVerifies(store, 3);
      });
    });

    describe('atomic batches', function () {
      it('records a multi-stream batch with positions in request order', async function () {
        const result = await store.appendBatch([
          { stream: 'a', events: events(2, 'a') },
          { stream: 'b', events: events(1, 'b'), expectedRevision: NO_STREAM },
        ]);
        assert.deepEqual(result.streams, [
          { stream: 'a', firstRevision: 0, lastRevision: 1 },
          { stream: 'b', firstRevision: 0, lastRevision: 0 },
        ]);
        const all = await store.readAll();
        assert.deepEqual(all.map((e) => e.position), result.positions);
        assert.deepEqual(all.map((e) => e.envelope.stream), ['a', 'a', 'b']);
      });

      it('writes nothing when the second request has a conflicting expected revision', async function () {
        await store.append('existing', events(1, 'seed'));
        const before = await store.readAll();
        await assert.rejects(
          store.appendBatch([
            { stream: 'existing', events: events(2, 'ok'), expectedRevision: 0 },
            { stream: 'fresh', events: events(1, 'ok') },
            { stream: 'existing', events: events(1, 'bad'), expectedRevision: 0 },
          ]),
          ConcurrencyError,
        );
        assert.deepEqual(await store.readAll(), before);
        assert.equal(await store.streamRevision('fresh'), -1);
        assert.equal(await store.streamRevision('existing'), 0);
      });

      it('writes nothing when the first request conflicts', async function () {
        await assert.rejects(
          store.appendBatch([
            { stream: 'x', events: events(1, 'bad'), expectedRevision: STREAM_EXISTS },
            { stream: 'y', events: events(1, 'ok') },
          ]),
          ConcurrencyError,
        );
        assert.deepEqual(await store.readAll(), []);
      });

      it('writes nothing when a later request reuses an id with different content', async function () {
        const id = randomUUID();
        await store.append('seen', [event({ v: 1 }, id)]);
        await assert.rejects(
          store.appendBatch([
            { stream: 'p', events: events(3, 'ok') },
            { stream: 'seen', events: [event({ v: 2 }, id)] },
          ]),
          IdempotencyError,
        );
        assert.equal((await store.readAll()).length, 1);
        assert.equal(await store.streamRevision('p'), -1);
      });

      it('writes nothing when a later request holds an invalid event', async function () {
        await assert.rejects(
          store.appendBatch([
            { stream: 'p', events: events(2, 'ok') },
            { stream: 'q', events: [{ type: 'custom.ok', data: [] as unknown as Record<string, unknown> }] },
          ]),
          InputError,
        );
        assert.deepEqual(await store.readAll(), []);
      });
    });

    describe('idempotency', function () {
      it('treats a retry with the same ids and content as a duplicate and writes no new events', async function () {
        const proposed = events(3, 'retry');
        const first = await store.append('r', proposed, { expectedRevision: NO_STREAM });
        await store.append('r', events(1, 'later'));
        // The retry of a request that succeeded (its acknowledgement was lost) succeeds again,
        // even though its expectation no longer holds.
        const again = await store.append('r', proposed, { expectedRevision: NO_STREAM });
        assert.equal(again.duplicate, true);
        assert.deepEqual(again.positions, first.positions);
        assert.deepEqual(again.streams, first.streams);
        assert.equal((await store.readAll()).length, 4);
      });

      it('recognises a retry naming the id the ledger generated for an event that came without one', async function () {
        const first = await store.append('g', [{ type: 'custom.conformance', data: { generated: 1 } }]);
        const [recorded] = await store.readStream('g');
        const again = await store.append('g', [{ id: recorded!.envelope.id, type: 'custom.conformance', data: { generated: 1 } }]);
        assert.equal(again.duplicate, true);
        assert.deepEqual(again.positions, first.positions);
        await assert.rejects(store.append('g', [{ id: recorded!.envelope.id, type: 'custom.conformance', data: { generated: 2 } }]), IdempotencyError);
        assert.equal((await store.readAll()).length, 1);
      });

      it('treats a retried multi-stream batch as a duplicate', async function () {
        const batch = [
          { stream: 'a', events: events(2, 'a') },
          { stream: 'b', events: events(2, 'b') },
        ];
        const first = await store.appendBatch(batch);
        const again = await store.appendBatch(batch);
        assert.equal(again.duplicate, true);
        assert.deepEqual(again.positions, first.positions);
        assert.equal((await store.readAll()).length, 4);
      });

      it('rejects the same id with different content as an IdempotencyError and writes nothing', async function () {
        const id = randomUUID();
        await store.append('r', [event({ v: 1 }, id)]);
        await assert.rejects(store.append('r', [event({ v: 2 }, id)]), IdempotencyError);
        await assert.rejects(store.append('other', [event({ v: 1 }, id)]), IdempotencyError, 'same content in another stream is different content');
        assert.equal((await store.readAll()).length, 1);
      });

      it('refuses an event id in any spelling but the lowercase hyphenated UUID, so no store folds two ids into one, and writes nothing', async function () {
        // PostgreSQL keeps ids as uuid, which reads upper case, braces and missing hyphens as the same
        // id; SQLite keeps the text. Only the one spelling both stores agree on may reach either.
        const id = randomUUID();
        await store.append('case', [event({ v: 1 }, id)]);
        const spellings = [id.toUpperCase(), `{${id}}`, id.replaceAll('-', ''), randomUUID().toUpperCase()];
        for (const spelling of spellings) {
          await assert.rejects(store.append('case', [event({ v: 1 }, spelling)]), InputError, spelling);
        }
        assert.deepEqual((await store.readAll()).map((e) => e.envelope.id), [id]);
        assert.equal(await store.streamRevision('case'), 0);
      });

      it('rejects a request mixing recorded and new events as an InputError', async function () {
        const proposed = events(2, 'mix');
        await store.append('r', proposed);
        await assert.rejects(store.append('r', [...proposed, event({ extra: true })]), (err: unknown) => {
          assert.ok(err instanceof InputError && !(err instanceof IdempotencyError), String(err));
          return true;
        });
        assert.equal((await store.readAll()).length, 2);
      });
    });

    describe('reading', function () {
      beforeEach(async function () {
        for (let i = 0; i < 5; i++) {
          await store.appendBatch([
            { stream: 'even', events: [event({ i: 2 * i }), event({ i: 2 * i + 1 })] },
            { stream: 'odd', events: [event({ i })] },
          ]);
        }
      });

      it('readStream starts at an inclusive revision and honours the limit', async function () {
        const page = await store.readStream('even', { fromRevision: 3, limit: 4 });
        assert.deepEqual(page.map((e) => e.envelope.revision), [3, 4, 5, 6]);
        assert.deepEqual(page.map((e) => e.envelope.data.i), [3, 4, 5, 6]);
        assert.deepEqual((await store.readStream('odd', { fromRevision: 4 })).map((e) => e.envelope.revision), [4]);
      });

      it('readAll returns every event in append order after an exclusive position', async function () {
        const all = await store.readAll();
        assert.equal(all.length, 15);
        assert.deepEqual(all.slice(0, 3).map((e) => e.envelope.stream), ['even', 'even', 'odd']);
        for (let i = 1; i < all.length; i++) assert.ok(all[i]!.position > all[i - 1]!.position, 'positions increase');
        const after = await store.readAll({ after: all[5]!.position, limit: 4 });
        assert.deepEqual(after.map((e) => e.position), all.slice(6, 10).map((e) => e.position));
        assert.deepEqual(await store.readAll({ after: all[14]!.position }), []);
      });

      it('readLog returns integrated events by inclusive dense leaf index', async function () {
        await store.integrate();
        const log = await store.readLog();
        assert.deepEqual(log.map((e) => e.index), [...Array(15).keys()]);
        assert.deepEqual(log.map((e) => e.envelope.id), (await store.readAll()).map((e) => e.envelope.id));
        assert.deepEqual((await store.readLog({ fromIndex: 2, limit: 3 })).map((e) => e.index), [2, 3, 4]);
      });

      it('lists streams with their current revisions', async function () {
        const streams = await store.listStreams();
        assert.deepEqual(
          [...streams].sort((a, b) => a.stream.localeCompare(b.stream)),
          [
            { stream: 'even', revision: 9 },
            { stream: 'odd', revision: 4 },
          ],
        );
      });

      it('returns envelopes that are exactly the stored canonical bytes', async function () {
        for (const e of await store.readAll()) {
          assert.deepEqual(JSON.parse(e.canonical.toString('utf8')), e.envelope);
          assert.equal(Object.hasOwn(e.envelope, 'position'), false, 'positions are not part of the envelope');
        }
      });
    });

    describe('integrity', function () {
      it('chains each event to the leaf hash of the previous event of its stream', async function () {
        await store.append('a', events(3, 'a1'));
        await store.appendBatch([
          { stream: 'b', events: events(2, 'b1') },
          { stream: 'a', events: events(2, 'a2') },
        ]);
        await store.append('b', events(1, 'b2'));
        const all = await store.readAll();
        assert.equal(all.length, 8);
        assertChainsValid(all);
        const a = await store.readStream('a');
        assert.equal(a[3]!.envelope.prevHash, leafHash(a[2]!.canonical).toString('hex'), 'chain continues across appends');
      });

      it('integrates events at dense leaf indices under a root equal to the recomputed RFC 9162 root', async function () {
        await store.append('a', events(5, 'a'));
        await store.append('b', events(2, 'b'));
        const first = await store.integrate();
        assert.equal(first.size, 7);
        const log = await store.readLog();
        const leaves = log.map((e) => leafHash(e.canonical));
        const stateRoot = (s: { size: number; range: string[] }) =>
          CompactRange.fromState(s.size, s.range.map((h) => Buffer.from(h, 'hex'))).root();
        assert.deepEqual(stateRoot(first), rootOfLeaves(leaves));

        await store.append('a', events(6, 'more'));
        const second = await store.integrate();
        assert.equal(second.size, 13);
        assert.deepEqual(await store.treeState(), second);
        const all = await store.readLog();
        assert.deepEqual(all.map((e) => e.index), [...Array(13).keys()]);
        assert.deepEqual(all.slice(0, 7).map((e) => e.envelope.id), log.map((e) => e.envelope.id), 'integrated leaves never move');
        const allLeaves = all.map((e) => leafHash(e.canonical));
        assert.deepEqual(stateRoot(second), rootOfLeaves(allLeaves));
        assert.deepEqual(await store.leafHashes(3, 9), allLeaves.slice(3, 9).map((h) => h.toString('hex')));
      });
    });

    describe('integration around failed appends', function () {
      it('gives dense leaf indices, the same in readAll, readStream and readLog, when appends failed in between', async function () {
        let ok = 0;
        for (let i = 0; i < 12; i++) {
          // Conflicts and refused retries fail inside the append transaction (a server store may
          // already have drawn positions for them, which then stay empty).
          if (i % 3 === 1) await assert.rejects(store.append(`s${i % 2}`, events(2, `bad${i}`), { expectedRevision: 99 }), ConcurrencyError);
          if (i % 4 === 2) await assert.rejects(store.append('fresh', events(1, `x${i}`), { expectedRevision: STREAM_EXISTS }), ConcurrencyError);
          await store.append(`s${i % 2}`, events(1 + (i % 2), `ok${i}`));
          ok += 1 + (i % 2);
          if (i === 5) await store.integrate();
        }
        assert.equal((await store.treeState()).size + (await store.unintegrated()), ok, 'integrated plus unintegrated is every event');
        const log = await assertStoreVerifies(store, ok);
        assert.equal(await store.unintegrated(), 0);
        const indexOf = new Map(log.map((e) => [e.envelope.id, e.index]));
        for (const e of await store.readAll()) assert.equal(e.index, indexOf.get(e.envelope.id), `readAll index of position ${e.position}`);
        for (const stream of ['s0', 's1']) {
          for (const e of await store.readStream(stream)) assert.equal(e.index, indexOf.get(e.envelope.id), `readStream index of ${stream}@${e.envelope.revision}`);
        }
        const leaves = log.map((e) => leafHash(e.canonical).toString('hex'));
        assert.deepEqual(await store.leafHashes(0, ok), leaves);
        assert.deepEqual(await store.leafHashes(3, 11), leaves.slice(3, 11));
        for (const from of [0, 1, 5, 8, ok - 1]) {
          assert.deepEqual((await store.readLog({ fromIndex: from, limit: 3 })).map((e) => e.index), log.slice(from, from + 3).map((e) => e.index));
        }
      });
    });

    describe('subscriptions', function () {
      it('catches up, goes live, and resumes from a stored position without loss or duplicates', async function () {
        await store.append('a', events(5, 'catch-up'));
        const first = take(store.subscribe({ pollMs: 20 }), 8, 5000, (e) => void store.setPosition('relay', e.position));
        await pause(50);
        await store.append('b', events(3, 'live'));
        const seen = await first;
        assert.deepEqual(seen.map((e) => e.envelope.data.tag), [...Array(5).fill('catch-up'), ...Array(3).fill('live')]);
        await pause(20);
        assert.equal(await store.getPosition('relay'), seen[7]!.position);

        await store.append('a', events(4, 'while-away'));
        const resumeFrom = (await store.getPosition('relay'))!;
        const resumed = await take(store.subscribe({ after: resumeFrom, pollMs: 20 }), 4);
        assert.deepEqual(resumed.map((e) => e.envelope.data.tag), Array(4).fill('while-away'));
        const all = await store.readAll();
        assert.deepEqual([...seen, ...resumed].map((e) => e.envelope.id), all.map((e) => e.envelope.id));
      });

      it('delivers events appended by concurrent writers in position order, each once', async function () {
        const expected = 60;
        const received = take(store.subscribe({ pollMs: 20 }), expected, 10_000);
        await Promise.all(Array.from({ length: 30 }, (_, i) => store.append(`w${i % 3}`, events(2, `c${i}`))));
        const seen = await received;
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.position > seen[i - 1]!.position, 'in position order');
        assert.equal(new Set(seen.map((e) => e.envelope.id)).size, expected);
        assertChainsValid(seen, 'subscription order');
        await pause(60);
        assert.equal((await store.readAll()).length, expected, 'nothing delivered that was not stored');
        await assertStoreVerifies(store, expected);
      });

      it('stops delivering after unsubscribe', async function () {
        let count = 0;
        const subscription = store.subscribe({ pollMs: 10 }).subscribe(() => (count += 1));
        await store.append('a', events(2, 'x'));
        await pause(60);
        assert.equal(count, 2);
        subscription.unsubscribe();
        await store.append('a', events(2, 'y'));
        await pause(60);
        assert.equal(count, 2);
      });
    });

    describe('concurrency', function () {
      it('concurrent appends into shared streams neither lose nor duplicate events', async function () {
        const writes = Array.from({ length: 40 }, (_, i) => store.append(`shared-${i % 4}`, events(3, `w${i}`), { expectedRevision: ANY }));
        const results = await Promise.all(writes);
        const positions = results.flatMap((r) => r.positions);
        assert.equal(new Set(positions).size, 120);
        const all = await store.readAll();
        assert.equal(all.length, 120);
        assert.equal(new Set(all.map((e) => e.envelope.id)).size, 120);
        for (let s = 0; s < 4; s++) assert.equal(await store.streamRevision(`shared-${s}`), 29);
        assertChainsValid(all, 'readAll order');
        // Each append's events are contiguous in its stream.
        for (const r of results) assert.equal(r.streams[0]!.lastRevision - r.streams[0]!.firstRevision, 2);
        await assertStoreVerifies(store, 120);
      });

      it('dozens of concurrent "any" appends into four shared streams keep each stream in order as the store hands it out (5 trials)', async function () {
        this.timeout(60_000);
        const trials = 5;
        let total = 0;
        const seen: RecordedEvent[] = [];
        let failure: unknown;
        const live = store.subscribe({ pollMs: 20 }).subscribe({ next: (e) => seen.push(e), error: (e) => (failure = e) });
        try {
          for (let trial = 0; trial < trials; trial++) {
            const requests = anyWorkload(`t${trial}`, 40);
            const results = await Promise.all(requests.map((batch) => store.appendBatch(batch)));
            total += requests.flat().reduce((n, r) => n + r.events.length, 0);
            assert.equal(results.filter((r) => r.duplicate).length, 0);
            // After every trial, in store order: a revision handed out before its predecessor fails here.
            assertChainsValid(await store.readAll(), `readAll order after trial ${trial + 1}`);
          }
          const deadline = Date.now() + 20_000;
          while (seen.length < total && failure === undefined && Date.now() < deadline) await pause(20);
        } finally {
          live.unsubscribe();
        }
        assert.equal(failure, undefined);
        assert.equal(seen.length, total, 'the subscriber saw every event once');
        assertChainsValid(seen, 'subscription order');
        const log = await assertStoreVerifies(store, total);
        assert.deepEqual(seen.map((e) => e.envelope.id), log.map((e) => e.envelope.id), 'subscription order is leaf order');
      });

      it('dozens of concurrent "any" appends from four processes into four shared streams keep each stream in order (3 trials)', async function () {
        if (!harness?.url) return this.skip();
        this.timeout(120_000);
        let total = 0;
        for (let trial = 0; trial < 3; trial++) {
          // 4 processes x 10 concurrent appenders; the processes start appending together.
          const workload = anyWorkload(`p${trial}`, 40);
          const perProcess = [0, 1, 2, 3].map((p) => workload.filter((_, i) => i % 4 === p));
          const reports = await runAppenders(harness.url, perProcess);
          assert.deepEqual(reports.map((r) => r.appended), perProcess.map((w) => w.flat().reduce((n, r) => n + r.events.length, 0)));
          total += reports.reduce((n, r) => n + r.appended, 0);
          assertChainsValid(await store.readAll(), `readAll order after trial ${trial + 1}`);
        }
        await assertStoreVerifies(store, total);
      });
    });

    describe('checkpoints, meta and consumer positions', function () {
      it('keeps checkpoints oldest first', async function () {
        assert.deepEqual(await store.checkpoints(), []);
        const one = { size: 1, root: 'aa'.repeat(32), note: 'origin\n1\nqg==\n\n— key sig\n', createdAt: '2026-01-01T00:00:00.000Z' };
        const two = { size: 5, root: 'bb'.repeat(32), note: 'origin\n5\nuw==\n\n— key sig\n', createdAt: '2026-01-02T00:00:00.000Z' };
        await store.addCheckpoint(one);
        await store.addCheckpoint(two);
        assert.deepEqual(await store.checkpoints(), [one, two]);
      });

      it('round-trips meta values and overwrites them', async function () {
        assert.equal(await store.getMeta('origin'), undefined);
        await store.setMeta('origin', 'example.org/ledger');
        await store.setMeta('ledger-id', 'abc');
        await store.setMeta('origin', 'example.org/other');
        assert.equal(await store.getMeta('origin'), 'example.org/other');
        assert.equal(await store.getMeta('ledger-id'), 'abc');
      });

      it('round-trips consumer positions and overwrites them', async function () {
        assert.equal(await store.getPosition('projection'), undefined);
        await store.setPosition('projection', 41);
        await store.setPosition('relay', -1);
        await store.setPosition('projection', 42);
        assert.equal(await store.getPosition('projection'), 42);
        assert.equal(await store.getPosition('relay'), -1);
      });
    });
  });
}
