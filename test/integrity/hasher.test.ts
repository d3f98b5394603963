import assert from 'node:assert/strict';
import { EMPTY_ROOT, leafHash, nodeHash, sha256Hex } from '../../src/integrity/hasher.js';
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
});
