// Bringing persisted projections up to date with the log: resume each from its snapshot (or the
// start), fold the events after its position through the one wiring, then persist snapshot and
// position. `rebuild` does the same from position -1 without trusting any snapshot.
import { concatMap, defer, from, switchMap, type Observable } from 'rxjs';
import type { EventStore, RecordedEvent } from '../src/store/port.js';
import { checkpointPosition, fold, project, start, type Digested, type Projected, type Projection } from './projection.js';
import { resumePoint, snapshotSink } from './snapshots.js';

const PAGE = 5000;

/** Pages of the events after `after`, in store order: a rebuild never holds the whole log. */
async function* pagesAfter(store: Pick<EventStore, 'readAll'>, after: number, pageSize: number): AsyncGenerator<RecordedEvent[]> {
  let position = after;
  for (;;) {
    const page = await store.readAll({ after: position, limit: pageSize });
    if (page.length > 0) yield page;
    if (page.length < pageSize) return;
    position = page[page.length - 1]!.position;
  }
}

/** Every event after `after` as an Observable; within a page events are emitted synchronously. */
export function readAllAfter$(store: Pick<EventStore, 'readAll'>, after: number, pageSize = PAGE): Observable<RecordedEvent> {
  return from(pagesAfter(store, after, pageSize)).pipe(concatMap((page) => from(page)));
}

export interface CatchUpResult<S> extends Digested<S> {
  name: string;
  version: number;
  /** Where it resumed from: a snapshot position, or -1 for a full rebuild. */
  resumedFrom: number;
}

/** Resumes from the snapshot when it is trustworthy, folds what follows, persists the result. */
export async function catchUp<S>(
  store: Pick<EventStore, 'readAll' | 'getPosition' | 'setPosition'>,
  home: string,
  projection: Projection<S>,
  options: { rebuild?: boolean; persist?: boolean; pageSize?: number } = {},
): Promise<CatchUpResult<S>> {
  const resume = options.rebuild ? undefined : await resumePoint(home, store, projection);
  const seed = resume ?? start(projection);
  const result = await new Promise<Digested<S>>((resolve, reject) => {
    const folded$ = fold(projection, readAllAfter$(store, seed.position, options.pageSize), seed);
    const persisted$ = options.persist === false ? folded$ : folded$.pipe(checkpointPosition(projection, snapshotSink(home, store)));
    persisted$.subscribe({ next: (p) => resolve(p as Digested<S>), error: reject });
  });
  return { ...result, name: projection.name, version: projection.version, resumedFrom: seed.position };
}

/**
 * The live path: resume from the snapshot, subscribe to the store after its position (catch-up,
 * then live), fold with the same wiring and persist every `every` events. Emits each new state.
 */
export function follow<S>(
  store: Pick<EventStore, 'subscribe' | 'getPosition' | 'setPosition'>,
  home: string,
  projection: Projection<S>,
  every = 100,
): Observable<Projected<S>> {
  return defer(() => resumePoint(home, store, projection)).pipe(
    switchMap((resume) => {
      const seed = resume ?? start(projection);
      return store
        .subscribe({ after: seed.position })
        .pipe(project(projection, seed), checkpointPosition(projection, snapshotSink(home, store), every));
    }),
  );
}
