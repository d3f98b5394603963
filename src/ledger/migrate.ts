// Copying a ledger from one store to another (docs/stores.md, "Migrating between stores"). The
// source is verified first, with the full log verifier: a source that does not verify is refused
// before anything is written, and the target stays as it was (empty). Then every event is
// re-appended in leaf order through the target's own append — same id, type, schema version, data
// and metadata (recordedAt included), each stream at the revision it had — so the shared planner
// seals the same canonical bytes and chains them to the same prevHash; the target integrates them
// in that order, so every event keeps its leaf index. The signed checkpoint notes and the origin are
// copied verbatim. Last, the target is verified with the same verifier and keys, leaf by leaf
// against the source: the first leaf whose bytes differ is named. A failure after writing began
// leaves the target marked (meta `migration`, state "failed") for the operator to discard.
import { InputError, IntegrityError } from '../errors.js';
import { readRotationStatements } from '../replay/key-history.js';
import { LogVerifier, verifyLog, type VerifyLogReport } from '../replay/verify-log.js';
import type { AppendRequest, EventStore, RecordedEvent } from '../store/port.js';
import { ORIGIN_KEY, requireOrigin } from './origin.js';
import { readLogPages } from './read.js';

export const MIGRATION_KEY = 'migration';

export interface MigrateOptions {
  /** Trusted verifier keys for the source's (and so the target's) checkpoints. */
  verifierKeys: readonly string[];
  /** Events per atomic append on the target. Default 500. */
  batchEvents?: number;
  /** Called with (phase, events done, events in all). */
  onProgress?: (phase: 'verify source' | 'copy' | 'verify target', done: number, total: number) => void;
}

export interface MigrationReport {
  from: string;
  to: string;
  origin: string;
  events: number;
  /** Events the source had recorded but not integrated: copied after the leaves, in store order. */
  unintegrated: number;
  streams: number;
  checkpoints: number;
  treeSize: number;
  /** Root of the source's leaves and of the target's, recomputed from the bytes; always equal on success. */
  sourceRoot: string;
  targetRoot: string;
  verified: boolean;
}

interface MigrationState {
  state: 'copying' | 'failed' | 'verified';
  from: string;
  at: string;
  reason?: string;
}

/** What the target must not hold: events, or checkpoints. */
async function refuseNonEmpty(target: EventStore): Promise<void> {
  const [tree, pending, checkpoints, streams] = await Promise.all([target.treeState(), target.unintegrated(), target.checkpoints(), target.listStreams()]);
  const events = tree.size + pending;
  if (events > 0 || checkpoints.length > 0 || streams.length > 0) {
    throw new InputError(
      `target store ${target.displayUrl} is not empty (${events} events in ${streams.length} streams, ${checkpoints.length} checkpoints): migrate only into an empty store`,
      { field: 'to' },
    );
  }
}

/** The proposal that makes the target's planner seal exactly `event`'s envelope. */
function proposal(event: RecordedEvent): AppendRequest['events'][number] {
  const { id, type, schemaVersion, data, metadata } = event.envelope;
  return { id, type, schemaVersion, data, metadata: { ...metadata } };
}

/**
 * Groups events (in leaf order) into atomic appends that keep that order on every store: a request
 * is a run of one stream's consecutive events at its exact next revision, and one append never
 * names a stream twice.
 */
