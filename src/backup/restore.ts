// `runledger restore FILE --to URL`: streams a backup (format.ts) into an empty store and declares
// success only after the whole log verified against the signed checkpoints twice — as it streams
// from the file, and again read back from the target with the verifier `runledger verify` uses.
// Until then the target is no ledger: a new SQLite file is built under a temporary name and renamed
// into place at the end; a server store gets its origin (without which every command refuses it)
// only as the last write, and a failed restore marks it as such. Memory: one batch of events.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Envelope } from '../../events/envelope.js';
import { InputError, IntegrityError, LedgerError, UnavailableError } from '../errors.js';
import { leafHash } from '../integrity/hasher.js';
import { ORIGIN_KEY } from '../ledger/origin.js';
import { readLogPages } from '../ledger/read.js';
import { readRotationStatements } from '../replay/key-history.js';
import { LogVerifier, type Divergence, type VerifyLogReport } from '../replay/verify-log.js';
import { defaultVerifyWorkers, verifyLogParallel } from '../replay/verify-parallel.js';
import { openStore, sqlitePath } from '../store/open.js';
import { NO_STREAM, type AppendRequest, type EventStore, type StoredCheckpoint } from '../store/port.js';
import { BackupHeader, CheckpointLine, EndLine, GZIP_MAGIC } from './format.js';

/** Meta key a server-store target carries while (and after a failed) restore. */
export const RESTORE_MARKER_KEY = 'restore';

export interface RestoreOptions {
  verifierKeys: readonly string[];
  onProgress?: (done: number, total: number) => void;
  /** Events per append batch; default 5000. */
  batchSize?: number;
  /** Worker threads for the read-back verification; default cores - 1. */
  workers?: number;
}

export interface RestoreReport {
  file: string;
  target: string;
  origin: string;
  events: number;
  streams: number;
  checkpoints: number;
  treeSize: number;
  root: string;
  /** Events inside the latest signed checkpoint; the rest verified as a chain but no key vouches for them. */
  anchoredEvents: number;
  verified: true;
  backupCreatedAt: string;
}

export async function restoreBackup(file: string, targetUrl: string, options: RestoreOptions): Promise<RestoreReport> {
  if (options.verifierKeys.length === 0) throw new InputError('restore verifies the backup against the signed checkpoints and needs a verifier key: pass --key <vkey> (the signer\'s "runledger keys show")', { field: '--key' });
  const lines = backupLines(file);
  try {
    const header = await readHeader(file, lines);
    const checkpoints = await readCheckpoints(file, lines, header.checkpoints);
    const target = await openTarget(targetUrl);
    try {
      const report = await restoreInto(file, lines, header, checkpoints, target.store, options);
      await target.commit(header.origin);
      return { ...report, target: target.display };
    } catch (err) {
      await target.abandon(err);
      throw err;
    }
  } finally {
    lines.close();
  }
}

interface Lines {
  /** Next line (without its newline) and its 1-based number; undefined at the end of the file. */
  next(): Promise<{ text: string; line: number } | undefined>;
  /** SHA-256 of every line read so far, each with its newline. */
  digest(): string;
  close(): void;
}

function backupLines(file: string): Lines {
  if (!existsSync(file)) throw new InputError(`backup ${file} does not exist`, { file });
  const magic = Buffer.alloc(2);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, magic, 0, 2, 0);
  } finally {
    closeSync(fd);
  }
  const raw = createReadStream(file);
  let input: Readable = raw;
  if (magic.equals(GZIP_MAGIC)) input = raw.pipe(createGunzip());
  let failure: Error | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
  };
  raw.on('error', fail);
  input.on('error', fail);
  const rl = createInterface({ input, crlfDelay: Infinity });
  const iterator = rl[Symbol.asyncIterator]();
  const hash = createHash('sha256');
  let line = 0;
  return {
    async next() {
      let result: IteratorResult<string>;
      try {
        result = await iterator.next();
      } catch (err) {
        fail(err as Error);
        result = { done: true, value: undefined };
      }
      if (failure) throw new InputError(`backup ${file} cannot be read after line ${line}: ${failure.message}`, { file, line });
      if (result.done) return undefined;
      line++;
      hash.update(result.value).update('\n');
      return { text: result.value, line };
    },
    digest: () => hash.copy().digest('hex'),
    close() {
      rl.close();
      raw.destroy();
    },
  };
}

function parseLine<T>(file: string, at: { text: string; line: number } | undefined, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, what: string): T {
  if (at === undefined) throw new IntegrityError(`backup ${file} ends before its ${what}: the file is truncated`, { file });
  let value: unknown;
  try {
    value = JSON.parse(at.text);
  } catch {
    throw new InputError(`backup ${file} line ${at.line}: not JSON (expected the ${what})`, { file, line: at.line });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`backup ${file} line ${at.line}: not a runledger backup ${what}: field ${issue.path.map(String).join('.') || '(line)'}: ${issue.message}`, { file, line: at.line });
  }
  return parsed.data;
}

