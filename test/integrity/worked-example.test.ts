// docs/integrity.md promises a worked example an outsider can re-derive: regenerate it here and
// require the document to show exactly these bytes, so the example cannot drift from the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { rootOfLeaves } from '../../src/integrity/compact-range.js';
import { noteKeyFromSeed, openNote, parseSignerKey } from '../../src/integrity/note.js';
import { consistencyProof, consistencyProofJson, inclusionProof, inclusionProofJson } from '../../src/integrity/proof.js';
import { sealEvent, type SealedEvent } from '../../src/store/seal.js';
import { repoRoot } from '../support/cli.js';

const ORIGIN = 'example.com/runledger-demo';

function example(): { sealed: SealedEvent[]; leaves: Buffer[] } {
  let prev: string | null = null;
  const sealed = ['hello', 'world', '!'].map((text, i) => {
    const s: SealedEvent = sealEvent(
      'demo',
      i,
      prev,
      { id: `00000000-0000-4000-8000-00000000000${i + 1}`, type: 'custom.note', schemaVersion: 1, data: { text }, metadata: { actor: 'alice' }, contentDigest: '' },
      `2026-01-01T00:00:0${i}.000Z`,
    );
    prev = s.leafHash;
    return s;
  });
  return { sealed, leaves: sealed.map((s) => Buffer.from(s.leafHash, 'hex')) };
}

describe('the worked example in docs/integrity.md', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'integrity.md'), 'utf8');
  const { sealed, leaves } = example();
  const root2 = rootOfLeaves(leaves.slice(0, 2));
  const root3 = rootOfLeaves(leaves);
  const key = noteKeyFromSeed(ORIGIN, Buffer.from(Array.from({ length: 32 }, (_, i) => i)));

  it('shows the canonical bytes and leaf hashes runledger computes', () => {
    assert.ok(doc.includes(sealed[0]!.canonical.toString('utf8')));
    assert.ok(doc.includes(`(${sealed[0]!.canonical.length} bytes, shown as the UTF-8 text)`));
    assert.ok(doc.includes(sealed[1]!.canonical.toString('utf8')));
    for (const s of sealed) assert.ok(doc.includes(s.leafHash), s.leafHash);
  });

  it('shows the 2- and 3-leaf roots', () => {
    assert.ok(doc.includes(root2.toString('hex')));
    assert.ok(doc.includes(root3.toString('hex')));
    assert.ok(doc.includes(`base64: ${root3.toString('base64')}`));
  });

  it('shows the test key and the checkpoint note byte for byte, and the note verifies', () => {
    assert.ok(doc.includes(`signer key    ${key.signerKey}`));
    assert.ok(doc.includes(`verifier key  ${key.verifierKey}`));
    const note = signCheckpoint(ORIGIN, 3, root3, parseSignerKey(key.signerKey));
    assert.ok(doc.includes(`\`\`\`\n${note}\`\`\``), 'the note appears verbatim in a code block');
    assert.equal(openNote(note, [key.verifierKey]).verified.length, 1);
  });

  it('shows the inclusion and consistency proofs as exported JSON', () => {
    assert.ok(doc.includes(JSON.stringify(inclusionProofJson(1, 3, leaves[1]!, root3, inclusionProof(1, 3, leaves)))));
    assert.ok(doc.includes(JSON.stringify(consistencyProofJson(2, 3, root2, root3, consistencyProof(2, 3, leaves)))));
  });
});
