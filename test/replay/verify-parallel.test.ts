import assert from 'node:assert/strict';
import type { Envelope } from '../../events/envelope.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { VerifyPool, verifyLogParallel, type ParallelOptions } from '../../src/replay/verify-parallel.js';
import { verifyLogSync, type VerifyLogOptions, type VerifyLogReport } from '../../src/replay/verify-log.js';
import { batchSlot, verifyBatch } from '../../src/replay/verify-worker.js';
import { chainFromScan, SCAN_SLOTS } from '../../src/replay/envelope-scan.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { recordFromCanonical } from '../../src/store/recorded.js';
import { CompactRange } from '../../src/integrity/compact-range.js';
import { PLAN, buildLog, checkpointAt, options, reseal, tamperCases, withBytes } from './verify-log-fixtures.js';

interface Run {
  report: VerifyLogReport;
  progress: number[];
}

function single(events: readonly RecordedEvent[], opts: VerifyLogOptions): Run {
  const progress: number[] = [];
  const report = verifyLogSync(events, { ...opts, onProgress: (n) => progress.push(n), progressEvery: 2 });
  return { report, progress };
}

async function parallel(events: Iterable<RecordedEvent> | AsyncIterable<RecordedEvent>, opts: VerifyLogOptions, par: ParallelOptions): Promise<Run & { workerEvents: number }> {
  const progress: number[] = [];
  let workerEvents = 0;
  // These tests are about what workers vouch for: no batch checked here while they start, unless asked.
  const report = await verifyLogParallel(events, { ...opts, onProgress: (n) => progress.push(n), progressEvery: 2 }, {
    checkWhileStarting: false,
    ...par,
    onBatch: (where, n) => void (where === 'worker' && (workerEvents += n)),
  });
  return { report, progress, workerEvents };
}

/** A longer log over many streams, with checkpoints at uneven sizes. */
function longLog(n: number): { events: RecordedEvent[]; opts: VerifyLogOptions } {
  const plan = Array.from({ length: n }, (_, i) => PLAN[i % PLAN.length]! + (i % 7 === 0 ? '-x' : ''));
  const events = buildLog(plan);
  return { events, opts: options({ checkpoints: [1, 37, 64, 65, 150, n].map((size) => checkpointAt(events, size)) }) };
}

/** What must not depend on how a record carries its envelope: verdict, counts, root, and where and why it diverged. */
const pick = (r: VerifyLogReport) => ({ ok: r.ok, events: r.events, treeSize: r.treeSize, root: r.root, check: r.firstDivergence?.check, index: r.firstDivergence?.index });

