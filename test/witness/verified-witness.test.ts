// The witness policy of `runledger verify --witness-key` is a claim about the checkpoint that was
// verified. A writer who stores another checkpoint while the verification runs (a size the log
// never reached, signed by a key the verifier does not trust, but carrying a real witness's
// cosignature) must not turn "NOT WITNESSED" into "Witnessed".
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signCheckpoint } from '../../src/integrity/checkpoint.js';
import { cosignerKeyFromSeed, parseCosignerKey } from '../../src/integrity/cosignature.js';
import { generateNoteKey, parseNote, parseSignerKey } from '../../src/integrity/note.js';
import { verifyLedger } from '../../src/replay/ledger-verification.js';
import type { EventStore, StoredCheckpoint } from '../../src/store/port.js';
import { witnessPolicy } from '../../src/witness/policy.js';
import { eachTestLedger } from '../governance/fixture.js';

describe('verify --witness-key judges the checkpoints it verified', function () {
  this.timeout(60_000);
  const current = eachTestLedger();

  const witness = cosignerKeyFromSeed('witness.example/w1', Buffer.alloc(32, 9));
  const policy = witnessPolicy([witness.verifierKey], undefined)!;

  /** The store, whose checkpoint list gains `late` once the log's checks are done (the store is asked for pending events): a write racing the verification. */
  function racing(store: EventStore, late: StoredCheckpoint): { store: EventStore } {
    let checked = false;
    const proxy = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'unintegrated') checked = true;
        if (key === 'checkpoints') {
          return async () => {
            const stored = await target.checkpoints();
            if (!checked) return stored;
            return [...stored, late];
          };
        }
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { store: proxy };
  }

  it('fails the policy on the verified, uncosigned checkpoint although a cosigned one was stored meanwhile', async () => {
    const ledger = current();
    await ledger.store.append('s-a', Array.from({ length: 5 }, (_, i) => ({ type: 'custom.x', data: { i } })));
    await ledger.checkpoint();
    const [signed] = await ledger.store.checkpoints();
    // A checkpoint of size 8 over a made-up root, signed by the attacker's key of the same origin, with a genuine cosignature line.
    const forged = signCheckpoint(ledger.origin, 8, randomBytes(32), parseSignerKey(generateNoteKey(ledger.origin).signerKey));
    const note = `${forged}${parseCosignerKey(witness.signerKey).cosign(parseNote(forged).text, 1_700_000_000)}`;
    for (const workers of [1, 2]) {
      const { store } = racing(ledger.store, { ...signed!, size: 8, note });
      const report = await verifyLedger(store, { verifierKeys: [ledger.verifierKey], workers, parallelFrom: 0, witnesses: policy });
      assert.equal(report.ok, true, report.firstDivergence?.message);
      assert.equal(report.anchoredEvents, 5);
      assert.equal(report.witnesses?.size, 5, 'the policy was checked on the checkpoint verification checked');
      assert.equal(report.witnesses?.ok, false, `witnessed by a checkpoint stored after verification read the list: ${report.witnesses?.message}`);
      // The race is real: a second read of the list now has the forged, cosigned checkpoint at its end.
      assert.equal((await store.checkpoints()).at(-1)?.note, note);
    }
  });

  it('passes the policy when the verified checkpoint carries the cosignature', async () => {
    const ledger = current();
    await ledger.store.append('s-a', [{ type: 'custom.x', data: { i: 0 } }]);
    await ledger.checkpoint();
    const [signed] = await ledger.store.checkpoints();
    const cosigned = `${signed!.note}${parseCosignerKey(witness.signerKey).cosign(parseNote(signed!.note).text, 1_700_000_000)}`;
    const store = new Proxy(ledger.store, {
      get(target, key, receiver) {
        if (key === 'checkpoints') return async () => [{ ...signed!, note: cosigned }];
        const value = Reflect.get(target, key, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const report = await verifyLedger(store, { verifierKeys: [ledger.verifierKey], workers: 1, witnesses: policy });
    assert.equal(report.ok, true, report.firstDivergence?.message);
    assert.equal(report.witnesses?.ok, true, report.witnesses?.message);
    assert.deepEqual(report.witnesses?.cosignedBy.map((c) => c.name), ['witness.example/w1']);
  });
});
