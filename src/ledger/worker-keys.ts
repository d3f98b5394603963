// The worker key: `<home>/keys/worker.key`, an Ed25519 key in C2SP signer-key text (0600, written
// atomically by ensureKeyFile). It signs model checkpoint files and every training event the home's
// workers record. It is not the ledger key (`keys/signing.key`), which signs checkpoints of the log:
// a run's approval names the worker keys it trusts (`train` names this one; `plan approve
// --worker-key` and `submit --worker-key` name any), and the write rules accept a training event only
// when one of them signed it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWorkerKey, parseWorkerKey, workerEventMessage } from '../integrity/worker-signature.js';
import { parseSignerKey } from '../integrity/note.js';
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
  const note = parseSignerKey(readKeyFile(file));
  const publicKey = parseWorkerKey(verifierKey, file);
  return { signer: { sign: (message) => note.sign(message), publicKey: Buffer.from(publicKey, 'base64') }, publicKey, verifierKey };
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
