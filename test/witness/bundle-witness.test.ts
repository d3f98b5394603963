// verify-bundle's witness policy: the bundle's checkpoint note carries the cosignatures collected
// before export, and K of N of the given witness keys must be among them.
import assert from 'node:assert/strict';
import { exportBundle, verifyBundle } from '../../src/bundle/bundle.js';
import { cosignerKeyFromSeed, parseCosignerKey } from '../../src/integrity/cosignature.js';
import { latestCheckpoint } from '../../src/ledger/checkpoint.js';
import { witnessPolicy } from '../../src/witness/policy.js';
import { formatAddCheckpoint, Witness, type WitnessedHead } from '../../src/witness/witness.js';
import { completedRun, openTestLedger } from '../governance/fixture.js';

describe('witness: verify-bundle --witness-key', function () {
  this.timeout(60_000);

  it('passes when K of N witnesses cosigned the bundle checkpoint, and says who is missing otherwise', async () => {
    const ledger = await openTestLedger();
    try {
      await completedRun(ledger.store, 'r1');
      await ledger.checkpoint();
      const w1 = cosignerKeyFromSeed('witness.example/one', Buffer.alloc(32, 4));
      const w2 = cosignerKeyFromSeed('witness.example/two', Buffer.alloc(32, 5));
      const heads = new Map<string, WitnessedHead>();
      const witness = new Witness({ cosigner: parseCosignerKey(w1.signerKey), logs: new Map([[ledger.origin, [ledger.verifierKey]]]), state: { read: (o) => heads.get(o), write: (h) => void heads.set(h.origin, h) } });
      const latest = (await latestCheckpoint(ledger.store))!;
      const res = await witness.addCheckpoint(formatAddCheckpoint(0, [], latest.note));
      assert.equal(res.status, 200, res.body);
      await ledger.store.addCheckpoint({ ...latest, note: `${latest.note}${res.body}` });
      const { bundle } = await exportBundle(ledger.store, 'r1', [ledger.verifierKey]);

      const one = verifyBundle(bundle, [ledger.verifierKey], { witnesses: witnessPolicy([w1.verifierKey], undefined)! });
      assert.equal(one.ok, true, one.firstDivergence?.message);
      assert.deepEqual(one.witnesses?.cosignedBy.map((c) => c.name), ['witness.example/one']);
      const either = verifyBundle(bundle, [ledger.verifierKey], { witnesses: witnessPolicy([w1.verifierKey, w2.verifierKey], 1)! });
      assert.equal(either.ok, true);
      const both = verifyBundle(bundle, [ledger.verifierKey], { witnesses: witnessPolicy([w1.verifierKey, w2.verifierKey], undefined)! });
      assert.equal(both.ok, false);
      assert.equal(both.firstDivergence?.section, 'checkpoint');
      assert.match(both.firstDivergence!.message, /cosigned by 1 of 2 trusted witnesses \(witness\.example\/one\), fewer than the threshold 2/);
      // Without a policy the cosignature is an ignored line: the bundle verifies as before.
      assert.equal(verifyBundle(bundle, [ledger.verifierKey]).ok, true);
      assert.throws(() => witnessPolicy([ledger.verifierKey], undefined), /is not a witness verifier key .*only Ed25519 cosignature\/v1 \(0x04\)/);
    } finally {
      await ledger.close();
    }
  });
});