describe('verifyLogParallel', function () {
  this.timeout(60_000);

  it('reports exactly what the single-threaded verifier reports on clean logs, whatever the batch size', async () => {
    const { events, opts } = longLog(200);
    const expected = single(events, opts);
    assert.equal(expected.report.ok, true);
    for (const batchEvents of [1, 3, 64, 1000]) {
      const got = await parallel(events, opts, { workers: 2, batchEvents });
      assert.deepEqual({ report: got.report, progress: got.progress }, expected, `batchEvents ${batchEvents}`);
      assert.equal(got.workerEvents, batchEvents >= events.length ? 0 : events.length, 'a log shorter than one batch stays on the main thread');
    }
  });

  it('checks batches on the main thread while fresh workers start, with the same report', async () => {
    const { events, opts } = longLog(600);
    const expected = single(events, opts);
    let here = 0;
    let there = 0;
    const report = await verifyLogParallel(events, { ...opts, onProgress: () => undefined }, {
      workers: 2,
      batchEvents: 16,
      onBatch: (where, n) => void (where === 'main' ? (here += n) : (there += n)),
    });
    assert.deepEqual(report, expected.report);
    assert.ok(here >= 16, 'the first batch, dispatched before any worker loaded, was checked here');
    assert.equal(here + there, 600);
  });

  it('checks short chunks here while fresh workers start, then hands them batches that end on batch boundaries', async () => {
    const { events, opts } = longLog(3000);
    const expected = single(events, opts);
    const batches: { where: string; from: number; n: number }[] = [];
    let at = 0;
    const fresh = new VerifyPool(2);
    // A source that, past its first 600 events, waits for both threads to have started: the start-up is there, whatever the machine's load.
    async function* slowStart(): AsyncGenerator<RecordedEvent> {
      for (let i = 0; i < events.length; i++) {
        if (i === 600) while (fresh.readyWorkers < 2) await new Promise((resolve) => setTimeout(resolve, 5));
        yield events[i]!;
      }
    }
    const report = await verifyLogParallel(slowStart(), { ...opts, onProgress: () => undefined }, {
      pool: fresh,
      batchEvents: 1000,
      onBatch: (where, n) => {
        batches.push({ where, from: at, n });
        at += n;
      },
    });
    assert.deepEqual(report, expected.report);
    const firstWorker = batches.findIndex((b) => b.where === 'worker');
    assert.ok(firstWorker > 0, `the first events were checked here while the workers started: ${JSON.stringify(batches)}`);
    for (const b of batches.slice(0, firstWorker)) assert.ok(b.where === 'main' && b.n <= 256, `a start-up chunk of at most 256 events: ${JSON.stringify(b)}`);
    for (const b of batches.slice(firstWorker)) assert.ok((b.from + b.n) % 1000 === 0 || b.from + b.n === 3000, `a batch ending on a multiple of 1000: ${JSON.stringify(b)}`);
    await fresh.close();
  });

  it('verifies an event of several MiB in a worker despite the workers\' small young generation', async () => {
    const { events } = longLog(40);
    reseal(events, 39, (e) => void (e.data = { blob: 'x'.repeat(6 << 20) })); // the last event: no later prevHash names it
    const opts = options({ checkpoints: [37, 40].map((size) => checkpointAt(events, size)) });
    const expected = single(events, opts);
    assert.equal(expected.report.ok, true);
    const got = await parallel(events, opts, { workers: 2, batchEvents: 8 });
    assert.deepEqual({ report: got.report, progress: got.progress }, expected);
    assert.equal(got.workerEvents, 40);
  });

  it('cuts batches by size in bytes too', async () => {
    const { events, opts } = longLog(120);
    const got = await parallel(events, opts, { workers: 3, batchEvents: 1000, batchBytes: 2000 });
    assert.deepEqual({ report: got.report, progress: got.progress }, single(events, opts));
    assert.equal(got.workerEvents, 120);
  });

  describe('reports exactly the single-threaded first divergence on every tampered log', () => {
    // One pool for the whole matrix: starting threads costs more than verifying ten events.
    let pool: VerifyPool;
    before(() => void (pool = new VerifyPool(2)));
    after(() => pool.close());
    for (const c of tamperCases()) {
      it(c.name, async () => {
        const expected = single(c.events, c.options);
        assert.equal(expected.report.ok, false, 'the case really tampers');
        // 5: batches that start off a power of two, so their subtrees cross alignments ([5, 6), [6, 8), [8, 10)).
        for (const batchEvents of [1, 3, 5]) {
          const got = await parallel(c.events, c.options, { pool, batchEvents });
          assert.deepEqual({ report: got.report, progress: got.progress }, expected, `batchEvents ${batchEvents}`);
          assert.ok(got.workerEvents > 0, 'content checks ran in a worker');
        }
      });
    }
  });

  describe('takes the tree from the workers\' subtrees and still finds every tamper at the same event', () => {
    let pool: VerifyPool;
    before(() => (pool = new VerifyPool(2)));
    after(() => pool.close());
    /** Widths of the subtrees the main thread took whole during `fn`. */
    async function subtreesTaken(fn: () => Promise<void>): Promise<number[]> {
      const widths: number[] = [];
      const original = CompactRange.prototype.appendSubtree;
      CompactRange.prototype.appendSubtree = function (this: CompactRange, root: string, width: number) {
        widths.push(width);
        original.call(this, root, width);
      };
      try {
        await fn();
      } finally {
        CompactRange.prototype.appendSubtree = original;
      }
      return widths;
    }
    const asRecords = (events: readonly RecordedEvent[]) => events.map((e) => recordFromCanonical(e.position, e.index as number, e.canonical, e.leafHash));

    it('appends whole subtrees of a clean log, around checkpoint sizes leaf by leaf, with the single-threaded report', async () => {
      const { events } = longLog(200);
      const opts = options({ checkpoints: [37, 150, 200].map((size) => checkpointAt(events, size)) });
      const expected = single(events, opts);
      for (const batchEvents of [48, 64]) {
        let got: Awaited<ReturnType<typeof parallel>> | undefined;
        const widths = await subtreesTaken(async () => void (got = await parallel(asRecords(events), opts, { pool, batchEvents })));
        assert.deepEqual({ report: got!.report, progress: got!.progress }, expected, `batchEvents ${batchEvents}`);
        assert.ok(widths.some((w) => w >= 16), `whole subtrees taken (batchEvents ${batchEvents}: ${widths.join(' ')})`);
      }
    });

    // Leaf 100: inside a worker-hashed subtree; 149 and 150: either side of the checkpoint at 150; 199: the last, partial subtree.
    for (const at of [100, 149, 150, 199]) {
      const tampers: [string, (ev: RecordedEvent[]) => void][] = [
        ['a recorded leaf hash altered', (ev) => void (ev[at] = { ...ev[at]!, leafHash: '0'.repeat(64) })],
        ['an event rewritten with a matching leaf hash', (ev) => reseal(ev, at, (e) => void (e.data = { rewritten: true }))],
        ['a broken chain', (ev) => reseal(ev, at, (e) => void (e.revision += 1))],
        ['bytes that are not JSON', (ev) => withBytes(ev, at, ev[at]!.canonical.toString('utf8').slice(0, -1))],
      ];
      for (const [name, tamper] of tampers) {
        it(`${name} at leaf ${at}`, async () => {
          const { events, opts } = longLog(200);
          tamper(events);
          const records = asRecords(events);
          const expected = single(asRecords(events), opts);
          // A rewrite that keeps its leaf hash consistent is caught where the chain or the root next looks at it.
          const found = expected.report.firstDivergence?.index ?? -1;
          assert.ok(name.includes('rewritten') ? found > at : found === at, `the tamper is found where it shows (leaf ${found})`);
          for (const batchEvents of [48, 64, 5]) {
            const got = await parallel(records.map((e) => recordFromCanonical(e.position, e.index as number, e.canonical, e.leafHash)), opts, { pool, batchEvents });
            assert.deepEqual({ report: got.report, progress: got.progress }, expected, `batchEvents ${batchEvents}`);
          }
        });
      }
    }
  });

  describe('reports identically over records as the embedded store hands them out (envelope decoded from the bytes on demand)', () => {
    let pool: VerifyPool;
    before(() => (pool = new VerifyPool(2)));
    after(() => pool.close());
    const asRecords = (events: readonly RecordedEvent[]) => events.map((e) => recordFromCanonical(e.position, e.index as number, e.canonical, e.leafHash));
    for (const c of tamperCases()) {
      it(c.name, async () => {
        const expected = single(asRecords(c.events), c.options);
        for (const batchEvents of [1, 3, 5]) {
          const got = await parallel(asRecords(c.events), c.options, { pool, batchEvents });
          assert.deepEqual({ report: got.report, progress: got.progress }, expected, `batchEvents ${batchEvents}`);
        }
        // Only a change to the envelope the store returns, apart from its bytes, cannot happen to such records;
        // every other tamper is found at the same event by the same check as over plain records (the byte scan
        // decides these records, the text path the plain ones).
        const plain = single(c.events, c.options).report;
        if (plain.firstDivergence?.check === 'envelope') assert.notEqual(expected.report.firstDivergence?.check, 'envelope');
        else assert.deepEqual(pick(expected.report), pick(plain));
      });
    }
  });

  it('checks on the main thread a batch whose envelope cannot be sent to a worker, with the same report', async () => {
    const events = buildLog();
    const envelope = { ...events[4]!.envelope, data: { ...events[4]!.envelope.data, hook: () => 1 } } as unknown as Envelope;
    events[4] = { ...events[4]!, envelope };
    const expected = single(events, options());
    assert.equal(expected.report.firstDivergence?.check, 'envelope');
    const got = await parallel(events, options(), { workers: 2, batchEvents: 3 });
    assert.deepEqual({ report: got.report, progress: got.progress }, expected);
    assert.equal(got.workerEvents, 3, 'only the first batch, before the uncloneable one, went to a worker');
  });

  it('reports a divergence found before the source failed, and rethrows a source failure otherwise', async () => {
    async function* failingAfter(events: RecordedEvent[], n: number): AsyncGenerator<RecordedEvent> {
      for (const event of events.slice(0, n)) yield event;
      throw new Error('store went away');
    }
    const events = buildLog();
    withBytes(events, 2, 'garbage');
    const expected = single(events, options());
    const got = await parallel(failingAfter(events, 8), options(), { workers: 2, batchEvents: 3 });
    assert.deepEqual(got.report, expected.report);
    await assert.rejects(parallel(failingAfter(buildLog(), 8), options(), { workers: 2, batchEvents: 3 }), /store went away/);
  });

  it('lets an exception from the verifier propagate, as single-threaded, rather than report', async () => {
    const { events, opts } = longLog(40);
    withBytes(events, 30, 'garbage'); // a divergence the verifier never reaches
    const throwing = { ...opts, onProgress: (n: number) => { if (n === 8) throw new Error('progress sink failed'); }, progressEvery: 4 };
    assert.throws(() => verifyLogSync(events, throwing), /progress sink failed/);
    await assert.rejects(verifyLogParallel(events, throwing, { workers: 2, batchEvents: 3 }), /progress sink failed/);
  });

  it('closes the source when it stops at a divergence', async () => {
    let closed = false;
    async function* source(events: RecordedEvent[]): AsyncGenerator<RecordedEvent> {
      try {
        for (const event of events) yield event;
        for (;;) yield events[0]!; // never ends by itself
      } finally {
        closed = true;
      }
    }
    const events = buildLog();
    withBytes(events, 5, 'garbage');
    const got = await parallel(source(events), options(), { workers: 2, batchEvents: 2 });
    assert.deepEqual(got.report, single(events, options()).report);
    assert.equal(closed, true);
  });

  it('runs the single-threaded verifier for one worker and refuses a worker count below one', async () => {
    const { events, opts } = longLog(30);
    const got = await parallel(events, opts, { workers: 1, batchEvents: 2 });
    assert.deepEqual({ report: got.report, progress: got.progress }, single(events, opts));
    assert.equal(got.workerEvents, 0);
    await assert.rejects(verifyLogParallel(events, opts, { workers: 0 }), RangeError);
  });
});

