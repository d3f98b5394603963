// Bulk generator of genuine, verifiable ledgers for the scale benchmarks (docs/benchmarks.md, "Scale:
// 10 M events"). Nothing is forged: events go through the embedded store's own append (validation,
// RFC 8785 bytes, chains, tree extension, durable commit) in large atomic batches, and checkpoints
// are signed by the home's key through `createCheckpoint`, as `runledger checkpoint` signs them. What
// makes it fast is only the batch size: one transaction of `batch` events per commit, not one per event.
import { createCheckpoint } from '../src/ledger/checkpoint.js';
import { ensureOrigin } from '../src/ledger/origin.js';
import { ensureLedgerSigner, loadLedgerSigner } from '../src/ledger/signer-state.js';
import type { AppendRequest, EventStore } from '../src/store/port.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { defaultStoreUrl } from '../src/store/open.js';

export interface GeneratorOptions {
  /** Streams the events are spread over, round robin in groups (default 10,000). */
  streams?: number;
  /** Events per stream per append request (default 100). */
  perRequest?: number;
  /** Streams per transaction (default 100): a transaction holds streamsPerBatch × perRequest events. */
  streamsPerBatch?: number;
  /** Sign a checkpoint every this many events, and at the end (default 1,000,000). */
  checkpointEvery?: number;
  /** Called after every transaction with the events written so far. */
  onProgress?: (events: number) => void;
}

/** Telemetry of the size a training run records: about 430 bytes of canonical envelope (as bench/verify.ts). */
function telemetry(stream: string, step: number): AppendRequest['events'][number] {
  return {
    type: 'custom.bench.telemetry',
    data: { step, epoch: Math.floor(step / 1000), loss: 1 / (step + 1), accuracy: 0.5 + (step % 1000) / 2000, lr: 0.001, phase: step % 2 ? 'train' : 'eval', tags: ['train'] },
    metadata: { actor: 'worker-1', correlationId: stream },
  };
}

/** The store file of a generated home. */
export function storePath(home: string): string {
  return defaultStoreUrl(home).slice('sqlite:'.length);
}

/**
 * Extends the ledger in `home` (created, with its key and signer state, on first use, as `runledger
 * init` does) to `total` events. Transaction t appends `perRequest` events to each stream of group
 * t mod (streams / streamsPerBatch), with the exact expected revision, so after `streams ×
 * perRequest` events every stream exists. Resumable: it continues from the events already there.
 */
export async function generateLedger(home: string, total: number, options: GeneratorOptions = {}): Promise<{ events: number; checkpoints: number }> {
  const streams = options.streams ?? 10_000;
  const perRequest = options.perRequest ?? 100;
  const streamsPerBatch = Math.min(streams, options.streamsPerBatch ?? 100);
  const checkpointEvery = options.checkpointEvery ?? 1_000_000;
  if (streams % streamsPerBatch !== 0) throw new Error(`generator: ${streams} streams do not split into groups of ${streamsPerBatch}`);
  const groups = streams / streamsPerBatch;
  const batch = streamsPerBatch * perRequest;
  const store: EventStore = createSqliteStore({ path: storePath(home), prepare: { actor: 'bench' } });
  try {
    await store.init();
    const { origin } = await ensureOrigin(store);
    ensureLedgerSigner(home, origin);
    const signer = loadLedgerSigner(home);
    let done = (await store.treeState()).size;
    if (done % batch !== 0) throw new Error(`generator: the ledger in ${home} has ${done} events, not a multiple of the batch (${batch})`);
    let signed = 0;
    while (done < total) {
      const t = done / batch;
      const group = t % groups;
      // Revisions before this transaction, per stream of the group: one request per earlier visit.
      const before = Math.floor(t / groups) * perRequest;
      const requests: AppendRequest[] = [];
      for (let k = 0; k < streamsPerBatch; k++) {
        const stream = `lab-scale-${group * streamsPerBatch + k}`;
        const events = Array.from({ length: perRequest }, (_, e) => telemetry(stream, before + e));
        requests.push({ stream, events, expectedRevision: before === 0 ? 'no_stream' : before - 1 });
      }
      await store.appendBatch(requests);
      done += batch;
      options.onProgress?.(done);
      if (done % checkpointEvery === 0 || done >= total) {
        await createCheckpoint(store, signer, origin);
        signed++;
      }
    }
    return { events: done, checkpoints: signed };
  } finally {
    await store.close();
  }
}

const RUN_PLAN = ['governance:', '  name: scale', '  approver: alice', '  config: { lr: 0.001 }', '  seeds: { init: 42 }', 'execution:', '  stages:', '    - id: train', ''].join('\n');

/**
 * A ledger in `home` holding one completed governed run of `events` events: the approved plan, the
 * stage start, `events - 5` custom.* telemetry events appended to the run stream in transactions of
 * 10,000 (legal there while the run is open: the write rules every door and every replay apply),
 * the stage completion, and a signed checkpoint covering them. What `runledger export` then bundles.
 */
export async function generateRun(home: string, runId: string, events: number): Promise<{ events: number }> {
  const [{ parsePlan }, { approvePlan, recordStage }] = await Promise.all([import('../src/governance/plan-file.js'), import('../src/governance/recorder.js')]);
  const store: EventStore = createSqliteStore({ path: storePath(home), prepare: { actor: 'bench' } });
  try {
    await store.init();
    const { origin } = await ensureOrigin(store);
    ensureLedgerSigner(home, origin);
    const plan = parsePlan(RUN_PLAN, 'scale plan');
    await approvePlan(store, plan, runId, { actor: 'alice' });
    await recordStage(store, runId, 'train', 'start', { actor: 'executor' });
    const stream = `run-${runId}`;
    // Approval, execution plan and stage start are revisions 0-2; completion adds StageCompleted and RunCompleted.
    const telemetryEvents = events - 5;
    for (let done = 0; done < telemetryEvents; ) {
      const revision = await store.streamRevision(stream);
      const n = Math.min(10_000, telemetryEvents - done);
      await store.appendBatch([{ stream, events: Array.from({ length: n }, (_, e) => telemetry(stream, done + e)), expectedRevision: revision }]);
      done += n;
    }
    await recordStage(store, runId, 'train', 'complete', { actor: 'executor', wallMs: 1 });
    const recorded = (await store.streamRevision(stream)) + 1;
    await createCheckpoint(store, loadLedgerSigner(home), origin);
    return { events: recorded };
  } finally {
    await store.close();
  }
}
