// Verification of an SQLite ledger end to end, as `runledger verify --workers 1` runs it (rows paged
// out of the store, every check of verify-log), against merely reading the same rows with
// better-sqlite3 (SELECT position, leaf_hash, canonical in pages, every column touched): the
// question of issue 13, "does verifying cost more than a peer's plain read?". Runs alternate.
// Workload: 100 streams x 1,000 events (scale 1), appended in batches of 100.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readLogPages } from '../src/ledger/read.js';
import { verifyLog } from '../src/replay/verify-log.js';
import { noteKeyFromSeed } from '../src/integrity/note.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { benchEnvironment, summarizeRuns, type BenchOptions, type BenchResult } from './result.js';
import { proposedEvents } from './workload.js';

const STREAMS = 100;
const BATCH = 100;
const PAGE = 5_000;

export async function run(options: BenchOptions = {}): Promise<BenchResult[]> {
  const perStream = Math.max(BATCH, Math.round(1_000 * (options.scale ?? 1)));
  const n = STREAMS * perStream;
  const runs = options.runs ?? 5;
  const dir = mkdtempSync(join(tmpdir(), 'runledger-bench-verify-sqlite-'));
  const path = join(dir, 'ledger.db');
  try {
    const store = createSqliteStore({ path });
    await store.init();
    const proposed = proposedEvents(perStream);
    for (let at = 0; at < perStream; at += BATCH) {
      for (let s = 0; s < STREAMS; s++) await store.appendBatch([{ stream: `lab-${s}`, events: proposed.slice(at, at + BATCH), expectedRevision: at === 0 ? 'no_stream' : at - 1 }]);
    }
    const key = noteKeyFromSeed('bench.runledger/sqlite', Buffer.alloc(32, 7));
    const verifyOptions = { checkpoints: [], verifierKeys: [key.verifierKey], origin: 'bench.runledger/sqlite' };
    const raw = new Database(path, { readonly: true });
    const page = raw.prepare('SELECT position, leaf_hash, canonical FROM events WHERE position > ? ORDER BY position LIMIT ?');
    let sink = 0;
    const ours: number[] = [];
    const reference: number[] = [];
    for (let r = 0; r < runs; r++) {
      let start = performance.now();
      const report = await verifyLog(readLogPages(store, PAGE), verifyOptions);
      ours.push(performance.now() - start);
      if (!report.ok || report.events !== n) throw new Error(`bench verify-sqlite: verification failed: ${report.firstDivergence?.message}`);
      start = performance.now();
      for (let after = -1; ; ) {
        const rows = page.all(after, PAGE) as { position: number; leaf_hash: Buffer; canonical: Buffer }[];
        if (rows.length === 0) break;
        for (const row of rows) sink ^= row.canonical[0]! ^ row.leaf_hash[0]!;
        after = rows[rows.length - 1]!.position;
      }
      reference.push(performance.now() - start);
    }
    raw.close();
    await store.close();
    const wallMs = summarizeRuns(ours);
    const refWall = summarizeRuns(reference);
    return [
      {
        name: 'verify-sqlite-vs-read',
        unit: 'events',
        runs,
        wallMs,
        throughputPerSec: n / (wallMs.p50 / 1000),
        memoryDeltaBytes: 0,
        reference: { name: 'better-sqlite3 SELECT of the same rows in pages of 5,000 (a plain read)', wallMs: refWall, throughputPerSec: n / (refWall.p50 / 1000) },
        // Throughput ratio (verify / plain read): a diagnostic; Emmett's read is compared by the peer script when installed.
        ratio: refWall.p50 / wallMs.p50,
        environment: { ...benchEnvironment(), events: n, streams: STREAMS, batch: BATCH, page: PAGE, workers: 1, sink },
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