describe('verifyBatch (worker side)', () => {
  for (const fromBytes of [0, 1]) {
    it(`returns the leaf hashes of the events before the first one whose content fails (${fromBytes === 1 ? 'byte scan' : 'envelopes compared'})`, async () => {
      const events = buildLog().slice(0, 5);
      withBytes(events, 3, 'not json');
      const bytes = Buffer.concat(events.map((e) => e.canonical));
      const slot = batchSlot(events.length, bytes.length);
      bytes.copy(Buffer.from(slot.bytes));
      let at = 0;
      new Uint32Array(slot.ends).set(events.map((e) => (at += e.canonical.length)));
      new Uint8Array(slot.fromBytes).fill(fromBytes);
      const envelopes = fromBytes === 1 ? undefined : events.map((e) => e.envelope);
      const result = await verifyBatch({ seq: 7, base: 0, count: events.length, slotKey: 0, slot, envelopes });
      assert.equal(result.seq, 7);
      assert.equal(result.passed, 3);
      const leaves = Buffer.from(slot.leaves);
      for (let k = 0; k < 3; k++) assert.equal(leaves.toString('hex', k * 32, (k + 1) * 32), leafHash(events[k]!.canonical).toString('hex'));
      // Where the byte scan decided, the fields it located are the envelope's; elsewhere NaN (read from the envelope).
      const fields = new Float64Array(slot.fields);
      for (let k = 0; k < 3; k++) {
        const chain = chainFromScan(events[k]!.canonical, fields, k * SCAN_SLOTS);
        const env = events[k]!.envelope;
        if (fromBytes === 1) assert.deepEqual({ id: chain?.id, stream: chain?.stream, revision: chain?.revision, prevHash: chain?.prevHash, rotation: chain?.rotation }, { id: env.id, stream: env.stream, revision: env.revision, prevHash: env.prevHash, rotation: false });
        else assert.equal(chain, undefined);
      }
    });
  }
});
