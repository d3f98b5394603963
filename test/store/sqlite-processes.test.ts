// Several processes on one ledger file, and processes killed at random moments: the embedded
// store's durability and atomicity claims, tested with real child processes and SIGKILL.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompactRange, rootOfLeaves } from '../../src/integrity/compact-range.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { noteKeyFromSeed, parseSignerKey } from '../../src/integrity/note.js';
import { verifyLogSync } from '../../src/replay/verify-log.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';
import { assertChainsValid, take } from './conformance.js';
import { BATCH_SIZE } from './sqlite-writer.js';

const writerScript = join(dirname(fileURLToPath(import.meta.url)), 'sqlite-writer.js');

interface Ack {
  writer: string;
  batch: number;
  ids: string[];
}

interface Writer {
  child: ChildProcess;
  acks: Ack[];
  firstAck: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startWriter(path: string, writer: string, batches: number | 'forever'): Writer {
  const child = spawn(process.execPath, [writerScript, path, writer, String(batches)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: Ack[] = [];
  let buffered = '';
  let stderr = '';
  let signalFirst: () => void = () => undefined;
  const firstAck = new Promise<void>((resolve) => (signalFirst = resolve));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    // Only complete lines count as acknowledgements; a torn last line stays buffered.
    buffered = lines.pop()!;
    for (const line of lines) {
      const [tag, w, batch, ids] = line.split(' ');
      if (tag !== 'ack' || !w || !batch || !ids) continue;
      acks.push({ writer: w, batch: Number(batch), ids: ids.split(',') });
      signalFirst();
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, acks, firstAck, exited };
}

/** Recomputes leaves, chains and root from the raw events and compares them with the stored tree state. */
async function assertLedgerVerifies(store: EventStore): Promise<RecordedEvent[]> {
  const log = await store.readLog();
  assert.deepEqual(log.map((e) => e.index), [...log.keys()], 'leaf indices are dense');
  assertChainsValid(log);
  const state = await store.treeState();
  assert.equal(state.size, log.length);
  const stored = CompactRange.fromState(state.size, state.range.map((h) => Buffer.from(h, 'hex'))).root();
  assert.deepEqual(stored, rootOfLeaves(log.map((e) => leafHash(e.canonical))), 'tree root equals the recomputed root');
  // Sign the stored tree state and let the auditor's verifier, which trusts only the raw bytes, check it.
  const origin = 'runledger.test/processes';
  const key = noteKeyFromSeed(origin, Buffer.alloc(32, 7));
  await store.addCheckpoint({
    size: state.size,
    root: stored.toString('hex'),
    note: signCheckpoint(origin, state.size, stored, parseSignerKey(key.signerKey)),
    createdAt: new Date().toISOString(),
  });
  const report = verifyLogSync(log, { checkpoints: await store.checkpoints(), verifierKeys: [key.verifierKey], origin });
  assert.equal(report.firstDivergence?.message, undefined);
  assert.equal(report.ok, true);
  assert.equal(report.checkpoints, 1);
  assert.equal(report.root, stored.toString('hex'));
  return log;
}

function batchesIn(log: RecordedEvent[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const e of log) {
    const { writer, batch } = e.envelope.data as { writer: string; batch: number };
    const key = `${writer}/${batch}`;
    sizes.set(key, (sizes.get(key) ?? 0) + 1);
  }
  return sizes;
}

describe('sqlite store across processes', function () {
  this.timeout(120_000);
  let dir: string;
  const running: Writer[] = [];
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'runledger-procs-'))));
  afterEach(async () => {
    for (const w of running.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('four processes appending to shared streams record exactly every event, chains intact, seen live by a subscriber', async function () {
    const path = join(dir, 'ledger.db');
    const store = createSqliteStore({ path });
    await store.init();
    const writers = ['a', 'b', 'c', 'd'].map((id) => startWriter(path, id, 25));
    running.push(...writers);
    const total = writers.length * 25 * BATCH_SIZE;
    // Appends from other processes reach this subscriber only by polling the file.
    const live = take(store.subscribe({ pollMs: 50 }), total, 60_000);
    for (const w of writers) {
      const { code, stderr } = await w.exited;
      assert.equal(code, 0, `writer exited cleanly: ${stderr}`);
    }
    const seen = await live;
    const log = await assertLedgerVerifies(store);
    assert.equal(log.length, total);
    const acked = writers.flatMap((w) => w.acks.flatMap((a) => a.ids));
    assert.deepEqual(new Set(log.map((e) => e.envelope.id)), new Set(acked));
    assert.deepEqual(seen.map((e) => e.envelope.id), log.map((e) => e.envelope.id), 'subscriber saw the log in order, once');
    for (const size of batchesIn(log).values()) assert.equal(size, BATCH_SIZE);
    await store.close();
  });

  it('a writer killed with SIGKILL at random moments loses no acknowledged event and leaves no partial batch', async function () {
    const path = join(dir, 'ledger.db');
    const rounds = 5;
    const perRound = 4;
    const kills = rounds * perRound;
    const acks: Ack[] = [];
    // Writers run four at a time on the same file, so a kill also lands while another process
    // waits for the lock or holds it; each is killed at its own random moment.
    for (let round = 0; round < rounds; round++) {
      const writers = Array.from({ length: perRound }, (_, i) => startWriter(path, `k${round * perRound + i}`, 'forever'));
      running.push(...writers);
      await Promise.all(
        writers.map(async (writer) => {
          await Promise.race([writer.firstAck, writer.exited.then((r) => assert.fail(`writer died before its first append: ${r.stderr}`))]);
          await new Promise((r) => setTimeout(r, Math.random() * 80));
          writer.child.kill('SIGKILL');
          const { signal } = await writer.exited;
          assert.equal(signal, 'SIGKILL');
          acks.push(...writer.acks);
        }),
      );
    }
    const store = createSqliteStore({ path });
    const log = await assertLedgerVerifies(store);
    const stored = new Set(log.map((e) => e.envelope.id));
    const lost = acks.flatMap((a) => a.ids).filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], 'every acknowledged event is present');
    const batches = batchesIn(log);
    for (const [key, size] of batches) assert.equal(size, BATCH_SIZE, `batch ${key} is whole`);
    // At most one batch per writer committed without its acknowledgement reaching us: the one in flight.
    for (let round = 0; round < kills; round++) {
      const ackedBatches = acks.filter((a) => a.writer === `k${round}`).length;
      const storedBatches = [...batches.keys()].filter((k) => k.startsWith(`k${round}/`)).length;
      assert.ok(storedBatches - ackedBatches >= 0 && storedBatches - ackedBatches <= 1, `writer k${round}: ${storedBatches} stored, ${ackedBatches} acked`);
    }
    assert.ok(acks.length >= kills, 'every writer acknowledged at least one batch');
    await store.close();
  });
});
