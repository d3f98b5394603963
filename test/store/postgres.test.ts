// The PostgreSQL store: the shared conformance suite, then what only a server store has (URLs,
// connection failures, schema creation, the integrator's lease, tamper checks at integration).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ConcurrencyError, InputError, IntegrityError, UnavailableError } from '../../src/errors.js';
import { CompactRange, rootOfLeaves } from '../../src/integrity/compact-range.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { createPostgresStore, ledgerSql, parsePostgresUrl } from '../../src/store/postgres/index.js';
import { noteKeyFromSeed } from '../../src/integrity/note.js';
import { verifyLogSync } from '../../src/replay/verify-log.js';
import { events, runConformance } from './conformance.js';
import { pgTestDatabase, type PgTestDatabase } from './pg-database.js';

const database = pgTestDatabase('postgres store suites');

/** A loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('postgres store', function () {
  after(async function () {
    await (await database())?.stop();
  });

  runConformance('postgres', async () => {
    const db = await database();
    if (!db) return null;
    const { store, url, cleanup } = await db.store();
    return { store, url, cleanup };
  });

  describe('connection settings', function () {
    it('strips the password from displayUrl and keeps runledger parameters out of the driver URL', function () {
      const settings = parsePostgresUrl('postgres://alice:s3cret@db.example:6543/ledgers?schema=team_a&pool=4&sslmode=require');
      assert.equal(settings.displayUrl.includes('s3cret'), false);
      assert.equal(settings.displayUrl, 'postgres://alice@db.example:6543/ledgers?sslmode=require');
      assert.equal(settings.connectionString, 'postgres://alice:s3cret@db.example:6543/ledgers?sslmode=require');
      assert.equal(settings.schema, 'team_a');
      assert.equal(settings.poolSize, 4);
      assert.equal(settings.where, 'db.example:6543/ledgers');
      assert.equal(createPostgresStore({ url: 'postgresql://bob:pw@h/db' }).displayUrl, 'postgresql://bob@h/db');
    });

    it('refuses a schema name that is not a plain lowercase identifier', function () {
      assert.throws(() => parsePostgresUrl('postgres://h/db?schema=Robert"; DROP'), InputError);
      assert.throws(() => parsePostgresUrl('postgres://h/db?pool=0'), InputError);
    });

    it('reports an unreachable server as UnavailableError naming the host, never the password', async function () {
      const port = await closedPort();
      const store = createPostgresStore({ url: `postgres://alice:hunter22@127.0.0.1:${port}/ledger` });
      await assert.rejects(store.init(), (err: unknown) => {
        assert.ok(err instanceof UnavailableError, String(err));
        assert.match(err.message, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port}/ledger is unavailable`));
        assert.equal(err.message.includes('hunter22'), false);
        return true;
      });
      await store.close();
    });
  });

  describe('server behaviour', function () {
    let db: PgTestDatabase;
    before(async function () {
      const started = await database();
      if (!started) return this.skip();
      db = started;
    });

    it('tells the user to run init when the ledger schema does not exist', async function () {
      const store = createPostgresStore({ url: `${db.url}?schema=never_created` });
      await assert.rejects(store.readAll(), (err: unknown) => {
        assert.ok(err instanceof UnavailableError, String(err));
        assert.match(err.message, /no runledger ledger in schema "never_created".*runledger init --store/);
        return true;
      });
      await store.close();
    });

    it('creates the schema once when several processes initialise it at the same time', async function () {
      const schema = `t_init_${Date.now()}`;
      const stores = Array.from({ length: 4 }, () => createPostgresStore({ url: `${db.url}?schema=${schema}` }));
      await Promise.all(stores.map((s) => s.init()));
      await stores[0]!.append('s', events(2, 'x'));
      await stores[1]!.init();
      assert.equal((await stores[2]!.readAll()).length, 2, 'a second init keeps the data');
      await Promise.all(stores.map((s) => s.close()));
      const client = await db.client();
      await client.query(`DROP SCHEMA "${schema}" CASCADE`);
      await client.end();
    });

    it('keeps two ledgers in one database apart', async function () {
      const a = await db.store();
      const b = await db.store();
      await a.store.append('s', events(3, 'a'));
      await b.store.append('s', events(1, 'b'));
      assert.equal((await a.store.readAll()).length, 3);
      assert.equal((await b.store.readAll()).length, 1);
      assert.equal(await b.store.streamRevision('s'), 0);
      await a.cleanup();
      await b.cleanup();
    });

    /** Polls pg_locks until `pid` waits for an advisory lock; returns the advisory locks it holds meanwhile. */
    async function blockedOnAdvisoryLock(pid: number): Promise<number> {
      const admin = await db.client();
      try {
        for (const deadline = Date.now() + 5_000; Date.now() < deadline; await pause(10)) {
          const { rows } = await admin.query<{ waiting: string; held: string }>(
            `SELECT count(*) FILTER (WHERE NOT granted) AS waiting, count(*) FILTER (WHERE granted) AS held
               FROM pg_locks WHERE locktype = 'advisory' AND pid = $1`,
            [pid],
          );
          if (Number(rows[0]!.waiting) > 0) return Number(rows[0]!.held);
        }
        throw new Error(`backend ${pid} never waited for an advisory lock`);
      } finally {
        await admin.end();
      }
    }

    it('takes a stream lock before drawing positions and holds it to commit, so a stream\'s next writer draws higher positions', async function () {
      const { store, schema, cleanup } = await db.store();
      const sql = ledgerSql(schema);
      const first = await db.client();
      const second = await db.client();
      await first.query('BEGIN');
      const held = await first.query<{ positions: string[] }>(`SELECT positions FROM ${sql.beginAppend}($1, $2, 0)`, [['s'], ['00000000-0000-4000-8000-000000000001']]);
      const pid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await second.query('BEGIN');
      const waiting = second.query<{ positions: string[] }>(`SELECT positions FROM ${sql.beginAppend}($1, $2, 0)`, [['s'], ['00000000-0000-4000-8000-000000000002']]);
      await blockedOnAdvisoryLock(pid);
      // While it waits for the stream, the second writer has no transaction id, so no positions.
      const admin = await db.client();
      const { rows } = await admin.query<{ xid: string | null }>('SELECT backend_xid::text AS xid FROM pg_stat_activity WHERE pid = $1', [pid]);
      await admin.end();
      assert.equal(rows[0]!.xid, null, 'a writer waiting for a stream lock has drawn no position yet');
      // Another stream is not held up, and draws positions meanwhile.
      const other = await store.append('t', events(1, 'other'));
      await first.query('COMMIT');
      const got = await waiting;
      await second.query('ROLLBACK');
      const [a, b, c] = [Number(held.rows[0]!.positions[0]), Number(got.rows[0]!.positions[0]), other.positions[0]!];
      assert.ok(a < c && c < b, `stream s: the first writer's position ${a} is below the second's ${b}; the other stream's ${c} came in between`);
      await Promise.all([first.end(), second.end()]);
      await cleanup();
    });

    it('takes the stream locks of a batch in ascending key order, whatever order the batch names them in', async function () {
      const { schema, cleanup } = await db.store();
      const sql = ledgerSql(schema);
      const names = ['s-0', 's-1', 's-2', 's-3', 's-4', 's-5'];
      const admin = await db.client();
      const { rows } = await admin.query<{ name: string }>(
        `SELECT name FROM unnest($1::text[]) AS name ORDER BY hashtextextended(name, ${sql.streamLockSeed})`,
        [names],
      );
      await admin.end();
      const byKey = rows.map((r) => r.name);
      const holder = await db.client();
      await holder.query('BEGIN');
      await holder.query(`SELECT positions FROM ${sql.beginAppend}($1, $2, 0)`, [[byKey[0]], ['00000000-0000-4000-8000-000000000003']]);
      // The batch names its streams in descending key order: a writer locking in the order given
      // would hold five locks while it waits for the sixth, and two such writers can deadlock.
      const writer = await db.client();
      const pid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await writer.query('BEGIN');
      const waiting = writer.query(`SELECT positions FROM ${sql.beginAppend}($1, $2, 0)`, [[...byKey].reverse(), ['00000000-0000-4000-8000-000000000004']]);
      assert.equal(await blockedOnAdvisoryLock(pid), 0, 'blocked on the lowest key, the writer holds none of the other stream locks');
      await holder.query('ROLLBACK');
      await waiting;
      await writer.query('ROLLBACK');
      await Promise.all([holder.end(), writer.end()]);
      await cleanup();
    });

    it('takes positions in transaction-id order, so a single position is a gap-free cursor', async function () {
      const { schema, cleanup } = await db.store();
      const sql = ledgerSql(schema);
      const clients = await Promise.all(Array.from({ length: 6 }, () => db.client()));
      const taken: { xid: bigint; position: number }[] = [];
      await Promise.all(
        clients.map(async (client, c) => {
          for (let i = 0; i < 60; i++) {
            await client.query('BEGIN');
            const { rows } = await client.query<{ p: string; xid: string }>(
              `SELECT p, pg_current_xact_id()::text AS xid FROM ${sql.reservePositions}(2) AS p`,
            );
            await client.query((i + c) % 3 === 0 ? 'ROLLBACK' : 'COMMIT');
            for (const row of rows) taken.push({ xid: BigInt(row.xid), position: Number(row.p) });
          }
        }),
      );
      taken.sort((a, b) => a.position - b.position);
      assert.equal(new Set(taken.map((t) => t.position)).size, taken.length, 'no position is taken twice');
      for (let i = 1; i < taken.length; i++) {
        assert.ok(taken[i]!.xid >= taken[i - 1]!.xid, `position ${taken[i]!.position} belongs to an older transaction than position ${taken[i - 1]!.position}`);
      }
      // The rule only holds if the transaction id is taken inside the sequencer: refuse otherwise.
      const [client] = clients;
      await client!.query('BEGIN');
      await client!.query(`INSERT INTO ${sql.meta} (key, value) VALUES ('probe', 'x')`);
      await assert.rejects(client!.query(`SELECT * FROM ${sql.reservePositions}(1)`), /must run before the transaction writes anything/);
      await client!.query('ROLLBACK');
      await Promise.all(clients.map((c) => c.end()));
      await cleanup();
    });

    it('rolls back a crashed integrator and lets the next one finish from the committed state', async function () {
      const { store, schema, cleanup } = await db.store();
      await store.append('s', events(5, 'first'));
      const before = await store.integrate();
      await store.append('s', events(6, 'second'));
      // A "hung integrator": holds the lease and has written a bogus partial assignment.
      const sql = ledgerSql(schema);
      const hung = await db.client();
      await hung.query('BEGIN');
      await hung.query(`SELECT pg_advisory_xact_lock(${sql.integratorLock})`);
      await hung.query(`INSERT INTO ${sql.gaps} (position, length, missing_after, next_index) VALUES (900, 99, 99, 900)`);
      await hung.query(`UPDATE ${sql.tree} SET size = 1000, last_position = 1098`);
      const { rows } = await hung.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');

      let finished = false;
      const next = store.integrate().then((state) => ((finished = true), state));
      await pause(300);
      assert.equal(finished, false, 'the second integrator waits for the lease');
      const killer = await db.client();
      await killer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await killer.end();
      await hung.end().catch(() => undefined);

      const after = await next;
      assert.equal(after.size, 11);
      const log = await store.readLog();
      assert.deepEqual(log.map((e) => e.index), [...Array(11).keys()]);
      assert.deepEqual(log.slice(0, 5).map((e) => e.envelope.id), (await store.readStream('s', { limit: 5 })).map((e) => e.envelope.id));
      const root = CompactRange.fromState(after.size, after.range.map((h) => Buffer.from(h, 'hex'))).root();
      assert.deepEqual(root, rootOfLeaves(log.map((e) => leafHash(e.canonical))));
      assert.equal(before.size, 5);
      await cleanup();
    });

    /** Appends with gaps: a conflict after begin_append has drawn positions leaves them empty. */
    async function ledgerWithGaps(store: Awaited<ReturnType<PgTestDatabase['store']>>['store']): Promise<void> {
      await assert.rejects(store.append('s', events(2, 'lost'), { expectedRevision: 3 }), ConcurrencyError); // positions 0, 1
      await store.append('s', events(3, 'a'));
      await assert.rejects(store.append('s', events(1, 'lost'), { expectedRevision: 0 }), ConcurrencyError);
      await store.append('t', events(2, 'b'));
      await store.integrate();
      await assert.rejects(store.append('t', events(4, 'lost'), { expectedRevision: 0 }), ConcurrencyError);
      await store.append('s', events(2, 'c'));
    }

    it('integrates without rewriting any event row, recording the empty positions as gap runs', async function () {
      const { store, schema, cleanup } = await db.store();
      const sql = ledgerSql(schema);
      await ledgerWithGaps(store);
      const client = await db.client();
      const rows = async () => (await client.query<{ position: string; version: string }>(`SELECT position, xmin::text || ':' || ctid::text AS version FROM ${sql.events} ORDER BY position`)).rows;
      const before = await rows();
      await store.integrate();
      assert.deepEqual(await rows(), before, 'every event row is the tuple its append wrote');
      const gaps = await client.query(`SELECT position::int, length::int, missing_after::int, next_index::int FROM ${sql.gaps} ORDER BY position`);
      assert.deepEqual(gaps.rows, [
        { position: 0, length: 2, missing_after: 2, next_index: 0 },
        { position: 5, length: 1, missing_after: 3, next_index: 3 },
        { position: 8, length: 4, missing_after: 7, next_index: 5 },
      ]);
      assert.deepEqual(before.map((r) => Number(r.position)), [2, 3, 4, 6, 7, 12, 13]);
      const log = await store.readLog();
      assert.deepEqual(log.map((e) => [e.position, e.index]), [[2, 0], [3, 1], [4, 2], [6, 3], [7, 4], [12, 5], [13, 6]]);
      await client.end();
      await cleanup();
    });

    it('refuses to integrate past an event written into a recorded gap, and the log verifier names it', async function () {
      const { store, schema, cleanup } = await db.store();
      const sql = ledgerSql(schema);
      await ledgerWithGaps(store);
      await store.integrate();
      // A writer around the sequencer: a copy of an integrated row, moved into the gap at 8..11.
      const client = await db.client();
      await client.query(
        `INSERT INTO ${sql.events} (position, id, stream, revision, content_digest, leaf_hash, canonical)
         SELECT 9, '00000000-0000-4000-8000-00000000f09e', 'forged', 0, content_digest, leaf_hash, canonical FROM ${sql.events} WHERE position = 6`,
      );
      await client.end();
      await assert.rejects(store.integrate(), (err: unknown) => {
        assert.ok(err instanceof IntegrityError, String(err));
        assert.match(err.message, /event at position 9 became visible after higher positions were integrated/);
        return true;
      });
      const key = noteKeyFromSeed('runledger.test/gaps', Buffer.alloc(32, 3));
      const report = verifyLogSync(await store.readLog(), { checkpoints: [], verifierKeys: [key.verifierKey], origin: 'runledger.test/gaps' });
      assert.equal(report.ok, false);
      assert.equal(report.firstDivergence?.check, 'index');
      assert.equal(report.firstDivergence?.index, 5);
      await assert.rejects(store.leafHashes(0, 7), /leaf 5 of ledger schema .* is missing or repeated \(found leaf index 2\)/);
      await cleanup();
    });

    it('upgrades a schema 2 ledger, whose integrator wrote a leaf_index into every event row, to gap runs', async function () {
      const { store, schema, url, cleanup } = await db.store();
      const sql = ledgerSql(schema);
      await ledgerWithGaps(store);
      await store.integrate();
      const expected = await store.readLog();
      // Put the ledger back into the schema 2 layout, as an older runledger left it.
      const client = await db.client();
      await client.query(`ALTER TABLE ${sql.events} ADD COLUMN leaf_index bigint UNIQUE`);
      await client.query(`CREATE INDEX events_unintegrated ON ${sql.events} (position) WHERE leaf_index IS NULL`);
      await client.query(
        `UPDATE ${sql.events} AS e SET leaf_index = v.i FROM unnest($1::bigint[], $2::bigint[]) AS v(p, i) WHERE e.position = v.p`,
        [expected.map((e) => e.position), expected.map((e) => e.index)],
      );
      await client.query(`TRUNCATE ${sql.gaps}`);
      await client.query(`ALTER TABLE ${sql.tree} DROP COLUMN last_position`);
      await client.query(`UPDATE ${sql.meta} SET value = '2' WHERE key = 'schema_version'`);
      await store.append('t', events(1, 'after'));
      // The rows a schema 2 writer left unintegrated stay so; the upgrade keeps leaf order.
      await client.query(`UPDATE ${sql.events} SET leaf_index = NULL WHERE id = (SELECT id FROM ${sql.events} ORDER BY position DESC LIMIT 1)`);

      const upgraded = createPostgresStore({ url });
      await upgraded.init();
      assert.deepEqual((await upgraded.readLog()).map((e) => [e.position, e.index, e.envelope.id]), expected.map((e) => [e.position, e.index, e.envelope.id]));
      assert.equal(await upgraded.unintegrated(), 1);
      const state = await upgraded.integrate();
      assert.equal(state.size, expected.length + 1);
      const log = await upgraded.readLog();
      assert.deepEqual(log.map((e) => e.index), [...log.keys()]);
      const root = CompactRange.fromState(state.size, state.range.map((h) => Buffer.from(h, 'hex'))).root();
      assert.deepEqual(root, rootOfLeaves(log.map((e) => leafHash(e.canonical))));
      const columns = await client.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events' AND column_name = 'leaf_index'`, [schema]);
      assert.equal(columns.rowCount, 0, 'the leaf_index column is gone');
      await client.end();
      await upgraded.close();
      await cleanup();
    });

    describe('integration re-checks each leaf hash against the stored bytes (the server hashes them)', function () {
      /** Three events of stream s, then `tamper` run on the database directly, as an attacker with write access would. */
      async function tampered(tamper: (client: Awaited<ReturnType<PgTestDatabase['client']>>, sql: ReturnType<typeof ledgerSql>) => Promise<void>) {
        const { store, schema, cleanup } = await db.store();
        await store.append('s', events(3, 'x'));
        const sql = ledgerSql(schema);
        const client = await db.client();
        await tamper(client, sql);
        await client.end();
        return { store, cleanup };
      }
      const editBytes = (sql: ReturnType<typeof ledgerSql>) =>
        `UPDATE ${sql.events} SET canonical = convert_to(replace(convert_from(canonical, 'UTF8'), '"i":1', '"i":7'), 'UTF8') WHERE revision = 1`;

      async function refused(store: Awaited<ReturnType<typeof tampered>>['store']): Promise<void> {
        await assert.rejects(store.integrate(), (err: unknown) => {
          assert.ok(err instanceof IntegrityError, String(err));
          assert.match(err.message, /^event at position \d+ has a leaf hash that does not match its bytes$/);
          assert.equal(err.location.index, 1, 'names the leaf index the event would have taken');
          return true;
        });
        assert.equal((await store.treeState()).size, 0, 'nothing was integrated');
      }

      it('refuses an event whose stored bytes were altered after its leaf hash was recorded', async function () {
        const { store, cleanup } = await tampered((client, sql) => client.query(editBytes(sql)).then(() => undefined));
        await refused(store);
        await cleanup();
      });

      it('refuses an event whose stored leaf hash was altered', async function () {
        const { store, cleanup } = await tampered((client, sql) =>
          client.query(`UPDATE ${sql.events} SET leaf_hash = sha256(leaf_hash) WHERE revision = 1`).then(() => undefined),
        );
        await refused(store);
        await cleanup();
      });

      it('refuses an event whose stored bytes were removed (a null hashes to null, never to a match)', async function () {
        const { store, cleanup } = await tampered(async (client, sql) => {
          await client.query(`ALTER TABLE ${sql.events} ALTER COLUMN canonical DROP NOT NULL`);
          await client.query(`UPDATE ${sql.events} SET canonical = NULL WHERE revision = 1`);
        });
        await refused(store);
        await cleanup();
      });

      it('integrates bytes edited together with their leaf hash, and the log verifier names the broken chain after them', async function () {
        // The integrator's check cannot tell a consistent edit from an append; the verifier's re-checks can:
        // the next event's prevHash names the leaf hash the event had when it was appended.
        const { store, cleanup } = await tampered(async (client, sql) => {
          await client.query(editBytes(sql));
          await client.query(`UPDATE ${sql.events} SET leaf_hash = sha256('\\x00'::bytea || canonical) WHERE revision = 1`);
        });
        const log = await store.readLog();
        assert.equal(log.length, 0);
        assert.equal((await store.integrate()).size, 3);
        const integrated = await store.readLog();
        assert.deepEqual(integrated[1]!.leafHash, leafHash(integrated[1]!.canonical).toString('hex'), 'the tree committed to the edited bytes');
        const key = noteKeyFromSeed('runledger.test/tamper', Buffer.alloc(32, 4));
        const report = verifyLogSync(integrated, { checkpoints: [], verifierKeys: [key.verifierKey], origin: 'runledger.test/tamper' });
        assert.equal(report.ok, false);
        assert.equal(report.firstDivergence?.check, 'chain');
        assert.equal(report.firstDivergence?.index, 2);
        await cleanup();
      });
    });

    it('keeps nothing of a batch whose insert fails, although its COMMIT was sent behind the insert before the answer', async function () {
      // The COMMIT is pipelined behind the insert (append.ts): the server still runs it after the
      // insert's error, where it rolls back. A trigger makes the insert of one stream fail on the server.
      const { store, schema, cleanup } = await db.store({ poolSize: 1 });
      const sql = ledgerSql(schema);
      const client = await db.client();
      await client.query(`CREATE FUNCTION "${schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$`);
      await client.query(`CREATE TRIGGER refuse BEFORE INSERT ON ${sql.events} FOR EACH ROW WHEN (NEW.stream = 'refused') EXECUTE FUNCTION "${schema}".refuse()`);
      await store.append('kept', events(2, 'k'));
      await assert.rejects(store.append('refused', events(3, 'r'), { expectedRevision: 'no_stream' }), /refused by test/);
      assert.equal(await store.streamRevision('refused'), -1, 'the stream head did not move');
      assert.deepEqual(await store.readStream('refused'), []);
      const count = async () => Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${sql.events}`)).rows[0]!.n);
      assert.equal(await count(), 2, 'no row of the failed batch was committed');
      // The one pooled connection is usable afterwards, outside any transaction: the next append commits.
      await store.append('kept', events(1, 'k2'), { expectedRevision: 1 });
      assert.equal(await count(), 3);
      assert.equal((await store.integrate()).size, 3);
      await client.end();
      await cleanup();
    });

    it('integrates a log longer than one integration chunk (16,384 events) into the root of every leaf, gaps and a tamper past the first chunk included', async function () {
      this.timeout(120_000);
      const { store, schema, cleanup } = await db.store();
      // 16,800 events in batches of 400 over 6 streams, with a rolled-back append (an empty position) inside the second chunk.
      for (let b = 0; b < 42; b += 1) {
        if (b === 41) await assert.rejects(store.append('s0', events(3, 'lost'), { expectedRevision: 0 }), ConcurrencyError);
        await store.append(`s${b % 6}`, events(400, `b${b}`));
      }
      const sql = ledgerSql(schema);
      const client = await db.client();
      // Alter the leaf hash of the last event: past the first chunk, so that chunk is integrated and committed, and the next refused.
      await client.query(`UPDATE ${sql.events} SET leaf_hash = sha256('\\x01'::bytea) WHERE position = (SELECT max(position) FROM ${sql.events})`);
      await assert.rejects(store.integrate(), (err: unknown) => err instanceof IntegrityError && err.location.index === 16_799);
      assert.equal((await store.treeState()).size, 16_384, 'the first chunk stays integrated; nothing of the refused one');
      await client.query(`UPDATE ${sql.events} SET leaf_hash = sha256('\\x00'::bytea || canonical) WHERE position = (SELECT max(position) FROM ${sql.events})`);
      const state = await store.integrate();
      assert.equal(state.size, 16_800);
      const gaps = await client.query<{ position: number; length: number; next_index: number }>(`SELECT position::int, length::int, next_index::int FROM ${sql.gaps} ORDER BY position`);
      assert.deepEqual(gaps.rows, [{ position: 16_400, length: 3, next_index: 16_400 }], 'the rolled-back positions, in the second chunk');
      await client.end();
      const log = await store.readLog();
      assert.deepEqual(log.map((e) => e.index), Array.from({ length: 16_800 }, (_, i) => i), 'dense leaf indices as the store hands them out');
      const expected = rootOfLeaves(log.map((e) => leafHash(e.canonical)));
      assert.deepEqual(CompactRange.fromState(state.size, state.range.map((h) => Buffer.from(h, 'hex'))).root(), expected, 'the root of every leaf, hashed here from the bytes');
      await cleanup();
    });

    it('applies the position writes of one consumer in call order, even when they are not awaited', async function () {
      const { store, cleanup } = await db.store();
      const writes: Promise<void>[] = [];
      for (let p = 0; p < 200; p++) writes.push(store.setPosition('relay', p));
      assert.equal(await store.getPosition('relay'), 199, 'a read sees the last position set before it');
      await Promise.all(writes);
      assert.equal(await store.getPosition('relay'), 199);
      await cleanup();
    });

    it('completes open subscriptions and refuses further use once closed', async function () {
      const { store, cleanup } = await db.store();
      await store.append('s', events(1, 'x'));
      let completed = false;
      const seen: number[] = [];
      store.subscribe({ pollMs: 50 }).subscribe({ next: (e) => seen.push(e.position), complete: () => (completed = true) });
      await pause(200);
      await store.close();
      assert.equal(completed, true);
      assert.equal(seen.length, 1);
      await assert.rejects(store.readAll(), UnavailableError);
      await cleanup();
    });

    it('ends a subscription with UnavailableError after a bounded number of failed reconnects', async function () {
      const port = await closedPort();
      const store = createPostgresStore({
        url: `postgres://alice:hunter22@127.0.0.1:${port}/ledger`,
        subscriberMaxFailures: 3,
        subscriberBackoffMs: 10,
      });
      const started = Date.now();
      const failure = await new Promise<unknown>((resolve) => store.subscribe().subscribe({ error: resolve }));
      assert.ok(failure instanceof UnavailableError, String(failure));
      assert.match(failure.message, new RegExp(`127\\.0\\.0\\.1:${port}/ledger.*after 3 failed attempts`));
      assert.equal(failure.message.includes('hunter22'), false);
      assert.ok(Date.now() - started < 5_000);
      await store.close();
    });
  });
});
