import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { InputError, UnavailableError } from '../../src/errors.js';
import { activateBackend, wasmSimdFromEnv } from '../../workers/backend.js';
import { reexecute } from '../../workers/retrain.js';
import { smallConfig } from './fixture.js';

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

  it('loads the wasm build asked for in a fresh process (simd false: the plain build) and records it; the same process refuses the other build', async function () {
    this.timeout(60_000);
    const config = smallConfig({ backend: 'wasm', epochs: 1 });
    const plain = await reexecute({ config, backend: 'wasm', simd: false, stopAfterEpoch: 1 });
    assert.equal(plain.backend.simd, false);
    const loaded = await activateBackend('wasm');
    await assert.rejects(activateBackend('wasm', { simd: !loaded.simd }), (err: unknown) => err instanceof UnavailableError && /needs a fresh process/.test(err.message));
    if (loaded.simd) {
      const simd = await reexecute({ config, backend: 'wasm', simd: true, stopAfterEpoch: 1 });
      assert.equal(simd.backend.simd, true);
    }
    await activateBackend('cpu');
  });

  it('reads RUNLEDGER_WASM_SIMD as 0, 1 or unset, and refuses anything else naming the variable', () => {
    assert.equal(wasmSimdFromEnv({}), undefined);
    assert.equal(wasmSimdFromEnv({ RUNLEDGER_WASM_SIMD: '' }), undefined);
    assert.equal(wasmSimdFromEnv({ RUNLEDGER_WASM_SIMD: '0' }), false);
    assert.equal(wasmSimdFromEnv({ RUNLEDGER_WASM_SIMD: '1' }), true);
    assert.throws(() => wasmSimdFromEnv({ RUNLEDGER_WASM_SIMD: 'yes' }), (err: unknown) => err instanceof InputError && /RUNLEDGER_WASM_SIMD must be 0 or 1/.test(err.message));
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
