// The public front door (src/api/ledger.ts, exported as `runledger`): open by URL, append through the
// write rules, read and subscribe in store order, checkpoint, verify, prove — the same functions the
// CLI's verify and proof commands run.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, take, toArray } from 'rxjs';
import { InputError, openLedger, UnavailableError, type Ledger } from '../../src/index.js';

describe('openLedger (the public API)', function () {
  this.timeout(60_000);
  let dir: string;
  let ledger: Ledger;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runledger-api-'));
    ledger = await openLedger(`sqlite:${join(dir, 'ledger.db')}`, { home: dir, actor: 'alice', create: true });
  });
  after(async () => {
    await ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a missing embedded ledger unless asked to create it', async () => {
    await assert.rejects(openLedger(`sqlite:${join(dir, 'nope.db')}`, { home: dir }), (err: unknown) => err instanceof UnavailableError && /no ledger at .*nope\.db/.test(err.message));
  });

  it('appends, reads and subscribes in the order the store hands out, with the actor in metadata', async () => {
    await ledger.append('lab-1', [{ type: 'custom.a', data: { i: 0 } }, { type: 'custom.a', data: { i: 1 } }]);
    await ledger.append('lab-2', [{ type: 'custom.b', data: { i: 2 } }], { expectedRevision: 'no_stream' });
    const read = await ledger.read('lab-1');
    assert.deepEqual(read.map((e) => e.envelope.data.i), [0, 1]);
    assert.equal(read[0]!.envelope.metadata.actor, 'alice');
    const all = await ledger.readAll();
    assert.deepEqual(all.map((e) => e.envelope.data.i), [0, 1, 2]);
    const live = await firstValueFrom(ledger.subscribe({ after: -1, pollMs: 20 }).pipe(take(3), toArray()));
    assert.deepEqual(live.map((e) => e.envelope.stream), ['lab-1', 'lab-1', 'lab-2']);
  });

  it('refuses plan and stage events and a run stream without an approved plan (the write rules)', async () => {
    await assert.rejects(ledger.append('run-x', [{ type: 'custom.a', data: {} }]), (err: unknown) => err instanceof InputError && /rule approval-first/.test(err.message));
    await assert.rejects(ledger.append('run-x', [{ type: 'StageStarted', data: { runId: 'x', stageId: 'a', attempt: 1, inputs: {} } }]), InputError);
    assert.deepEqual(await ledger.read('run-x'), []);
  });

  it('checkpoints, verifies anchored, and proves inclusion and consistency against signed roots', async () => {
    const before = await ledger.verify();
    assert.equal(before.ok, true);
    assert.equal(before.anchored, false, 'nothing is signed yet');
    const first = await ledger.checkpoint();
    await ledger.append('lab-3', [{ type: 'custom.c', data: {} }]);
    const second = await ledger.checkpoint();
    const after = await ledger.verify();
    assert.deepEqual([after.ok, after.anchored, after.checkpoints], [true, true, 2]);
    const inclusion = await ledger.proveInclusion(1);
    assert.deepEqual([inclusion.verified, inclusion.anchored, inclusion.size], [true, true, second.checkpoint.size]);
    const consistency = await ledger.proveConsistency(first.checkpoint.size);
    assert.deepEqual([consistency.verified, consistency.anchored], [true, true]);
    assert.match(ledger.verifierKey(), /^[^+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/, 'the home key in signed-note vkey form');
  });
});
