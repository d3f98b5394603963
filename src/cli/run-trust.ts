// What the commands that judge runs by their evidence (retrain, compare, gate, budgets) trust: the
// verifier keys given (or the home's), and — when this home holds the ledger's signing key — signing
// a checkpoint first if the runs' latest events are not covered by one yet.
import { InputError } from '../errors.js';
import { createCheckpoint } from '../ledger/checkpoint.js';
import { hasSigningKey, loadVerifierKey } from '../ledger/keys.js';
import { loadLedgerSigner } from '../ledger/signer-state.js';
import { requireOrigin } from '../ledger/origin.js';
import type { RunTrust } from '../replay/replay.js';
import type { EventStore } from '../store/port.js';

export async function runTrust(home: string, store: EventStore, keys?: readonly string[]): Promise<RunTrust> {
  const signing = hasSigningKey(home);
  const verifierKeys = keys && keys.length > 0 ? [...keys] : signing ? [loadVerifierKey(home)] : [];
  if (verifierKeys.length === 0) throw new InputError(`no verifier key: pass --key <vkey> (the signer's "runledger keys show"), or use the signing home`, { field: '--key' });
  if (!signing) return { verifierKeys };
  const signer = loadLedgerSigner(home);
  const origin = await requireOrigin(store);
  return { verifierKeys, signCheckpoint: () => createCheckpoint(store, signer, origin) };
}
