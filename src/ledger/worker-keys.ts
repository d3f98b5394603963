// The worker key: `<home>/keys/worker.key`, an Ed25519 key in C2SP signer-key text (0600, written
// atomically by ensureKeyFile). It signs model checkpoint files and every training event the home's
// workers record. It is not the ledger key (`keys/signing.key`), which signs checkpoints of the log:
// a run's approval names the worker keys it trusts (`train` names this one; `plan approve
// --worker-key` and `submit --worker-key` name any), and the write rules accept a training event only
// when one of them signed it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWorkerKey, parseWorkerKey, recordingSigner, workerEventMessage } from '../integrity/worker-signature.js';
import { ALG_ED25519, parseEd25519SignerKey } from '../integrity/note.js';
import { IntegrityError } from '../errors.js';
import { ensureKeyFile, readKeyFile } from './keys.js';
import type { CheckpointSigner } from '../integrity/worker-signature.js';

/** The worker key's name in its C2SP key texts. */
export const WORKER_KEY_NAME = 'runledger-worker';

export interface WorkerKeys {
  signer: CheckpointSigner;
  /** The key as approvals and events record it: base64 of the raw 32-byte public key. */
  publicKey: string;
  /** The same key as a C2SP verifier key (`runledger keys show --worker`). */
  verifierKey: string;
}

export function workerKeyFile(home: string): string {
  return join(home, 'keys', 'worker.key');
}

export function hasWorkerKey(home: string): boolean {
  return existsSync(workerKeyFile(home));
}

/** The home's worker key, created on first use. */
export function homeWorkerKeys(home: string): WorkerKeys {
  const file = workerKeyFile(home);
  const { verifierKey } = ensureKeyFile(file, WORKER_KEY_NAME);
  const { privateKey } = parseEd25519SignerKey(readKeyFile(file), ALG_ED25519);
  const publicKey = parseWorkerKey(verifierKey, file);
  // The recording signer: this process's door accepts what it signs without verifying it again (worker-signature.ts).
  const signer = recordingSigner(privateKey);
  if (workerKeyOf(signer) !== publicKey) throw new IntegrityError(`${file}: the worker key's private key does not match its public key ${publicKey}`);
  return { signer, publicKey, verifierKey };
}

/** The recorded form of a signer's key. */
export function workerKeyOf(signer: CheckpointSigner): string {
  return encodeWorkerKey(signer.publicKey);
}

/** Signs a training event's data as a worker does: `publicKey` names the signer, `signature` covers the rest (worker-event v2). */
export function signEvent<T extends { publicKey: string; signature: string }>(signer: CheckpointSigner, type: string, data: Omit<T, 'publicKey' | 'signature'>): T {
  const claims = { ...data, publicKey: workerKeyOf(signer) } as Record<string, unknown>;
  return { ...claims, signature: signer.sign(workerEventMessage(type, claims)).toString('base64') } as T;
}
