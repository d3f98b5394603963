// Persisted projection snapshots: `<home>/projections/<name>.json` holds the state, its digest and
// the store position it reflects, written atomically before the position is stored, so a restarted
// projection resumes exactly where its state is (or rebuilds when anything disagrees).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { canonicalize } from '../src/integrity/canonical.js';
import { sha256Hex } from '../src/integrity/hasher.js';
import type { EventStore } from '../src/store/port.js';
import { consumerName, stateDigest, stateFromJson, type Digested, type PositionSink, type Projected, type Projection } from './projection.js';

export interface SnapshotFile {
  name: string;
  version: number;
  position: number;
  events: number;
  digest: string;
  /** The state's JSON form (Projection.toJSON). */
  state: unknown;
}

export function snapshotPath(home: string, name: string): string {
  return join(home, 'projections', `${name}.json`);
}

export function readSnapshot(home: string, name: string): SnapshotFile | undefined {
  try {
    return JSON.parse(readFileSync(snapshotPath(home, name), 'utf8')) as SnapshotFile;
  } catch {
    return undefined;
  }
}

/** Writes via a temporary file and rename, so a crash never leaves half a snapshot. */
export function writeFileAtomic(path: string, bytes: Buffer | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

export function snapshotSink(home: string, store: Pick<EventStore, 'setPosition'>): PositionSink {
  return {
    async saveSnapshot(name: string, version: number, p: Digested<unknown>) {
      const file: SnapshotFile = { name, version, position: p.position, events: p.events, digest: p.digest, state: p.state };
      writeFileAtomic(snapshotPath(home, name), canonicalize(file));
    },
    setPosition: (consumer, position) => store.setPosition(consumer, position),
  };
}

/**
 * Where a restarted projection resumes: its snapshot when the version, the stored position and the
 * state digest all agree; otherwise undefined (rebuild from the start of the log).
 */
export async function resumePoint<S>(home: string, store: Pick<EventStore, 'getPosition'>, projection: Projection<S>): Promise<Projected<S> | undefined> {
  const snapshot = readSnapshot(home, projection.name);
  if (!snapshot || snapshot.version !== projection.version) return undefined;
  const stored = await store.getPosition(consumerName(projection));
  if (stored !== snapshot.position) return undefined;
  if (stateDigest(snapshot.state) !== snapshot.digest) return undefined;
  return { state: stateFromJson(projection, snapshot.state), position: snapshot.position, events: snapshot.events };
}

export interface WrittenArtifacts {
  files: number;
  /** Files whose bytes were already exactly what the projection produced. */
  unchanged: number;
  /** SHA-256 over the sorted "path sha256" lines: one value to compare two rebuilds by. */
  digest: string;
}

/** Writes artifacts under the home, atomically, reporting how many were already byte-identical. */
export function writeArtifacts(home: string, artifacts: readonly { path: string; bytes: Buffer }[]): WrittenArtifacts {
  let unchanged = 0;
  const lines: string[] = [];
  for (const artifact of artifacts) {
    const path = join(home, ...artifact.path.split('/'));
    let existing: Buffer | undefined;
    try {
      existing = readFileSync(path);
    } catch {
      existing = undefined;
    }
    if (existing?.equals(artifact.bytes)) unchanged++;
    else writeFileAtomic(path, artifact.bytes);
    lines.push(`${artifact.path} ${sha256Hex(artifact.bytes)}`);
  }
  return { files: artifacts.length, unchanged, digest: sha256Hex(lines.sort().join('\n')) };
}
