// Parallel verification where the workers read their own rows from the SQLite file
// (verifyRangesParallel): over files holding the tamper matrix, and over a file edited and
// appended to while the verification runs, the report is the single-threaded verifier's over the
// same store, every time.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readLogPages } from '../../src/ledger/read.js';
import { verifyLog, type VerifyLogOptions, type VerifyLogReport } from '../../src/replay/verify-log.js';
import { VerifyPool, verifyRangesParallel, type LogRanges, type ParallelOptions } from '../../src/replay/verify-parallel.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { recordFromCanonical } from '../../src/store/recorded.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { buildLog, checkpointAt, options, PLAN, tamperCases } from './verify-log-fixtures.js';

interface Run {
  report: VerifyLogReport;
  progress: number[];
}

let dir: string;
let files = 0;

/** A ledger file holding exactly these rows (position = leaf index), as a store written by other means would. */
async function ledgerFile(events: readonly RecordedEvent[]): Promise<{ path: string; store: EventStore }> {
  const path = join(dir, `ledger-${files++}.db`);
  const init = createSqliteStore({ path });
  await init.init();
  await init.close();
  const db = new Database(path);
  const insert = db.prepare("INSERT INTO events (position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical) VALUES (?, ?, ?, ?, 'x', '', '', ?, ?)");
  db.transaction(() => {
    for (const e of events) insert.run(e.index, `id-${String(e.index)}`, `s-${String(e.index)}`, 0, Buffer.from(e.leafHash, 'hex'), e.canonical);
    // The store's open-time check wants the tree row to cover the stored positions.
    db.prepare('UPDATE tree SET size = (SELECT coalesce(max(position) + 1, 0) FROM events)').run();
  })();
  db.close();
  return { path, store: createSqliteStore({ path, readonly: true }) };
}

/** What the store's rows are ranges of: its file, its tree size, its own read. */
function rangesOf(path: string, store: EventStore, end: number): LogRanges {
  return { path, end, readLog: (fromIndex, limit) => store.readLog({ fromIndex, limit }) };
}

async function single(store: EventStore, opts: VerifyLogOptions): Promise<Run> {
  const progress: number[] = [];
  const report = await verifyLog(readLogPages(store), { ...opts, onProgress: (n) => progress.push(n), progressEvery: 2 });
  return { report, progress };
}

async function inRanges(ranges: LogRanges, opts: VerifyLogOptions, par: ParallelOptions): Promise<Run & { workerEvents: number }> {
  const progress: number[] = [];
  let workerEvents = 0;
  const report = await verifyRangesParallel(ranges, { ...opts, onProgress: (n) => progress.push(n), progressEvery: 2 }, {
    checkWhileStarting: false,
    ...par,
    onBatch: (where, n) => {
      if (where === 'worker') workerEvents += n;
      par.onBatch?.(where, n);
    },
  });
  return { report, progress, workerEvents };
}

/** Rows SQLite can hold as the case has them: integer, distinct leaf indices and 32-byte recorded hashes. */
function storable(events: readonly RecordedEvent[]): boolean {
  const indices = events.map((e) => e.index);
  return indices.every((i) => Number.isSafeInteger(i) && (i as number) >= 0) && new Set(indices).size === indices.length && events.every((e) => /^[0-9a-f]{64}$/.test(e.leafHash));
}

interface FileEdit {
  name: string;
  strict: boolean;
  sql: string;
  value: (e: RecordedEvent) => unknown;
}

