// The writer thread of workers/ledger-writer.ts: opens its own connection to the store and passes each
// batch, in the order it arrives, through the run-stream door — the same door and checks as an
// append on the training thread. After a batch of a stream is refused, later batches of that stream
// are refused too: appending them would leave a gap where the refused events belonged.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { ConcurrencyError, LedgerError } from '../src/errors.js';
import { guardedAppend, RunHeads } from '../src/governance/guarded-append.js';
import { openStore } from '../src/store/open.js';
import type { WriteAck, WriteFailure, WriteRequest } from './ledger-writer.js';

function failureOf(err: unknown): WriteFailure {
  if (err instanceof ConcurrencyError) return { name: err.name, message: err.message, location: err.location, concurrency: { stream: err.stream, expected: err.expected, actual: err.actual } };
  if (err instanceof LedgerError) return { name: err.name, message: err.message, location: err.location };
  return { name: 'Error', message: err instanceof Error ? err.message : String(err), location: {} };
}

const port = parentPort!;
const { url } = workerData as { url: string };
const opened = openStore(url);
const heads = new RunHeads();
const refused = new Map<string, WriteFailure>();
let queue: Promise<void> = Promise.resolve();

port.on('message', (message: WriteRequest | 'close') => {
  queue = queue.then(async () => {
    if (message === 'close') {
      await (await opened.catch(() => null))?.close();
      port.close();
      return;
    }
    const earlier = refused.get(message.stream);
    if (earlier) return port.postMessage({ seq: message.seq, failure: earlier } satisfies WriteAck);
    const t0 = performance.now();
    try {
      await guardedAppend(await opened, [{ stream: message.stream, events: message.events }], { heads });
      port.postMessage({ seq: message.seq, doorMs: performance.now() - t0 } satisfies WriteAck);
    } catch (err) {
      const failure = failureOf(err);
      refused.set(message.stream, failure);
      port.postMessage({ seq: message.seq, failure } satisfies WriteAck);
    }
  });
});
