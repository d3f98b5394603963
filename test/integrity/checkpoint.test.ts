import assert from 'node:assert/strict';
import { InputError } from '../../src/errors.js';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../src/integrity/checkpoint.js';
import { noteKeyFromSeed, NoteError, parseSignerKey } from '../../src/integrity/note.js';
import { ROOTS } from './rfc6962-vectors.js';

const malformed = (err: unknown): boolean => err instanceof NoteError && err.reason === 'malformed';

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  const key = noteKeyFromSeed('example.com/log', Buffer.alloc(32, 5));
  const signer = parseSignerKey(key.signerKey);

  it('formats origin, decimal size and base64 root, each ending in a newline', () => {
    assert.equal(formatCheckpoint('example.com/log', 8, ROOTS[8]!), 'example.com/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n');
  });

  it('parses the example body of the tlog-checkpoint spec', () => {
    const body = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
    const parsed = parseCheckpoint(body);
    assert.equal(parsed.origin, 'example.com/behind-the-sofa');
    assert.equal(parsed.size, 20852163);
    assert.equal(parsed.root.toString('base64'), 'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    assert.equal(formatCheckpoint(parsed.origin, parsed.size, parsed.root), body);
  });

  it('round-trips the empty tree (size 0)', () => {
    assert.deepEqual(parseCheckpoint(formatCheckpoint('o', 0, ROOTS[0]!)), { origin: 'o', size: 0, root: ROOTS[0], extensions: [] });
  });

  it('keeps extension lines as opaque text', () => {
    assert.deepEqual(parseCheckpoint('o\n1\n' + ROOTS[1]!.toString('base64') + '\nextra one\n').extensions, ['extra one']);
  });

  const root = ROOTS[3]!.toString('base64');
  const bad: [string, string][] = [
    ['a leading zero in the size', `o\n03\n${root}\n`],
    ['a signed size', `o\n+3\n${root}\n`],
    ['a size beyond 2^53', `o\n9007199254740993\n${root}\n`],
    ['a root that is not 32 bytes', `o\n3\n${ROOTS[3]!.subarray(0, 31).toString('base64')}\n`],
    ['a root in non-canonical base64', `o\n3\n${root.replace(/=$/, '')}\n`],
    ['no final newline', `o\n3\n${root}`],
    ['an empty origin', `\n3\n${root}\n`],
    ['missing lines', 'o\n3\n'],
    ['an empty extension line', `o\n3\n${root}\n\n`],
  ];
  for (const [what, body] of bad) {
    it(`rejects a body with ${what}`, () => {
      assert.throws(() => parseCheckpoint(body), malformed);
    });
  }

  it('refuses to format what it could not parse back', () => {
    assert.throws(() => formatCheckpoint('', 1, ROOTS[1]!), InputError);
    assert.throws(() => formatCheckpoint('a\nb', 1, ROOTS[1]!), InputError);
    assert.throws(() => formatCheckpoint('o', -1, ROOTS[1]!), InputError);
    assert.throws(() => formatCheckpoint('o', 1.5, ROOTS[1]!), InputError);
    assert.throws(() => formatCheckpoint('o', 1, Buffer.alloc(20)), InputError);
  });

  it('signs a checkpoint and opens it back to the same origin, size and root', () => {
    const note = signCheckpoint('example.com/log', 7, ROOTS[7]!, signer);
    assert.ok(note.startsWith(formatCheckpoint('example.com/log', 7, ROOTS[7]!) + '\n\u2014 example.com/log '));
    const opened = openCheckpoint(note, [key.verifierKey]);
    assert.equal(opened.origin, 'example.com/log');
    assert.equal(opened.size, 7);
    assert.deepEqual(opened.root, ROOTS[7]);
  });

  it('rejects a checkpoint whose size was changed after signing', () => {
    const note = signCheckpoint('example.com/log', 7, ROOTS[7]!, signer);
    assert.throws(() => openCheckpoint(note.replace('\n7\n', '\n8\n'), [key.verifierKey]), (err: unknown) => err instanceof NoteError && err.reason === 'bad-signature');
  });

  it('rejects a checkpoint signed by a key that is not trusted', () => {
    const other = noteKeyFromSeed('example.com/log', Buffer.alloc(32, 6));
    const note = signCheckpoint('example.com/log', 7, ROOTS[7]!, parseSignerKey(other.signerKey));
    assert.throws(() => openCheckpoint(note, [key.verifierKey]), (err: unknown) => err instanceof NoteError && err.reason === 'unknown-key');
  });
});
