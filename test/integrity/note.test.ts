import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import {
  formatVerifierKey,
  generateNoteKey,
  isValidKeyName,
  keyId,
  noteKeyFromSeed,
  NoteError,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifierKeyOf,
} from '../../src/integrity/note.js';

// The example of golang.org/x/mod/sumdb/note (note.go package documentation and note_test.go).
// Ed25519 is deterministic (RFC 8032), so signing must reproduce the published note exactly.
const PETER_SIGNER = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VERIFIER = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_NOTE = `${PETER_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

const reasonIs = (reason: string) => (err: unknown) => err instanceof NoteError && err.reason === reason;

describe('signed notes (C2SP signed-note, Ed25519)', () => {
  describe('the Go sumdb/note example', () => {
    it('signs the example text into exactly the published note', () => {
      assert.equal(signNote(PETER_TEXT, [parseSignerKey(PETER_SIGNER)]), PETER_NOTE);
    });

    it('opens the published note with the published verifier key', () => {
      const opened = openNote(PETER_NOTE, [PETER_VERIFIER]);
      assert.equal(opened.text, PETER_TEXT);
      assert.deepEqual(opened.verified.map((s) => [s.name, s.keyId]), [['PeterNeumann', 0xc74f20a3]]);
    });

    it('derives the published verifier key and key id from the signer key', () => {
      assert.equal(verifierKeyOf(PETER_SIGNER), PETER_VERIFIER);
      assert.equal(keyId('PeterNeumann', Buffer.from('ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', 'base64')), 0xc74f20a3);
    });

    it('rejects the published note once one character of its text changes', () => {
      assert.throws(() => openNote(PETER_NOTE.replace('cryptography', 'cryptographY'), [PETER_VERIFIER]), reasonIs('bad-signature'));
    });
  });

  describe('keys', () => {
    it('round-trips a generated key pair: what one signs, the other opens', () => {
      const pair = generateNoteKey('example.com/log');
      assert.match(pair.verifierKey, /^example\.com\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
      assert.ok(pair.signerKey.startsWith('PRIVATE+KEY+example.com/log+'));
      const note = signNote('hello\n', [parseSignerKey(pair.signerKey)]);
      assert.equal(openNote(note, [pair.verifierKey]).text, 'hello\n');
      assert.equal(verifierKeyOf(pair.signerKey), pair.verifierKey);
    });

    it('generates a different key each time', () => {
      assert.notEqual(generateNoteKey('a').verifierKey, generateNoteKey('a').verifierKey);
    });

    it('derives keys deterministically from a seed', () => {
      const seed = Buffer.alloc(32, 7);
      assert.deepEqual(noteKeyFromSeed('x', seed), noteKeyFromSeed('x', seed));
      assert.notEqual(noteKeyFromSeed('x', seed).verifierKey, noteKeyFromSeed('y', seed).verifierKey);
    });

    it('rejects verifier keys whose id does not match the name and key', () => {
      assert.throws(() => parseVerifierKey(PETER_VERIFIER.replace('c74f20a3', 'c74f20a4')), /does not match its key/);
      assert.throws(() => parseVerifierKey(PETER_VERIFIER.replace('PeterNeumann', 'PeterNeuman')), /does not match its key/);
    });

    it('rejects malformed verifier keys with an input error', () => {
      for (const bad of [
        'PeterNeumann',
        'PeterNeumann+c74f20a3',
        'PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
        '+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
        'Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
        'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10',
        'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T!',
        'PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
      ]) {
        assert.throws(() => parseVerifierKey(bad), InputError, bad);
      }
    });

    it('rejects signer keys without the PRIVATE+KEY prefix or with a wrong id', () => {
      assert.throws(() => parseSignerKey(PETER_VERIFIER), /PRIVATE\+KEY/);
      assert.throws(() => parseSignerKey(PETER_SIGNER.replace('c74f20a3', '00000000')), /does not match its key/);
    });

    it('applies the spec name rules: non-empty, no Unicode spaces, no plus', () => {
      assert.ok(isValidKeyName('example.com/log42'));
      assert.ok(isValidKeyName('ünïcødé'));
      for (const bad of ['', 'a b', 'a+b', 'a\u00a0b', 'a\u3000b', 'a\tb', 'a\nb']) assert.equal(isValidKeyName(bad), false, JSON.stringify(bad));
      assert.throws(() => formatVerifierKey('a b', Buffer.alloc(32)), InputError);
    });
  });

  describe('opening', () => {
    const alice = noteKeyFromSeed('alice.example/log', Buffer.alloc(32, 1));
    const bob = noteKeyFromSeed('bob.example/witness', Buffer.alloc(32, 2));
    const note = signNote('tree\n42\n', [parseSignerKey(alice.signerKey), parseSignerKey(bob.signerKey)]);

    it('verifies every signature from a trusted key and ignores the others', () => {
      const opened = openNote(note, [alice.verifierKey]);
      assert.deepEqual(opened.verified.map((s) => s.name), ['alice.example/log']);
      assert.deepEqual(opened.unverified.map((s) => s.name), ['bob.example/witness']);
      assert.equal(openNote(note, [alice.verifierKey, bob.verifierKey]).verified.length, 2);
    });

    it('says so when no signature is from a trusted key', () => {
      const carol = generateNoteKey('carol.example');
      assert.throws(() => openNote(note, [carol.verifierKey]), (err: unknown) => reasonIs('unknown-key')(err) && /unknown keys/.test((err as Error).message) && /carol\.example/.test((err as Error).message));
    });

    it('treats a key with the same name but another id as unknown', () => {
      const impostor = noteKeyFromSeed('alice.example/log', Buffer.alloc(32, 9));
      assert.throws(() => openNote(signNote('x\n', [parseSignerKey(impostor.signerKey)]), [alice.verifierKey]), reasonIs('unknown-key'));
    });

    it('rejects the note when a trusted signature does not verify, even if another does', () => {
      // Character 10 of the base64 is in signature byte 7, past the 4-byte key id.
      const forged = note.replace(/(\u2014 bob\.example\/witness .{10})(.)/, (_, prefix: string, c: string) => prefix + (c === 'A' ? 'B' : 'A'));
      assert.notEqual(forged, note);
      assert.equal(openNote(forged, [alice.verifierKey]).verified.length, 1);
      assert.throws(() => openNote(forged, [alice.verifierKey, bob.verifierKey]), reasonIs('bad-signature'));
    });

    it('rejects a valid note with a second, garbage signature line by the same trusted key (no key needed to forge)', () => {
      const single = signNote('tree\n42\n', [parseSignerKey(alice.signerKey)]);
      const id = Buffer.alloc(4);
      id.writeUInt32BE(parseVerifierKey(alice.verifierKey).keyId, 0);
      const garbage = `\u2014 alice.example/log ${Buffer.concat([id, Buffer.alloc(64, 7)]).toString('base64')}\n`;
      assert.equal(openNote(single, [alice.verifierKey]).verified.length, 1);
      assert.throws(() => openNote(single + garbage, [alice.verifierKey]), (err: unknown) => reasonIs('bad-signature')(err) && /on signature line 2 /.test((err as Error).message));
      // The garbage line first and the valid line second is rejected too.
      const [text, line] = [single.slice(0, single.lastIndexOf('\n\n') + 2), single.slice(single.lastIndexOf('\n\n') + 2)];
      assert.throws(() => openNote(text + garbage + line, [alice.verifierKey]), reasonIs('bad-signature'));
    });

    it('accepts a trusted key that signed twice, listing it once', () => {
      const single = signNote('tree\n42\n', [parseSignerKey(alice.signerKey)]);
      const line = single.slice(single.lastIndexOf('\n\n') + 2);
      assert.deepEqual(openNote(single + line, [alice.verifierKey]).verified.map((s) => s.name), ['alice.example/log']);
    });

    it('rejects an altered body', () => {
      assert.throws(() => openNote(note.replace('42', '43'), [alice.verifierKey]), reasonIs('bad-signature'));
    });
  });

  describe('strict parsing', () => {
    const signer = parseSignerKey(noteKeyFromSeed('k', Buffer.alloc(32, 3)).signerKey);
    const good = signNote('a\n\nb\n', [signer]);

    it('splits text from signatures at the last blank line, so text may contain blank lines', () => {
      assert.equal(parseNote(good).text, 'a\n\nb\n');
    });

    it('refuses to sign text that does not end with a newline or holds control characters', () => {
      assert.throws(() => signNote('no newline', [signer]), InputError);
      assert.throws(() => signNote('bell\u0007\n', [signer]), InputError);
      assert.throws(() => signNote('x\n', []), InputError);
    });

    const malformed: [string, string][] = [
      ['no blank line', 'a\n\u2014 k AAAAAAAA\n'],
      ['no signature lines', 'a\n\n'],
      ['a missing final newline', good.slice(0, -1)],
      ['a hyphen instead of an em dash', good.replace('\u2014', '-')],
      ['a signature without key name separator', 'a\n\n\u2014 kAAAAAAAA\n'],
      ['a signature that is not base64', good.replace(/ (\S+)\n$/, ' $1!\n')],
      ['non-canonical base64 padding', 'a\n\n\u2014 k AAAAAAB=\n'],
      ['a signature shorter than key id plus one byte', 'a\n\n\u2014 k AAAAAA==\n'],
      ['an invalid key name', 'a\n\n\u2014 k+1 AAAAAAAA\n'],
      ['a control character', `a\r${good}`],
      ['an unpaired surrogate', `\ud800${good}`],
      ['more than 100 signatures', `a\n\n${'\u2014 k AAAAAAAA\n'.repeat(101)}`],
    ];
    for (const [what, text] of malformed) {
      it(`rejects a note with ${what}`, () => {
        assert.throws(() => parseNote(text), reasonIs('malformed'));
      });
    }
  });
});