// Each edit is to leaf 100 of a clean 200-event file; the file's table is rebuilt without STRICT where a column must hold another type.
const EDITS: FileEdit[] = [
  { name: 'a recorded leaf hash of 33 bytes', strict: true, sql: 'UPDATE events SET leaf_hash = ? WHERE position = 100', value: (e) => Buffer.concat([Buffer.from(e.leafHash, 'hex'), Buffer.from([0])]) },
  { name: 'a recorded leaf hash of 0x200 bytes (a length of three hex digits)', strict: true, sql: 'UPDATE events SET leaf_hash = ? WHERE position = 100', value: (e) => Buffer.concat([Buffer.from(e.leafHash, 'hex'), Buffer.alloc(0x200 - 32, 0x30)]) },
  { name: 'an empty recorded leaf hash', strict: true, sql: 'UPDATE events SET leaf_hash = ? WHERE position = 100', value: () => Buffer.alloc(0) },
  { name: 'canonical bytes stored as TEXT', strict: false, sql: 'UPDATE events SET canonical = ? WHERE position = 100', value: (e) => e.canonical.toString('utf8') },
  { name: 'a recorded leaf hash stored as TEXT (its hex)', strict: false, sql: 'UPDATE events SET leaf_hash = ? WHERE position = 100', value: (e) => e.leafHash },
  { name: 'a recorded leaf hash stored as TEXT (its 32 bytes)', strict: false, sql: 'UPDATE events SET leaf_hash = ? WHERE position = 100', value: (e) => Buffer.from(e.leafHash, 'hex').toString('latin1') },
  { name: 'canonical bytes stored as NULL', strict: false, sql: 'UPDATE events SET canonical = ? WHERE position = 100', value: () => null },
];

/** Row edits that leave every column's type but not the positions: a gap, a row moved past the end, a row moved into the gap it leaves. */
const POSITION_EDITS: FileEdit[] = [
  { name: 'row 100 deleted', strict: true, sql: 'DELETE FROM events WHERE position = ?', value: () => 100 },
  { name: 'row 100 moved to position 1000', strict: true, sql: 'UPDATE events SET position = 1000 WHERE position = ?', value: () => 100 },
  { name: 'row 199 moved to position 100 after row 100 was deleted', strict: true, sql: "DELETE FROM events WHERE position = 100; UPDATE events SET position = 100 WHERE position = 199", value: () => undefined },
];

/** A clean 200-event file with `edit` applied to leaf 100. */
async function editedFile(edit: FileEdit): Promise<{ events: RecordedEvent[]; opts: VerifyLogOptions; path: string }> {
  const events = buildLog(Array.from({ length: 200 }, (_, i) => PLAN[i % PLAN.length]!));
  const opts = options({ checkpoints: [64, 200].map((size) => checkpointAt(events, size)) });
  const { path } = await ledgerFile(events);
  const db = new Database(path);
  if (!edit.strict) {
    const table = (db.prepare("SELECT sql FROM sqlite_master WHERE name = 'events'").get() as { sql: string }).sql;
    db.exec(`ALTER TABLE events RENAME TO strict_events; ${table.replace(/\)\s*STRICT\s*$/, ')').replace(/NOT NULL/g, '')}; INSERT INTO events SELECT * FROM strict_events; DROP TABLE strict_events;`);
  }
  const value = edit.value(events[100]!);
  if (value === undefined) db.exec(edit.sql);
  else db.prepare(edit.sql).run(value);
  // The store's open-time check wants the tree row to cover the stored positions.
  db.prepare('UPDATE tree SET size = (SELECT coalesce(max(position) + 1, 0) FROM events)').run();
  db.close();
  return { events, opts, path };
}

/** The log from `from` as SQLite's row-by-row read returns it (the store's read before range blocks). */
function rowRead(path: string, from: number, limit: number): RecordedEvent[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT position, lower(hex(leaf_hash)), canonical FROM events WHERE position > ? ORDER BY position LIMIT ?').raw().all(from - 1, limit) as [number, string, Buffer][];
    return rows.map(([position, leaf, canonical]) => recordFromCanonical(position, position, canonical, leaf));
  } finally {
    db.close();
  }
}

/** What a verifier reads of an event. */
const asRead = (e: RecordedEvent): unknown => ({ position: e.position, index: e.index, leafHash: e.leafHash, canonical: e.canonical });

