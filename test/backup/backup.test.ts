// Backup and restore on SQLite and PostgreSQL: an online, consistent prefix of the log; a restore
// that verifies the whole log against the signed checkpoints before it declares success; tampered,
// truncated or foreign backups refused naming the first divergence, with no target left that looks
// like a ledger; and PostgreSQL connections killed mid-backup and mid-restore (loopback only).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import pg from 'pg';
import { writeBackup } from '../../src/backup/backup.js';
import { restoreBackup, RESTORE_MARKER_KEY } from '../../src/backup/restore.js';
import { InputError, IntegrityError } from '../../src/errors.js';
import { loadVerifierKey } from '../../src/ledger/keys.js';
import { ORIGIN_KEY } from '../../src/ledger/origin.js';
import { readLogPages } from '../../src/ledger/read.js';
import { verifyLog } from '../../src/replay/verify-log.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';
import { freshHome, runCli } from '../support/cli.js';
import { pgTestDatabase, type PgTestDatabase } from '../store/pg-database.js';
import { seededHome, seedEvents, type Seeded } from './ledger-seed.js';

/** Rewrites a backup's decompressed lines. */
function rewrite(file: string, out: string, edit: (lines: string[]) => string[]): void {
  const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n');
  writeFileSync(out, gzipSync(Buffer.from(edit(lines).join('\n'))));
}

/** Changes the data of the event whose data is {"k": k}. */
function alterEvent(k: number, to: number): (lines: string[]) => string[] {
  return (lines) => {
    const at = lines.findIndex((l) => l.startsWith(`{"data":{"k":${k}},`));
    assert.ok(at > 0, `event k=${k} is in the backup`);
    return lines.map((l, i) => (i === at ? l.replace(`"k":${k}`, `"k":${to}`) : l));
  };
}

async function leaves(store: EventStore): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLogPages(store)) out.push(e.canonical.toString('utf8'));
  return out;
}

async function verified(store: EventStore, key: string): Promise<{ ok: boolean; treeSize: number; root: string; checkpoints: number }> {
  const origin = (await store.getMeta(ORIGIN_KEY))!;
  return verifyLog(readLogPages(store), { checkpoints: await store.checkpoints(), verifierKeys: [key], origin });
}

