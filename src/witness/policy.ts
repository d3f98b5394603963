// The auditor's witness policy: K of N witness keys must have cosigned the checkpoint that anchors
// what is verified (C2SP tlog-cosignature; the quorum clients check to rule out a split view).
import { InputError } from '../errors.js';
import { openCosignatures, parseCosignatureVerifier, type Cosignature } from '../integrity/cosignature.js';
import { hex8, NoteError } from '../integrity/note.js';

export interface WitnessPolicy {
  /** Witness verifier keys (type 0x04 vkeys), deduplicated. */
  keys: string[];
  threshold: number;
}

/** `--witness-key VKEY…` and `--witness-threshold K` (default: all of them); undefined without keys. */
export function witnessPolicy(keys: readonly string[] | undefined, threshold: number | undefined): WitnessPolicy | undefined {
  if (keys === undefined || keys.length === 0) {
    if (threshold !== undefined) throw new InputError('--witness-threshold needs --witness-key', { field: '--witness-threshold' });
    return undefined;
  }
  const unique = [...new Set(keys.map((k) => k.trim()))];
  for (const key of unique) {
    try {
      parseCosignatureVerifier(key);
    } catch (err) {
      throw new InputError(`--witness-key is not a witness verifier key (<name>+<key id>+<base64 of 0x04 and the key>): ${(err as Error).message}`, { field: '--witness-key' });
    }
  }
  const k = threshold ?? unique.length;
  if (!Number.isSafeInteger(k) || k < 1 || k > unique.length) {
    throw new InputError(`--witness-threshold ${threshold} must be between 1 and the number of distinct --witness-key values (${unique.length})`, { field: '--witness-threshold' });
  }
  return { keys: unique, threshold: k };
}

/** The stored copies of the checkpoint of `size` (one signed tree, each copy with the cosignatures collected then). */
export function checkpointCopies(checkpoints: readonly { size: number; note: string }[], size: number | null): { note: string; label: string }[] {
  return checkpoints.flatMap((c, i) => (c.size === size ? [{ note: c.note, label: `Checkpoint ${i + 1} (tree size ${c.size})` }] : []));
}

export interface WitnessVerdict {
  ok: boolean;
  threshold: number;
  witnesses: number;
  /** The checkpoint size the policy was checked at (null: no checkpoint). */
  size: number | null;
  cosignedBy: { name: string; keyId: string; timestamp: number }[];
  /** One sentence: what was met, or why not. */
  message: string;
}

/**
 * Checks the policy on the notes of one checkpoint (several stored copies of one signed tree, each
 * with the cosignatures collected so far): met when one copy carries cosignatures of `threshold`
 * distinct witness keys. A cosignature line of a given witness key that does not verify fails it.
 */
export function checkWitnessPolicy(copies: readonly { note: string; label: string }[], size: number | null, policy: WitnessPolicy): WitnessVerdict {
  const base = { threshold: policy.threshold, witnesses: policy.keys.length, size };
  if (copies.length === 0) return { ...base, ok: false, cosignedBy: [], message: 'No signed checkpoint, so no witness cosigned one.' };
  let best: Cosignature[] = [];
  for (const copy of copies) {
    let found: Cosignature[];
    try {
      found = openCosignatures(copy.note, policy.keys).cosignatures;
    } catch (err) {
      if (!(err instanceof NoteError)) throw err;
      return { ...base, ok: false, cosignedBy: [], message: `${copy.label}: ${err.message}.` };
    }
    if (found.length > best.length) best = found;
  }
  const cosignedBy = best.map((c) => ({ name: c.name, keyId: hex8(c.keyId), timestamp: c.timestamp }));
  const names = cosignedBy.map((c) => c.name).join(', ') || 'none';
  const ok = best.length >= policy.threshold;
  const at = `the checkpoint of size ${size}`;
  return {
    ...base,
    ok,
    cosignedBy,
    message: ok
      ? `${at} is cosigned by ${best.length} of ${policy.keys.length} trusted witnesses (${names}), threshold ${policy.threshold}.`
      : `${at} is cosigned by ${best.length} of ${policy.keys.length} trusted witnesses (${names}), fewer than the threshold ${policy.threshold}: run "runledger checkpoint --witness URL".`,
  };
}
