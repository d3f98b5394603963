// Verification status for the dashboard: what the latest signed checkpoint vouches for. The
// signature is opened with the home's verifier key and a run counts as verified only when an
// RFC 9162 inclusion proof of its last event, recomputed from the event's stored bytes, reaches the
// signed root — the page never takes the store's word for it.
import { openCheckpoint, parseCheckpoint } from '../integrity/checkpoint.js';
import { leafHash, nodeHash } from '../integrity/hasher.js';
import { parseNote } from '../integrity/note.js';
import { inclusionRanges, ProofError, verifyInclusion } from '../integrity/proof.js';
import { hasSigningKey, loadVerifierKey } from '../ledger/keys.js';
import { runStream } from '../governance/recorder.js';
import type { EventStore, StoredCheckpoint } from '../store/port.js';
import type { VerificationRun, VerificationView } from './api-types.js';

interface CheckpointTrust {
  checkpoint: StoredCheckpoint;
  origin: string;
  signers: string[];
  signatureValid: boolean | null;
  /** Proof source for this checkpoint's tree, built on first use. */
  proofs?: Promise<TreeProofs>;
}

const LEAF_PAGE = 65_536;
/** Subtrees at most this wide are hashed directly instead of memoized (bounds the memo to ~2n/32 entries). */
const MEMO_MIN_WIDTH = 32;

/**
 * Inclusion proofs for many leaves of one tree. The stored leaf hashes are read once and subtree
 * roots follow the MTH recursion (RFC 9162 §2.1.1) with memoization, so proving the last event of
 * every run costs O(n) hashing in total instead of O(n) per run.
 */
class TreeProofs {
  private readonly memo = new Map<string, Buffer>();

  private constructor(
    private readonly leaves: Buffer[],
    readonly size: number,
  ) {}

  static async read(store: EventStore, size: number): Promise<TreeProofs> {
    const leaves: Buffer[] = [];
    for (let from = 0; from < size; from += LEAF_PAGE) {
      for (const hex of await store.leafHashes(from, Math.min(size, from + LEAF_PAGE))) leaves.push(Buffer.from(hex, 'hex'));
    }
    return new TreeProofs(leaves, size);
  }

  /** RFC 9162 §2.1.3.1 PATH(index, D[0:size]). A short leaf read yields a proof that fails against the signed root. */
  proof(index: number): Buffer[] {
    return inclusionRanges(index, this.size).map((r) => this.root(r.begin, r.end));
  }

  private root(begin: number, end: number): Buffer {
    if (end - begin === 1) return this.leaves[begin] ?? Buffer.alloc(32);
    const key = `${begin}:${end}`;
    const known = this.memo.get(key);
    if (known) return known;
    let k = 1;
    while (k * 2 < end - begin) k *= 2;
    const root = nodeHash(this.root(begin, begin + k), this.root(begin + k, end));
    if (end - begin > MEMO_MIN_WIDTH) this.memo.set(key, root);
    return root;
  }
}

/** Checks the latest checkpoint once per checkpoint and each run once per (checkpoint, run revision). */
export class VerificationCache {
  private trust: CheckpointTrust | null = null;
  private readonly byRun = new Map<string, { key: string; result: VerificationRun }>();

  constructor(
    private readonly store: EventStore,
    private readonly home: string,
  ) {}

  verifierKey(): string | null {
    return hasSigningKey(this.home) ? loadVerifierKey(this.home) : null;
  }

  private async latest(): Promise<{ count: number; trust: CheckpointTrust | null }> {
    const all = await this.store.checkpoints();
    const checkpoint = all[all.length - 1];
    if (!checkpoint) return { count: 0, trust: null };
    if (this.trust?.checkpoint.note !== checkpoint.note) this.trust = checkTrust(checkpoint, this.verifierKey());
    return { count: all.length, trust: this.trust };
  }

  /** The badges of runs; `revision` is each run stream's last revision (the cache key). */
  async runs(runs: { runId: string; revision: number }[]): Promise<VerificationRun[]> {
    const { trust } = await this.latest();
    const results: VerificationRun[] = [];
    for (const r of runs) results.push(await this.runWith(r.runId, r.revision, trust));
    return results;
  }

