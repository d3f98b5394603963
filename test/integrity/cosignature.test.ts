// C2SP tlog-cosignature, Ed25519 cosignature/v1: key IDs over type 0x04, the timestamped signature,
// the signed message, and opening a note's cosignatures as strictly as the log's own signature.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { signCheckpoint, parseCheckpoint } from '../../src/integrity/checkpoint.js';
import { cosignatureMessage, cosignerKeyFromSeed, cosignerVerifierKeyOf, openCosignatures, parseCosignatureVerifier, parseCosignerKey } from '../../src/integrity/cosignature.js';
import { openRotationStatement, rotationStatementText, signRotationStatement } from '../../src/integrity/key-rotation.js';
import { noteKeyFromSeed, parseNote, parseSignerKey, signNote } from '../../src/integrity/note.js';

const w = cosignerKeyFromSeed('witness.example/w1', Buffer.alloc(32, 9));
const log = noteKeyFromSeed('example.com/log', Buffer.alloc(32, 7));
const checkpoint = signCheckpoint('example.com/log', 3, Buffer.alloc(32, 1), parseSignerKey(log.signerKey));
const body = parseNote(checkpoint).text;

describe('integrity/cosignature: C2SP tlog-cosignature (Ed25519, cosignature/v1)', () => {
  it('derives the key ID from SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key), not the 0x01 note key ID', () => {
    const material = Buffer.from(w.verifierKey.split('+')[2]!, 'base64');
    assert.equal(material[0], 0x04);
    const id = createHash('sha256').update('witness.example/w1\n').update(material).digest().subarray(0, 4).toString('hex');
    assert.equal(w.verifierKey.split('+')[1], id);
    const asNoteKey = noteKeyFromSeed('witness.example/w1', Buffer.alloc(32, 9)).verifierKey;
    assert.notEqual(asNoteKey.split('+')[1], id, 'the same Ed25519 key has another ID as a note key');
    assert.equal(cosignerVerifierKeyOf(w.signerKey), w.verifierKey);
  });

  it('signs key ID ‖ u64 big-endian timestamp ‖ Ed25519 over "cosignature/v1\\ntime T\\n" and the body', () => {
    const line = parseCosignerKey(w.signerKey).cosign(body, 1679315147);
    const bytes = Buffer.from(line.trim().split(' ')[2]!, 'base64');
    assert.equal(bytes.length, 4 + 8 + 64);
    assert.equal(bytes.readBigUInt64BE(4), 1679315147n);
    const message = cosignatureMessage(1679315147, body);
    assert.equal(message.toString(), `cosignature/v1\ntime 1679315147\n${body}`);
    const publicKey = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(w.verifierKey.split('+')[2]!, 'base64').subarray(1)]), format: 'der', type: 'spki' });
    assert.ok(verify(null, message, publicKey, bytes.subarray(12)));
  });

  it('rejects a changed timestamp and a changed body', () => {
    const v = parseCosignatureVerifier(w.verifierKey);
    const sig = Buffer.from(parseCosignerKey(w.signerKey).cosign(body, 100).trim().split(' ')[2]!, 'base64').subarray(4);
    assert.ok(v.verify(Buffer.from(body), sig));
    const later = Buffer.from(sig);
    later.writeBigUInt64BE(101n, 0);
    assert.equal(v.verify(Buffer.from(body), later), false);
    assert.equal(v.verify(Buffer.from(body.replace('\n3\n', '\n4\n')), sig), false);
  });

  it('opens cosignatures: other keys ignored, one bad line of a given witness rejects the note, a repeated witness counts once', () => {
    const cosigner = parseCosignerKey(w.signerKey);
    const cosigned = `${checkpoint}${cosigner.cosign(body, 5)}${cosigner.cosign(body, 6)}`;
    assert.deepEqual(openCosignatures(cosigned, [w.verifierKey]).cosignatures.map((c) => c.timestamp), [5]);
    const other = cosignerKeyFromSeed('witness.example/w2', Buffer.alloc(32, 3));
    assert.deepEqual(openCosignatures(cosigned, [other.verifierKey]).cosignatures, []);
    const lines = cosigned.split('\n');
    const last = lines[lines.length - 2]!;
    const forged = cosigned.replace(last, `${last.slice(0, -4)}${last.slice(-4) === 'AAA=' ? 'BAA=' : 'AAA='}`);
    assert.throws(() => openCosignatures(forged, [w.verifierKey]), /cosignature by witness "witness\.example\/w1" .* does not verify/);
  });

  it('refuses a note key (type 0x01) as a witness key', () => {
    assert.throws(() => parseCosignatureVerifier(log.verifierKey), /signature type 0x01; only Ed25519 cosignature\/v1 \(0x04\)/);
  });
});

describe('integrity/key-rotation: the rotation statement', () => {
  const next = noteKeyFromSeed('example.com/log', Buffer.alloc(32, 8));
  const both = signRotationStatement('example.com/log', { signer: parseSignerKey(log.signerKey), verifierKey: log.verifierKey }, { signer: parseSignerKey(next.signerKey), verifierKey: next.verifierKey });

  it('opens only when signed by both the retiring key and its successor', () => {
    assert.deepEqual(openRotationStatement(both), { origin: 'example.com/log', previousKey: log.verifierKey, key: next.verifierKey, statement: both });
    const text = rotationStatementText('example.com/log', log.verifierKey, next.verifierKey);
    assert.throws(() => openRotationStatement(signNote(text, [parseSignerKey(log.signerKey)])), /not signed by the key it introduces/);
    assert.throws(() => openRotationStatement(signNote(text, [parseSignerKey(next.signerKey)])), /not signed by the key it retires/);
  });

  it('can never be read as a checkpoint body, and refuses other texts', () => {
    assert.throws(() => parseCheckpoint(rotationStatementText('example.com/log', log.verifierKey, next.verifierKey)), /size line/);
    const bad = signNote('runledger/key-rotation/v2\norigin o\nprevious a\nkey b\n', [parseSignerKey(log.signerKey)]);
    assert.throws(() => openRotationStatement(bad), /is not "runledger\/key-rotation\/v1"/);
    assert.throws(() => rotationStatementText('a\nb', log.verifierKey, next.verifierKey), /one non-empty line/);
  });
});