export function migrationBatches(events: readonly RecordedEvent[], batchEvents: number): AppendRequest[][] {
  const batches: AppendRequest[][] = [];
  let batch: AppendRequest[] = [];
  let streams = new Set<string>();
  let size = 0;
  for (const event of events) {
    const { stream, revision } = event.envelope;
    const last = batch.at(-1);
    if (last && last.stream === stream && size < batchEvents) {
      last.events.push(proposal(event));
      size += 1;
      continue;
    }
    if (size >= batchEvents || streams.has(stream)) {
      batches.push(batch);
      batch = [];
      streams = new Set();
      size = 0;
    }
    batch.push({ stream, expectedRevision: revision - 1, events: [proposal(event)] });
    streams.add(stream);
    size += 1;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

async function* sourceEvents(source: EventStore, pageSize: number): AsyncGenerator<RecordedEvent> {
  let lastPosition = -1;
  for await (const event of readLogPages(source, pageSize)) {
    lastPosition = event.position;
    yield event;
  }
  // Recorded but not integrated: the target integrates them in the source's store order.
  for (let after = lastPosition; ; ) {
    const page = await source.readAll({ after, limit: pageSize });
    if (page.length === 0) return;
    for (const event of page) if (event.index === null) yield event;
    after = page.at(-1)!.position;
  }
}

function divergenceMessage(report: VerifyLogReport): string {
  return report.firstDivergence?.message ?? 'the log does not verify';
}

/** Copies `source` into the empty `target` and verifies the copy; throws on any failure. */
export async function migrateLedger(source: EventStore, target: EventStore, options: MigrateOptions): Promise<MigrationReport> {
  if (options.verifierKeys.length === 0) throw new InputError('migration needs the verifier key of the source\'s checkpoints: pass --key <vkey>', { field: 'key' });
  const batchEvents = options.batchEvents ?? 500;
  const progress = options.onProgress ?? (() => undefined);
  const origin = await requireOrigin(source);
  await refuseNonEmpty(target);

  // 1. The source verifies, or nothing is written.
  const checkpoints = await source.checkpoints();
  const [tree, pending] = await Promise.all([source.treeState(), source.unintegrated()]);
  const total = tree.size + pending;
  const verifyOptions = { checkpoints, verifierKeys: options.verifierKeys, origin, rotations: await readRotationStatements(source) };
  const sourceReport = await verifyLog(readLogPages(source), { ...verifyOptions, onProgress: (n) => progress('verify source', n, total), progressEvery: 1000 });
  if (!sourceReport.ok) {
    throw new IntegrityError(`source ${source.displayUrl} does not verify, nothing was copied: ${divergenceMessage(sourceReport)}`, {
      ...(sourceReport.firstDivergence?.index !== undefined ? { index: sourceReport.firstDivergence.index } : {}),
      ...(sourceReport.firstDivergence?.stream !== undefined ? { stream: sourceReport.firstDivergence.stream } : {}),
    });
  }

  const mark = (state: MigrationState['state'], reason?: string): Promise<void> =>
    target.setMeta(MIGRATION_KEY, JSON.stringify({ state, from: source.displayUrl, at: new Date().toISOString(), ...(reason ? { reason } : {}) } satisfies MigrationState));
  await mark('copying');
  try {
    // 2. Events in leaf order, then checkpoints and origin verbatim.
    let copied = 0;
    let chunk: RecordedEvent[] = [];
    const flush = async (): Promise<void> => {
      for (const batch of migrationBatches(chunk, batchEvents)) {
        const result = await target.appendBatch(batch);
        if (result.duplicate) throw new IntegrityError(`target ${target.displayUrl} already held events of stream "${batch[0]!.stream}": it was written during the migration`);
        copied += result.positions.length;
        progress('copy', copied, total);
      }
      chunk = [];
    };
    for await (const event of sourceEvents(source, 5_000)) {
      chunk.push(event);
      if (chunk.length >= 5_000) await flush();
    }
    await flush();
    await target.integrate();
    for (const checkpoint of checkpoints) await target.addCheckpoint(checkpoint);
    await target.setMeta(ORIGIN_KEY, origin);

    // 3. The target verifies, leaf by leaf the same as the source.
    const targetCheckpoints = await target.checkpoints();
    const verifier = new LogVerifier({ checkpoints: targetCheckpoints, verifierKeys: options.verifierKeys, origin, rotations: await readRotationStatements(target) });
    const sourceLog = sourceEvents(source, 5_000);
    let index = 0;
    for await (const copy of readLogPages(target)) {
      const original = (await sourceLog.next()).value as RecordedEvent | undefined;
      if (!original || !original.canonical.equals(copy.canonical)) {
        throw new IntegrityError(
          original
            ? `leaf ${index} of the target (stream "${copy.envelope.stream}" revision ${copy.envelope.revision}) differs from the source's leaf ${index} (stream "${original.envelope.stream}" revision ${original.envelope.revision})`
            : `the target has leaf ${index} (stream "${copy.envelope.stream}" revision ${copy.envelope.revision}), the source has only ${index} events`,
          { index, stream: copy.envelope.stream, revision: copy.envelope.revision },
        );
      }
      if (!verifier.push(copy)) break;
      index += 1;
      if (index % 1000 === 0) progress('verify target', index, total);
    }
    const targetReport = verifier.finish();
    if (!targetReport.ok) throw new IntegrityError(`target ${target.displayUrl} does not verify: ${divergenceMessage(targetReport)}`);
    if (index !== total || (await target.unintegrated()) !== 0) {
      throw new IntegrityError(`target ${target.displayUrl} holds ${index} integrated events, the source ${total}`);
    }
    if (targetReport.root !== sourceReport.root && pending === 0) {
      throw new IntegrityError(`target root ${targetReport.root} differs from source root ${sourceReport.root}`);
    }
    progress('verify target', index, total);
    await mark('verified');
    return {
      from: source.displayUrl,
      to: target.displayUrl,
      origin,
      events: index,
      unintegrated: pending,
      streams: targetReport.streams,
      checkpoints: targetReport.checkpoints,
      treeSize: targetReport.treeSize,
      sourceRoot: sourceReport.root,
      targetRoot: targetReport.root,
      verified: true,
    };
  } catch (err) {
    await mark('failed', err instanceof Error ? err.message : String(err)).catch(() => undefined);
    throw err;
  }
}
