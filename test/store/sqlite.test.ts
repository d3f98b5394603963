import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { IntegrityError, UnavailableError } from '../../src/errors.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { runConformance, events } from './conformance.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'runledger-sqlite-'));
}

runConformance('sqlite', async () => {
  const dir = tempDir();
  const store = createSqliteStore({ path: join(dir, 'ledger.db') });
  await store.init();
  return {
    store,
    url: `sqlite:${join(dir, 'ledger.db')}`,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite store', function () {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates missing directories and a WAL-mode ledger file on init', async function () {
    const path = join(dir, 'a', 'b', 'ledger.db');
    const store = createSqliteStore({ path });
    assert.equal(store.kind, 'sqlite');
    assert.equal(store.displayUrl, `sqlite:${path}`);
    await store.init();
    await store.init();
    await store.append('s', events(1, 'x'));
    await store.close();
    assert.ok(existsSync(path));
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(raw.pragma('application_id', { simple: true }), 0x524c4447);
    raw.close();
  });

  it('uses the position as the dense leaf index', async function () {
    const store = createSqliteStore({ path: join(dir, 'ledger.db') });
    await store.append('a', events(3, 'a'));
    await store.appendBatch([
      { stream: 'b', events: events(2, 'b') },
      { stream: 'a', events: events(1, 'a') },
    ]);
    const all = await store.readAll();
    assert.deepEqual(all.map((e) => e.position), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(all.map((e) => e.index), [0, 1, 2, 3, 4, 5]);
    assert.equal((await store.treeState()).size, 6);
    await store.close();
  });

  it('keeps the tree state at O(log n) hashes, one per set bit of the size', async function () {
    const store = createSqliteStore({ path: join(dir, 'ledger.db') });
    for (let i = 0; i < 11; i++) await store.append('s', events(1, `e${i}`));
    const state = await store.treeState();
    assert.equal(state.size, 11);
    assert.equal(state.range.length, 3); // 11 = 0b1011
    await store.close();
  });

  it('refuses a file that is not an SQLite database with an UnavailableError', async function () {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'these are my notes, not a database\n'.repeat(200));
    const store = createSqliteStore({ path });
    await assert.rejects(store.init(), (err: unknown) => {
      assert.ok(err instanceof UnavailableError);
      assert.match(err.message, /notes\.txt is not an SQLite database/);
      return true;
    });
    await store.close();
    assert.equal(readFileSync(path, 'utf8'), 'these are my notes, not a database\n'.repeat(200), 'the file is left alone');
  });

  it('refuses an SQLite database of another application', async function () {
    const path = join(dir, 'other.db');
    const other = new Database(path);
    other.exec('CREATE TABLE users (name TEXT)');
    other.close();
    await assert.rejects(createSqliteStore({ path }).init(), /other\.db is an SQLite database but not a runledger ledger/);
    const tagged = new Database(path);
    tagged.pragma('application_id = 1234');
    tagged.close();
    await assert.rejects(createSqliteStore({ path }).init(), UnavailableError);
  });

  it('reports a tree state that disagrees with the stored events as an IntegrityError', async function () {
    const path = join(dir, 'ledger.db');
    const store = createSqliteStore({ path });
    await store.append('s', events(4, 'x'));
    await store.close();
    const raw = new Database(path);
    raw.prepare('DELETE FROM events WHERE position = 3').run();
    raw.close();
    await assert.rejects(createSqliteStore({ path }).init(), (err: unknown) => {
      assert.ok(err instanceof IntegrityError);
      assert.match(err.message, /tree size 4 but 3 events are stored/);
      return true;
    });
  });

  it('reports a stored tree state that is not a compact range as an IntegrityError', async function () {
    const path = join(dir, 'ledger.db');
    const store = createSqliteStore({ path });
    await store.append('s', events(3, 'x'));
    const raw = new Database(path);
    raw.prepare('UPDATE tree SET range = substr(range, 1, 40)').run();
    raw.close();
    await assert.rejects(store.treeState(), /ledger\.db has an invalid tree state/);
    await assert.rejects(store.append('s', events(1, 'y')), IntegrityError);
    assert.equal((await store.readAll()).length, 3);
    await store.close();
  });

  it('reports a corrupted database page as an IntegrityError', async function () {
    const path = join(dir, 'ledger.db');
    const store = createSqliteStore({ path });
    for (let i = 0; i < 20; i++) await store.append(`s${i % 3}`, events(20, `batch${i}`));
    await store.close();
    // Closing the last connection checkpoints the WAL into the main file; overwrite its middle.
    const size = statSync(path).size;
    assert.ok(size > 32 * 1024, `database is large enough to corrupt (${size} bytes)`);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, 8192);
    closeSync(fd);
    const damaged = createSqliteStore({ path });
    await assert.rejects(
      (async () => {
        await damaged.init();
        await damaged.readAll();
        await damaged.readStream('s1');
      })(),
      (err: unknown) => {
        assert.ok(err instanceof IntegrityError, `IntegrityError, got ${String(err)}`);
        assert.match(err.message, /ledger\.db is corrupt/);
        return true;
      },
    );
    await damaged.close();
  });

  it('opens read-only without creating a file and refuses appends', async function () {
    const missing = join(dir, 'missing.db');
    await assert.rejects(createSqliteStore({ path: missing, readonly: true }).init(), /no ledger at/);
    assert.equal(existsSync(missing), false);

    const path = join(dir, 'ledger.db');
    const writer = createSqliteStore({ path });
    await writer.append('s', events(2, 'x'));
    const reader = createSqliteStore({ path, readonly: true });
    assert.equal((await reader.readAll()).length, 2);
    await assert.rejects(reader.append('s', events(1, 'y')), UnavailableError);
    await writer.append('s', events(1, 'z'));
    assert.equal((await reader.readAll()).length, 3, 'a reader sees later commits');
    await reader.close();
    await writer.close();
  });

  it('gives up with an UnavailableError when another process holds the write lock past the busy timeout', async function () {
    const path = join(dir, 'ledger.db');
    const store = createSqliteStore({ path, busyTimeoutMs: 100 });
    await store.append('s', events(1, 'x'));
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    await assert.rejects(store.append('s', events(1, 'y')), (err: unknown) => {
      assert.ok(err instanceof UnavailableError, String(err));
      assert.match(err.message, /stayed locked by another process for more than 100 ms/);
      return true;
    });
    assert.equal((await store.readAll()).length, 1, 'readers do not wait for the writer');
    other.prepare('ROLLBACK').run();
    other.close();
    await store.append('s', events(1, 'z'));
    assert.equal(await store.streamRevision('s'), 1);
    await store.close();
  });

  it('refuses use after close with an UnavailableError', async function () {
    const store = createSqliteStore({ path: join(dir, 'ledger.db') });
    await store.init();
    await store.close();
    await assert.rejects(store.readAll(), UnavailableError);
  });

  it('completes open subscriptions when the store closes', async function () {
    const store = createSqliteStore({ path: join(dir, 'ledger.db') });
    await store.append('s', events(1, 'x'));
    let completed = false;
    store.subscribe({ pollMs: 10 }).subscribe({ complete: () => (completed = true) });
    await new Promise((r) => setTimeout(r, 30));
    await store.close();
    assert.equal(completed, true);
  });

  it('wakes a subscriber on another store object of the same file', async function () {
    const path = join(dir, 'ledger.db');
    const reader = createSqliteStore({ path });
    const writer = createSqliteStore({ path });
    await writer.init();
    const seen: number[] = [];
    // A poll interval far above the wait below: delivery must come from the in-process wake-up.
    const subscription = reader.subscribe({ pollMs: 60_000 }).subscribe((e) => seen.push(e.position));
    await new Promise((r) => setTimeout(r, 30));
    await writer.append('s', events(3, 'x'));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, [0, 1, 2]);
    subscription.unsubscribe();
    await reader.close();
    await writer.close();
  });
});
