// Integrate pending events and sign a checkpoint of the tree — only after proving the new tree
// extends the last checkpoint this key signed (RFC 9162 §2.1.4), as the signer state beside the key
// remembers it. The store's own checkpoint rows are never the reference: whoever can write the store
// can wipe or rewrite them, with the events, leaf hashes and tree row to match.
import { CompactRange } from '../integrity/compact-range.js';
import { formatCheckpoint, openCheckpoint, signCheckpoint } from '../integrity/checkpoint.js';
import { EMPTY_ROOT, leafHash } from '../integrity/hasher.js';
import { NoteError, signNote, type NoteSigner } from '../integrity/note.js';
import { consistencyProofAsync, ProofError, verifyConsistency } from '../integrity/proof.js';
import { InputError, IntegrityError } from '../errors.js';
import type { EventStore, StoredCheckpoint, TreeState } from '../store/port.js';
import { KeyHistoryError, loadKeyHistory } from '../replay/key-history.js';
import { PAGE_SIZE } from './read.js';
import { adoptSignerState, assertSignerCurrent, openSignedHead, readSignerState, recordSignerState, withSignerLock, type LedgerSigner, type SignedHead } from './signer-state.js';

export interface CheckpointOptions {
  /**
   * Only for a key whose signer state is missing: take this as the last checkpoint the key signed —
   * a signed note (text) the operator kept or published, or `'store'` for the store's latest
   * checkpoint. Either must verify with the key. Never implied.
   */
  adopt?: 'store' | { note: string; source: string };
  /**
   * Only for `keys rotate`: the successor key, which signs the new checkpoint too — the transition
   * checkpoint, one note with both keys' signature lines (docs/integrity.md, "Key rotation").
   */
  transition?: NoteSigner;
  /** Called after the signer state records a new note and before the store has it (tests stop here to simulate a crash). */
  onSigned?: () => void;
}

