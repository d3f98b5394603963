// RFC 9162 inclusion and consistency proofs over a store, checked against the signed checkpoint of
// the tree size they prove (or, when no signed checkpoint has that size, against the store's own
// root, and saying so). One code path for `runledger proof` and the public API (src/api/ledger.ts).
import { InputError, IntegrityError } from '../errors.js';
import { CompactRange } from '../integrity/compact-range.js';
import { leafHash } from '../integrity/hasher.js';
import {
  consistencyProofAsync,
  consistencyProofJson,
  inclusionProofAsync,
  inclusionProofJson,
  ProofError,
  verifyProofJson,
  type ConsistencyProofJson,
  type InclusionProofJson,
} from '../integrity/proof.js';
import type { EventStore } from '../store/port.js';
import { latestCheckpoint, signedCheckpointAt, treeRoot, type ProofAnchor } from './checkpoint.js';

export interface InclusionProofReport extends InclusionProofJson {
  /** The proof leads from the event's canonical bytes to the root. */
  verified: boolean;
  /** The root is that of a checkpoint a trusted key signed. */
  anchored: boolean;
  checkedAgainst: string;
  checkpoint: string | null;
  failure?: string;
}

export interface ConsistencyProofReport extends ConsistencyProofJson {
  verified: boolean;
  anchored: boolean;
  checkedAgainst: { from: string; to: string };
  checkpoints: { from: string | null; to: string | null };
  failure?: string;
}

export function leafReader(store: EventStore): (from: number, to: number) => Promise<Buffer[]> {
  return async (from, to) => (await store.leafHashes(from, to)).map((h) => Buffer.from(h, 'hex'));
}

/** The tree size a proof is about: the one asked for (within the integrated tree), else the latest checkpoint's. */
export async function proofSize(store: EventStore, requested: number | undefined, field = '--size'): Promise<number> {
  const tree = await store.treeState();
  if (requested !== undefined) {
    if (requested > tree.size) throw new InputError(`size ${requested} is larger than the integrated tree (${tree.size} leaves)`, { field });
    return requested;
  }
  const latest = await latestCheckpoint(store);
  if (!latest) throw new InputError('no checkpoint yet: run "runledger checkpoint" or pass a size', { field });
  return latest.size;
}

/** The root of the first `size` leaves, from the stored leaf hashes. */
export async function rootAt(store: EventStore, size: number): Promise<Buffer> {
  const tree = await store.treeState();
  if (size === tree.size) return treeRoot(tree);
  const range = CompactRange.empty();
  for (let from = 0; from < size; from += 10_000) {
    for (const h of await store.leafHashes(from, Math.min(size, from + 10_000))) range.append(Buffer.from(h, 'hex'));
  }
  return range.root();
}

/** Why a proof does not verify, or null when it does. */
function proofFailure(check: () => void): string | null {
  try {
    check();
    return null;
  } catch (err) {
    if (err instanceof ProofError) return err.message;
    throw err;
  }
}

export interface InclusionRequest {
  index: number;
  /** Default: the latest checkpoint's size. */
  size?: number;
  verifierKeys: readonly string[];
  origin: string;
}

/** Inclusion of leaf `index` (RFC 9162 §2.1.3), from the leaf hash of the event's canonical bytes. */
export async function proveInclusion(store: EventStore, request: InclusionRequest): Promise<InclusionProofReport> {
  const { index } = request;
  const size = await proofSize(store, request.size);
  if (index >= size) throw new InputError(`--index ${index} is outside the tree of size ${size}`, { field: '--index' });
  const anchor = await signedCheckpointAt(store, size, request.verifierKeys, request.origin);
  const read = leafReader(store);
  const [event] = await store.readLog({ fromIndex: index, limit: 1 });
  if (event?.index !== index) throw new IntegrityError(`the store has no event at leaf index ${index} although its tree has ${size} leaves`, { index });
  // RFC 9162 §2.1.3.2 from the leaf hash of the event's canonical bytes, never the stored leaf hash alone.
  const leaf = leafHash(event.canonical);
  const [stored] = await read(index, index + 1);
  const path = await inclusionProofAsync(index, size, read);
  const root = anchor.root ?? (await rootAt(store, size));
  const json = inclusionProofJson(index, size, leaf, root, path);
  const failure = !stored!.equals(leaf)
    ? `the stored leaf hash ${stored!.toString('hex')} of leaf ${index} is not the hash of its canonical bytes (${leaf.toString('hex')})`
    : proofFailure(() => verifyProofJson(json));
  return { ...json, verified: failure === null, anchored: anchor.anchored, checkedAgainst: anchor.description, checkpoint: anchor.note, ...(failure ? { failure } : {}) };
}

export interface ConsistencyRequest {
  from: number;
  /** Default: the latest checkpoint's size. */
  to?: number;
  verifierKeys: readonly string[];
  origin: string;
}

/** Consistency of the tree of `from` leaves with the tree of `to` leaves (RFC 9162 §2.1.4). */
export async function proveConsistency(store: EventStore, request: ConsistencyRequest): Promise<{ report: ConsistencyProofReport; anchors: { from: ProofAnchor; to: ProofAnchor } }> {
  const to = await proofSize(store, request.to);
  const { from } = request;
  if (from > to) throw new InputError(`--from ${from} is larger than --to ${to}`, { field: '--from' });
  const fromAnchor = await signedCheckpointAt(store, from, request.verifierKeys, request.origin);
  const toAnchor = await signedCheckpointAt(store, to, request.verifierKeys, request.origin);
  const path = await consistencyProofAsync(from, to, leafReader(store));
  const json = consistencyProofJson(from, to, fromAnchor.root ?? (await rootAt(store, from)), toAnchor.root ?? (await rootAt(store, to)), path);
  const failure = proofFailure(() => verifyProofJson(json));
  const report: ConsistencyProofReport = {
    ...json,
    verified: failure === null,
    anchored: fromAnchor.anchored && toAnchor.anchored,
    checkedAgainst: { from: fromAnchor.description, to: toAnchor.description },
    checkpoints: { from: fromAnchor.note, to: toAnchor.note },
    ...(failure ? { failure } : {}),
  };
  return { report, anchors: { from: fromAnchor, to: toAnchor } };
}