  private async runWith(runId: string, revision: number, trust: CheckpointTrust | null): Promise<VerificationRun> {
    const key = `${trust?.checkpoint.size ?? -1}:${trust?.checkpoint.root ?? ''}:${trust?.signatureValid}:${revision}`;
    const cached = this.byRun.get(runId);
    if (cached?.key === key) return cached.result;
    const result = await verifyRunInclusion(this.store, runId, trust);
    this.byRun.set(runId, { key, result });
    return result;
  }

  async view(runs: { runId: string; revision: number }[]): Promise<VerificationView> {
    const { count, trust } = await this.latest();
    const tree = await this.store.treeState();
    const results = await this.runs(runs);
    return {
      checkpoint: trust
        ? {
            size: trust.checkpoint.size,
            root: trust.checkpoint.root,
            origin: trust.origin,
            signers: trust.signers,
            signatureValid: trust.signatureValid,
            createdAt: trust.checkpoint.createdAt,
          }
        : null,
      checkpoints: count,
      treeSize: tree.size,
      verifierKey: this.verifierKey(),
      runs: results,
    };
  }
}

function checkTrust(checkpoint: StoredCheckpoint, verifierKey: string | null): CheckpointTrust {
  let origin = '';
  let signers: string[] = [];
  try {
    const parsed = parseNote(checkpoint.note);
    signers = parsed.signatures.map((s) => s.name);
    origin = parseCheckpoint(parsed.text).origin;
  } catch {
    return { checkpoint, origin, signers, signatureValid: false };
  }
  if (verifierKey === null) return { checkpoint, origin, signers, signatureValid: null };
  try {
    const opened = openCheckpoint(checkpoint.note, [verifierKey]);
    // The stored size and root columns must say what the signed note says.
    const same = opened.size === checkpoint.size && opened.root.toString('hex') === checkpoint.root;
    return { checkpoint, origin, signers, signatureValid: same };
  } catch {
    return { checkpoint, origin, signers, signatureValid: false };
  }
}

async function verifyRunInclusion(store: EventStore, runId: string, trust: CheckpointTrust | null): Promise<VerificationRun> {
  const events = await store.readStream(runStream(runId));
  const base = { runId, events: events.length, provenIndex: null };
  if (!trust) return { ...base, included: 0, badge: 'unsigned', detail: 'no signed checkpoint yet: run "runledger checkpoint"' };
  const size = trust.checkpoint.size;
  const included = events.filter((e) => e.index !== null && e.index < size);
  if (trust.signatureValid === false) {
    return { ...base, included: included.length, badge: 'failed', detail: `checkpoint of size ${size} does not verify with the home's verifier key` };
  }
  const last = included.reduce<(typeof included)[number] | undefined>((a, e) => (a === undefined || e.index! > a.index! ? e : a), undefined);
  if (!last) {
    return { ...base, included: 0, badge: events.length ? 'pending' : 'unsigned', detail: `none of the run's ${events.length} events is inside checkpoint ${size}` };
  }
  const index = last.index!;
  // A store that cannot be read is unavailable (503), not a failed verification: only the proof check is caught.
  trust.proofs ??= TreeProofs.read(store, size).catch((err: unknown) => {
    trust.proofs = undefined;
    throw err;
  });
  const proof = (await trust.proofs).proof(index);
  try {
    // RFC 9162 §2.1.3.2, from a leaf hash recomputed over the stored canonical bytes.
    verifyInclusion(index, size, leafHash(last.canonical), proof, Buffer.from(trust.checkpoint.root, 'hex'));
  } catch (err) {
    if (!(err instanceof ProofError)) throw err;
    return {
      ...base,
      included: included.length,
      provenIndex: index,
      badge: 'failed',
      detail: `inclusion proof of leaf ${index} (revision ${last.envelope.revision}) fails against checkpoint ${size}: ${(err as Error).message}`,
    };
  }
  const signed = trust.signatureValid === null ? ' (no verifier key in this home: signature not checked)' : '';
  if (included.length < events.length) {
    return {
      ...base,
      included: included.length,
      provenIndex: index,
      badge: 'pending',
      detail: `${events.length - included.length} of ${events.length} events came after checkpoint ${size}${signed}`,
    };
  }
  return { ...base, included: included.length, provenIndex: index, badge: trust.signatureValid ? 'verified' : 'pending', detail: `all ${events.length} events inside checkpoint ${size}; leaf ${index} proven${signed}` };
}
