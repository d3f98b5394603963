// Child process of appenders.ts: reads {url, batches} from the first stdin line, opens the store,
// prints "ready", waits for "go", then runs every batch concurrently and prints {"appended": n}.
import { createInterface } from 'node:readline';
import { openStore } from '../../src/store/open.js';
import type { AppendRequest } from '../../src/store/port.js';

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const first = await lines.next();
const { url, batches } = JSON.parse(String(first.value)) as { url: string; batches: AppendRequest[][] };
const store = await openStore(url);
process.stdout.write('ready\n');
await lines.next();
try {
  const results = await Promise.all(batches.map((batch) => store.appendBatch(batch)));
  const appended = results.reduce((n, r) => n + (r.duplicate ? 0 : r.positions.length), 0);
  process.stdout.write(`${JSON.stringify({ appended })}\n`);
} finally {
  await store.close();
}
process.exit(0);
