import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { InputError } from '../../src/errors.js';
import { activateBackend } from '../../workers/backend.js';

const require = createRequire(import.meta.url);

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

describe('workers/backend', () => {
  it('activates cpu with one thread and records the tfjs version', async () => {
    const info = await activateBackend('cpu');
    assert.equal(info.name, 'cpu');
    assert.equal(info.threads, 1);
    assert.match(info.tfjsVersion, /^\d+\.\d+\.\d+/);
  });

  it('activates wasm offline from node_modules with threads pinned to 1', async () => {
    const info = await activateBackend('wasm');
    assert.equal(info.name, 'wasm');
    assert.equal(info.threads, 1);
    assert.equal(typeof info.simd, 'boolean');
    await activateBackend('cpu');
  });

  for (const [backend, pkg] of [
    ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
    ['tensorflow', '@tensorflow/tfjs-node'],
  ] as const) {
    it(`refuses ${backend} when ${pkg} is not installed, explaining how to install it`, async function () {
      if (installed(pkg)) {
        console.log(`      ${pkg} is installed here, so the missing-backend error cannot be observed; uninstall it to run this test`);
        this.skip();
      }
      await assert.rejects(
        activateBackend(backend),
        (err: unknown) => err instanceof InputError && err.exitCode === 2 && err.message.includes(`npm install ${pkg}`) &&
          (backend !== 'tensorflow-gpu' || /CUDA/.test(err.message)),
      );
    });
  }
});