describe('backup and restore (SQLite)', function () {
  this.timeout(120_000);
  let s: Seeded;
  let key: string;
  let file: string;

  before(async () => {
    s = await seededHome();
    await seedEvents(s, 3000, { streams: 7, batch: 500, checkpointEvery: 1000 });
    await seedEvents(s, 25, { streams: 3, from: 3000, checkpointEvery: 1_000_000 }); // the last checkpoint covers these too
    key = loadVerifierKey(s.home);
    file = join(s.home, 'ledger.backup');
    const report = await writeBackup(s.store, file, { verifierKeys: [key] });
    assert.equal(report.events, 3025);
    assert.equal(report.checkpoints, 4);
    assert.equal(report.verification?.ok, true);
  });
  after(async () => s.store.close());

  it('restores into a new SQLite file holding the same bytes, in the same order, under the same signed checkpoints', async () => {
    const target = join(freshHome(), 'restored.db');
    const report = await restoreBackup(file, `sqlite:${target}`, { verifierKeys: [key], workers: 1 });
    assert.equal(report.verified, true);
    assert.equal(report.events, 3025);
    const restored = await openStore(`sqlite:${target}`);
    try {
      assert.deepEqual(await leaves(restored), await leaves(s.store));
      assert.deepEqual(await restored.checkpoints(), await s.store.checkpoints());
      assert.equal(await restored.getMeta(ORIGIN_KEY), s.origin);
      const check = await verified(restored, key);
      assert.equal(check.ok, true);
      assert.equal(check.checkpoints, 4);
    } finally {
      await restored.close();
    }
  });

  it('backs up the log prefix that existed when it began while writers keep appending', async () => {
    const out = join(freshHome(), 'online.backup');
    const size = (await s.store.treeState()).size;
    const writers: Promise<unknown>[] = [];
    const report = await writeBackup(s.store, out, {
      onProgress: () => writers.push(s.store.append('late', [{ type: 'custom.late', data: { n: writers.length } }])),
    });
    await Promise.all(writers);
    assert.ok(writers.length > 0);
    assert.equal(report.events, size);
    assert.ok((await s.store.treeState()).size > size, 'appends went on during the backup');
    const target = join(freshHome(), 'online.db');
    assert.equal((await restoreBackup(out, `sqlite:${target}`, { verifierKeys: [key], workers: 1 })).events, size);
  });

  it('detects a corrupted event after the last signed checkpoint by the file digest (no signature covers it)', async () => {
    const dir = freshHome();
    const out = join(dir, 'tail.backup');
    await s.store.append('tail', [{ type: 'custom.tail', data: { n: 1 } }]);
    await writeBackup(s.store, out);
    const corrupted = join(dir, 'tail-corrupted.backup');
    rewrite(out, corrupted, (lines) => lines.map((l, i) => (i === lines.length - 3 ? l.replace('"n":1', '"n":2') : l)));
    await assert.rejects(restoreBackup(corrupted, `sqlite:${join(dir, 't.db')}`, { verifierKeys: [key], workers: 1 }), /its end line says \d+ events and SHA-256 .* but the file holds \d+ events hashing to/);
    assert.deepEqual(readdirSync(dir).sort(), ['tail-corrupted.backup', 'tail.backup']);
  });

  it('refuses a backup with one altered event, naming the first divergence, and leaves no target', async () => {
    const tampered = join(dirname(file), 'tampered.backup');
    rewrite(file, tampered, alterEvent(1234, 4321));
    const dir = freshHome();
    const target = join(dir, 'r.db');
    await assert.rejects(restoreBackup(tampered, `sqlite:${target}`, { verifierKeys: [key], workers: 1 }), (err: Error) => {
      assert.ok(err instanceof IntegrityError, String(err));
      // k = 1234 is on stream s-2 (k mod 7): the next event of that stream no longer links to it.
      assert.match(err.message, /does not verify, nothing was restored: Leaf \d+ \(event [0-9a-f-]+, stream "s-2" revision (\d+)\): prevHash [0-9a-f]+… is not the recomputed leaf hash [0-9a-f]+… of revision \d+/);
      return true;
    });
    assert.deepEqual(readdirSync(dir), [], 'no file, no temporary file, no WAL');
  });

  it('refuses a truncated backup, one with an extra event, and one whose checkpoint was forged, each naming what is wrong', async () => {
    const dir = freshHome();
    const cases: [string, (lines: string[]) => string[], RegExp][] = [
      ['truncated', (l) => l.slice(0, 2000), /ends after 1995 of its 3025 events: the file is truncated/],
      ['no end line', (l) => l.slice(0, -2), /ends before its end line: the file is truncated/],
      ['extra event', (l) => [...l.slice(0, 5), l[5]!, ...l.slice(5)], /Leaf 1 .* continues at revision 0, expected 1|revision 0/],
      ['forged checkpoint', (l) => l.map((x, i) => (i === 2 ? x.replace(/"size":\d+/, '"size":999') : x)), /Checkpoint 2 \(tree size 999\)|signed note says tree size/],
      ['not a backup', () => ['{"hello":1}', ''], /line 1: not a runledger backup header/],
    ];
    for (const [name, edit, message] of cases) {
      const bad = join(dir, `${name.replace(/ /g, '-')}.backup`);
      rewrite(file, bad, edit);
      const target = join(dir, `${name.replace(/ /g, '-')}.db`);
      await assert.rejects(restoreBackup(bad, `sqlite:${target}`, { verifierKeys: [key], workers: 1 }), (err: Error) => {
        assert.match(err.message, message, name);
        return true;
      });
      assert.equal(existsSync(target), false, name);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.backup')), []);
  });

  it('refuses a backup signed by another key, an existing target and an existing --out', async () => {
    const other = await seededHome();
    const target = join(freshHome(), 'r.db');
    await assert.rejects(restoreBackup(file, `sqlite:${target}`, { verifierKeys: [loadVerifierKey(other.home)], workers: 1 }), /Checkpoint 1 \(tree size 1000\): .*(unknown key|no signature|does not verify)/i);
    await other.store.close();
    assert.equal(existsSync(target), false);
    await assert.rejects(restoreBackup(file, `sqlite:${join(s.home, 'ledger.db')}`, { verifierKeys: [key] }), InputError);
    await assert.rejects(writeBackup(s.store, file), (err: Error) => err instanceof InputError && /already exists/.test(err.message));
  });

  it('runs through the CLI: backup, restore, then verify the restored store (exit 0), and a tampered restore exits 1', async () => {
    const env = { RUNLEDGER_HOME: s.home };
    const out = join(freshHome(), 'cli.backup');
    const backup = await runCli(['backup', '--out', out, '--json'], { env });
    assert.equal(backup.code, 0, backup.stderr);
    const target = join(freshHome(), 'cli.db');
    const restore = await runCli(['restore', out, '--to', `sqlite:${target}`], { env });
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, /Restored and verified \d+ events/);
    const verify = await runCli(['--store', `sqlite:${target}`, 'verify', '--json'], { env });
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal((JSON.parse(verify.stdout) as { anchored: boolean }).anchored, false, 'the late events of the online test are after the last checkpoint');
    const tampered = join(dirname(out), 'bad.backup');
    rewrite(out, tampered, alterEvent(10, 11));
    const bad = await runCli(['restore', tampered, '--to', `sqlite:${join(dirname(out), 'bad.db')}`], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^runledger: backup .* does not verify, nothing was restored: Leaf \d+ \(event/);
    assert.equal(existsSync(join(dirname(out), 'bad.db')), false);
  });
});

const database = pgTestDatabase('backup and restore on PostgreSQL');

describe('backup and restore (PostgreSQL)', function () {
  this.timeout(180_000);
  let db: PgTestDatabase;
  let s: Seeded;
  let key: string;
  let file: string;
  let srcUrl: string;
  const schemaUrl = (name: string): string => `${db.url}?schema=${name}_${Date.now().toString(36)}`;

  before(async function () {
    const started = await database();
    if (!started) return this.skip();
    db = started;
    srcUrl = schemaUrl('src');
    s = await seededHome(srcUrl);
    await seedEvents(s, 4000, { streams: 9, batch: 400, checkpointEvery: 1500 });
    key = loadVerifierKey(s.home);
    file = join(s.home, 'pg.backup');
    const report = await writeBackup(s.store, file, { verifierKeys: [key] });
    assert.equal(report.events, 4000);
    assert.equal(report.verification?.ok, true);
  });
  after(async () => {
    await s?.store.close();
    await db?.stop();
  });

  it('restores a PostgreSQL backup into an empty PostgreSQL schema and into SQLite, both verified', async () => {
    const url = schemaUrl('dst');
    const report = await restoreBackup(file, url, { verifierKeys: [key], workers: 1 });
    assert.equal(report.events, 4000);
    const restored = await openStore(url);
    try {
      assert.deepEqual(await leaves(restored), await leaves(s.store));
      assert.equal((await verified(restored, key)).ok, true);
      assert.match((await restored.getMeta(RESTORE_MARKER_KEY)) ?? '', /^completed restore/);
    } finally {
      await restored.close();
    }
    const sqlite = join(freshHome(), 'from-pg.db');
    assert.equal((await restoreBackup(file, `sqlite:${sqlite}`, { verifierKeys: [key], workers: 1 })).events, 4000);
  });

  it('refuses a non-empty target and leaves a failed restore without an origin, so no command takes it for a ledger', async () => {
    await assert.rejects(restoreBackup(file, srcUrl, { verifierKeys: [key] }), (err: Error) => err instanceof InputError && /is not empty \(4000 events, 3 checkpoints, origin/.test(err.message));
    const tampered = join(dirname(file), 'pg-tampered.backup');
    rewrite(file, tampered, alterEvent(3000, -1));
    const url = schemaUrl('bad');
    // Small batches: events are written before the divergence is found.
    await assert.rejects(restoreBackup(tampered, url, { verifierKeys: [key], workers: 1, batchSize: 100 }), IntegrityError);
    const target = await openStore(url);
    try {
      assert.equal(await target.getMeta(ORIGIN_KEY), undefined);
      assert.match((await target.getMeta(RESTORE_MARKER_KEY)) ?? '', /^failed restore .*does not verify/);
    } finally {
      await target.close();
    }
    const home = freshHome();
    const verify = await runCli(['--store', url, 'verify'], { env: { RUNLEDGER_HOME: home } });
    assert.equal(verify.code, 3, verify.stderr);
    assert.match(verify.stderr, /not initialised/);
    await assert.rejects(restoreBackup(file, url, { verifierKeys: [key] }), /holds a failed restore/);
  });

  /** Terminates every other connection to the test database, a few times, while `work` runs (bounded, loopback). */
  async function killConnectionsDuring<T>(work: () => Promise<T>): Promise<{ outcome: PromiseSettledResult<T>; kills: number }> {
    const admin = new pg.Client({ connectionString: db.url });
    admin.on('error', () => undefined);
    await admin.connect();
    let running = true;
    let kills = 0;
    const killer = (async () => {
      for (let round = 0; running && round < 200; round++) {
        const res = await admin.query(`SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'`);
        kills += Number((res.rows[0] as { n: string }).n);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const [outcome] = await Promise.allSettled([work()]);
    running = false;
    await killer;
    await admin.end();
    return { outcome: outcome!, kills };
  }

  it('survives PostgreSQL killing its connections mid-restore: either a verified ledger or no ledger, and a retry succeeds', async () => {
    const url = schemaUrl('chaos');
    const { outcome, kills } = await killConnectionsDuring(() => restoreBackup(file, url, { verifierKeys: [key], workers: 1, batchSize: 200 }));
    const target = await openStore(url);
    try {
      if (outcome.status === 'fulfilled') {
        assert.equal((await verified(target, key)).ok, true);
      } else {
        assert.equal(await target.getMeta(ORIGIN_KEY), undefined, `after ${kills} kills: ${String(outcome.reason)}`);
      }
    } finally {
      await target.close();
    }
    const retry = await restoreBackup(file, schemaUrl('retry'), { verifierKeys: [key], workers: 1 });
    assert.equal(retry.events, 4000);
  });

  it('survives PostgreSQL killing its connections mid-backup: either a complete, verifiable file or none', async () => {
    const home = freshHome();
    const out = join(home, 'chaos.backup');
    const { outcome } = await killConnectionsDuring(() => writeBackup(s.store, out));
    if (outcome.status === 'fulfilled') {
      assert.equal((await restoreBackup(out, `sqlite:${join(home, 'r.db')}`, { verifierKeys: [key], workers: 1 })).events, 4000);
    } else {
      assert.match(String(outcome.reason), /unavailable/);
      assert.deepEqual(readdirSync(home), [], `no backup file and no partial file after: ${String(outcome.reason)}`);
    }
    // The store itself lost nothing, and the next backup completes.
    assert.equal((await verified(s.store, key)).ok, true);
    const again = join(home, 'again.backup');
    assert.equal((await writeBackup(s.store, again)).events, 4000);
    assert.equal((await restoreBackup(again, `sqlite:${join(home, 'again.db')}`, { verifierKeys: [key], workers: 1 })).events, 4000);
  });
});
