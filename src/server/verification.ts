// Verification status for the dashboard. A run's badge is the run replay itself (`replayRun`, the
// checks of `runledger replay RUN`) against the latest signed checkpoint, opened with the home's
// verifier key: "verified" only when every check passes, "failed" with the first divergence
// otherwise. Results are cached per (checkpoint, verifier key, run revision), and the inclusion
// proofs of all runs under one checkpoint share one proof source (src/replay/tree-proofs.ts).
import { InputError } from '../errors.js';
import { openCheckpoint, parseCheckpoint } from '../integrity/checkpoint.js';
import { parseNote } from '../integrity/note.js';
import { hasSigningKey, loadVerifierKey } from '../ledger/keys.js';
import { checkLoggedEvents, replayRun, type ReplayResult } from '../replay/replay.js';
import { TreeProofs } from '../replay/tree-proofs.js';
import type { EventStore, StoredCheckpoint } from '../store/port.js';
import type { VerificationRun, VerificationView } from './api-types.js';

interface CheckpointTrust {
  checkpoint: StoredCheckpoint;
  origin: string;
  signers: string[];
  signatureValid: boolean | null;
}

/** Checks the latest checkpoint once per checkpoint and replays each run once per (checkpoint, key, run revision). */
export class VerificationCache {
  private trust: CheckpointTrust | null = null;
  private readonly byRun = new Map<string, { key: string; result: VerificationRun }>();
  /** The proof source of the latest checkpoint's tree, shared by every run's replay. */
  private proofs: { size: number; root: string; source: Promise<TreeProofs> } | null = null;

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

  /** The badges of runs; `revision` is each run stream's last revision (part of the cache key). */
  async runs(runs: { runId: string; revision: number }[]): Promise<VerificationRun[]> {
    const { trust } = await this.latest();
    const vkey = this.verifierKey();
    const results: VerificationRun[] = [];
    for (const r of runs) {
      const key = `${trust?.checkpoint.note ?? ''}\n${vkey ?? ''}\n${r.revision}`;
      const cached = this.byRun.get(r.runId);
      if (cached?.key === key) {
        results.push(cached.result);
        continue;
      }
      const result = await this.verify(r.runId, r.revision + 1, trust, vkey);
      this.byRun.set(r.runId, { key, result });
      results.push(result);
    }
    return results;
  }

  private async verify(runId: string, events: number, trust: CheckpointTrust | null, vkey: string | null): Promise<VerificationRun> {
    const base = { runId, events, included: 0, verifiedEvents: 0, divergence: null };
    if (!trust) return { ...base, badge: 'unsigned', detail: 'no signed checkpoint yet: run "runledger checkpoint"' };
    if (vkey === null) return { ...base, badge: 'unsigned', detail: `no verifier key in ${this.home}: the checkpoint signature, and so the run, cannot be checked` };
    let result: ReplayResult;
    try {
      // `events` comes from the projection of the log's bytes; the replay reads the stream by the store's index.
      result = checkLoggedEvents(await replayRun(this.store, runId, { verifierKeys: [vkey], checkTail: false, proofs: (size) => this.proofSource(size, trust.checkpoint.root) }), events);
    } catch (err) {
      // A run the replay refuses to read (no events, an invalid id) is not verified; an unavailable store stays a 503.
      if (!(err instanceof InputError)) throw err;
      return { ...base, badge: 'failed', divergence: { check: 'run', message: err.message }, detail: err.message };
    }
    return badgeOf(result, events);
  }

  private proofSource(size: number, root: string): Promise<TreeProofs> {
    if (this.proofs?.size !== size || this.proofs.root !== root) {
      const source = TreeProofs.read(this.store, size);
      this.proofs = { size, root, source };
      // A failed read is not cached: the next request tries again.
      source.catch(() => {
        if (this.proofs?.source === source) this.proofs = null;
      });
    }
    return this.proofs.source;
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

/**
 * The badge a replay earns. Events after the checkpoint make a run `pending` — the replay stopped at
 * the first event the checkpoint does not cover, every event before it passed — never `verified`.
 */
export function badgeOf(result: ReplayResult, events: number): VerificationRun {
  const size = result.checkpoint?.size ?? 0;
  const included = result.evidence.filter((e) => e.index !== null && e.index < size).length;
  const base = { runId: result.runId, events, included };
  if (result.ok) {
    const seen = result.verification!.events;
    return { ...base, verifiedEvents: seen, badge: 'verified', divergence: null, detail: `replay passed: all ${seen} events verified against signed checkpoint ${size}` };
  }
  const d = result.firstDivergence!;
  const divergence = { check: d.check, message: d.message, ...(d.revision !== undefined ? { revision: d.revision } : {}) };
  const first = d.revision !== undefined ? result.evidence[d.revision] : undefined;
  if (d.check === 'inclusion' && first !== undefined && (first.index === null || first.index >= size)) {
    const r = d.revision!;
    return {
      ...base,
      verifiedEvents: r,
      badge: 'pending',
      divergence,
      detail: `${r === 0 ? 'no event' : `revisions 0–${r - 1}`} verified against signed checkpoint ${size}; ${events - r} later events are not inside a signed checkpoint yet`,
    };
  }
  return { ...base, verifiedEvents: d.revision ?? 0, badge: 'failed', divergence, detail: `${d.check}: ${d.message}` };
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