async function readHeader(file: string, lines: Lines): Promise<BackupHeader> {
  return parseLine(file, await lines.next(), BackupHeader, 'header (format "runledger-backup", version 1)');
}

async function readCheckpoints(file: string, lines: Lines, count: number): Promise<StoredCheckpoint[]> {
  const checkpoints: StoredCheckpoint[] = [];
  for (let i = 0; i < count; i++) checkpoints.push(parseLine(file, await lines.next(), CheckpointLine, `checkpoint ${i + 1} of ${count}`).checkpoint);
  return checkpoints;
}

async function restoreInto(file: string, lines: Lines, header: BackupHeader, checkpoints: StoredCheckpoint[], target: EventStore, options: RestoreOptions): Promise<Omit<RestoreReport, 'target'>> {
  // The header's rotation statements are checked against the LedgerKeyRotated events as they stream.
  const verifier = new LogVerifier({ checkpoints, verifierKeys: options.verifierKeys, origin: header.origin, rotations: header.keyRotations ?? [] });
  const diverged = (d: Divergence | undefined): never => {
    throw new IntegrityError(`backup ${file} does not verify, nothing was restored: ${d?.message ?? 'verification failed'}`, locationOf(d));
  };
  const batchSize = options.batchSize ?? 5000;
  let batch: AppendRequest[] = [];
  let batched = 0;
  let firstLine = 0;
  const flush = async (): Promise<void> => {
    if (batched === 0) return;
    try {
      await target.appendBatch(batch);
    } catch (err) {
      // The target's own validation (a schema this build no longer accepts, say): name the lines.
      if (!(err instanceof InputError)) throw err;
      throw new InputError(`backup ${file}: the target store refused the events of lines ${firstLine}–${firstLine + batched - 1}, nothing was restored: ${err.message}`, { file, line: firstLine });
    }
    batch = [];
    batched = 0;
  };
  for (let index = 0; index < header.treeSize; index++) {
    const at = await lines.next();
    if (at === undefined) throw new IntegrityError(`backup ${file} ends after ${index} of its ${header.treeSize} events: the file is truncated, nothing was restored`, { file, index });
    const canonical = Buffer.from(at.text, 'utf8');
    let envelope: Envelope | undefined;
    try {
      envelope = JSON.parse(at.text) as Envelope;
    } catch {
      envelope = undefined;
    }
    if (!verifier.push({ position: index, index, envelope: envelope as Envelope, canonical, leafHash: leafHash(canonical).toString('hex') })) diverged(verifier.finish().firstDivergence);
    const env = envelope!;
    const last = batch.at(-1);
    const event = { id: env.id, type: env.type, schemaVersion: env.schemaVersion, data: env.data, metadata: env.metadata };
    if (batched === 0) firstLine = at.line;
    if (last?.stream === env.stream) last.events.push(event);
    else batch.push({ stream: env.stream, events: [event], expectedRevision: env.revision === 0 ? NO_STREAM : env.revision - 1 });
    if (++batched >= batchSize) await flush();
    if ((index + 1) % 1024 === 0 || index + 1 === header.treeSize) options.onProgress?.(index + 1, header.treeSize);
  }
  const digest = lines.digest();
  const end = parseLine(file, await lines.next(), EndLine, 'end line');
  if (end.end.events !== header.treeSize || end.end.sha256 !== digest) {
    throw new IntegrityError(`backup ${file}: its end line says ${end.end.events} events and SHA-256 ${end.end.sha256.slice(0, 16)}…, but the file holds ${header.treeSize} events hashing to ${digest.slice(0, 16)}…; nothing was restored`, { file });
  }
  if ((await lines.next()) !== undefined) throw new InputError(`backup ${file} has lines after its end line; nothing was restored`, { file });
  const streamed = verifier.finish();
  if (!streamed.ok) diverged(streamed.firstDivergence);
  await flush();
  await target.integrate();
  for (const c of checkpoints) await target.addCheckpoint(c);

  // Read back: the same verifier `runledger verify` runs, over what the target now holds.
  const readBack = await verifyLogParallel(readLogPages(target), { checkpoints: await target.checkpoints(), verifierKeys: options.verifierKeys, origin: header.origin, rotations: await readRotationStatements(target) }, { workers: options.workers ?? defaultVerifyWorkers() });
  if (!readBack.ok) throw new IntegrityError(`the restored store does not verify, so the restore failed: ${readBack.firstDivergence?.message ?? 'verification failed'}`, locationOf(readBack.firstDivergence));
  if (!sameLog(readBack, streamed)) {
    throw new IntegrityError(`the restored store holds ${readBack.treeSize} events with root ${readBack.root.slice(0, 16)}…, but the backup verified ${streamed.treeSize} events with root ${streamed.root.slice(0, 16)}…`);
  }
  return {
    file,
    origin: header.origin,
    events: readBack.events,
    streams: readBack.streams,
    checkpoints: readBack.checkpoints,
    treeSize: readBack.treeSize,
    root: readBack.root,
    anchoredEvents: checkpoints.at(-1)?.size ?? 0,
    verified: true,
    backupCreatedAt: header.createdAt,
  };
}

