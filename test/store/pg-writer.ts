// A writer process for the PostgreSQL concurrency test: appends EVENTS events for writer WRITER into
// 16 streams (s-0..s-7 one per writer, s-8..s-15 shared by all), in batches with exact expected
// revisions, retrying on ConcurrencyError with the same event ids. Prints one JSON line per
// acknowledged batch (its ids and its range of `i`), as soon as the store acknowledged it, so a
// test that kills the process knows exactly what was acknowledged; then a closing summary line.
// With PG_WRITER_RETRY=1 it also rides out a server that goes away (killed, restarting): any other
// error is retried with the same event ids after a pause, as a client that must not lose work does;
// the store answers a retry of a batch that did commit as a duplicate, so nothing is written twice.
import { randomUUID } from 'node:crypto';
import { ConcurrencyError } from '../../src/errors.js';
import { createPostgresStore } from '../../src/store/postgres/index.js';
import type { AppendRequest } from '../../src/store/port.js';

const url = process.env.PG_WRITER_URL;
const writer = Number(process.env.PG_WRITER_ID);
const total = Number(process.env.PG_WRITER_EVENTS ?? 1000);
const batchSize = 25;
const retryOutages = process.env.PG_WRITER_RETRY === '1';
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let outageRetries = 0;
if (!url || !Number.isInteger(writer)) throw new Error('PG_WRITER_URL and PG_WRITER_ID are required');

const store = createPostgresStore({ url, poolSize: 2 });
const acknowledged: string[] = [];
let conflicts = 0;

function proposed(count: number, from: number): AppendRequest['events'] {
  return Array.from({ length: count }, (_, i) => ({ id: randomUUID(), type: 'custom.sample', data: { writer, i: from + i } }));
}

let written = 0;
for (let batch = 0; written < total; batch++) {
  const size = Math.min(batchSize, total - written);
  const own = `s-${writer % 8}`;
  const shared = `s-${8 + ((writer + batch) % 8)}`;
  // Every third batch spans two streams in one atomic append; the others go to one stream.
  const shape: { stream: string; count: number }[] =
    batch % 3 === 0 && size > 1
      ? [
          { stream: own, count: Math.floor(size / 2) },
          { stream: shared, count: size - Math.floor(size / 2) },
        ]
      : [{ stream: batch % 2 === 0 ? own : shared, count: size }];
  let offset = written;
  const requests = shape.map(({ stream, count }) => {
    const request = { stream, events: proposed(count, offset) };
    offset += count;
    return request;
  });
  for (let attempt = 0; ; attempt++) {
    try {
      const expected = await Promise.all(requests.map((r) => store.streamRevision(r.stream)));
      await store.appendBatch(requests.map((r, i) => ({ ...r, expectedRevision: expected[i]! })));
      break;
    } catch (err) {
      if (err instanceof ConcurrencyError && attempt <= 500) {
        conflicts += 1;
        continue;
      }
      if (!retryOutages || err instanceof ConcurrencyError || outageRetries > 2_000) throw err;
      outageRetries += 1;
      await pause(50);
    }
  }
  const ids = requests.flatMap((r) => r.events.map((e) => e.id!));
  acknowledged.push(...ids);
  process.stdout.write(`${JSON.stringify({ ack: ids, from: written, count: size })}\n`);
  written += size;
}
await store.close();
process.stdout.write(`${JSON.stringify({ writer, conflicts, outageRetries, acknowledged: acknowledged.length })}\n`);
