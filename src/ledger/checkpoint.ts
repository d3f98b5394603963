// Integrate pending events and sign a checkpoint of the tree — only after proving the new tree
// extends the last signed one (RFC 9162 §2.1.4), so a signer never endorses a fork.
import { CompactRange } from '../integrity/compact-range.js';
import { signCheckpoint } from '../integrity/checkpoint.js';
import { consistencyProofAsync, verifyConsistency } from '../integrity/proof.js';
import type { NoteSigner } from '../integrity/note.js';
import { IntegrityError } from '../errors.js';
import type { EventStore, StoredCheckpoint, TreeState } from '../store/port.js';

export interface CheckpointOutcome {
  checkpoint: StoredCheckpoint;
  /** False when the tree had not grown since the last checkpoint, which is returned instead. */
  created: boolean;
  previous?: StoredCheckpoint;
}

export function treeRoot(state: TreeState): Buffer {
  return CompactRange.fromState(
    state.size,
    state.range.map((h) => Buffer.from(h, 'hex')),
  ).root();
}

export async function latestCheckpoint(store: EventStore): Promise<StoredCheckpoint | undefined> {
  const all = await store.checkpoints();
  return all[all.length - 1];
}

export async function createCheckpoint(store: EventStore, signer: NoteSigner, origin: string): Promise<CheckpointOutcome> {
  const state = await store.integrate();
  const root = treeRoot(state);
  const previous = await latestCheckpoint(store);
  if (previous) {
    if (previous.size > state.size) {
      throw new IntegrityError(`refusing to sign: the tree has ${state.size} leaves but checkpoint ${previous.size} was already signed`);
    }
    if (previous.size === state.size) {
      if (previous.root !== root.toString('hex')) {
        throw new IntegrityError(`refusing to sign: the tree of size ${state.size} has root ${root.toString('hex')}, but the signed checkpoint of that size has ${previous.root}`);
      }
      return { checkpoint: previous, created: false, previous };
    }
    if (previous.size > 0) {
      const proof = await consistencyProofAsync(previous.size, state.size, async (from, to) =>
        (await store.leafHashes(from, to)).map((h) => Buffer.from(h, 'hex')),
      );
      try {
        verifyConsistency(previous.size, state.size, Buffer.from(previous.root, 'hex'), root, proof);
      } catch (err) {
        throw new IntegrityError(
          `refusing to sign: the tree of size ${state.size} is not consistent with the signed checkpoint of size ${previous.size} (${(err as Error).message})`,
        );
      }
    }
  }
  const checkpoint: StoredCheckpoint = {
    size: state.size,
    root: root.toString('hex'),
    note: signCheckpoint(origin, state.size, root, signer),
    createdAt: new Date().toISOString(),
  };
  await store.addCheckpoint(checkpoint);
  return { checkpoint, created: true, ...(previous ? { previous } : {}) };
}
