// Where a run executed, recorded at start: what a reproduction has to match (backend, tfjs,
// threads) and what explains a difference when it does not (CPU, OS, versions).
import { arch, cpus, hostname, platform, release, totalmem } from 'node:os';
import type { BackendInfo, RunEnvironmentRecorded } from '../events/training.js';
import { runledgerVersion } from '../src/version.js';

export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}`;
}

/** Where a run executes, before the worker signs it. */
export function describeEnvironment(run: string, worker: string, backend: BackendInfo): Omit<RunEnvironmentRecorded, 'publicKey' | 'signature'> {
  const cores = cpus();
  return {
    runId: run,
    worker,
    host: hostname(),
    node: process.version,
    runledgerVersion: runledgerVersion(),
    backend,
    os: { platform: platform(), release: release(), arch: arch() },
    cpu: { model: cores[0]?.model.trim() || 'unknown', count: cores.length },
    totalMemoryBytes: totalmem(),
  };
}
