// Preloaded into a CLI child (NODE_OPTIONS=--import) to say on stderr each time it starts a worker
// thread: what a test of "no thread below --parallel-from" counts.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import type * as WorkerThreads from 'node:worker_threads';

export const WORKER_STARTED = '[worker thread started]';

const threads = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
if (threads.isMainThread) {
  const Base = threads.Worker;
  (threads as { Worker: typeof Base }).Worker = class extends Base {
    constructor(...args: ConstructorParameters<typeof Base>) {
      super(...args);
      process.stderr.write(`${WORKER_STARTED}\n`);
    }
  };
  // ESM imports of node:worker_threads see the patched class too.
  syncBuiltinESMExports();
}
