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

/** Which wasm build this process loaded (null: not yet); the backend initialises once per process. */
let loadedWasmSimd: boolean | null = null;

/** wasm only: which build to load. Default: the SIMD build where the runtime supports it. */
export interface BackendChoice {
  /** true: the SIMD build or an error; false: the plain build even where SIMD is supported. */
  simd?: boolean;
}

/**
 * The wasm build asked for by the environment: RUNLEDGER_WASM_SIMD=0 loads the plain build, =1
 * insists on SIMD; unset (or empty) lets the runtime decide. A run records which build it used.
 */
export function wasmSimdFromEnv(env: NodeJS.ProcessEnv = process.env): boolean | undefined {
  const v = env.RUNLEDGER_WASM_SIMD;
  if (v === undefined || v === '') return undefined;
  if (v === '0' || v === '1') return v === '1';
  throw new InputError(`environment variable RUNLEDGER_WASM_SIMD must be 0 or 1, not "${v}"`, { field: 'RUNLEDGER_WASM_SIMD' });
}

/** Makes `name` the active tfjs backend with pinned threads and reports what reproduction depends on. */
export async function activateBackend(name: Backend, choice: BackendChoice = {}): Promise<BackendInfo> {
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
      const wanted = choice.simd ?? wasmSimdFromEnv();
      // A process loads one wasm build; asking for the other afterwards needs a fresh process.
      if (loadedWasmSimd !== null && wanted !== undefined && wanted !== loadedWasmSimd) {
        throw new UnavailableError(
          `backend "wasm": this process already loaded the ${loadedWasmSimd ? 'SIMD' : 'plain'} build; the ${wanted ? 'SIMD' : 'plain'} build needs a fresh process`,
        );
      }
      if (loadedWasmSimd === null) {
        const supported = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
        if (wanted === true && !supported) throw new UnavailableError('backend "wasm": the SIMD build was asked for but this runtime does not support WebAssembly SIMD');
        // The flag decides which .wasm file the backend loads when it first initialises (tfjs-backend-wasm init()).
        if (wanted === false) tf.env().set('WASM_HAS_SIMD_SUPPORT', false);
      }
      await setOrFail('wasm', name);
      loadedWasmSimd ??= Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
      const simd = loadedWasmSimd;
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
