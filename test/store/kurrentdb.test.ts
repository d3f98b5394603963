// The KurrentDB store: the shared conformance suite against a real server (KURRENTDB_URL or a
// Testcontainers container; otherwise one skip line), the same suite against the in-memory client
// of test/support/fake-kurrentdb.ts (the adapter's logic, not a server's behaviour), and what only
// this adapter has: URLs, the mapping to KurrentDB records, the integrator's fence, and surviving a
// `$all` subscription that stalls or fails.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { IntegrityError, InputError, UnavailableError } from '../../src/errors.js';
import { noteKeyFromSeed } from '../../src/integrity/note.js';
import { readLogPages } from '../../src/ledger/read.js';
import { verifyLog } from '../../src/replay/verify-log.js';
import { positionNumber, readFrom, recordedEvent } from '../../src/store/kurrentdb/codec.js';
import { createKurrentStore, kurrentFailure, type KurrentStoreOptions } from '../../src/store/kurrentdb/index.js';
import { ledgerStreams } from '../../src/store/kurrentdb/streams.js';
import { assignLeaves, decodeTreeRecord, planIntegration, TreeIndex } from '../../src/store/kurrentdb/tree.js';
import { parseKurrentUrl } from '../../src/store/kurrentdb/url.js';
import { plannedWrite } from '../../src/store/kurrentdb/write.js';
import { planAppend } from '../../src/store/append-plan.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { prepareBatch } from '../../src/store/seal.js';
import { FakeKurrentServer } from '../support/fake-kurrentdb.js';
import { kurrentdbServer } from '../support/kurrentdb.js';
import { assertStoreVerifies, event, events, runConformance, take } from './conformance.js';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const freshLedger = (): string => `t${randomBytes(6).toString('hex')}`;

function fakeStore(server = new FakeKurrentServer(), options: Partial<KurrentStoreOptions> = {}): { store: EventStore; server: FakeKurrentServer } {
  const store = createKurrentStore({ url: 'kurrentdb://fake.invalid:2113?tls=false', client: server.client(), subscriberBackoffMs: 5, ...options });
  return { store, server };
}

let warned = false;
runConformance('kurrentdb', async () => {
  const server = await kurrentdbServer();
  if ('skip' in server) {
    if (!warned) console.log(`    skipping kurrentdb store conformance: ${server.skip}`);
    warned = true;
    return null;
  }
  const url = `${server.url}${server.url.includes('?') ? '&' : '?'}ledger=${freshLedger()}`;
  const store = await openStore(url);
  return { store, url, cleanup: () => store.close() };
});

// The same suite over the scripted client: the adapter's logic end to end, no server involved.
runConformance('kurrentdb adapter over the in-memory client (not a server)', async () => {
  const { store } = fakeStore();
  await store.init();
  return { store, cleanup: () => store.close() };
});

