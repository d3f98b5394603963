// Checkpoints are signed with the home's Ed25519 key — the same key that signs ledger checkpoints
// (src/ledger/keys.ts), so one verifier key (`runledger keys show`) checks both.
import { parseVerifierKey } from '../src/integrity/note.js';
import { loadSigner, loadVerifierKey } from '../src/ledger/keys.js';
import type { CheckpointSigner, CheckpointVerifier } from './checkpoint.js';

export interface HomeCheckpointKeys {
  signer: CheckpointSigner;
  verifier: CheckpointVerifier;
  /** C2SP verifier key text of the signing key. */
  verifierKey: string;
}

export function homeCheckpointKeys(home: string): HomeCheckpointKeys {
  const note = loadSigner(home);
  const verifierKey = loadVerifierKey(home);
  // Verifier key text: <name>+<id>+base64(0x01 ‖ 32-byte public key); the id check is parseVerifierKey's.
  const verifier = parseVerifierKey(verifierKey);
  const material = Buffer.from(verifierKey.slice(verifierKey.indexOf('+', verifierKey.indexOf('+') + 1) + 1), 'base64');
  return {
    signer: { sign: (message) => note.sign(message), publicKey: material.subarray(1) },
    verifier: { verify: (message, signature) => verifier.verify(message, signature) },
    verifierKey,
  };
}
