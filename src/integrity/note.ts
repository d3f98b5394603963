// C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 (signature type 0x01), on
// node:crypto only. Key text forms follow golang.org/x/mod/sumdb/note so keys and notes
// interoperate with Go tooling:
//   verifier key  <name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte public key)>
//   signer key    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte seed)>
//   signature     — <name> <base64(4-byte key ID ‖ 64-byte signature)>
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { InputError, IntegrityError } from '../errors.js';

/** signed-note signature types: Ed25519 (0x01); tlog-cosignature/v1 Ed25519 (0x04). */
export const ALG_ED25519 = 0x01;
export const ALG_COSIGNATURE_V1 = 0x04;
const ALG_NAMES: Record<number, string> = { [ALG_ED25519]: 'Ed25519', [ALG_COSIGNATURE_V1]: 'Ed25519 cosignature/v1' };
const SIGNATURE_PREFIX = '\u2014 '; // EM DASH, SPACE
const SIGNER_KEY_PREFIX = 'PRIVATE+KEY+';
/** Go's limit; the spec requires accepting at least 16. */
const MAX_SIGNATURES = 100;
// In u-mode a surrogate pair is one code point, so this matches only unpaired halves (not UTF-8 encodable).
const LONE_SURROGATE = /\p{Cs}/u;
// RFC 8410 DER prefixes that wrap a raw 32-byte Ed25519 seed / public key for node:crypto.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: Buffer): Buffer;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Buffer, signature: Buffer): boolean;
}

export interface NoteKeyPair {
  /** Secret: `PRIVATE+KEY+…`. */
  signerKey: string;
  /** Public: `<name>+<hash>+<key>`. */
  verifierKey: string;
}

export interface NoteSignature {
  name: string;
  keyId: number;
  /** base64(key ID ‖ signature), as on the signature line. */
  base64: string;
}

export interface ParsedNote {
  /** The signed text, including its final newline. */
  text: string;
  signatures: (NoteSignature & { signature: Buffer })[];
}

export interface OpenedNote {
  text: string;
  /** Signatures from the given keys, all verified. */
  verified: NoteSignature[];
  /** Signatures from keys that were not given: ignored, as the spec requires. */
  unverified: NoteSignature[];
}

export type NoteFailure = 'malformed' | 'unknown-key' | 'bad-signature';

/** A note that cannot be trusted: malformed, signed by no known key, or with a signature that fails. */
export class NoteError extends IntegrityError {
  constructor(
    message: string,
    readonly reason: NoteFailure,
  ) {
    super(message);
  }
}

/** signed-note §Format: non-empty, no Unicode spaces, no '+'. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\p{White_Space}\p{Cc}+]/u.test(name) && !LONE_SURROGATE.test(name);
}

/** signed-note §Signatures: the first four bytes, big-endian, of SHA-256(name ‖ 0x0A ‖ type ‖ public key). */
export function keyId(name: string, typeAndKey: Buffer): number {
  return createHash('sha256').update(name, 'utf8').update('\n').update(typeAndKey).digest().readUInt32BE(0);
}

export function hex8(id: number): string {
  return id.toString(16).padStart(8, '0');
}

