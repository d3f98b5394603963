import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { IntegrityError } from '../../src/errors.js';
import { checkpointPaths, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, writeCheckpoint, type CheckpointContent } from '../../workers/checkpoint.js';
import { signingKey, tempHome } from './fixture.js';

function content(scale = 1): CheckpointContent {
  return {
    epoch: 3,
    step: 24,
    optimizer: 'sgd',
    tensors: [
      { name: 'layer0.kernel', shape: [2, 3], values: Float32Array.from([1, -2, 3.5, 0, 1e-7, -0].map((v) => v * scale)) },
      { name: 'layer0.bias', shape: [3], values: Float32Array.from([0.25, 0.5, 0.75]) },
    ],
  };
}

describe('workers/checkpoint', () => {
  it('encodes the same state to the same bytes and decodes them back exactly', () => {
    const bytes = encodeCheckpoint(content());
    assert.ok(bytes.equals(encodeCheckpoint(content())));
    const back = decodeCheckpoint(bytes, 'x.ckpt');
    assert.equal(back.step, 24);
    assert.deepEqual(back.tensors.map((t) => [...t.values]), content().tensors.map((t) => [...t.values]));
  });

  it('writes content-addressed, signed files and loads them after verification', () => {
    const home = tempHome();
    const key = signingKey();
    const signed = writeCheckpoint(home, content(), key);
    const paths = checkpointPaths(home, signed.digest);
    assert.equal(paths.ckpt, signed.path);
    assert.ok(existsSync(paths.sig));
    assert.equal(loadCheckpoint(home, signed.digest, key).epoch, 3);
    assert.notEqual(writeCheckpoint(home, content(2), key).digest, signed.digest);
  });

  it('refuses a checkpoint with one flipped byte, naming the file', () => {
    const home = tempHome();
    const key = signingKey();
    const { digest, path } = writeCheckpoint(home, content(), key);
    const bytes = readFileSync(path);
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x01;
    writeFileSync(path, bytes);
    assert.throws(() => loadCheckpoint(home, digest, key), (err: unknown) => err instanceof IntegrityError && err.message.includes(path) && /altered/.test(err.message));
  });

  it('refuses an unsigned checkpoint', () => {
    const home = tempHome();
    const key = signingKey();
    const { digest } = writeCheckpoint(home, content(), key);
    rmSync(checkpointPaths(home, digest).sig);
    assert.throws(() => loadCheckpoint(home, digest, key), (err: unknown) => err instanceof IntegrityError && /unsigned/.test(err.message));
  });

  it('refuses a checkpoint signed by a key other than the trusted one', () => {
    const home = tempHome();
    const { digest } = writeCheckpoint(home, content(), signingKey());
    assert.throws(() => loadCheckpoint(home, digest, signingKey()), (err: unknown) => err instanceof IntegrityError && /invalid signature/.test(err.message));
  });

  it('refuses a signature file whose signature bytes were altered', () => {
    const home = tempHome();
    const key = signingKey();
    const { digest } = writeCheckpoint(home, content(), key);
    const sigPath = checkpointPaths(home, digest).sig;
    const sig = JSON.parse(readFileSync(sigPath, 'utf8')) as { signature: string };
    const raw = Buffer.from(sig.signature, 'base64');
    raw[0] = raw[0]! ^ 0x80;
    writeFileSync(sigPath, JSON.stringify({ ...sig, signature: raw.toString('base64') }));
    assert.throws(() => loadCheckpoint(home, digest, key), (err: unknown) => err instanceof IntegrityError && err.message.includes(sigPath));
  });

  it('rejects truncated bytes as malformed', () => {
    const bytes = encodeCheckpoint(content());
    assert.throws(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4), 'y.ckpt'), (err: unknown) => err instanceof IntegrityError && /y\.ckpt/.test(err.message));
  });
});
