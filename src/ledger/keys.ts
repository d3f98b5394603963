// The home's Ed25519 signing key, kept as C2SP signer-key text in a 0600 file, and its verifier key.
import { constants, existsSync, mkdirSync, openSync, readFileSync, writeSync, closeSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { generateNoteKey, parseSignerKey, verifierKeyOf, type NoteSigner } from '../integrity/note.js';

export interface KeyPaths {
  dir: string;
  signer: string;
  verifier: string;
}

export function keyPaths(home: string): KeyPaths {
  const dir = join(home, 'keys');
  return { dir, signer: join(dir, 'signing.key'), verifier: join(dir, 'signing.vkey') };
}

/** Creates the signing key named `name` unless one exists. Returns the verifier key either way. */
export function ensureSigningKey(home: string, name: string): { created: boolean; verifierKey: string } {
  const paths = keyPaths(home);
  if (existsSync(paths.signer)) return { created: false, verifierKey: loadVerifierKey(home) };
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const pair = generateNoteKey(name);
  // O_EXCL: never overwrite a key another process created a moment ago; 0600 from the first byte.
  const fd = openSync(paths.signer, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, `${pair.signerKey}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(paths.signer, 0o600);
  const vfd = openSync(paths.verifier, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
  try {
    writeSync(vfd, `${pair.verifierKey}\n`);
  } finally {
    closeSync(vfd);
  }
  return { created: true, verifierKey: pair.verifierKey };
}

function readSignerText(home: string): string {
  const { signer } = keyPaths(home);
  if (!existsSync(signer)) {
    throw new InputError(`no signing key at ${signer}: run "runledger init" with this home (or pass --home)`, { file: signer });
  }
  return readFileSync(signer, 'utf8');
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
