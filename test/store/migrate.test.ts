// runledger migrate: SQLite → PostgreSQL → SQLite through the CLI (the acceptance line),
// the same roots and verification on every store, the signer state working against the target,
// refusals (non-empty target, tampered source), and the KurrentDB adapter as target and source.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { IntegrityError } from '../../src/errors.js';
import { noteKeyFromSeed, parseSignerKey } from '../../src/integrity/note.js';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { CompactRange } from '../../src/integrity/compact-range.js';
import { migrateLedger, migrationBatches } from '../../src/ledger/migrate.js';
import { createKurrentStore } from '../../src/store/kurrentdb/index.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { freshHome, runCli } from '../support/cli.js';
import { FakeKurrentServer } from '../support/fake-kurrentdb.js';
import { events } from './conformance.js';
import { pgTestDatabase, type PgTestDatabase } from './pg-database.js';

const database = pgTestDatabase('migrate suite (PostgreSQL legs)');
const parse = <T>(text: string): T => JSON.parse(text) as T;

interface VerifyJson {
  ok: boolean;
  root: string;
  treeSize: number;
  events: number;
  checkpoints: number;
  anchored: boolean;
  firstDivergence?: { message: string };
}

/** Interleaved appends into several streams with two checkpoints between them. */
async function seedLedger(env: Record<string, string>): Promise<void> {
  assert.equal((await runCli(['init'], { env })).code, 0);
  const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ stream: `lab-${(from + i) % 3}`, type: 'custom.sample', data: { i: from + i } })).join('\n');
  for (const [from, n] of [[0, 10], [10, 7]] as const) {
    const appended = await runCli(['append', '-'], { env, input: `${lines(from, n)}\n` });
    assert.equal(appended.code, 0, appended.stderr);
    const checkpoint = await runCli(['checkpoint'], { env });
    assert.equal(checkpoint.code, 0, checkpoint.stderr);
  }
  assert.equal((await runCli(['append', '-'], { env, input: lines(17, 4) })).code, 0, 'events after the last checkpoint are copied too');
}

