// C2SP tlog-proof: the text format round-trips, strict parsing, and verification against the signed root.
import assert from 'node:assert/strict';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { CompactRange } from '../../src/integrity/compact-range.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { generateNoteKey, parseSignerKey } from '../../src/integrity/note.js';
import { inclusionProof } from '../../src/integrity/proof.js';
import { formatTlogProof, parseTlogProof, verifyTlogProof } from '../../src/integrity/tlog-proof.js';

const ORIGIN = 'example.com/log';
const key = generateNoteKey(ORIGIN);
const leaves = Array.from({ length: 13 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
const range = CompactRange.empty();
for (const leaf of leaves) range.append(leaf);
const note = signCheckpoint(ORIGIN, leaves.length, range.root(), parseSignerKey(key.signerKey));

describe('integrity/tlog-proof', () => {
  it('formats the index, the base64 path and the checkpoint note, and verifies every leaf', () => {
    for (let index = 0; index < leaves.length; index++) {
      const text = formatTlogProof({ index, proof: inclusionProof(index, leaves.length, leaves), checkpoint: note });
      const lines = text.split('\n');
      assert.equal(lines[0], 'c2sp.org/tlog-proof@v1');
      assert.equal(lines[1], `index ${index}`);
      assert.ok(text.endsWith(`\n\n${note}`));
      assert.equal(verifyTlogProof(text, leaves[index]!, [key.verifierKey], ORIGIN).size, leaves.length);
      assert.throws(() => verifyTlogProof(text, leaves[(index + 1) % leaves.length]!, [key.verifierKey], ORIGIN), /leads to root/);
      assert.deepEqual(parseTlogProof(text).proof, inclusionProof(index, leaves.length, leaves));
    }
  });

  it('keeps opaque extra data and rejects what the spec does not allow', () => {
    const proof = inclusionProof(4, leaves.length, leaves);
    const text = formatTlogProof({ index: 4, proof, checkpoint: note, extra: Buffer.from('hello') });
    assert.equal(text.split('\n')[1], `extra ${Buffer.from('hello').toString('base64')}`);
    assert.equal(parseTlogProof(text).extra?.toString(), 'hello');
    const good = formatTlogProof({ index: 4, proof, checkpoint: note });
    for (const [bad, why] of [
      [good.replace('c2sp.org/tlog-proof@v1', 'c2sp.org/tlog-proof@v2'), /line 1/],
      [good.replace('index 4', 'index 04'), /line 2: expected "index/],
      [good.replace('index 4', 'index  4'), /line 2/],
      [good.replace(proof[0]!.toString('base64'), proof[0]!.toString('base64').slice(0, -1)), /proof hash 0/],
      [good.replace(`\n\n${note}`, '\n\n'), /no checkpoint after the empty line/],
      [good.split('\n\n')[0]!, /no empty line/],
    ] as const) {
      assert.throws(() => verifyTlogProof(bad, leaves[4]!, [key.verifierKey], ORIGIN), why);
    }
  });

  it('rejects a proof whose checkpoint is signed by another key or for another origin', () => {
    const text = formatTlogProof({ index: 2, proof: inclusionProof(2, leaves.length, leaves), checkpoint: note });
    assert.throws(() => verifyTlogProof(text, leaves[2]!, [generateNoteKey(ORIGIN).verifierKey], ORIGIN), /no trusted|unknown|not signed|signature/i);
    assert.throws(() => verifyTlogProof(text, leaves[2]!, [key.verifierKey], 'example.com/other'), /origin/);
  });
});
