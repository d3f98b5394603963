// A forger who can write the store (SQL, a modified binary) and waits for the operator's honest
// `runledger checkpoint`: the bundle of a run whose events were never checked by the recorder. It is
// packed the way `export` packs, but without `export`'s refusal of runs that do not verify.
import { encodeBundle } from '../../src/bundle/format.js';
import { canonicalBytes } from '../../src/integrity/canonical.js';
import { openCheckpoint } from '../../src/integrity/checkpoint.js';
import { inclusionProof } from '../../src/integrity/proof.js';
import { runStream } from '../../src/governance/recorder.js';
import { buildManifest, manifestBytes, MANIFEST_FORMAT, type ReplayManifest } from '../../src/replay/manifest.js';
import { verifyRun, type EventEvidence, type TrustedCheckpoint } from '../../src/replay/verify-run.js';
import { runledgerVersion } from '../../src/version.js';
import type { TestLedger } from '../governance/fixture.js';

const ZERO = '0'.repeat(64);

/** Packs a run's stored events under the latest checkpoint, whatever they say. */
export async function forgeBundle(ledger: TestLedger, runId: string): Promise<Buffer> {
  const events = await ledger.store.readStream(runStream(runId));
  const stored = (await ledger.store.checkpoints()).at(-1)!;
  const cp = openCheckpoint(stored.note, [ledger.verifierKey]);
  const trusted: TrustedCheckpoint = { origin: cp.origin, size: cp.size, root: cp.root, note: stored.note };
  const leaves = (await ledger.store.leafHashes(0, cp.size)).map((h) => Buffer.from(h, 'hex'));
  const evidence: EventEvidence[] = events.map((e) => ({ canonical: e.canonical, index: e.index, proof: inclusionProof(e.index!, cp.size, leaves) }));
  const run = verifyRun(runId, evidence, trusted);
  const dataOf = (type: string): unknown => events.find((e) => e.envelope.type === type)?.envelope.data ?? null;
  // When the run does not verify, the manifest is never reached: any well-formed one will do.
  const manifest: ReplayManifest = run.ok && run.governance && run.execution ? buildManifest(run, trusted, runledgerVersion()) : placeholderManifest(runId, trusted);
  return encodeBundle({
    manifest: manifestBytes(manifest),
    checkpoint: Buffer.from(stored.note, 'utf8'),
    plans: canonicalBytes({ governance: dataOf('GovernancePlanApproved'), execution: dataOf('ExecutionPlanRecorded') }),
    events: Buffer.concat(evidence.flatMap((e) => [e.canonical, Buffer.from('\n')])),
    proofs: canonicalBytes(evidence.map((e) => ({ index: e.index, proof: e.proof!.map((p) => p.toString('hex')) }))),
  });
}

function placeholderManifest(runId: string, cp: TrustedCheckpoint): ReplayManifest {
  return {
    format: MANIFEST_FORMAT,
    runId,
    stream: runStream(runId),
    status: 'planned',
    approver: null,
    plans: { governance: ZERO, execution: ZERO },
    seeds: { named: {}, training: null },
    training: null,
    environment: null,
    eventCount: 0,
    streamHead: { revision: 0, leafHash: ZERO },
    checkpoint: { origin: cp.origin, size: cp.size, root: cp.root.toString('hex'), note: cp.note },
    projections: { runState: ZERO, runSummary: ZERO },
    runledgerVersion: runledgerVersion(),
  };
}