describe('runledger migrate', function () {
  describe('between SQLite and PostgreSQL through the CLI', function () {
    let db: PgTestDatabase;
    let home: string;
    before(async function () {
      const started = await database();
      if (!started) return this.skip();
      db = started;
    });
    beforeEach(() => (home = freshHome('runledger-migrate-')));
    afterEach(() => rmSync(home, { recursive: true, force: true }));
    after(async () => db?.stop());

    it('copies SQLite → PostgreSQL → SQLite with the same root, the same verification, and a signer that keeps working', async function () {
      this.timeout(120_000);
      const sqliteUrl = `sqlite:${join(home, 'ledger.db')}`;
      const pgUrl = `${db.url}?schema=mig_${Date.now()}`;
      const backUrl = `sqlite:${join(home, 'back.db')}`;
      const env = { RUNLEDGER_HOME: home };
      await seedLedger({ ...env, RUNLEDGER_STORE: sqliteUrl });
      const original = parse<VerifyJson>((await runCli(['--store', sqliteUrl, 'verify', '--json'], { env })).stdout);
      assert.equal(original.ok, true);

      // The acceptance line: migrate --to (the global --store is the source), then verify the target.
      const migrated = await runCli(['--store', sqliteUrl, 'migrate', '--to', pgUrl, '--json'], { env });
      assert.equal(migrated.code, 0, migrated.stderr);
      const report = parse<{ events: number; checkpoints: number; sourceRoot: string; targetRoot: string; verified: boolean; unintegrated: number }>(migrated.stdout);
      assert.equal(report.events, 21);
      assert.equal(report.checkpoints, 2);
      assert.equal(report.verified, true);
      assert.equal(migrated.stderr, '', 'no progress output in a pipe');
      const onPg = parse<VerifyJson>((await runCli(['--store', pgUrl, 'verify', '--json'], { env })).stdout);
      assert.equal(onPg.ok, true, onPg.firstDivergence?.message);
      assert.equal(onPg.root, original.root, 'same root on PostgreSQL');
      assert.equal(onPg.treeSize, original.treeSize);
      assert.equal(onPg.checkpoints, original.checkpoints);

      const back = await runCli(['migrate', '--from', pgUrl, '--to', backUrl], { env });
      assert.equal(back.code, 0, back.stderr);
      assert.match(back.stdout, /Migrated 21 events in 3 streams and 2 signed checkpoints/);
      const onBack = parse<VerifyJson>((await runCli(['--store', backUrl, 'verify', '--json'], { env })).stdout);
      assert.equal(onBack.root, original.root, 'same root back on SQLite');
      const bytes = (url: string) => openStore(url, { readonly: true }).then(async (s) => {
        const log = await s.readLog();
        await s.close();
        return log.map((e) => e.canonical.toString('hex'));
      });
      assert.deepEqual(await bytes(backUrl), await bytes(sqliteUrl), 'the same canonical bytes at the same leaf indices');

      // The home's key and signer state refer to the origin and the signed notes, which moved along.
      assert.equal((await runCli(['--store', pgUrl, 'append', '-'], { env, input: JSON.stringify({ stream: 'after', type: 'custom.sample', data: {} }) })).code, 0);
      const checkpoint = await runCli(['--store', pgUrl, 'checkpoint', '--json'], { env });
      assert.equal(checkpoint.code, 0, checkpoint.stderr);
      const signed = parse<{ created: boolean; size: number; previousSize: number }>(checkpoint.stdout);
      assert.deepEqual([signed.created, signed.size, signed.previousSize], [true, 22, 17]);
      const strict = await runCli(['--store', pgUrl, 'verify', '--strict', '--json'], { env });
      assert.equal(strict.code, 0, strict.stdout);
    });

    it('refuses a non-empty target with exit 2 and leaves it as it was', async function () {
      const sqliteUrl = `sqlite:${join(home, 'ledger.db')}`;
      const pgUrl = `${db.url}?schema=full_${Date.now()}`;
      const env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: sqliteUrl };
      await seedLedger(env);
      const target = await openStore(pgUrl);
      await target.append('other', events(2, 'x'));
      await target.close();
      const res = await runCli(['migrate', '--to', pgUrl], { env });
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /is not empty \(2 events in 1 streams, 0 checkpoints\)/);
      const after = await openStore(pgUrl);
      assert.equal((await after.readAll()).length, 2);
      await after.close();
    });

    it('refuses a tampered source with exit 1 naming the first divergence, and writes nothing to the target', async function () {
      const sqliteUrl = `sqlite:${join(home, 'ledger.db')}`;
      const pgUrl = `${db.url}?schema=tamper_${Date.now()}`;
      const env = { RUNLEDGER_HOME: home, RUNLEDGER_STORE: sqliteUrl };
      await seedLedger(env);
      const raw = new Database(join(home, 'ledger.db'));
      const row = raw.prepare('SELECT position, canonical FROM events WHERE stream = ? AND revision = ?').get('lab-1', 2) as { position: number; canonical: Buffer };
      const tampered = Buffer.from(row.canonical.toString('utf8').replace('"i":7', '"i":8'));
      assert.notDeepEqual(tampered, row.canonical);
      raw.prepare('UPDATE events SET canonical = ? WHERE position = ?').run(tampered, row.position);
      raw.close();
      const res = await runCli(['migrate', '--to', pgUrl], { env });
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, /does not verify, nothing was copied: Leaf 7 \(event [0-9a-f-]+, stream "lab-1" revision 2\): .*altered/);
      const target = await openStore(pgUrl);
      assert.equal((await target.treeState()).size + (await target.unintegrated()), 0);
      assert.deepEqual(await target.listStreams(), []);
      assert.equal(await target.getMeta('migration'), undefined, 'not even marked: nothing was written');
      await target.close();
    });
  });

  describe('the ledger copy', function () {
    const origin = 'runledger.test/migrate';
    const key = noteKeyFromSeed(origin, Buffer.alloc(32, 7));
    const sqlite = () => {
      const store = createSqliteStore({ path: ':memory:' });
      return store;
    };
    const kurrent = (server = new FakeKurrentServer()) => createKurrentStore({ url: 'kurrentdb://fake.invalid:2113', client: server.client() });

    async function seed(store: EventStore): Promise<void> {
      await store.init();
      await store.setMeta('origin', origin);
      for (let i = 0; i < 6; i++) {
        await store.appendBatch([
          { stream: `s${i % 2}`, events: events(1 + (i % 3), `a${i}`) },
          { stream: `t${i % 3}`, events: events(1, `b${i}`) },
        ]);
        const state = await store.integrate();
        const root = CompactRange.fromState(state.size, state.range.map((h) => Buffer.from(h, 'hex'))).root();
        if (i % 2 === 1) {
          await store.addCheckpoint({ size: state.size, root: root.toString('hex'), note: signCheckpoint(origin, state.size, root, parseSignerKey(key.signerKey)), createdAt: '2026-01-01T00:00:00.000Z' });
        }
      }
    }

    it('groups leaves into appends that keep leaf order on every store: runs of one stream, no stream twice in one append', function () {
      const e = (stream: string, revision: number) => ({ envelope: { id: `${stream}${revision}`, stream, revision, type: 'custom.x', schemaVersion: 1, data: {}, metadata: {} } }) as unknown as RecordedEvent;
      const batches = migrationBatches([e('a', 0), e('b', 0), e('a', 1), e('a', 2), e('b', 1), e('c', 0)], 3);
      assert.deepEqual(
        batches.map((b) => b.map((r) => `${r.stream}@${r.expectedRevision}x${r.events.length}`)),
        [['a@-1x1', 'b@-1x1'], ['a@0x2', 'b@0x1'], ['c@-1x1']],
      );
    });

    it('copies SQLite → KurrentDB adapter → SQLite with the same bytes, leaf indices, checkpoints and root', async function () {
      const source = sqlite();
      await seed(source);
      const viaKurrent = kurrent();
      const there = await migrateLedger(source, viaKurrent, { verifierKeys: [key.verifierKey] });
      assert.equal(there.targetRoot, there.sourceRoot);
      assert.equal(there.checkpoints, 3);
      const back = sqlite();
      await back.init();
      const again = await migrateLedger(viaKurrent, back, { verifierKeys: [key.verifierKey] });
      assert.equal(again.targetRoot, there.sourceRoot);
      assert.deepEqual(await back.checkpoints(), await source.checkpoints());
      assert.deepEqual((await back.readLog()).map((e) => [e.index, e.canonical.toString('hex')]), (await source.readLog()).map((e) => [e.index, e.canonical.toString('hex')]));
      assert.equal(JSON.parse((await back.getMeta('migration'))!).state, 'verified');
      await Promise.all([source.close(), viaKurrent.close(), back.close()]);
    });

    it('names the first leaf a target stored differently, and marks the target failed', async function () {
      const source = sqlite();
      await seed(source);
      const target = sqlite();
      await target.init();
      // A target whose append records another actor for one event: its bytes then differ.
      const lying: EventStore = Object.create(target) as EventStore;
      let n = 0;
      lying.appendBatch = (requests) => {
        for (const r of requests) for (const ev of r.events) if (n++ === 4) ev.metadata = { ...ev.metadata, actor: 'mallory' };
        return target.appendBatch(requests);
      };
      await assert.rejects(migrateLedger(source, lying, { verifierKeys: [key.verifierKey] }), (err: unknown) => {
        assert.ok(err instanceof IntegrityError, String(err));
        assert.match((err as Error).message, /^leaf 4 of the target \(stream "[st]\d" revision \d+\) differs from the source's leaf 4/);
        return true;
      });
      assert.equal(JSON.parse((await target.getMeta('migration'))!).state, 'failed');
      await Promise.all([source.close(), target.close()]);
    });
  });
});
