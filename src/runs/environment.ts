// Where a run executes, as the process that records it sees it: host, CPU, memory, OS, Node, tfjs
// and runledger versions, the git commit of its working directory, GPUs — plus what the client says
// about its own side (Python, its git commit, …), kept apart under `client`. Every door that starts a
// run records one RunEnvironmentRecorded from this (docs/api.md "Environment").
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, cpus, hostname, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import type { BackendInfo, GpuInfo, RunEnvironmentRecorded } from '../../events/training.js';
import { InputError } from '../errors.js';
import { canonicalize, CanonicalizationError } from '../integrity/canonical.js';
import { runledgerVersion } from '../version.js';

/** The environment's data before the recording key signs it. */
export type EnvironmentData = Omit<RunEnvironmentRecorded, 'publicKey' | 'signature'>;

/** Largest `client` object, as RFC 8785 JSON. */
export const MAX_CLIENT_FACTS_BYTES = 16 * 1024;

export interface EnvironmentOptions {
  runId: string;
  /** Who executes the run: a worker id, or the API caller's process. */
  worker: string;
  /** Which door records it: `runledger`, `typescript`, `http`, `mlflow`, … */
  source: string;
  /** The tfjs backend of a built-in worker; null for code runledger does not execute. */
  backend: BackendInfo | null;
  /** What the client reported about its side; JSON only. */
  client?: Record<string, unknown>;
  /** Working directory whose git commit is recorded; default the process's. */
  cwd?: string;
}

export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}`;
}

/** The environment a door records, with the client's facts checked to be plain JSON. */
export function describeEnvironment(options: EnvironmentOptions): EnvironmentData {
  const client = clientFacts(options.client ?? {});
  const cores = cpus();
  return {
    runId: options.runId,
    worker: options.worker,
    host: hostname(),
    node: process.version,
    runledgerVersion: runledgerVersion(),
    backend: options.backend,
    os: { platform: platform(), release: release(), arch: arch() },
    cpu: { model: cores[0]?.model.trim() || 'unknown', count: cores.length },
    totalMemoryBytes: totalmem(),
    source: options.source,
    tfjsVersion: options.backend?.tfjsVersion ?? installedTfjsVersion(),
    python: typeof client.python === 'string' && client.python.length > 0 ? client.python.slice(0, 64) : null,
    git: gitCommit(options.cwd ?? process.cwd()),
    gpus: gpus(),
    client,
  };
}

/** The client's facts as given, refused (InputError) unless they are a JSON object of bounded size. */
export function clientFacts(facts: unknown): Record<string, unknown> {
  if (facts === null || typeof facts !== 'object' || Array.isArray(facts)) throw new InputError('environment must be a JSON object of facts, e.g. {"python": "3.12.1"}', { field: 'environment' });
  let text: string;
  try {
    text = canonicalize(facts);
  } catch (err) {
    if (!(err instanceof CanonicalizationError)) throw err;
    throw new InputError(`environment is not plain JSON: ${err.message}`, { field: 'environment' });
  }
  if (Buffer.byteLength(text) > MAX_CLIENT_FACTS_BYTES) throw new InputError(`environment is ${Buffer.byteLength(text)} bytes of JSON, more than ${MAX_CLIENT_FACTS_BYTES}`, { field: 'environment' });
  const long = Object.keys(facts).find((k) => k.length > 200);
  if (long !== undefined) throw new InputError(`environment key "${long.slice(0, 40)}…" is longer than 200 characters`, { field: 'environment' });
  return JSON.parse(text) as Record<string, unknown>;
}

let tfjsVersion: string | null | undefined;

/** The version of the @tensorflow/tfjs package installed beside runledger, without loading it. */
export function installedTfjsVersion(): string | null {
  if (tfjsVersion !== undefined) return tfjsVersion;
  tfjsVersion = null;
  try {
    let dir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs'));
    for (let up = 0; up < 6; up++, dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === '@tensorflow/tfjs' && pkg.version) return (tfjsVersion = pkg.version);
      } catch {
        // no package.json here: keep walking up
      }
    }
  } catch {
    // not installed
  }
  return tfjsVersion;
}

const run = (command: string, args: string[], cwd?: string): string | null => {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true });
  return result.status === 0 ? result.stdout : null;
};

/** HEAD of the git repository around `cwd` (with branch and whether tracked files changed), or null outside one. */
export function gitCommit(cwd: string): EnvironmentData['git'] {
  const out = run('git', ['rev-parse', 'HEAD', '--abbrev-ref', 'HEAD'], cwd);
  const [commit, branch] = (out ?? '').trim().split('\n');
  if (!commit || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)) return null;
  const status = run('git', ['status', '--porcelain', '--untracked-files=no'], cwd);
  return { commit, branch: branch && branch !== 'HEAD' ? branch.slice(0, 500) : null, dirty: status === null ? null : status.trim().length > 0 };
}

let gpuList: GpuInfo[] | undefined;

/** NVIDIA GPUs with their driver, when nvidia-smi is present; none otherwise. Read once per process. */
export function gpus(): GpuInfo[] {
  if (gpuList !== undefined) return gpuList;
  const out = run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader,nounits']);
  gpuList = (out ?? '')
    .split('\n')
    .map((line) => line.split(',').map((f) => f.trim()))
    .filter(([name]) => name)
    .slice(0, 64)
    .map(([name, driver, mib]) => ({ name: name!.slice(0, 200), driver: driver ? driver.slice(0, 100) : null, memoryBytes: mib && /^\d+$/.test(mib) ? Number(mib) * 1024 * 1024 : null }));
  return gpuList;
}
