// Backup and restore of a ledger of one million events on SQLite and PostgreSQL, with wall time and
// peak RSS measured (docs/operations.md reports the numbers). Minutes of work on a small machine, so
// it runs only with RUNLEDGER_BACKUP_1M=1 and says so loudly otherwise.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { writeBackup } from '../../src/backup/backup.js';
import { restoreBackup } from '../../src/backup/restore.js';
import { loadVerifierKey } from '../../src/ledger/keys.js';
import { openStore } from '../../src/store/open.js';
import { freshHome } from '../support/cli.js';
import { pgTestDatabase } from '../store/pg-database.js';
import { seededHome, seedEvents } from './ledger-seed.js';

const ENABLE = 'RUNLEDGER_BACKUP_1M';
const N = Number(process.env.RUNLEDGER_BACKUP_EVENTS ?? 1_000_000);

/** Runs `work`, sampling this process's RSS every 25 ms; returns seconds and the peak RSS in MiB. */
async function measured<T>(label: string, work: () => Promise<T>, results: Record<string, unknown>): Promise<T> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 25);
  const started = performance.now();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage.rss());
    results[label] = { seconds: Number(((performance.now() - started) / 1000).toFixed(1)), rssStartMiB: Math.round(base / 2 ** 20), rssPeakMiB: Math.round(peak / 2 ** 20) };
    console.log(`      ${label}: ${JSON.stringify(results[label])}`);
  }
}

describe(`backup and restore of ${N.toLocaleString('en-US')} events`, function () {
  this.timeout(1_800_000);
  const results: Record<string, unknown> = {};

  before(function () {
    if (process.env[ENABLE] !== '1') {
      console.log(`    SKIPPED (loudly): the ${N.toLocaleString('en-US')}-event backup/restore takes minutes; run it with ${ENABLE}=1 npx mocha dist/test/backup/million.test.js`);
      this.skip();
    }
  });
  after(() => {
    if (Object.keys(results).length > 0) console.log(`      results: ${JSON.stringify(results)}`);
  });

  it('backs up and restores SQLite, then PostgreSQL, in bounded memory, every restore verified', async function () {
    const s = await seededHome();
    const key = loadVerifierKey(s.home);
    await measured('seed sqlite', () => seedEvents(s, N, { streams: 1000, batch: 10_000, checkpointEvery: N / 4 }), results);
    const file = join(s.home, 'million.backup');
    const backup = await measured('backup sqlite', () => writeBackup(s.store, file), results);
    assert.equal(backup.events, N);
    results.backupFileMiB = Math.round(statSync(file).size / 2 ** 20);
    results.backupRawMiB = Math.round(backup.bytes / 2 ** 20);
    const sqliteTarget = join(freshHome(), 'restored.db');
    const restored = await measured('restore sqlite', () => restoreBackup(file, `sqlite:${sqliteTarget}`, { verifierKeys: [key] }), results);
    assert.equal(restored.events, N);
    const root = restored.root;
    await s.store.close();

    const pg = await pgTestDatabase('1M backup on PostgreSQL')();
    if (!pg) return;
    try {
      const url = `${pg.url}?schema=million_${Date.now().toString(36)}`;
      const intoPg = await measured('restore into postgres', () => restoreBackup(file, url, { verifierKeys: [key] }), results);
      assert.equal(intoPg.root, root);
      const store = await openStore(url);
      const pgFile = join(s.home, 'million-pg.backup');
      try {
        assert.equal((await measured('backup postgres', () => writeBackup(store, pgFile), results)).events, N);
      } finally {
        await store.close();
      }
      const back = await measured('restore postgres backup into sqlite', () => restoreBackup(pgFile, `sqlite:${join(freshHome(), 'from-pg.db')}`, { verifierKeys: [key] }), results);
      assert.equal(back.root, root);
    } finally {
      await pg.stop();
    }
  });
});