export interface CheckpointOutcome {
  checkpoint: StoredCheckpoint;
  /** False when the tree had not grown since the last signed checkpoint, which is returned instead. */
  created: boolean;
  /** The last checkpoint the key had signed before (from its signer state). */
  previous: { size: number; root: string; note: string };
  /** Set when `adopt` gave the signer its state. */
  adopted?: { size: number; root: string; from: string };
  /** True when the store lacked the key's last signed checkpoint (a crash after the state was written) and it was stored again. */
  restored: boolean;
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

const hex = (b: Buffer): string => b.toString('hex');

/**
 * Signs a checkpoint of the store's tree with `signer`, holding its state's lock. Order: the new
 * note is written to the signer state (fsynced) before it is stored, so no signature ever exists
 * that the state does not know; a crash in between is repaired by the next call, which stores the
 * remembered note. Refuses (IntegrityError) a tree that does not extend the remembered one.
 */
export async function createCheckpoint(store: EventStore, signer: LedgerSigner, origin: string, options: CheckpointOptions = {}): Promise<CheckpointOutcome> {
  return withSignerLock(signer, async () => {
    assertSignerCurrent(signer, options.transition !== undefined);
    const tree = await store.integrate();
    const root = treeRoot(tree);
    const latest = await latestCheckpoint(store);
    let adopted: CheckpointOutcome['adopted'];
    let head = readSignerState(signer);
    if (options.adopt !== undefined) {
      if (head) {
        throw new InputError(`--adopt is only for a key whose signer state is missing, but ${signer.statePath} records checkpoint ${head.size}: run "runledger checkpoint" without --adopt`, { field: '--adopt' });
      }
      head = adoptHead(signer, origin, options.adopt, latest);
      adoptSignerState(signer, head);
      adopted = { size: head.size, root: hex(head.root), from: options.adopt === 'store' ? 'the store\'s latest checkpoint' : options.adopt.source };
    }
    if (!head) {
      throw new InputError(
        `refusing to sign: signer state ${signer.statePath} is missing, so what this key signed before is unknown; if the store's latest checkpoint is the last one it signed, run "runledger checkpoint --adopt" (or --adopt FILE with the last checkpoint note you published)`,
        { file: signer.statePath, field: '--adopt' },
      );
    }
    const signed = `the last checkpoint this key signed (size ${head.size}, root ${hex(head.root)}, ${signer.statePath})`;
    if (head.origin !== origin) {
      throw new IntegrityError(`refusing to sign: ${signed} is for log origin "${head.origin}", not this store's "${origin}"`, { file: signer.statePath });
    }
    const current = `the store's tree (size ${tree.size}, root ${hex(root)})`;
    if (head.size > tree.size) {
      throw new IntegrityError(`refusing to sign: ${current} is smaller than ${signed}, so it does not extend it`, { file: signer.statePath });
    }
    if (head.size === tree.size && !head.root.equals(root)) {
      throw new IntegrityError(`refusing to sign: ${current} has the size of ${signed} but not its root`, { file: signer.statePath });
    }
    if (head.size < tree.size) {
      try {
        const proof = await consistencyProofAsync(head.size, tree.size, async (from, to) => (await store.leafHashes(from, to)).map((h) => Buffer.from(h, 'hex')));
        verifyConsistency(head.size, tree.size, head.root, root, proof);
      } catch (err) {
        if (!(err instanceof ProofError)) throw err;
        throw new IntegrityError(`refusing to sign: ${current} does not extend ${signed} (RFC 9162 consistency proof from the store's leaf hashes: ${err.message})`, { file: signer.statePath });
      }
    }
    checkStoreAgrees(latest, head, signed);
    await checkNewLeaves(store, head.size, tree.size);

    const previous = { size: head.size, root: hex(head.root), note: head.note };
    // A crash after the state was written but before the store was: store the remembered note now.
    const restored = latest === undefined ? head.size > 0 : latest.size < head.size;
    const remembered: StoredCheckpoint = { size: head.size, root: hex(head.root), note: head.note, createdAt: new Date().toISOString() };
    // (An empty ledger's first `checkpoint` stores the size-0 note a new key starts with.)
    if (restored || (latest === undefined && tree.size === 0)) await store.addCheckpoint(remembered);
    if (head.size === tree.size) {
      const checkpoint = latest === undefined || restored ? remembered : latest;
      return { checkpoint, created: false, previous, restored, ...(adopted ? { adopted } : {}) };
    }
    const note = options.transition ? signNote(formatCheckpoint(origin, tree.size, root), [signer.note, options.transition]) : signCheckpoint(origin, tree.size, root, signer.note);
    recordSignerState(signer, note);
    options.onSigned?.();
    const checkpoint: StoredCheckpoint = { size: tree.size, root: hex(root), note, createdAt: new Date().toISOString() };
    await store.addCheckpoint(checkpoint);
    return { checkpoint, created: true, previous, restored, ...(adopted ? { adopted } : {}) };
  });
}

/**
 * The store may hold fewer checkpoints than the key signed (a crash before storing), never a later
 * or different one: that means a stale state (restored from a backup) or a checkpoint row this key
 * did not write.
 */
function checkStoreAgrees(latest: StoredCheckpoint | undefined, head: SignedHead, signed: string): void {
  if (latest === undefined) return;
  if (latest.size > head.size) {
    throw new IntegrityError(
      `refusing to sign: the store's latest checkpoint has size ${latest.size} (root ${latest.root}), beyond ${signed}: the signer state is stale (restored from a backup?) or the store holds a checkpoint this key did not sign`,
    );
  }
  if (latest.size === head.size && latest.root !== hex(head.root)) {
    throw new IntegrityError(`refusing to sign: the store's latest checkpoint has size ${latest.size} but root ${latest.root}, not that of ${signed}`);
  }
}

/**
 * The leaves a new signature would add must be the hashes of events the store holds: recomputed
 * from each event's canonical bytes (RFC 9162 §2.1.1), never taken from the leaf hash column.
 */
async function checkNewLeaves(store: EventStore, from: number, to: number): Promise<void> {
  for (let next = from; next < to; ) {
    const page = await store.readLog({ fromIndex: next, limit: Math.min(PAGE_SIZE, to - next) });
    if (page.length === 0) throw new IntegrityError(`refusing to sign: the store's tree has ${to} leaves but no event at leaf index ${next}`, { index: next });
    for (const event of page) {
      if (event.index !== next) throw new IntegrityError(`refusing to sign: the store returned leaf index ${event.index} where ${next} was expected`, { index: next });
      const recomputed = hex(leafHash(event.canonical));
      if (recomputed !== event.leafHash) {
        throw new IntegrityError(
          `refusing to sign: leaf ${next} (event ${event.envelope.id}, stream "${event.envelope.stream}" revision ${event.envelope.revision}) has stored leaf hash ${event.leafHash}, but its canonical bytes hash to ${recomputed}`,
          { index: next, stream: event.envelope.stream, revision: event.envelope.revision, eventId: event.envelope.id },
        );
      }
      next++;
      if (next === to) break;
    }
  }
}

/** The head a key without state adopts: a note it verifiably signed, for this origin. */
function adoptHead(signer: LedgerSigner, origin: string, adopt: NonNullable<CheckpointOptions['adopt']>, latest: StoredCheckpoint | undefined): SignedHead {
  if (adopt === 'store' && latest === undefined) {
    // Nothing in the store was signed: the operator states the key signed nothing before.
    return { origin, size: 0, root: EMPTY_ROOT, note: signCheckpoint(origin, 0, EMPTY_ROOT, signer.note) };
  }
  const note = adopt === 'store' ? latest!.note : adopt.note;
  const what = adopt === 'store' ? `the store's latest checkpoint (size ${latest!.size})` : `the checkpoint note in ${adopt.source}`;
  let head: SignedHead;
  try {
    head = openSignedHead(signer, note);
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    throw new IntegrityError(`cannot adopt ${what}: it is not a checkpoint signed by this home's key (${err.message})`);
  }
  if (head.origin !== origin) throw new IntegrityError(`cannot adopt ${what}: it is for log origin "${head.origin}", not this store's "${origin}"`);
  if (adopt === 'store' && (head.size !== latest!.size || hex(head.root) !== latest!.root)) {
    throw new IntegrityError(`cannot adopt ${what}: its signed size and root differ from the stored size and root columns`);
  }
  return head;
}

/** The root a proof is checked against: a signed checkpoint, or the store's own (anchored: false). */
export interface ProofAnchor {
  anchored: boolean;
  size: number;
  /** The signed root when anchored; undefined otherwise (the caller recomputes the store's). */
  root?: Buffer;
  /** The signed note it was opened from; null for the empty tree and when not anchored. */
  note: string | null;
  /** One sentence: what the root is and who vouches for it. */
  description: string;
}

/**
 * The stored checkpoint of exactly `size` leaves, opened with the verifier keys. A stored checkpoint
 * of that size that does not open — another key, a forged or altered note, another origin, columns
 * that disagree with the note — is an IntegrityError; none at all is `anchored: false`, saying so.
 */
export async function signedCheckpointAt(store: EventStore, size: number, verifierKeys: readonly string[], origin: string): Promise<ProofAnchor> {
  if (size === 0) return { anchored: true, size, root: EMPTY_ROOT, note: null, description: 'the empty tree, whose root RFC 9162 fixes' };
  const all = await store.checkpoints();
  const stored = all.map((c, i) => ({ c, ordinal: i + 1 })).filter(({ c }) => c.size === size);
  if (stored.length === 0) {
    return { anchored: false, size, note: null, description: `no signed checkpoint has size ${size}: the root was recomputed from the store's leaf hashes and no key vouches for it` };
  }
  if (verifierKeys.length === 0) {
    return { anchored: false, size, note: null, description: `no verifier key (pass --key), so the signature of checkpoint ${stored[0]!.ordinal} (size ${size}) was not checked and the root was recomputed from the store's leaf hashes` };
  }
  // After a key rotation, only the key valid at this size may have signed it (src/replay/key-history.ts).
  let keys;
  try {
    keys = (await loadKeyHistory(store, verifierKeys, origin, all)).keysFor(size);
  } catch (err) {
    if (err instanceof KeyHistoryError) throw new IntegrityError(err.message);
    throw err;
  }
  let anchor: ProofAnchor | undefined;
  for (const { c, ordinal } of stored) {
    const label = `checkpoint ${ordinal} (size ${size})`;
    let opened;
    try {
      opened = openCheckpoint(c.note, keys);
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
      throw new IntegrityError(`${label} does not verify with the verifier key: ${err.message}`);
    }
    if (opened.origin !== origin) throw new IntegrityError(`${label} is for log origin "${opened.origin}", not this ledger's "${origin}"`);
    if (opened.size !== c.size || hex(opened.root) !== c.root) throw new IntegrityError(`${label}: the signed note (size ${opened.size}, root ${hex(opened.root)}) differs from the stored size and root columns`);
    if (anchor?.root !== undefined && !anchor.root.equals(opened.root)) throw new IntegrityError(`two signed checkpoints of size ${size} have different roots: the key signed a fork`);
    anchor = { anchored: true, size, root: opened.root, note: c.note, description: `signed ${label}, opened with the verifier key` };
  }
  return anchor!;
}
