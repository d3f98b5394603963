// Child-process writer for the multi-process and crash tests of the sqlite store.
// Usage: node sqlite-writer.js <db path> <writer id> <batches | "forever">
// Each batch is one atomic appendBatch of BATCH_SIZE events over two streams (a shared one and the
// writer's own). After the commit returns it prints `ack <writer> <batch> <id,id,…>` — written
// synchronously to the pipe, so a line the parent reads is an acknowledged batch.
import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqliteStore } from '../../src/store/sqlite/index.js';

export const SHARED_EVENTS = 3;
export const OWN_EVENTS = 2;
export const BATCH_SIZE = SHARED_EVENTS + OWN_EVENTS;
export const SHARED_STREAMS = 3;

async function main(): Promise<void> {
  const [path, writer, batches] = process.argv.slice(2);
  if (!path || !writer || !batches) throw new Error('usage: sqlite-writer <db path> <writer id> <batches | forever>');
  const store = createSqliteStore({ path, busyTimeoutMs: 30_000 });
  await store.init();
  const limit = batches === 'forever' ? Infinity : Number(batches);
  for (let batch = 0; batch < limit; batch++) {
    const make = (count: number, offset: number) =>
      Array.from({ length: count }, (_, k) => ({ id: randomUUID(), type: 'custom.writer', data: { writer, batch, k: offset + k } }));
    const shared = make(SHARED_EVENTS, 0);
    const own = make(OWN_EVENTS, SHARED_EVENTS);
    await store.appendBatch([
      { stream: `shared-${batch % SHARED_STREAMS}`, events: shared },
      { stream: `writer-${writer}`, events: own },
    ]);
    writeSync(1, `ack ${writer} ${batch} ${[...shared, ...own].map((e) => e.id).join(',')}\n`);
  }
  await store.close();
}

// Only when run as a script: the tests import the constants above.
if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
