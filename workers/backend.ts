// TensorFlow.js backend selection. cpu and wasm ship with runledger; tensorflow / tensorflow-gpu are
// loaded only if the user installed @tensorflow/tfjs-node(-gpu). An unavailable backend is an
// error, never a silent substitute: cpu and wasm reproduce themselves bit for bit but not each other.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { InputError, UnavailableError } from '../src/errors.js';
import type { BackendInfo } from '../events/training.js';
import type { Backend } from '../events/training-config.js';

const require = createRequire(import.meta.url);

const NATIVE: Record<'tensorflow' | 'tensorflow-gpu', { pkg: string; requirements: string }> = {
  tensorflow: {
    pkg: '@tensorflow/tfjs-node',
    requirements: 'it downloads a prebuilt libtensorflow for Linux x64, macOS or Windows at install time',
  },
  'tensorflow-gpu': {
    pkg: '@tensorflow/tfjs-node-gpu',
    requirements:
      'it needs Linux x64 with an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1 on the library path, and downloads libtensorflow at install time',
  },
};

// The "install tfjs-node for speed" banner and other tfjs warnings go to stderr and would break
// --json pipes; PROD mode silences them (core log.ts) without changing any kernel.
tf.enableProdMode();

/** Makes `name` the active tfjs backend with pinned threads and reports what reproduction depends on. */
export async function activateBackend(name: Backend): Promise<BackendInfo> {
  switch (name) {
    case 'cpu':
      await setOrFail('cpu', name);
      return { name, tfjsVersion: tf.version.tfjs, threads: 1, simd: null };
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      // Threads must be fixed before the backend initialises; one thread keeps reductions in one order.
      wasm.setThreadsCount(1);
      // Load the .wasm binaries from node_modules (a file path), never from a CDN: works offline.
      const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
      wasm.setWasmPaths(`${dist}/`);
      await setOrFail('wasm', name);
      const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      return { name, tfjsVersion: tf.version.tfjs, threads: wasm.getThreadsCount(), simd };
    }
    case 'tensorflow':
    case 'tensorflow-gpu': {
      const { pkg, requirements } = NATIVE[name];
      let resolved: string;
      try {
        resolved = require.resolve(pkg);
      } catch {
        throw new InputError(
          `backend "${name}" needs ${pkg}, which is not installed: run "npm install ${pkg}" in the project that runs runledger (${requirements}), or choose --backend cpu or wasm`,
          { field: 'backend' },
        );
      }
      try {
        await import(pathToFileURL(resolved).href);
      } catch (err) {
        throw new UnavailableError(
          `backend "${name}": ${pkg} is installed but failed to load (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); ${requirements}`,
        );
      }
      await setOrFail('tensorflow', name);
      // libtensorflow sizes its own thread pools; tfjs-node exposes no way to read or pin them.
      return { name, tfjsVersion: tf.version.tfjs, threads: null, simd: null };
    }
  }
}

async function setOrFail(tfName: string, requested: Backend): Promise<void> {
  const ok = await tf.setBackend(tfName);
  if (!ok || tf.getBackend() !== tfName) {
    throw new UnavailableError(`backend "${requested}" failed to initialise in this process`);
  }
}
