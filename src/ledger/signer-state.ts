// The signer's own memory, kept as a transparency-log witness keeps one (C2SP tlog-witness): the last
// checkpoint note its key signed, in a 0600 file beside the key. `createCheckpoint` signs a new tree
// only after proving it extends that note (RFC 9162 §2.1.4) — never the store's checkpoint rows, which
// whoever can write the store can wipe or rewrite.
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError, IntegrityError, UnavailableError } from '../errors.js';
import { openCheckpoint, signCheckpoint } from '../integrity/checkpoint.js';
import { EMPTY_ROOT } from '../integrity/hasher.js';
import { NoteError, parseSignerKey, verifierKeyOf, type NoteSigner } from '../integrity/note.js';
import { ensurePrivateDir, ensureSigningKey, keyPaths, readKeyFile, replaceFileAtomically, writeNewFileAtomically } from './keys.js';

/** A checkpoint signing key together with the file that remembers what it last signed. */
export interface LedgerSigner {
  readonly note: NoteSigner;
  /** The key's verifier key (C2SP vkey), used to open its own state. */
  readonly verifierKey: string;
  /** The signer state: the last checkpoint note this key signed, verbatim. */
  readonly statePath: string;
  /**
   * The home key file this signer was loaded from. When set, signing re-checks under the lock that the
   * file still holds this key and no rotation is under way (a signer loaded before `keys rotate`).
   */
  readonly keyFile?: string;
}

/** A checkpoint this key signed, as its state file (or an adopted note) records it. */
export interface SignedHead {
  origin: string;
  size: number;
  root: Buffer;
  /** The signed note, verbatim. */
  note: string;
}

export function ledgerSigner(signerKey: string, statePath: string, keyFile?: string): LedgerSigner {
  return { note: parseSignerKey(signerKey), verifierKey: verifierKeyOf(signerKey), statePath, ...(keyFile !== undefined ? { keyFile } : {}) };
}

/** The home's signing key and its state file `<home>/keys/signing.state`. Refuses while a key rotation is under way. */
export function loadLedgerSigner(home: string): LedgerSigner {
  const paths = keyPaths(home);
  refuseDuringRotation(paths.rotation);
  return ledgerSigner(readKeyFile(paths.signer, `no signing key at ${paths.signer}: run "runledger init" with this home (or pass --home)`), paths.state, paths.signer);
}

function refuseDuringRotation(pending: string): void {
  if (existsSync(pending)) {
    throw new InputError(`a key rotation is under way (${pending} exists): run "runledger keys rotate" to finish it before signing`, { file: pending });
  }
}

/**
 * Under the signer lock: the signer's key file still holds its key and no rotation is under way —
 * else a signer loaded before a rotation would sign with the retired key. `rotating` skips the
 * second check for the rotation's own transition checkpoint.
 */
export function assertSignerCurrent(signer: LedgerSigner, rotating: boolean): void {
  if (signer.keyFile === undefined) return;
  if (!rotating) refuseDuringRotation(keyPaths(dirname(dirname(signer.keyFile))).rotation);
  const current = parseSignerKey(readKeyFile(signer.keyFile));
  if (current.name !== signer.note.name || current.keyId !== signer.note.keyId) {
    throw new InputError(`the signing key in ${signer.keyFile} changed (rotated) after this signer was loaded: run the command again`, { file: signer.keyFile });
  }
}

export type SignerStateStatus = 'created' | 'present' | 'missing';

/**
 * Creates the home's signing key named `origin` unless one exists. A new key starts with a state
 * saying it signed the empty tree; an existing key without a state is reported `missing` (its
 * history is unknown: see `createCheckpoint`'s `adopt`), never given a fresh one.
 */
export function ensureLedgerSigner(home: string, origin: string): { created: boolean; verifierKey: string; state: SignerStateStatus } {
  const key = ensureSigningKey(home, origin);
  const signer = loadLedgerSigner(home);
  if (key.created) {
    startSignerState(signer, origin);
    return { ...key, state: 'created' };
  }
  return { ...key, state: existsSync(signer.statePath) ? 'present' : 'missing' };
}

