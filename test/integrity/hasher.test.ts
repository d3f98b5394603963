import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  bytesSpellHash,
  EMPTY_ROOT,
  hashHex,
  hashPacked,
  hexSpellsBytes,
  hexSpellsPacked,
  leafHash,
  leafHashHex,
  leafHashPacked,
  nodeHash,
  nodeHashPacked,
  packHash,
  sameHash,
  sha256Hex,
} from '../../src/integrity/hasher.js';
import { LEAVES, ROOTS } from './rfc6962-vectors.js';

describe('hasher (RFC 9162 §2.1.1)', () => {
  it('hashes the empty tree to SHA-256 of the empty string', () => {
    assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('prefixes leaves with 0x00: the empty entry hashes to the published 1-leaf root', () => {
    assert.deepEqual(leafHash(Buffer.alloc(0)), ROOTS[1]);
    assert.equal(sha256Hex(Buffer.from([0x00])), ROOTS[1]!.toString('hex'));
  });

  it('prefixes interior nodes with 0x01, left then right', () => {
    assert.deepEqual(nodeHash(LEAVES[0]!, LEAVES[1]!), ROOTS[2]);
    assert.notDeepEqual(nodeHash(LEAVES[1]!, LEAVES[0]!), ROOTS[2]);
  });

  it('separates leaf and node domains: a 64-byte entry is not mistaken for a node', () => {
    const entry = Buffer.concat([LEAVES[0]!, LEAVES[1]!]);
    assert.notDeepEqual(leafHash(entry), nodeHash(LEAVES[0]!, LEAVES[1]!));
  });

  it('hashes a leaf to the same digest in every form, whatever its length (one reused input view per length)', () => {
    const reference = (entry: Uint8Array): Buffer => createHash('sha256').update(Buffer.from([0x00])).update(entry).digest();
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 8 }), (entries) => {
        // Lengths go up and down, so a view made for one length must not serve another.
        for (const entry of [...entries, ...entries.reverse()]) {
          const digest = reference(entry);
          assert.deepEqual(leafHash(entry), digest);
          assert.equal(leafHashHex(entry), digest.toString('hex'));
          assert.equal(leafHashPacked(entry), packHash(digest));
        }
      }),
    );
    // Past the cached views (4,096 bytes) and past the reused input (64 KiB).
    for (const length of [4096, 4097, 5000, 1 << 16, (1 << 16) + 1]) {
      const entry = Buffer.alloc(length, length % 251);
      assert.deepEqual(leafHash(entry), reference(entry));
      assert.equal(leafHashPacked(entry), packHash(reference(entry)));
      assert.equal(leafHashHex(entry), reference(entry).toString('hex'));
    }
  });

  it('hashes interior nodes over packed hashes as over their bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (left, right) => {
        const expected = packHash(nodeHash(left, right));
        assert.equal(nodeHashPacked(packHash(left), packHash(right)), expected);
        assert.equal(nodeHashPacked(packHash(left), Buffer.from(right)), expected);
      }),
    );
  });

  it('compares hex and packed hashes in place exactly as comparing their hex digits', () => {
    const hash32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));
    // A hex text that is the hash's digits, an edit of them (one digit, case, length) or anything at all.
    const hexOf = (hash: Buffer): fc.Arbitrary<unknown> =>
      fc.oneof(
        fc.constant(hash.toString('hex')),
        fc.tuple(fc.nat(63), fc.constantFrom('0', '9', 'a', 'f', 'A', 'g', ' ')).map(([k, c]) => hash.toString('hex').slice(0, k) + c + hash.toString('hex').slice(k + 1)),
        fc.constant(hash.toString('hex').toUpperCase()),
        fc.constant(hash.toString('hex').slice(1)),
        fc.constant(hash.toString('hex') + '0'),
        fc.anything(),
      );
    fc.assert(
      fc.property(hash32.chain((hash) => fc.tuple(fc.constant(hash), hexOf(hash))), ([hash, hex]) => {
        const expected = hex === hash.toString('hex');
        const packed = packHash(hash);
        assert.equal(hexSpellsPacked(hex, packed), expected);
        const padded = Buffer.concat([Buffer.from([1, 2, 3]), hash]);
        assert.equal(hexSpellsBytes(hex, padded, 3), expected);
        if (typeof hex !== 'string') return;
        assert.equal(sameHash(hex, packed), expected);
        assert.equal(sameHash(packed, hex), expected);
        // In place in a larger buffer: the 64 bytes at the offset, whatever follows them.
        const hexBytes = Buffer.concat([Buffer.from('xy'), Buffer.from(hex, 'latin1')]);
        const spelled = hexBytes.length >= 66 && hexBytes.toString('latin1', 2, 66) === hash.toString('hex');
        assert.equal(bytesSpellHash(hexBytes, 2, packed), spelled);
        assert.equal(bytesSpellHash(hexBytes, 2, hash.toString('hex')), spelled);
        const digits = Buffer.concat([Buffer.from('xy'), Buffer.from(hash.toString('hex'), 'latin1')]);
        assert.equal(bytesSpellHash(digits, 2, hex), expected);
      }),
    );
  });

  it('does not take a character above 0xff for two hex digits', () => {
    const hash = leafHash(Buffer.from('x'));
    const hex = hash.toString('hex');
    // The two digits of byte 0 folded into one character, and a NUL after it.
    const folded = String.fromCharCode(hex.charCodeAt(0) | (hex.charCodeAt(1) << 8)) + '\u0000' + hex.slice(2);
    assert.equal(hexSpellsPacked(folded, packHash(hash)), false);
    assert.equal(hexSpellsBytes(folded, hash, 0), false);
    assert.equal(sameHash(folded, packHash(hash)), false);
  });

  it('turns a hash in either form into hex and packed form', () => {
    const hash = leafHash(Buffer.from('x'));
    assert.equal(hashHex(packHash(hash)), hash.toString('hex'));
    assert.equal(hashHex(hash.toString('hex')), hash.toString('hex'));
    assert.equal(hashPacked(hash.toString('hex')), packHash(hash));
    assert.equal(hashPacked(packHash(hash)), packHash(hash));
    assert.equal(hashPacked('zz'.repeat(32)), undefined);
  });
});
