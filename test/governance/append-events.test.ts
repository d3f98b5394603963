// `runledger append` and POST /api/events: the NDJSON input is validated once (checkAppendInput,
// prepareFrozenBatch) and the door and the store append exactly that batch — never a second copy
// prepared from the input, which the caller could still change after the check.
import assert from 'node:assert/strict';
import { appendInput, checkAppendInput } from '../../src/governance/append-events.js';
import { guardedAppend } from '../../src/governance/guarded-append.js';
import { parseAppendInput } from '../../src/ledger/append-input.js';
import { registry } from '../../events/index.js';
import type { RunClaimed } from '../../events/training.js';
import { runStreamEvents } from '../../bench/fixtures/projection-log.js';
import { signed } from '../../bench/fixtures/worker-key.js';
import { openTestLedger, type TestLedger } from './fixture.js';

const ndjson = (lines: readonly object[]): string => lines.map((line) => JSON.stringify(line)).join('\n');
const claim = (worker: string) => ({ stream: 'run-r', type: 'RunClaimed', data: signed<RunClaimed>('RunClaimed', { runId: 'r', worker, host: 'h' }) });

describe('governance/append-events: NDJSON input validated once', function () {
  this.timeout(30_000);
  let ledger: TestLedger;
  let validations: number;
  const validate = registry.validate;
  beforeEach(async () => {
    ledger = await openTestLedger();
    await guardedAppend(ledger.store, [{ stream: 'run-r', events: runStreamEvents({ runId: 'r' }).slice(0, 2) }], { allowGovernance: true });
    validations = 0;
    registry.validate = function (this: typeof registry, ...args: Parameters<typeof validate>) {
      validations += 1;
      return validate.apply(this, args);
    };
  });
  afterEach(async () => {
    registry.validate = validate;
    await ledger.close();
  });

  it('validates every event once, on run streams and others, and records the batch it checked', async () => {
    const input = parseAppendInput(ndjson([claim('w1'), { stream: 'lab-a', type: 'custom.note', data: { n: 1 } }, { stream: 'lab-a', type: 'custom.note', data: { n: 2 } }]), 'in.ndjson');
    const checked = checkAppendInput(input, 'in.ndjson', 'tester');
    assert.equal(validations, 3);
    // Changing the parsed input after the check changes nothing that is recorded.
    (input.requests[1]!.events[0]!.data as { n: number }).n = 99;
    const report = await appendInput(ledger.store, checked, 'in.ndjson');
    assert.equal(validations, 3, 'neither the door nor the store validated again');
    assert.equal(report.appended, 3);
    assert.deepEqual((await ledger.store.readStream('lab-a')).map((e) => e.envelope.data), [{ n: 1 }, { n: 2 }]);
    assert.deepEqual((await ledger.store.readStream('run-r', { fromRevision: 2 })).map((e) => [e.envelope.type, e.envelope.metadata.actor]), [['RunClaimed', 'tester']]);
  });

  it('validates once an input without run streams too (the door passes it straight to the store)', async () => {
    const input = parseAppendInput(ndjson([{ stream: 'lab-b', type: 'custom.note', data: { n: 1 } }, { stream: 'lab-c', type: 'custom.note', data: { n: 2 } }]), 'stdin');
    const checked = checkAppendInput(input, 'stdin', 'tester');
    input.requests[0]!.stream = 'lab-other';
    await appendInput(ledger.store, checked, 'stdin');
    assert.equal(validations, 2);
    assert.deepEqual((await ledger.store.readStream('lab-b')).map((e) => e.envelope.data), [{ n: 1 }]);
    assert.deepEqual(await ledger.store.readStream('lab-other'), []);
  });

  it('decides on the checked batch, not the input: moving a refused run event to another stream after the check still refuses it and writes nothing', async () => {
    await appendInput(ledger.store, checkAppendInput(parseAppendInput(ndjson([claim('w1')]), 'first'), 'first', 'tester'), 'first');
    const input = parseAppendInput(ndjson([claim('w2')]), 'second');
    const checked = checkAppendInput(input, 'second', 'tester');
    input.requests[0]!.stream = 'lab-escape';
    await assert.rejects(appendInput(ledger.store, checked, 'second'), /^InputError: second line 1: .*already has a RunClaimed event; nothing was recorded \(rule once\)$/);
    assert.deepEqual(await ledger.store.readStream('lab-escape'), []);
    assert.equal((await ledger.store.readStream('run-r')).length, 3);
  });
});