describe('kurrentdb store', function () {
  describe('store URLs', function () {
    it('accepts kurrentdb:// and esdb:// URLs and hands the client a kurrentdb:// connection string without the ledger parameter', function () {
      const a = parseKurrentUrl('kurrentdb://127.0.0.1:2113?tls=false', {});
      assert.equal(a.connectionString, 'kurrentdb://127.0.0.1:2113?tls=false');
      assert.equal(a.ledger, 'runledger');
      assert.equal(a.tls, false);
      const b = parseKurrentUrl('esdb://node1:2113,node2:2113?tls=true&ledger=team.a&tlsVerifyCert=false', {});
      assert.equal(b.connectionString, 'kurrentdb://node1:2113,node2:2113?tls=true&tlsVerifyCert=false');
      assert.equal(b.ledger, 'team.a');
      assert.equal(b.where, 'node1:2113,node2:2113');
      assert.equal(b.tls, true);
      assert.equal(parseKurrentUrl('esdb+discover://cluster.example:2113', {}).connectionString, 'kurrentdb+discover://cluster.example:2113');
    });

    it('takes credentials from the URL, else from KURRENTDB_USERNAME and KURRENTDB_PASSWORD, and never shows the password', function () {
      const inUrl = parseKurrentUrl('kurrentdb://admin:s3cret@host:2113', { KURRENTDB_USERNAME: 'other', KURRENTDB_PASSWORD: 'x' });
      assert.equal(inUrl.connectionString, 'kurrentdb://admin:s3cret@host:2113');
      assert.equal(inUrl.credentials, 'url');
      assert.equal(inUrl.displayUrl, 'kurrentdb://admin@host:2113');
      const fromEnv = parseKurrentUrl('kurrentdb://host:2113?ledger=l1', { KURRENTDB_USERNAME: 'ops', KURRENTDB_PASSWORD: 'p@ss:w/rd' });
      assert.equal(fromEnv.connectionString, 'kurrentdb://ops:p%40ss%3Aw%2Frd@host:2113');
      assert.equal(fromEnv.credentials, 'env');
      assert.equal(fromEnv.displayUrl, 'kurrentdb://host:2113?ledger=l1');
      assert.doesNotMatch(fromEnv.displayUrl, /p%40ss|p@ss/);
      assert.equal(parseKurrentUrl('kurrentdb://host:2113', {}).credentials, 'none');
    });

    it('rejects malformed URLs, credentials without a password and bad ledger names as InputErrors', function () {
      for (const url of ['kurrentdb://', 'http://host:2113', 'kurrentdb://host:2113?ledger=a:b', 'kurrentdb://host:2113?ledger=', 'kurrentdb://user@host:2113', 'kurrentdb://host:2113?throwOnAppendFailure=false']) {
        assert.throws(() => parseKurrentUrl(url, {}), InputError, url);
      }
      assert.throws(() => parseKurrentUrl('kurrentdb://u:topsecret@host?ledger=$x', {}), (err: Error) => !err.message.includes('topsecret'));
    });

    it('opens kurrentdb:// URLs through openStore, and an unreachable node is an UnavailableError naming it', async function () {
      this.timeout(30_000);
      await assert.rejects(openStore('kurrentdb://127.0.0.1:1?tls=false&ledger=nowhere'), (err: unknown) => {
        assert.ok(err instanceof UnavailableError, String(err));
        assert.match((err as Error).message, /KurrentDB at 127\.0\.0\.1:1 is unavailable/);
        return true;
      });
    });
  });

  describe('records', function () {
    const streams = ledgerStreams('l');
    const [sealed] = planAppend(prepareBatch([{ stream: 'run-1', events: [event({ a: 1 })] }]), { heads: new Map(), recorded: new Map() }, '2026-01-01T00:00:00.000Z').rows;
    const record = (over: Record<string, unknown> = {}) => ({
      streamId: 'l:s:run-1',
      id: sealed!.envelope.id,
      revision: 0n,
      type: sealed!.envelope.type,
      isJson: false,
      data: new Uint8Array(sealed!.canonical),
      position: { commit: 9000n, prepare: 9000n },
      ...over,
    });

    it('keeps a ledger event as its canonical bytes and reads it back checked against its KurrentDB stream and revision', function () {
      const e = recordedEvent(record(), streams, 3);
      assert.deepEqual(e.canonical, sealed!.canonical);
      assert.equal(e.position, 9000);
      assert.equal(e.index, 3);
      assert.equal(e.leafHash, sealed!.leafHash);
      assert.throws(() => recordedEvent(record({ revision: 1n }), streams, null), IntegrityError, 'revision differs');
      assert.throws(() => recordedEvent(record({ streamId: 'l:s:run-2' }), streams, null), IntegrityError, 'stream differs');
      assert.throws(() => recordedEvent(record({ streamId: 'other:s:run-1' }), streams, null), IntegrityError, 'not this ledger');
      assert.throws(() => recordedEvent(record({ isJson: true, data: JSON.parse(sealed!.canonical.toString()) }), streams, null), IntegrityError, 'json, not bytes');
      assert.throws(() => recordedEvent(record({ id: randomUUID() }), streams, null), IntegrityError, 'id differs');
    });

    it('uses the prepare position as the position and resumes reads at (after, after)', function () {
      assert.equal(positionNumber({ commit: 500n, prepare: 500n }, 'x'), 500);
      assert.equal(positionNumber({ commit: 900n, prepare: 610n }, 'x'), 610, 'an event of a transaction: its own record');
      assert.throws(() => positionNumber({ commit: 2n ** 60n, prepare: 2n ** 60n }, 'x'), IntegrityError);
      assert.throws(() => positionNumber(undefined, 'x'), IntegrityError);
      assert.deepEqual(readFrom(42), { commit: 42n, prepare: 42n });
    });

    it('writes each stream once at the exact revision read, one no_stream claim per event, and registers new streams', function () {
      const prepared = prepareBatch([
        { stream: 'a', events: events(2, 'a'), expectedRevision: 'any' },
        { stream: 'b', events: events(1, 'b') },
        { stream: 'a', events: events(1, 'a2') },
      ]);
      const heads = new Map([['a', { revision: 4, leafHash: 'ab'.repeat(32) }]]);
      const plan = planAppend(prepared, { heads, recorded: new Map() }, '2026-01-01T00:00:00.000Z');
      const write = plannedWrite(plan, heads, streams);
      assert.deepEqual(
        write.requests.map((r) => [r.streamName, r.expectedState, r.events.length]),
        [
          ['l:s:a', 4n, 3],
          ['l:s:b', 'no_stream', 1],
          ...plan.rows.map((row) => [`l:id:${row.envelope.id}`, 'no_stream', 1]),
          ['l:streams', 'any', 1],
        ],
      );
      assert.deepEqual(write.requests[0]!.events.map((e) => e.data), plan.rows.filter((r) => r.envelope.stream === 'a').map((r) => r.canonical));
      assert.equal(write.requests[0]!.events[0]!.contentType, 'application/octet-stream');
      const claims = write.requests.slice(2, 6).map((r) => r.events[0]!.id);
      assert.equal(new Set(claims).size, 4, 'claims carry fresh record ids');
      assert.ok(!claims.some((id) => plan.rows.some((row) => row.envelope.id === id)));
    });
  });

  describe('the tree records', function () {
    const leaf = (position: number, n: number): RecordedEvent =>
      ({ position, index: null, leafHash: n.toString(16).padStart(64, '0'), envelope: { stream: 's', revision: n } }) as unknown as RecordedEvent;

    it('extends the tree record by record and maps leaf indices to positions both ways', function () {
      const tree = new TreeIndex();
      const first = planIntegration(tree, [leaf(10, 1), leaf(25, 2), leaf(31, 3)]);
      tree.push(first, 'r0');
      const second = planIntegration(tree, [leaf(90, 4), leaf(97, 5)]);
      assert.equal(second.from, 3);
      tree.push(second, 'r1');
      assert.equal(tree.size, 5);
      assert.equal(tree.lastPosition, 97);
      assert.deepEqual([10, 25, 31, 90, 97].map((p) => tree.indexOf(p)), [0, 1, 2, 3, 4]);
      assert.equal(tree.indexOf(26), null);
      assert.equal(tree.indexOf(98), null);
      assert.deepEqual([0, 1, 2, 3, 4].map((i) => tree.positionOf(i)), [10, 25, 31, 90, 97]);
      assert.deepEqual(decodeTreeRecord(JSON.parse(JSON.stringify(second)), 'x'), second);
    });

    it('refuses a record that does not extend the tree: overlapping, shrinking, or with positions not above the last', function () {
      const tree = new TreeIndex();
      tree.push(planIntegration(tree, [leaf(10, 1), leaf(20, 2)]), 'r0');
      const good = planIntegration(tree, [leaf(30, 3)]);
      assert.throws(() => tree.push({ ...good, from: 1 }, 'r1'), IntegrityError);
      assert.throws(() => tree.push({ ...good, positions: [20] }, 'r1'), IntegrityError);
      assert.throws(() => tree.push({ ...good, size: 4 }, 'r1'), IntegrityError);
      assert.throws(() => planIntegration(tree, [leaf(15, 3)]), IntegrityError, 'an event below the integrated position');
      assert.throws(() => decodeTreeRecord({ from: 0, size: 1, positions: ['x'], range: [] }, 'r'), IntegrityError);
    });

    it('names the leaf when $all hands out another event than the tree records there', function () {
      const tree = new TreeIndex();
      tree.push(planIntegration(tree, [leaf(10, 1), leaf(20, 2), leaf(30, 3)]), 'r0');
      assert.deepEqual(assignLeaves(tree, 1, [leaf(20, 2), leaf(30, 3)]).map((e) => e.index), [1, 2]);
      assert.throws(() => assignLeaves(tree, 1, [leaf(30, 3)]), (err: unknown) => err instanceof IntegrityError && /leaf 1 is the event at \$all position 20/.test(err.message));
    });
  });

  describe('client failures', function () {
    const at = { where: 'db:2113', credentials: 'none' as const };
    it('maps the client\'s errors to typed errors naming the node', function () {
      assert.ok(kurrentFailure(Object.assign(new Error('x'), { type: 'unavailable' }), at) instanceof UnavailableError);
      assert.match(kurrentFailure(Object.assign(new Error('x'), { type: 'access-denied' }), at).message, /KURRENTDB_USERNAME/);
      assert.match(kurrentFailure(Object.assign(new Error('x'), { type: 'unsupported' }), at).message, /25\.1 or newer/);
      assert.ok(kurrentFailure(Object.assign(new Error('x'), { type: 'transaction-max-size-exceeded' }), at) instanceof InputError);
      assert.ok(kurrentFailure(Object.assign(new Error('x'), { type: 'stream-deleted' }), at) instanceof IntegrityError);
      assert.ok(kurrentFailure(Object.assign(new Error('boom\nstack'), { type: 'unknown' }), at) instanceof UnavailableError);
    });

    it('refuses to append on a server without multi-stream append, writing nothing', async function () {
      const { store, server } = fakeStore();
      server.faults.noMultiStreamAppend = true;
      await assert.rejects(store.append('s', events(2, 'x')), (err: unknown) => err instanceof UnavailableError && /25\.1/.test((err as Error).message));
      assert.equal(server.log.length, 0);
      await store.close();
    });
  });

  describe('over the in-memory client', function () {
    it('keeps positions increasing when one multi-stream append commits as one transaction', async function () {
      const { store, server } = fakeStore();
      server.faults.transactionalMultiAppend = true;
      await store.appendBatch([
        { stream: 'a', events: events(2, 'a') },
        { stream: 'b', events: events(2, 'b') },
      ]);
      await store.append('a', events(1, 'c'));
      const all = await store.readAll();
      assert.deepEqual(all.map((e) => `${e.envelope.stream}@${e.envelope.revision}`), ['a@0', 'a@1', 'b@0', 'b@1', 'a@2']);
      assert.deepEqual((await store.readAll({ after: all[1]!.position })).map((e) => e.position), all.slice(2).map((e) => e.position));
      await assertStoreVerifies(store, 5);
      await store.close();
    });

    it('two integrators on one ledger never fork the tree: the fence makes one re-read the other\'s record', async function () {
      const server = new FakeKurrentServer();
      const one = fakeStore(server).store;
      const two = fakeStore(server).store;
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: 6 }, (_, i) => one.append(`s${i % 3}`, events(2, `r${round}-${i}`))));
        const [a, b] = await Promise.all([one.integrate(), two.integrate()]);
        assert.deepEqual(a, b);
      }
      const treeRecords = server.streams.get('runledger:tree')!;
      assert.ok(treeRecords.length >= 5);
      await assertStoreVerifies(two, 60);
      assert.deepEqual(await one.readLog(), await two.readLog());
      await Promise.all([one.close(), two.close()]);
    });

    it('reports a ledger event removed from $all (deleted, truncated, scavenged stream) as an IntegrityError naming the leaf', async function () {
      const { store, server } = fakeStore();
      await store.append('a', events(3, 'a'));
      await store.append('b', events(2, 'b'));
      await store.integrate();
      server.remove('runledger:s:a', 1);
      await assert.rejects(store.readLog(), (err: unknown) => err instanceof IntegrityError && /leaf 1 /.test((err as Error).message));
      await store.close();
    });

    it('hands tampered bytes to the verifier, which names the first divergent event', async function () {
      const { store, server } = fakeStore();
      await store.append('a', events(3, 'a'));
      await assertStoreVerifies(store, 3);
      const stored = server.streams.get('runledger:s:a')![1]!;
      server.tamper('runledger:s:a', 1, Buffer.from(stored.bytes.toString('utf8').replace('"a"', '"z"')));
      const verifierKey = noteKeyFromSeed('runledger.test/conformance', Buffer.alloc(32, 11)).verifierKey;
      const report = await verifyLog(readLogPages(store), { checkpoints: await store.checkpoints(), verifierKeys: [verifierKey], origin: 'runledger.test/conformance' });
      assert.equal(report.ok, false);
      // The altered event is self-consistent; the next one's prevHash no longer names it.
      assert.equal(report.firstDivergence?.check, 'chain');
      assert.equal(report.firstDivergence?.index, 2);
      assert.equal(report.firstDivergence?.stream, 'a');
      await store.close();
    });

    it('a subscription that stalls silently on $all (the Node client hang after truncation) is replaced and delivers every event once', async function () {
      const { store, server } = fakeStore();
      await store.append('a', events(3, 'before'));
      let stalls = 0;
      server.faults.stallAt = (streamId, revision) => streamId === 'runledger:s:a' && revision === 4n && ++stalls > 0;
      const seen = take(store.subscribe({ pollMs: 20 }), 8, 10_000);
      await pause(50);
      await store.append('a', events(5, 'live'));
      const got = await seen;
      assert.deepEqual(got.map((e) => e.envelope.revision), [0, 1, 2, 3, 4, 5, 6, 7]);
      assert.equal(stalls, 1, 'the subscription stalled for good at revision 4; the stall probe caught up past it');
      await store.close();
    });

    it('resubscribes with backoff after subscription errors, without losing or repeating events', async function () {
      const { store, server } = fakeStore();
      server.faults.failSubscriptions = { count: 3, afterEvents: 1 };
      const seen = take(store.subscribe({ pollMs: 1_000 }), 12, 10_000);
      for (let i = 0; i < 6; i++) {
        await store.append('a', events(2, `x${i}`));
        await pause(15);
      }
      const got = await seen;
      assert.deepEqual(got.map((e) => e.envelope.revision), [...Array(12).keys()]);
      assert.ok(server.subscriptionsOpened >= 4);
      await store.close();
    });

    it('errors the subscription with UnavailableError after too many consecutive failures', async function () {
      const { store, server } = fakeStore(undefined, { subscriberMaxFailures: 3 });
      server.faults.failSubscriptions = { count: 100, afterEvents: 0 };
      const failure = await new Promise((resolve) => store.subscribe().subscribe({ error: resolve }));
      assert.ok(failure instanceof UnavailableError, String(failure));
      assert.match((failure as Error).message, /gave up after 3 failed attempts/);
      assert.equal(server.subscriptionsOpened, 3);
      await store.close();
    });

    it('keeps several ledgers in one database apart', async function () {
      const server = new FakeKurrentServer();
      const a = createKurrentStore({ url: 'kurrentdb://x:2113?ledger=one', client: server.client() });
      const b = createKurrentStore({ url: 'kurrentdb://x:2113?ledger=two', client: server.client() });
      await a.append('s', events(2, 'a'));
      await b.append('s', events(1, 'b'));
      assert.equal((await a.readAll()).length, 2);
      assert.equal((await b.readAll()).length, 1);
      assert.equal((await b.integrate()).size, 1);
      await Promise.all([a.close(), b.close()]);
    });
  });
});