/** The store's readLog over windows before, across and past leaf 100 and the end: the row read's events, each time. */
async function assertReadsAsRows(path: string, size: number): Promise<void> {
  const store = createSqliteStore({ path, readonly: true });
  try {
    for (const [from, limit] of [[0, -1], [0, 7], [95, 10], [99, 3], [100, 1], [101, 50], [0, size + 5], [size - 1, 10], [size + 3, 10]] as const) {
      const got = await store.readLog({ fromIndex: from, ...(limit < 0 ? {} : { limit }) });
      assert.deepEqual(got.map(asRead), rowRead(path, from, limit).map(asRead), `readLog from ${from}, limit ${limit}`);
    }
  } finally {
    await store.close();
  }
}

describe('verifyRangesParallel (workers read the SQLite file themselves)', function () {
  this.timeout(120_000);
  let pool: VerifyPool;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'runledger-ranges-'));
    pool = new VerifyPool(2);
  });
  after(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports exactly what the single-threaded verifier reports on a clean file, with the workers doing the reading', async () => {
    const plan = Array.from({ length: 200 }, (_, i) => PLAN[i % PLAN.length]! + (i % 7 === 0 ? '-x' : ''));
    const events = buildLog(plan);
    const opts = options({ checkpoints: [1, 37, 64, 65, 150, 200].map((size) => checkpointAt(events, size)) });
    const { path, store } = await ledgerFile(events);
    try {
      const expected = await single(store, opts);
      assert.equal(expected.report.ok, true);
      for (const batchEvents of [1, 5, 64, 1000]) {
        const got = await inRanges(rangesOf(path, store, 200), opts, { pool, batchEvents });
        assert.deepEqual({ report: got.report, progress: got.progress }, expected, `batchEvents ${batchEvents}`);
        assert.equal(got.workerEvents, 200, `batchEvents ${batchEvents}: every range read and vouched for by a worker`);
      }
      // The end is only a hint: too small, the main thread reads on; too large, the first short range stops the workers.
      for (const end of [0, 37, 10_000_000]) assert.deepEqual((await inRanges(rangesOf(path, store, end), opts, { pool, batchEvents: 16 })).report, expected.report, `end ${end}`);
    } finally {
      await store.close();
    }
  });

  it('checks here only the range of an event the workers leave to the main thread, and hands them the next ranges again', async () => {
    // A stream name outside plain ASCII is valid, but the byte scan leaves it to the text path.
    const plan = Array.from({ length: 200 }, (_, i) => (i === 100 ? 'lab-é' : PLAN[i % PLAN.length]!));
    const events = buildLog(plan);
    const opts = options({ checkpoints: [64, 200].map((size) => checkpointAt(events, size)) });
    const { path, store } = await ledgerFile(events);
    try {
      const expected = await single(store, opts);
      assert.equal(expected.report.ok, true);
      const got = await inRanges(rangesOf(path, store, 200), opts, { pool, batchEvents: 16 });
      assert.deepEqual({ report: got.report, progress: got.progress }, expected);
      assert.equal(got.workerEvents, 200 - 16, 'only range [96, 112) was finished on the main thread');
    } finally {
      await store.close();
    }
  });

  describe('reports exactly the single-threaded first divergence on every tampered file', () => {
    for (const c of tamperCases()) {
      if (!storable(c.events)) continue;
      it(c.name, async () => {
        const { path, store } = await ledgerFile(c.events);
        try {
          const expected = await single(store, c.options);
          for (const batchEvents of [1, 3, 5]) {
            const got = await inRanges(rangesOf(path, store, c.events.length), c.options, { pool, batchEvents });
            assert.deepEqual({ report: got.report, progress: got.progress }, expected, `batchEvents ${batchEvents}`);
          }
        } finally {
          await store.close();
        }
      });
    }
  });

  describe('ends what a worker vouches for at a row its range cannot carry as stored, with the single-threaded report', () => {
    for (const edit of EDITS) {
      it(edit.name, async () => {
        const { opts, path } = await editedFile(edit);
        const store = createSqliteStore({ path, readonly: true });
        try {
          const expected = await single(store, opts).catch((err: Error) => err);
          for (const batchEvents of [1, 16, 64]) {
            const got = await inRanges(rangesOf(path, store, 200), opts, { pool, batchEvents }).catch((err: Error) => err);
            if (expected instanceof Error) {
              assert.ok(got instanceof Error, `batchEvents ${batchEvents}: single-threaded threw ${expected.message}`);
              assert.equal(got.message, expected.message);
              continue;
            }
            assert.ok(!(got instanceof Error), `batchEvents ${batchEvents}: ${String(got)}`);
            assert.deepEqual({ report: got.report, progress: got.progress }, expected, `batchEvents ${batchEvents}`);
            assert.ok(got.workerEvents <= 100 - (100 % batchEvents), `batchEvents ${batchEvents}: no worker vouched for the range of leaf 100 (${got.workerEvents})`);
          }
        } finally {
          await store.close();
        }
      });
    }
  });

  describe("the store's readLog reads the log in range blocks and returns exactly the row read's events", () => {
    it('on a clean file, from one block per page (the events share its buffer)', async () => {
      const events = buildLog(Array.from({ length: 200 }, (_, i) => PLAN[i % PLAN.length]!));
      const { path, store } = await ledgerFile(events);
      try {
        const page = await store.readLog({ fromIndex: 0, limit: 200 });
        assert.equal(new Set(page.map((e) => e.canonical.buffer)).size, 1, 'one block');
        assert.deepEqual(page.map(asRead), rowRead(path, 0, 200).map(asRead));
        assert.deepEqual(page.map((e) => [e.index, e.leafHash, e.canonical]), events.map((e) => [e.index, e.leafHash, e.canonical]));
      } finally {
        await store.close();
      }
      await assertReadsAsRows(path, 200);
    });
    for (const edit of [...EDITS, ...POSITION_EDITS]) {
      it(`with ${edit.name}: the same events, and the same single-threaded report as over the row read`, async () => {
        const { opts, path } = await editedFile(edit);
        await assertReadsAsRows(path, 200);
        const store = createSqliteStore({ path, readonly: true });
        try {
          const overRows = await verifyLog((async function* () { yield* rowRead(path, 0, -1); })(), opts).catch((err: Error) => err.message);
          assert.deepEqual(await verifyLog(readLogPages(store, 64), opts).catch((err: Error) => err.message), overRows);
        } finally {
          await store.close();
        }
      });
    }
    for (const c of tamperCases()) {
      if (!storable(c.events)) continue;
      it(`on the tampered file "${c.name}": the same events`, async () => {
        const { path, store } = await ledgerFile(c.events);
        await store.close();
        await assertReadsAsRows(path, c.events.length);
      });
    }
  });

  it('checks in short chunks on the main thread while fresh workers start, and hands the next ranges, ending on batch boundaries, to the first one ready', async () => {
    const events = buildLog(Array.from({ length: 3000 }, (_, i) => `run-${i % 17}`));
    const opts = options({ checkpoints: [1000, 3000].map((size) => checkpointAt(events, size)) });
    const { path, store } = await ledgerFile(events);
    const fresh = new VerifyPool(2);
    try {
      const expected = await single(store, opts);
      assert.equal(expected.report.ok, true);
      const batches: { where: string; from: number; n: number }[] = [];
      let at = 0;
      // Past the first 600 events the main thread's read waits for both threads to have started: the start-up is there, whatever the machine's load.
      const ranges = rangesOf(path, store, 3000);
      const readLog = ranges.readLog;
      ranges.readLog = async (from, limit) => {
        if (from >= 600) while (fresh.readyWorkers < 2) await new Promise((resolve) => setTimeout(resolve, 5));
        return readLog(from, limit);
      };
      const got = await inRanges(ranges, opts, {
        pool: fresh,
        batchEvents: 1000,
        checkWhileStarting: true,
        onBatch: (where, n) => {
          batches.push({ where, from: at, n });
          at += n;
        },
      });
      assert.deepEqual({ report: got.report, progress: got.progress }, expected);
      const firstWorker = batches.findIndex((b) => b.where === 'worker');
      assert.ok(firstWorker > 0, `the main thread checked the first events while the workers started: ${JSON.stringify(batches)}`);
      for (const b of batches.slice(0, firstWorker)) assert.ok(b.where === 'main' && b.n <= 256, `a start-up chunk of at most 256 events: ${JSON.stringify(b)}`);
      for (const b of batches.slice(firstWorker)) assert.ok((b.from + b.n) % 1000 === 0 || b.from + b.n === 3000, `a range ending on a multiple of 1000: ${JSON.stringify(b)}`);
    } finally {
      await fresh.close();
      await store.close();
    }
  });

  it('survives a connection the workers are asked to open ahead and cannot (the first range read meets the error and the main thread reads)', async () => {
    const events = buildLog(Array.from({ length: 100 }, (_, i) => PLAN[i % PLAN.length]!));
    const opts = options({ checkpoints: [checkpointAt(events, 100)] });
    const { path, store } = await ledgerFile(events);
    const fresh = new VerifyPool(2);
    try {
      const expected = await single(store, opts);
      fresh.prepareRead(join(dir, 'no-such-ledger.db'));
      // Let the failed open happen before any range asks for the connection (no one awaits it yet).
      await new Promise((resolve) => setTimeout(resolve, 500));
      const got = await inRanges({ ...rangesOf(path, store, 100), path: join(dir, 'no-such-ledger.db') }, opts, { pool: fresh, batchEvents: 16 });
      assert.deepEqual({ report: got.report, progress: got.progress }, expected);
      assert.equal(got.workerEvents, 0, 'no worker could read the file');
      // The same threads then open the real file when asked, and read every range.
      fresh.prepareRead(path);
      assert.equal((await inRanges(rangesOf(path, store, 100), opts, { pool: fresh, batchEvents: 16 })).workerEvents, 100);
    } finally {
      await fresh.close();
      await store.close();
    }
  });

  it('finds a row edited in the file while the workers verify it, and reads on past rows appended meanwhile', async () => {
    const plan = Array.from({ length: 600 }, (_, i) => `run-${i % 13}`);
    const all = buildLog(plan);
    const opts = options({ checkpoints: [100, 500].map((size) => checkpointAt(all, size)) });
    const { path, store } = await ledgerFile(all.slice(0, 500));
    const writer = new Database(path);
    try {
      // After the first range: leaf 300's bytes change under the verification, and 100 events are appended past its end.
      let edited = false;
      const got = await inRanges(rangesOf(path, store, 500), opts, {
        pool,
        batchEvents: 50,
        onBatch: () => {
          if (edited) return;
          edited = true;
          const row = writer.prepare('SELECT canonical FROM events WHERE position = 300').get() as { canonical: Buffer };
          writer.prepare('UPDATE events SET canonical = ? WHERE position = 300').run(Buffer.from(row.canonical.toString('utf8').replace('"actor":"tester"', '"actor":"mallory"')));
          const insert = writer.prepare("INSERT INTO events (position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical) VALUES (?, ?, ?, ?, 'x', '', '', ?, ?)");
          for (const e of all.slice(500)) insert.run(e.index, `id-${String(e.index)}`, `s-${String(e.index)}`, 0, Buffer.from(e.leafHash, 'hex'), e.canonical);
          writer.prepare('UPDATE tree SET size = 600').run();
        },
      });
      assert.ok(edited);
      const expected = await single(store, opts);
      assert.equal(expected.report.firstDivergence?.check, 'leafHash');
      assert.equal(expected.report.firstDivergence?.index, 300);
      assert.deepEqual({ report: got.report, progress: got.progress }, expected);

      // Undone, the same file verifies whole, the appended events included, as single-threaded.
      writer.prepare('UPDATE events SET canonical = ? WHERE position = 300').run(all[300]!.canonical);
      const clean = await single(store, opts);
      assert.equal(clean.report.ok, true);
      assert.equal(clean.report.events, 600);
      assert.deepEqual((await inRanges(rangesOf(path, store, 500), opts, { pool, batchEvents: 50 })).report, clean.report);
    } finally {
      writer.close();
      await store.close();
    }
  });
});