/** Opens a note as a checkpoint this key signed; a NoteError says why it is not one. */
export function openSignedHead(signer: LedgerSigner, note: string): SignedHead {
  const checkpoint = openCheckpoint(note, [signer.verifierKey]);
  return { origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root, note };
}

/** The head recorded in the state file; undefined when there is none. A file this key did not sign is an IntegrityError. */
export function readSignerState(signer: LedgerSigner): SignedHead | undefined {
  if (!existsSync(signer.statePath)) return undefined;
  const text = readFileSync(signer.statePath, 'utf8');
  try {
    return openSignedHead(signer, text);
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    throw new IntegrityError(
      `signer state ${signer.statePath} is not a checkpoint signed by this home's key (${err.message}): restore it from a backup, or move it aside and run "runledger checkpoint --adopt" (docs/integrity.md, "The signer state")`,
      { file: signer.statePath },
    );
  }
}

/** Records that a new key has signed nothing yet (the empty tree). Refuses to replace an existing state. */
export function startSignerState(signer: LedgerSigner, origin: string): boolean {
  ensurePrivateDir(dirname(signer.statePath));
  return writeNewFileAtomically(signer.statePath, signCheckpoint(origin, 0, EMPTY_ROOT, signer.note));
}

/** Adopts `head` as the state of a key that has none (`runledger checkpoint --adopt`). */
export function adoptSignerState(signer: LedgerSigner, head: SignedHead): void {
  ensurePrivateDir(dirname(signer.statePath));
  if (!writeNewFileAtomically(signer.statePath, head.note)) {
    throw new InputError(`signer state ${signer.statePath} appeared while adopting: run the command again without --adopt`, { file: signer.statePath });
  }
}

/** Records a note just signed, before anyone else sees it: fsynced, replaced atomically. */
export function recordSignerState(signer: LedgerSigner, note: string): void {
  replaceFileAtomically(signer.statePath, note);
}

const LOCK_WAIT_MS = 30_000;
const LOCK_POLL_MS = 25;
/** Per lock file, the tail of this process's queue of holders (the server may sign concurrently). */
const queues = new Map<string, Promise<unknown>>();

/**
 * Runs `work` holding the signer state's lock: one signer at a time per state file, in this process
 * (a queue) and across processes (`<state>.lock`, created exclusively, holding "pid host"). A lock
 * left by a process that no longer runs on this host is removed; a live holder is waited for.
 */
export async function withSignerLock<T>(signer: LedgerSigner, work: () => Promise<T>): Promise<T> {
  return withFileLock(`${signer.statePath}.lock`, work);
}

/** Runs `work` holding `lockPath` (see withSignerLock): a queue in this process, an exclusive file across processes. */
export async function withFileLock<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  const path = lockPath;
  const previous = queues.get(path) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(async () => {
    const lock = await acquireLock(path);
    try {
      return await work();
    } finally {
      unlinkSync(lock);
    }
  });
  const tail = run.catch(() => undefined);
  queues.set(path, tail);
  void tail.then(() => {
    if (queues.get(path) === tail) queues.delete(path);
  });
  return run;
}

async function acquireLock(lock: string): Promise<string> {
  ensurePrivateDir(dirname(lock));
  const me = `${process.pid} ${hostname()}\n`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    if (writeNewFileAtomically(lock, me)) return lock;
    const holder = readHolder(lock);
    if (holder && holder.host === hostname() && !processRuns(holder.pid)) {
      // Stale: its process died holding it. Only the lock we read is removed.
      if (readHolder(lock)?.pid === holder.pid) {
        try {
          unlinkSync(lock);
        } catch {
          /* another waiter removed it first */
        }
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new UnavailableError(
        `lock ${lock} has been held for more than ${LOCK_WAIT_MS / 1000} s by ${holder ? `process ${holder.pid} on ${holder.host}` : 'another process'}; if no runledger process is signing, remove the lock file`,
        { file: lock },
      );
    }
    await sleep(LOCK_POLL_MS);
  }
}

function readHolder(lock: string): { pid: number; host: string } | undefined {
  try {
    const [pid, host] = readFileSync(lock, 'utf8').trim().split(' ');
    return pid && host && /^\d+$/.test(pid) ? { pid: Number(pid), host } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process of this machine runs (a lock holder that died leaves its lock behind). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
