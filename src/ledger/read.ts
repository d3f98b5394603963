// Paged iteration over a store, so a whole log can be streamed in bounded memory.
import type { EventStore, RecordedEvent } from '../store/port.js';

export const PAGE_SIZE = 5_000;

/** Integrated events in leaf order from leaf `fromIndex`, page by page. */
export async function* readLogPages(store: EventStore, pageSize = PAGE_SIZE, fromIndex = 0): AsyncGenerator<RecordedEvent> {
  for (let from = fromIndex; ; ) {
    const page = await store.readLog({ fromIndex: from, limit: pageSize });
    if (page.length === 0) return;
    yield* page;
    from = page[page.length - 1]!.index + 1;
  }
}

/** All events of one stream in revision order, page by page. */
export async function* readStreamPages(store: EventStore, stream: string, pageSize = PAGE_SIZE): AsyncGenerator<RecordedEvent> {
  for (let from = 0; ; ) {
    const page = await store.readStream(stream, { fromRevision: from, limit: pageSize });
    if (page.length === 0) return;
    yield* page;
    from = page[page.length - 1]!.envelope.revision + 1;
  }
}