/** Standard base64 that re-encodes to exactly the same text (Buffer.from alone is lenient). */
function strictBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function publicKeyObject(publicKey: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

function privateKeyObject(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function rawPublicKey(privateKey: KeyObject): Buffer {
  return createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
}

function checkName(name: string, what: string): void {
  if (!isValidKeyName(name)) throw new InputError(`${what} name "${name}" must be non-empty and contain no spaces or "+"`, { field: 'key' });
}

/** The verifier key text of an Ed25519 public key. */
export function formatVerifierKey(name: string, publicKey: Buffer): string {
  checkName(name, 'key');
  if (publicKey.length !== 32) throw new InputError(`an Ed25519 public key is 32 bytes, got ${publicKey.length}`, { field: 'key' });
  const typeAndKey = Buffer.concat([Buffer.from([ALG_ED25519]), publicKey]);
  return `${name}+${hex8(keyId(name, typeAndKey))}+${typeAndKey.toString('base64')}`;
}

/** Both key texts for a 32-byte Ed25519 seed (deterministic; tests and fixed examples use this). */
export function noteKeyFromSeed(name: string, seed: Buffer): NoteKeyPair {
  return ed25519KeyPair(name, seed, ALG_ED25519);
}

/** A fresh random Ed25519 key pair named `name`. */
export function generateNoteKey(name: string): NoteKeyPair {
  return noteKeyFromSeed(name, randomEd25519Seed());
}

/** Splits `<name>+<hex id>+<base64>`; the base64 may itself contain '+'. `alg` is the signature type the key must have. */
function splitKey(text: string, what: string, alg: number): { name: string; id: number; material: Buffer } {
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) throw new InputError(`${what} is not of the form <name>+<key id>+<key>`, { field: 'key' });
  const name = text.slice(0, first);
  const idText = text.slice(first + 1, second);
  checkName(name, what);
  if (!/^[0-9a-fA-F]{8}$/.test(idText)) throw new InputError(`${what} "${name}" has key id "${idText}", expected 8 hex digits`, { field: 'key' });
  const material = strictBase64(text.slice(second + 1));
  if (material === undefined || material.length === 0) throw new InputError(`${what} "${name}" key material is not base64`, { field: 'key' });
  if (material[0] !== alg) throw new InputError(`${what} "${name}" has signature type 0x${hex2(material[0]!)}; only ${ALG_NAMES[alg] ?? 'Ed25519'} (0x${hex2(alg)}) is supported here`, { field: 'key' });
  if (material.length !== 33) throw new InputError(`${what} "${name}" Ed25519 key is ${material.length - 1} bytes, expected 32`, { field: 'key' });
  return { name, id: Number.parseInt(idText, 16), material };
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/** An Ed25519 verifier key of signature type `alg` (0x01 signed-note, 0x04 tlog-cosignature/v1), its key ID checked. */
export function parseEd25519VerifierKey(text: string, alg: number, what = 'verifier key'): { name: string; keyId: number; publicKey: KeyObject } {
  const { name, id, material } = splitKey(text.trim(), what, alg);
  if (keyId(name, material) !== id) throw new InputError(`${what} "${name}" has key id ${hex8(id)}, which does not match its key`, { field: 'key' });
  return { name, keyId: id, publicKey: publicKeyObject(material.subarray(1)) };
}

/** An Ed25519 signer key (`PRIVATE+KEY+…`) of signature type `alg`, its key ID checked against the derived public key. */
export function parseEd25519SignerKey(text: string, alg: number, what = 'signer key'): { name: string; keyId: number; privateKey: KeyObject; seed: Buffer } {
  const trimmed = text.trim();
  if (!trimmed.startsWith(SIGNER_KEY_PREFIX)) throw new InputError(`${what} must start with ${SIGNER_KEY_PREFIX}`, { field: 'key' });
  const { name, id, material } = splitKey(trimmed.slice(SIGNER_KEY_PREFIX.length), what, alg);
  const privateKey = privateKeyObject(material.subarray(1));
  const typeAndKey = Buffer.concat([Buffer.from([alg]), rawPublicKey(privateKey)]);
  if (keyId(name, typeAndKey) !== id) throw new InputError(`${what} "${name}" has key id ${hex8(id)}, which does not match its key`, { field: 'key' });
  return { name, keyId: id, privateKey, seed: material.subarray(1) };
}

/** Both key texts of signature type `alg` for a 32-byte Ed25519 seed. */
export function ed25519KeyPair(name: string, seed: Buffer, alg: number): NoteKeyPair {
  checkName(name, 'key');
  if (seed.length !== 32) throw new InputError(`an Ed25519 seed is 32 bytes, got ${seed.length}`, { field: 'key' });
  const typeAndKey = Buffer.concat([Buffer.from([alg]), rawPublicKey(privateKeyObject(seed))]);
  const id = hex8(keyId(name, typeAndKey));
  return {
    signerKey: `${SIGNER_KEY_PREFIX}${name}+${id}+${Buffer.concat([Buffer.from([alg]), seed]).toString('base64')}`,
    verifierKey: `${name}+${id}+${typeAndKey.toString('base64')}`,
  };
}

/** A fresh random 32-byte Ed25519 seed. */
export function randomEd25519Seed(): Buffer {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length);
}

/** Parses a verifier key text; checks its key ID against its name and key. */
export function parseVerifierKey(text: string): NoteVerifier {
  const { name, keyId: id, publicKey } = parseEd25519VerifierKey(text, ALG_ED25519);
  return {
    name,
    keyId: id,
    verify: (text: Buffer, signature: Buffer) => signature.length === 64 && verify(null, text, publicKey, signature),
  };
}

/** Parses a signer key text (`PRIVATE+KEY+…`); checks its key ID against the derived public key. */
export function parseSignerKey(text: string): NoteSigner {
  const { name, keyId: id, privateKey } = parseEd25519SignerKey(text, ALG_ED25519);
  return { name, keyId: id, sign: (body: Buffer) => sign(null, body, privateKey) };
}

/** The verifier key text matching a signer key text. */
export function verifierKeyOf(signerKey: string): string {
  const { name, seed } = parseEd25519SignerKey(signerKey, ALG_ED25519);
  return noteKeyFromSeed(name, seed).verifierKey;
}

/** signed-note §Format: valid UTF-8 (a JS string from UTF-8 text), no control characters but newline. */
function hasForbiddenCharacters(text: string): boolean {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return /[\u0000-\u0009\u000b-\u001f]/.test(text) || LONE_SURROGATE.test(text);
}

/** Signs `text` (which must end with a newline) with each signer, in order. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (!text.endsWith('\n')) throw new InputError('note text must end with a newline', { field: 'text' });
  if (hasForbiddenCharacters(text)) throw new InputError('note text must not contain control characters other than newline', { field: 'text' });
  if (signers.length === 0) throw new InputError('a note needs at least one signer', { field: 'key' });
  const body = Buffer.from(text, 'utf8');
  const lines = signers.map((signer) => {
    const signature = Buffer.alloc(4);
    signature.writeUInt32BE(signer.keyId, 0);
    return `${SIGNATURE_PREFIX}${signer.name} ${Buffer.concat([signature, signer.sign(body)]).toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

/** Splits a signed note into its text and signature lines, strictly. Verifies nothing. */
export function parseNote(note: string): ParsedNote {
  if (hasForbiddenCharacters(note)) throw new NoteError('signed note contains a control character other than newline, or invalid UTF-8', 'malformed');
  // The text ends at the last blank line (signed-note §Format).
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('signed note has no blank line between its text and its signatures', 'malformed');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw new NoteError('signed note has no signature lines ending with a newline', 'malformed');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError(`signed note has ${lines.length} signatures, more than ${MAX_SIGNATURES}`, 'malformed');
  const signatures = lines.map((line, i) => {
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new NoteError(`signature line ${i + 1} does not start with an em dash and a space`, 'malformed');
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? rest : rest.slice(0, space);
    const base64 = space < 0 ? '' : rest.slice(space + 1);
    if (!isValidKeyName(name)) throw new NoteError(`signature line ${i + 1} has an invalid key name "${name}"`, 'malformed');
    const bytes = strictBase64(base64);
    if (bytes === undefined || bytes.length < 5) throw new NoteError(`signature line ${i + 1} (key "${name}") is not base64 of a key id and a signature`, 'malformed');
    return { name, keyId: bytes.readUInt32BE(0), base64, signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Opens a signed note against trusted verifier keys: signatures from other keys are ignored, every
 * signature line from a known key is verified — repeated lines too — and any that fails rejects the
 * note; at least one must verify.
 *
 * signed-note §Signatures: "If the key name and ID match a known key, verifiers MUST verify the
 * signature." golang.org/x/mod/sumdb/note's Open skips a known key's lines after its first, so it
 * accepts a valid line followed by a garbage one; that needs no key to forge, so runledger does not.
 */
export function openNote(note: string, verifiers: readonly (NoteVerifier | string)[]): OpenedNote {
  const known = verifiers.map((v) => (typeof v === 'string' ? parseVerifierKey(v) : v));
  const parsed = parseNote(note);
  const body = Buffer.from(parsed.text, 'utf8');
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const [i, { name, keyId: id, base64, signature }] of parsed.signatures.entries()) {
    const verifier = known.find((v) => v.name === name && v.keyId === id);
    const entry = { name, keyId: id, base64 };
    if (verifier === undefined) {
      unverified.push(entry);
      continue;
    }
    if (!verifier.verify(body, signature)) {
      throw new NoteError(`signature by key "${name}" (${hex8(id)}, a trusted key) on signature line ${i + 1} does not verify: the note was altered or the line forged`, 'bad-signature');
    }
    // A key that signed twice is listed once.
    const tag = `${name}+${id}`;
    if (seen.has(tag)) continue;
    seen.add(tag);
    verified.push(entry);
  }
  if (verified.length === 0) {
    const by = unverified.map((s) => `"${s.name}" (${hex8(s.keyId)})`).join(', ');
    const trusted = known.map((v) => `"${v.name}" (${hex8(v.keyId)})`).join(', ') || 'none';
    throw new NoteError(`signed note is signed only by unknown keys ${by}; trusted keys: ${trusted}`, 'unknown-key');
  }
  return { text: parsed.text, verified, unverified };
}
