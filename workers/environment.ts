// Where a run executed, recorded at start: what a reproduction has to match (backend, tfjs,
// threads) and what explains a difference when it does not (CPU, OS, versions, git commit, GPUs).
// The built-in worker records the same RunEnvironmentRecorded as every other door (src/runs/environment.ts).
import type { BackendInfo } from '../events/training.js';
import { defaultWorkerId, describeEnvironment as describeRunEnvironment, type EnvironmentData } from '../src/runs/environment.js';

export { defaultWorkerId };

/** Where a built-in worker executes a run, before it signs it. */
export function describeEnvironment(run: string, worker: string, backend: BackendInfo): EnvironmentData {
  return describeRunEnvironment({ runId: run, worker, source: 'runledger', backend });
}
