// `runledger backup`: an online, consistent, streaming copy of a ledger in the portable format
// (format.ts). Consistent without a long transaction: integrated events are immutable and the log is
// append-only, so the backup is the log prefix of the tree size read when it began (after the
// checkpoints, so every checkpoint it holds lies inside that prefix), read page by page while
// writers go on appending. Memory is one page of events; the file appears (by rename) only once
// complete, so a killed backup leaves no file that looks like one.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlib } from 'node:zlib';
import { InputError, IntegrityError, UnavailableError } from '../errors.js';
import { requireOrigin } from '../ledger/origin.js';
import { PAGE_SIZE } from '../ledger/read.js';
import { readRotationStatements } from '../replay/key-history.js';
import { LogVerifier, type VerifyLogReport } from '../replay/verify-log.js';
import type { EventStore } from '../store/port.js';
import { BACKUP_FORMAT, BACKUP_VERSION, type BackupHeader } from './format.js';

export interface BackupOptions {
  /** Also run the log verifier over every event as it is written (the checks of `runledger verify`). */
  verifierKeys?: readonly string[];
  onProgress?: (done: number, total: number) => void;
  /** gzip level 1..9; default 3 (fast, and JSON compresses well anyway). */
  level?: number;
}

export interface BackupReport {
  file: string;
  origin: string;
  events: number;
  checkpoints: number;
  treeSize: number;
  /** Events committed but not integrated when the backup began: not in it (sign a checkpoint first). */
  pendingEvents: number;
  bytes: number;
  sha256: string;
  /** The log verifier's report when verifier keys were given; null otherwise. */
  verification: VerifyLogReport | null;
}

const NEWLINE = 0x0a;

export async function writeBackup(store: EventStore, out: string, options: BackupOptions = {}): Promise<BackupReport> {
  const file = resolve(out);
  if (existsSync(file)) throw new InputError(`${out} already exists: a backup never overwrites a file (choose a new name)`, { file: out });
  const origin = await requireOrigin(store);
  // Checkpoints first, then the tree: every checkpoint read is inside the prefix backed up.
  const checkpoints = await store.checkpoints();
  const size = (await store.treeState()).size;
  const pendingEvents = await store.unintegrated();
  const keys = options.verifierKeys ?? [];
  // A rotated ledger's checkpoints verify only with its key history, which travels in the header.
  const rotations = await readRotationStatements(store, size);
  const verifier = keys.length > 0 ? new LogVerifier({ checkpoints, verifierKeys: keys, origin, rotations }) : undefined;
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: new Date().toISOString(),
    source: { kind: store.kind, url: store.displayUrl },
    origin,
    treeSize: size,
    checkpoints: checkpoints.length,
    ...(rotations.length > 0 ? { keyRotations: rotations } : {}),
  };
  const hash = createHash('sha256');
  let bytes = 0;
  const emit = (chunk: Buffer): Buffer => {
    hash.update(chunk);
    bytes += chunk.length;
    return chunk;
  };
  let digest = '';

  async function* lines(): AsyncGenerator<Buffer> {
    yield emit(Buffer.from(`${JSON.stringify(header)}\n`));
    for (const c of checkpoints) yield emit(Buffer.from(`${JSON.stringify({ checkpoint: { size: c.size, root: c.root, note: c.note, createdAt: c.createdAt } })}\n`));
    for (let from = 0; from < size; ) {
      const page = await store.readLog({ fromIndex: from, limit: Math.min(PAGE_SIZE, size - from) });
      if (page.length === 0) throw new IntegrityError(`the store has no event at leaf index ${from} although its tree had ${size} leaves when the backup began`, { index: from });
      const parts: Buffer[] = [];
      for (const e of page) {
        if (e.index !== from) throw new IntegrityError(`the store returned leaf index ${e.index} where ${from} was next: its log has a gap or is out of order`, { index: from });
        // One event per line: RFC 8785 bytes never hold a raw newline, so bytes that do were not written by a store.
        if (e.canonical.includes(NEWLINE)) throw new IntegrityError(`leaf ${from} (stream "${e.envelope.stream}" revision ${e.envelope.revision}): its stored bytes contain a newline, so they are not RFC 8785 JSON`, { index: from });
        verifier?.push(e);
        parts.push(e.canonical, Buffer.from([NEWLINE]));
        from++;
      }
      yield emit(Buffer.concat(parts));
      options.onProgress?.(from, size);
    }
    digest = hash.digest('hex');
    yield Buffer.from(`${JSON.stringify({ end: { events: size, sha256: digest } })}\n`);
  }

  const partial = `${file}.partial-${process.pid}`;
  try {
    await pipeline(Readable.from(lines()), createGzip({ level: options.level ?? 3, strategy: zlib.Z_DEFAULT_STRATEGY }), createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
    const fd = openSync(partial, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, file);
  } catch (err) {
    rmSync(partial, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && !(err instanceof UnavailableError)) {
      throw new UnavailableError(`cannot write backup ${out}: ${(err as Error).message}`, { file: out });
    }
    throw err;
  }
  return { file, origin, events: size, checkpoints: checkpoints.length, treeSize: size, pendingEvents, bytes, sha256: digest, verification: verifier ? verifier.finish() : null };
}
