// A fixed worker key for fixtures that build runs by hand: deterministic, so the fixtures' bytes are
// too. `installWorkerKey` makes it a home's worker key, so the home's workers and checks use it.
import { dirname } from 'node:path';
import { noteKeyFromSeed, parseSignerKey } from '../../src/integrity/note.js';
import { parseWorkerKey } from '../../src/integrity/worker-signature.js';
import { ensurePrivateDir, writeNewFileAtomically } from '../../src/ledger/keys.js';
import type { CheckpointSigner } from '../../workers/checkpoint.js';
import { signEvent, WORKER_KEY_NAME, workerKeyFile } from '../../workers/keys.js';

function keyFromSeed(byte: number): { signerKey: string; signer: CheckpointSigner; publicKey: string } {
  const pair = noteKeyFromSeed(WORKER_KEY_NAME, Buffer.alloc(32, byte));
  const note = parseSignerKey(pair.signerKey);
  const publicKey = parseWorkerKey(pair.verifierKey);
  return { signerKey: pair.signerKey, signer: { sign: (m) => note.sign(m), publicKey: Buffer.from(publicKey, 'base64') }, publicKey };
}

/** The fixtures' worker key. */
export const fixtureWorker = keyFromSeed(0x5a);
/** Another valid key no fixture approval trusts: an attacker's. */
export const strangerWorker = keyFromSeed(0x66);

/** Signs a training event's data with the fixtures' worker key (or another). */
export function signed<T extends { publicKey: string; signature: string }>(type: string, data: Omit<T, 'publicKey' | 'signature'>, key = fixtureWorker): T {
  return signEvent<T>(key.signer, type, data);
}

/** Makes the fixtures' worker key the home's worker key. */
export function installWorkerKey(home: string): void {
  const file = workerKeyFile(home);
  ensurePrivateDir(dirname(file));
  writeNewFileAtomically(file, `${fixtureWorker.signerKey}\n`);
}
