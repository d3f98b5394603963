// The door's knowledge of its own process's signatures (src/integrity/worker-signature.ts
// `signedHere`): a signature the trainer's recording signer made for exactly the message the door
// re-derives from the event is accepted without a second Ed25519 verification; everything else —
// whatever reaches the door from outside (CLI append, HTTP, Kafka, another process), and an
// in-process event altered after signing — is verified in full and refused with the same sentence.
import assert from 'node:assert/strict';
import type { ProposedEvent } from '../../events/envelope.js';
import { registry } from '../../events/index.js';
import type { CheckpointWritten } from '../../events/training.js';
import { evolveRules, initialRuleState, ruleViolation, type RuleState, type RuleViolation } from '../../src/governance/write-rules.js';
import { ALG_ED25519, parseEd25519SignerKey } from '../../src/integrity/note.js';
import { acceptWorkerSignature, recordingSigner, signedInProcess, verifyWorkerSignature, workerEventMessage } from '../../src/integrity/worker-signature.js';
import { signEvent } from '../../src/ledger/worker-keys.js';
import { metrics, runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { fixtureWorker, strangerWorker } from '../../bench/fixtures/worker-key.js';

const ruled = (e: ProposedEvent): { type: string; schemaVersion: number; data: Record<string, unknown> } => ({ type: e.type, schemaVersion: e.schemaVersion ?? registry.latestVersion(e.type) ?? 1, data: e.data });
const DOOR = { signatureValid: acceptWorkerSignature };

const run = runStreamEvents({ runId: 'r', metrics: metrics(0.9) });
/** The run while its training session is open (before TrainingCompleted). */
const running = run.slice(0, run.findIndex((e) => e.type === 'TrainingCompleted'));
function fold(events: readonly ProposedEvent[]): RuleState {
  let state = initialRuleState('r');
  events.forEach((e, revision) => {
    assert.equal(ruleViolation(state, ruled(e)), null, `event ${revision} (${e.type}) was refused`);
    state = evolveRules(state, { type: e.type, data: e.data, revision });
  });
  return state;
}
const state = fold(running);

/** The fixtures' trusted worker key as the trainer holds it: a recording signer of the same private key. */
const inProcess = recordingSigner(parseEd25519SignerKey(fixtureWorker.signerKey, ALG_ED25519).privateKey);
const checkpointData = (over: Partial<CheckpointWritten> = {}): Omit<CheckpointWritten, 'publicKey' | 'signature'> => ({
  runId: 'r', stageId: 'train', epoch: 3, step: 30, digest: 'c'.repeat(64), bytes: 10, metrics: metrics(0.95), ...over,
});
const checkpoint = (data: Record<string, unknown>): ProposedEvent => ({ type: 'CheckpointWritten', data });

/** The door's verdict, asserted to be the full verification's verdict word for word. */
function doorVerdict(event: ProposedEvent): RuleViolation | null {
  const door = ruleViolation(state, ruled(event), DOOR);
  assert.deepEqual(door, ruleViolation(state, ruled(event)), 'the door and the full verification disagree');
  return door;
}

describe('the door and the signatures its own process made', () => {
  it('remembers exactly the (key, message, signature) a recording signer made, and nothing else', () => {
    const data = signEvent<CheckpointWritten>(inProcess, 'CheckpointWritten', checkpointData({ step: 31 }));
    const message = workerEventMessage('CheckpointWritten', data);
    assert.ok(signedInProcess(data.publicKey, message, data.signature));
    // The same valid signature made elsewhere (another process, another signer object) is not remembered: verified in full.
    const outside = signEvent<CheckpointWritten>(fixtureWorker.signer, 'CheckpointWritten', checkpointData({ step: 32 }));
    const outsideMessage = workerEventMessage('CheckpointWritten', outside);
    assert.equal(signedInProcess(outside.publicKey, outsideMessage, outside.signature), false);
    assert.ok(acceptWorkerSignature(outside.publicKey, outsideMessage, outside.signature));
    // Any one part of the triple changed: not remembered.
    assert.equal(signedInProcess(strangerWorker.publicKey, message, data.signature), false);
    assert.equal(signedInProcess(data.publicKey, workerEventMessage('CheckpointWritten', { ...data, bytes: 11 }), data.signature), false);
    assert.equal(signedInProcess(data.publicKey, message, outside.signature), false);
  });

  it('accepts an event its own recording signer signed, and one signed outside it (verified in full)', () => {
    assert.equal(doorVerdict(checkpoint(signEvent<CheckpointWritten>(inProcess, 'CheckpointWritten', checkpointData()))), null);
    assert.equal(doorVerdict(checkpoint(signEvent<CheckpointWritten>(fixtureWorker.signer, 'CheckpointWritten', checkpointData()))), null);
  });

  it('refuses an in-process event altered after signing, with the same sentence as the full verification (worker-signature)', () => {
    const data = signEvent<CheckpointWritten>(inProcess, 'CheckpointWritten', checkpointData({ step: 40 }));
    const altered = doorVerdict(checkpoint({ ...data, metrics: { ...data.metrics, testAccuracy: 1 } }));
    assert.equal(altered?.rule, 'worker-signature');
    assert.match(altered!.message, /^CheckpointWritten has a signature that does not verify under worker key /);
  });

  it('refuses an in-process signature moved onto other data, and onto another type (worker-signature)', () => {
    const a = signEvent<CheckpointWritten>(inProcess, 'CheckpointWritten', checkpointData({ step: 50 }));
    const b = signEvent<CheckpointWritten>(inProcess, 'CheckpointWritten', checkpointData({ step: 60 }));
    assert.equal(doorVerdict(checkpoint({ ...b, signature: a.signature }))?.rule, 'worker-signature');
    const telemetry = run.find((e) => e.type === 'TelemetrySample')!;
    assert.equal(doorVerdict({ ...telemetry, data: { ...telemetry.data, step: 70, signature: a.signature } })?.rule, 'worker-signature');
  });

  it('refuses a forged signature, a signature by an untrusted key and an altered key claim from outside, as before', () => {
    const data = signEvent<CheckpointWritten>(inProcess, 'CheckpointWritten', checkpointData({ step: 80 }));
    assert.equal(doorVerdict(checkpoint({ ...data, signature: 'AAAA' }))?.rule, 'worker-signature');
    assert.equal(doorVerdict(checkpoint({ ...data, signature: Buffer.alloc(64).toString('base64') }))?.rule, 'worker-signature');
    const stranger = doorVerdict(checkpoint(signEvent<CheckpointWritten>(strangerWorker.signer, 'CheckpointWritten', checkpointData())));
    assert.match(stranger!.message, /does not trust/);
    assert.match(doorVerdict(checkpoint({ ...data, publicKey: strangerWorker.publicKey }))!.message, /does not trust/);
  });

  it('the full verification (every verifier\'s default) still verifies an in-process signature', () => {
    const data = signEvent<CheckpointWritten>(inProcess, 'CheckpointWritten', checkpointData({ step: 90 }));
    assert.ok(verifyWorkerSignature(data.publicKey, workerEventMessage('CheckpointWritten', data), data.signature));
  });
});