function sameLog(a: VerifyLogReport, b: VerifyLogReport): boolean {
  return a.treeSize === b.treeSize && a.root === b.root && a.checkpoints === b.checkpoints;
}

function locationOf(d: Divergence | undefined): ConstructorParameters<typeof IntegrityError>[1] {
  if (d === undefined) return {};
  return { ...(d.index !== undefined ? { index: d.index } : {}), ...(d.stream !== undefined ? { stream: d.stream } : {}), ...(d.revision !== undefined ? { revision: d.revision } : {}), ...(d.eventId !== undefined ? { eventId: d.eventId } : {}) };
}

interface Target {
  store: EventStore;
  display: string;
  /** Makes the target a ledger: sets its origin (last), renames a new SQLite file into place. */
  commit(origin: string): Promise<void>;
  /** After a failure: removes a new SQLite file, or marks a server store as a failed restore. */
  abandon(err: unknown): Promise<void>;
}

async function openTarget(url: string): Promise<Target> {
  if (url.startsWith('sqlite:')) {
    const path = sqlitePath(url);
    if (path === ':memory:') throw new InputError('restore needs a file or server store to restore into, not sqlite::memory:', { field: '--to' });
    if (existsSync(path)) throw new InputError(`${path} already exists: restore only creates a new ledger (choose a new file)`, { field: '--to' });
    const temporary = `${path}.restoring-${process.pid}`;
    const remove = (): void => {
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${temporary}${suffix}`, { force: true });
    };
    remove();
    let store: EventStore;
    try {
      store = await openStore(`sqlite:${temporary}`);
    } catch (err) {
      remove();
      throw err;
    }
    return {
      store,
      display: `sqlite:${path}`,
      async commit(origin) {
        await store.setMeta(ORIGIN_KEY, origin);
        await store.close();
        // Closing the last connection checkpoints the WAL into the file; a WAL left behind would be lost by the rename.
        if (existsSync(`${temporary}-wal`) && statSync(`${temporary}-wal`).size > 0) {
          remove();
          throw new UnavailableError(`the restored ledger ${temporary} kept a write-ahead log after closing; it was discarded`);
        }
        if (existsSync(path)) {
          remove();
          throw new InputError(`${path} appeared while the restore ran; the restored ledger was discarded`, { field: '--to' });
        }
        renameSync(temporary, path);
      },
      async abandon() {
        await store.close().catch(() => undefined);
        remove();
      },
    };
  }
  const store = await openStore(url);
  try {
    const [tree, pending, checkpoints, origin, marker] = await Promise.all([store.treeState(), store.unintegrated(), store.checkpoints(), store.getMeta(ORIGIN_KEY), store.getMeta(RESTORE_MARKER_KEY)]);
    if (tree.size > 0 || pending > 0 || checkpoints.length > 0 || origin !== undefined) {
      const what = marker !== undefined ? `holds a ${marker}` : `is not empty (${tree.size + pending} events, ${checkpoints.length} checkpoints${origin ? `, origin ${origin}` : ''})`;
      throw new InputError(`target ${store.displayUrl} ${what}: restore only into an empty store (a new database or schema)`, { field: '--to' });
    }
    await store.setMeta(RESTORE_MARKER_KEY, `restore in progress since ${new Date().toISOString()}`);
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return {
    store,
    display: store.displayUrl,
    async commit(origin) {
      await store.setMeta(RESTORE_MARKER_KEY, `completed restore (${new Date().toISOString()})`);
      await store.setMeta(ORIGIN_KEY, origin);
      await store.close();
    },
    async abandon(err) {
      const why = err instanceof LedgerError ? err.message : String(err);
      // Best effort: the store may be what failed. Without an origin the target is no ledger either way.
      await store.setMeta(RESTORE_MARKER_KEY, `failed restore (${new Date().toISOString()}): ${why.slice(0, 500)}`).catch(() => undefined);
      await store.close().catch(() => undefined);
    },
  };
}

