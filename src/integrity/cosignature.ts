// C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature), the Ed25519 `cosignature/v1` type: a
// witness's signed-note signature line on a checkpoint, whose signature is
// `timestamp (u64, big-endian) ‖ Ed25519(cosignature/v1\ntime <timestamp>\n<checkpoint body>)`.
// Key texts are signed-note keys with signature type 0x04 (the key ID hashes 0x04, not 0x01):
//   verifier key  <name>+<8 hex key ID>+<base64(0x04 ‖ 32-byte public key)>
//   signer key    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x04 ‖ 32-byte seed)>
// (transparency-dev/formats note.NewSignerForCosignatureV1 and NewVerifierForCosignatureV1 read both.)
import { sign, verify } from 'node:crypto';
import { InputError } from '../errors.js';
import { ALG_COSIGNATURE_V1, ed25519KeyPair, hex8, NoteError, parseEd25519SignerKey, parseEd25519VerifierKey, parseNote, randomEd25519Seed, type NoteKeyPair, type NoteVerifier } from './note.js';

const TIMESTAMP_BYTES = 8;
const SIGNATURE_BYTES = 64;
/** tlog-cosignature §Format: the timestamp "MUST NOT exceed 2^63 - 1". */
const MAX_TIMESTAMP = 2n ** 63n - 1n;

export interface Cosigner {
  readonly name: string;
  readonly keyId: number;
  /** The signature line (`— <name> <base64>\n`) cosigning `body` (a checkpoint note text) at `timestamp` (POSIX seconds). */
  cosign(body: string, timestamp: number): string;
}

export interface Cosignature {
  name: string;
  keyId: number;
  /** POSIX seconds, as signed. */
  timestamp: number;
}

/** tlog-cosignature §Ed25519 signed message: header line, timestamp line, then the whole note body. */
export function cosignatureMessage(timestamp: number | bigint, body: string): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${BigInt(timestamp).toString()}\n${body}`, 'utf8');
}

export function cosignerKeyFromSeed(name: string, seed: Buffer): NoteKeyPair {
  return ed25519KeyPair(name, seed, ALG_COSIGNATURE_V1);
}

export function generateCosignerKey(name: string): NoteKeyPair {
  return cosignerKeyFromSeed(name, randomEd25519Seed());
}

export function parseCosignerKey(text: string): Cosigner {
  const { name, keyId, privateKey } = parseEd25519SignerKey(text, ALG_COSIGNATURE_V1, 'witness signer key');
  return {
    name,
    keyId,
    cosign(body: string, timestamp: number): string {
      if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new InputError(`cosignature timestamp ${timestamp} is not a non-negative integer`, { field: 'timestamp' });
      const bytes = Buffer.alloc(4 + TIMESTAMP_BYTES);
      bytes.writeUInt32BE(keyId, 0);
      bytes.writeBigUInt64BE(BigInt(timestamp), 4);
      const signature = sign(null, cosignatureMessage(timestamp, body), privateKey);
      return `\u2014 ${name} ${Buffer.concat([bytes, signature]).toString('base64')}\n`;
    },
  };
}

/** The verifier key of a witness signer key. */
export function cosignerVerifierKeyOf(signerKey: string): string {
  const { name, seed } = parseEd25519SignerKey(signerKey, ALG_COSIGNATURE_V1, 'witness signer key');
  return cosignerKeyFromSeed(name, seed).verifierKey;
}

/** A NoteVerifier for cosignature/v1 lines of one witness key (type 0x04 vkey). */
export function parseCosignatureVerifier(text: string): NoteVerifier {
  const { name, keyId, publicKey } = parseEd25519VerifierKey(text, ALG_COSIGNATURE_V1, 'witness key');
  return {
    name,
    keyId,
    verify(body: Buffer, signature: Buffer): boolean {
      if (signature.length !== TIMESTAMP_BYTES + SIGNATURE_BYTES) return false;
      const timestamp = signature.readBigUInt64BE(0);
      if (timestamp > MAX_TIMESTAMP) return false;
      return verify(null, cosignatureMessage(timestamp, body.toString('utf8')), publicKey, signature.subarray(TIMESTAMP_BYTES));
    },
  };
}

export interface WitnessedNote {
  /** Distinct witnesses whose cosignatures verified, in the order of `witnessKeys`. */
  cosignatures: Cosignature[];
}

/**
 * The cosignatures of `witnessKeys` on a signed note. As for the log's own key (signed-note
 * §Signatures), every line whose name and key ID match a given witness key must verify; one that
 * does not is a NoteError. Lines of other keys are ignored. Checks nothing about the log's signature.
 */
export function openCosignatures(note: string, witnessKeys: readonly (NoteVerifier | string)[]): WitnessedNote {
  const verifiers = witnessKeys.map((k) => (typeof k === 'string' ? parseCosignatureVerifier(k) : k));
  const parsed = parseNote(note);
  const body = Buffer.from(parsed.text, 'utf8');
  const found = new Map<NoteVerifier, Cosignature>();
  for (const [i, line] of parsed.signatures.entries()) {
    const verifier = verifiers.find((v) => v.name === line.name && v.keyId === line.keyId);
    if (verifier === undefined) continue;
    if (!verifier.verify(body, line.signature)) {
      throw new NoteError(`cosignature by witness "${line.name}" (${hex8(line.keyId)}) on signature line ${i + 1} does not verify: the checkpoint was altered or the line forged`, 'bad-signature');
    }
    if (!found.has(verifier)) found.set(verifier, { name: line.name, keyId: line.keyId, timestamp: Number(line.signature.readBigUInt64BE(0)) });
  }
  return { cosignatures: verifiers.flatMap((v) => (found.has(v) ? [found.get(v)!] : [])) };
}
