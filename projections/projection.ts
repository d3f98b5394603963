// The projection engine: a projection is a pure, synchronous reducer over recorded events, and ONE
// RxJS wiring (`project`) folds it for live subscriptions, CLI reports and replay alike. Digesting
// the state and checkpointing its position are operators written once and composed on top.
import { concatMap, from, last, map, scan, type Observable, type OperatorFunction } from 'rxjs';
import type { RecordedEvent } from '../src/store/port.js';
import { canonicalize } from '../src/integrity/canonical.js';
import { sha256Hex } from '../src/integrity/hasher.js';
import { PersistentMap } from './persistent-map.js';

export interface Projection<S> {
  /** Stable name: the consumer name of its stored position and the file name of its snapshot. */
  readonly name: string;
  /** Bumped whenever `evolve` or the state shape changes: old snapshots are then rebuilt. */
  readonly version: number;
  readonly initial: S;
  /**
   * Pure and synchronous; returns new state (structurally shared) and never mutates `state`.
   * Its cost should not grow with the state: keep large maps in PersistentMaps, not plain objects.
   */
  evolve(state: S, event: RecordedEvent): S;
  /**
   * The state's JSON form, which JCS can encode: what is digested (SHA-256 of its RFC 8785 form)
   * and snapshotted. Omitted when the state is plain JSON already.
   */
  toJSON?(state: S): unknown;
  /** The inverse of `toJSON`, to resume from a snapshot. */
  fromJSON?(json: unknown): S;
}

/** A projection's state after some prefix of the log. */
export interface Projected<S> {
  state: S;
  /** Store position of the last event applied; -1 before any. */
  position: number;
  /** Events applied since `initial` (including those before a resumed snapshot). */
  events: number;
}

export interface Digested<S> extends Projected<S> {
  /** SHA-256 hex of the JCS of `state`. */
  digest: string;
}

export function start<S>(projection: Projection<S>): Projected<S> {
  return { state: projection.initial, position: -1, events: 0 };
}

/** SHA-256 of the RFC 8785 form of a JSON value: key order never depends on insertion or arrival order. */
export function stateDigest(state: unknown): string {
  // JCS would encode a PersistentMap's trie, not its entries: a state holding maps goes through projectionDigest.
  if (state instanceof PersistentMap || (typeof state === 'object' && state !== null && Object.values(state).some((v) => v instanceof PersistentMap))) {
    throw new TypeError('stateDigest: the state holds persistent maps; digest its JSON form (projectionDigest)');
  }
  return sha256Hex(canonicalize(state));
}

/** A projection's state in its JSON form (assembled on demand: O(state), so not per event). */
export function stateJson<S>(projection: Projection<S>, state: S): unknown {
  return projection.toJSON ? projection.toJSON(state) : state;
}

/** The digest of a projection's state: SHA-256 of the JCS of its JSON form. */
export function projectionDigest<S>(projection: Projection<S>, state: S): string {
  return stateDigest(stateJson(projection, state));
}

/** A state back from its JSON form (a snapshot). */
export function stateFromJson<S>(projection: Projection<S>, json: unknown): S {
  return projection.fromJSON ? projection.fromJSON(json) : (json as S);
}

/** THE wiring: folds recorded events into successive states, resuming from `from` when given. */
export function project<S>(projection: Projection<S>, resumeFrom: Projected<S> = start(projection)): OperatorFunction<RecordedEvent, Projected<S>> {
  return scan(
    (acc: Projected<S>, event: RecordedEvent): Projected<S> => ({
      state: projection.evolve(acc.state, event),
      position: event.position,
      events: acc.events + 1,
    }),
    resumeFrom,
  );
}

/** Adds the state digest. JCS costs O(state), so apply after `last()` or a sampling operator. */
export function digestState<S>(projection: Projection<S>): OperatorFunction<Projected<S>, Digested<S>> {
  return map((p) => ({ ...p, digest: projectionDigest(projection, p.state) }));
}

export interface PositionSink {
  /** Persists the snapshot (the state's JSON form and position together) before the position is advanced. */
  saveSnapshot?(name: string, version: number, snapshot: Digested<unknown>): Promise<void>;
  setPosition(consumer: string, position: number): Promise<void>;
}

/** Consumer name under which a projection's position is stored (store.setPosition). */
export function consumerName(projection: Pick<Projection<unknown>, 'name'>): string {
  return `projection:${projection.name}`;
}

/**
 * Persists state and position every `every` emissions (1 = each), snapshot first, so a restarted
 * projection resumes from a position whose state it has: at worst it re-reads a few events.
 */
export function checkpointPosition<S>(
  projection: Projection<S>,
  sink: PositionSink,
  every = 1,
): OperatorFunction<Projected<S>, Projected<S>> {
  let since = 0;
  return concatMap(async (p) => {
    if (++since < every) return p;
    since = 0;
    if (sink.saveSnapshot) {
      const json = stateJson(projection, p.state);
      await sink.saveSnapshot(projection.name, projection.version, { ...p, state: json, digest: stateDigest(json) });
    }
    await sink.setPosition(consumerName(projection), p.position);
    return p;
  });
}

/** Folds a finite event source to its final state and digest (the replay/rebuild path). */
export function fold<S>(projection: Projection<S>, events$: Observable<RecordedEvent>, resumeFrom?: Projected<S>): Observable<Digested<S>> {
  const seed = resumeFrom ?? start(projection);
  return events$.pipe(project(projection, seed), last(undefined, seed), digestState(projection));
}

/** Convenience for arrays: the same wiring, so a rebuild and a live view agree by construction. */
export function foldAll<S>(projection: Projection<S>, events: Iterable<RecordedEvent>, resumeFrom?: Projected<S>): Promise<Digested<S>> {
  return new Promise((resolve, reject) => {
    fold(projection, from(events), resumeFrom).subscribe({ next: resolve, error: reject });
  });
}
