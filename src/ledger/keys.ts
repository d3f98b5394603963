// The home's Ed25519 signing key, kept as C2SP signer-key text in a 0600 file, and its verifier key.
// Key files are written atomically (temp file, fsync, link into place, fsync the directory), so a
// crash leaves either no key or a whole one — never an empty file that blocks every later `init`.
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { generateNoteKey, parseSignerKey, verifierKeyOf, type NoteSigner } from '../integrity/note.js';

export interface KeyPaths {
  dir: string;
  signer: string;
  verifier: string;
  /** The last checkpoint the signing key signed (src/ledger/signer-state.ts). */
  state: string;
  /** A key rotation under way: the new key and its event, until the rotation completes (src/ledger/rotation.ts). */
  rotation: string;
}

export function keyPaths(home: string): KeyPaths {
  const dir = join(home, 'keys');
  return { dir, signer: join(dir, 'signing.key'), verifier: join(dir, 'signing.vkey'), state: join(dir, 'signing.state'), rotation: join(dir, 'rotation.pending') };
}

/** A directory only its owner can enter, whatever the umask. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `text` to `path` atomically with `mode`, refusing to replace an existing file: the bytes go
 * to a temp file that is fsynced and then hard-linked into place (link fails if `path` exists, so two
 * racing writers cannot overwrite each other's key). Returns false when `path` already existed.
 */
export function writeNewFileAtomically(path: string, text: string, mode = 0o600): boolean {
  const dir = dirname(path);
  const tmp = writeTempFile(dir, text, mode);
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  fsyncDir(dir);
  return true;
}

/**
 * Replaces `path` atomically with `text` (`mode`): temp file, fsync, rename over `path`, fsync the
 * directory. A crash leaves the old file or the new one, whole.
 */
export function replaceFileAtomically(path: string, text: string | Uint8Array, mode = 0o600): void {
  const dir = dirname(path);
  const tmp = writeTempFile(dir, text, mode);
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  fsyncDir(dir);
}

/** `text` in a new, fsynced temp file of `dir` with exactly `mode` (whatever the umask). */
function writeTempFile(dir: string, text: string | Uint8Array, mode: number): string {
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    const data = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
    fsyncSync(fd);
    chmodSync(tmp, mode);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  return tmp;
}

/** A key file that exists but cannot be used: names the file and what to do. */
export class KeyFileError extends InputError {
  constructor(file: string, why: string) {
    super(`key file ${file} is unusable (${why}): restore it from a backup; only if the key is lost, move it aside and run "runledger init" to create a new one (checkpoints signed by the old key then need its verifier key)`, { file });
  }
}

/**
 * Creates an Ed25519 signer key named `name` at `file` (0600, atomically) unless one exists, and
 * returns its verifier key either way. An existing file that is not a valid key is a KeyFileError.
 */
export function ensureKeyFile(file: string, name: string): { created: boolean; verifierKey: string } {
  if (!existsSync(file)) {
    ensurePrivateDir(dirname(file));
    const pair = generateNoteKey(name);
    if (writeNewFileAtomically(file, `${pair.signerKey}\n`)) return { created: true, verifierKey: pair.verifierKey };
  }
  return { created: false, verifierKey: verifierKeyOf(readKeyFile(file)) };
}

/** The signer-key text of `file`, checked to parse; a missing file is an InputError, a broken one a KeyFileError. */
export function readKeyFile(file: string, missing = `no key at ${file}`): string {
  if (!existsSync(file)) throw new InputError(missing, { file });
  const text = readFileSync(file, 'utf8');
  if (text.trim() === '') throw new KeyFileError(file, 'it is empty');
  try {
    parseSignerKey(text);
  } catch (err) {
    throw new KeyFileError(file, (err as Error).message);
  }
  return text;
}

/** Creates the signing key named `name` unless one exists. Returns the verifier key either way. */
export function ensureSigningKey(home: string, name: string): { created: boolean; verifierKey: string } {
  const paths = keyPaths(home);
  const key = ensureKeyFile(paths.signer, name);
  // A convenience copy for auditors; the signing key is the source of truth.
  if (key.created || !existsSync(paths.verifier)) writeNewFileAtomically(paths.verifier, `${key.verifierKey}\n`, 0o644);
  return key;
}

function readSignerText(home: string): string {
  const { signer } = keyPaths(home);
  return readKeyFile(signer, `no signing key at ${signer}: run "runledger init" with this home (or pass --home)`);
}

export function loadSigner(home: string): NoteSigner {
  return parseSignerKey(readSignerText(home));
}

/** The verifier key in C2SP vkey form, derived from the signing key (the .vkey file is a convenience copy). */
export function loadVerifierKey(home: string): string {
  return verifierKeyOf(readSignerText(home));
}

export function hasSigningKey(home: string): boolean {
  return existsSync(keyPaths(home).signer);
}
