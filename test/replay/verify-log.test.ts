import assert from 'node:assert/strict';
import { InputError, IntegrityError } from '../../src/errors.js';
import { rootOfLeaves } from '../../src/integrity/compact-range.js';
import { leafHash } from '../../src/integrity/hasher.js';
import { noteKeyFromSeed, parseSignerKey } from '../../src/integrity/note.js';
import { assertLogVerified, verifyLog, verifyLogSync } from '../../src/replay/verify-log.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { ENVELOPE_CHANGES, HOSTILE_DATA, ORIGIN, PLAN, buildLog, checkpointAt, eventId, nested, options, reseal, withBytes, withStoredData } from './verify-log-fixtures.js';

describe('verifyLog', () => {
  it('accepts an untampered log and reports its size, streams, checkpoints and recomputed root', () => {
    const events = buildLog();
    const report = verifyLogSync(events, options());
    assert.deepEqual(report, {
      ok: true,
      events: 10,
      streams: 3,
      checkpoints: 3,
      treeSize: 10,
      root: rootOfLeaves(events.map((e) => leafHash(e.canonical))).toString('hex'),
    });
    assertLogVerified(report);
  });

  it('accepts an async stream of events and reports progress up to the last event', async () => {
    const events = buildLog();
    async function* stream(): AsyncGenerator<RecordedEvent> {
      for (const event of events) yield event;
    }
    const progress: number[] = [];
    const report = await verifyLog(stream(), options({ onProgress: (n) => progress.push(n), progressEvery: 4 }));
    assert.equal(report.ok, true);
    assert.deepEqual(progress, [4, 8, 10]);
  });

  it('accepts a log without checkpoints and an empty log with a size-0 checkpoint', () => {
    const events = buildLog();
    assert.equal(verifyLogSync(events, options({ checkpoints: [] })).ok, true);
    const empty = verifyLogSync([], options({ checkpoints: [checkpointAt([], 0)] }));
    assert.deepEqual([empty.ok, empty.checkpoints, empty.root], [true, 1, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']);
  });

  it('accepts a repeated checkpoint of the same size', () => {
    const events = buildLog();
    const checkpoints = [checkpointAt(events, 3), checkpointAt(events, 3), checkpointAt(events, 10)];
    assert.equal(verifyLogSync(events, options({ checkpoints })).checkpoints, 3);
  });

  it('refuses to start without a verifier key or with a malformed one', () => {
    assert.throws(() => verifyLogSync([], options({ verifierKeys: [] })), InputError);
    assert.throws(() => verifyLogSync([], options({ verifierKeys: ['not a key'] })), InputError);
  });

  describe('pinpoints the first divergent event', () => {
    it('names a byte changed inside the canonical bytes as a mismatch with the returned envelope', () => {
      const events = buildLog();
      withBytes(events, 4, events[4]!.canonical.toString('utf8').replace('"actor":"tester"', '"actor":"mallory"'));
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.stream, d.revision, d.eventId], ['envelope', 4, 'run-b', 1, eventId(4)]);
      assert.match(d.message, /^Leaf 4 \(event 00000000-0000-4000-8000-000000000004, stream "run-b" revision 1\)/);
    });

    it('names bytes and envelope changed together as a leaf hash mismatch, with both hashes', () => {
      const events = buildLog();
      const original = events[5]!.leafHash;
      reseal(events, 5, (e) => void (e.data.loss = 0));
      events[5] = { ...events[5]!, leafHash: original };
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.actual], ['leafHash', 5, original]);
      assert.equal(d.expected, leafHash(events[5]!.canonical).toString('hex'));
    });

    it('names a recorded leaf hash that was altered on its own', () => {
      const events = buildLog();
      events[2] = { ...events[2]!, leafHash: '0'.repeat(64) };
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.actual], ['leafHash', 2, '0'.repeat(64)]);
    });

    it('catches an event rewritten with a matching leaf hash at the next event of its stream', () => {
      const events = buildLog();
      reseal(events, 5, (e) => void (e.data.step = 99));
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.stream, d.revision], ['chain', 6, 'run-a', 3]);
      assert.match(d.message, /prevHash .* is not the recomputed leaf hash .* of revision 2/);
    });

    it('catches the rewritten last event of a stream at the next checkpoint root', () => {
      const events = buildLog();
      reseal(events, 9, (e) => void (e.data.step = 99));
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.checkpoint, d.index], ['root', 3, 10]);
      assert.match(d.message, /^Checkpoint 3 signs root .* for tree size 10, but the events recompute to /);
    });

    it('rejects bytes that are not JSON', () => {
      const events = buildLog();
      withBytes(events, 1, events[1]!.canonical.toString('utf8').slice(0, -1));
      assert.equal(verifyLogSync(events, options()).firstDivergence?.check, 'bytes');
    });

    it('rejects JSON that is not in RFC 8785 canonical form', () => {
      const events = buildLog();
      withBytes(events, 1, JSON.stringify(events[1]!.envelope, null, 1));
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index], ['bytes', 1]);
      assert.match(d.message, /not in RFC 8785 canonical form/);
    });

    it('rejects bytes that are not valid UTF-8 even where they decode to the same text', () => {
      const events = buildLog();
      const bytes = Buffer.from(events[3]!.canonical);
      bytes[bytes.indexOf('tester')] = 0xff;
      events[3] = { ...events[3]!, canonical: bytes };
      assert.equal(verifyLogSync(events, options()).firstDivergence?.check, 'bytes');
    });

    for (const [name, text, reason] of HOSTILE_DATA) {
      it(`names the event whose stored data holds ${name} (a bytes divergence, never an exception)`, () => {
        const events = buildLog();
        withStoredData(events, 5, text);
        const d = verifyLogSync(events, options()).firstDivergence!;
        assert.deepEqual([d.check, d.index, d.eventId], ['bytes', 5, eventId(5)]);
        assert.match(d.message, /^Leaf 5 \(event 00000000-0000-4000-8000-000000000005, stream "run-a" revision 2\): stored bytes are not in RFC 8785 canonical form \(/);
        assert.match(d.message, reason);
      });
    }

    it('names the event whose stored data has a member named __proto__ (which writers refuse)', () => {
      const events = buildLog();
      withStoredData(events, 5, '{"a":{"__proto__":{"polluted":true}},"s":"\\"__proto__\\":"}');
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.eventId], ['schema', 5, eventId(5)]);
      assert.match(d.message, /member named "__proto__" at data\.a\.__proto__, which no runledger writer records/);
      const quoted = buildLog();
      withStoredData(quoted, 9, '{"s":"\\"__proto__\\":"}');
      assert.equal(verifyLogSync(quoted, options()).firstDivergence?.check, 'root', 'a string that only looks like the member passes the content checks');
    });

    it('accepts stored data nested exactly as deep as the limit', () => {
      const events = buildLog();
      withStoredData(events, 9, `{"a":${nested(63)}}`);
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.equal(d.check, 'root', 'the bytes pass; only the signed root no longer matches the rewritten event');
    });

    it('rejects canonical bytes whose envelope breaks the Envelope schema', () => {
      const events = buildLog();
      reseal(events, 6, (e) => void ((e as Record<string, unknown>).extra = true));
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index], ['schema', 6]);
    });

    it('rejects a skipped revision', () => {
      const events = buildLog();
      reseal(events, 5, (e) => void (e.revision = 3));
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.expected, d.actual], ['chain', 5, '2', '3']);
    });

    it('rejects a first event that claims a predecessor', () => {
      const events = buildLog();
      reseal(events, 3, (e) => void (e.prevHash = events[0]!.leafHash));
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.stream, d.expected], ['chain', 3, 'run-c', 'null']);
    });

    it('rejects a gap in the leaf indices', () => {
      const events = buildLog();
      events.splice(4, 1);
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.actual], ['index', 4, '5']);
    });

    it('rejects two events delivered out of leaf order', () => {
      const events = buildLog();
      [events[6], events[7]] = [events[7]!, events[6]!];
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.actual], ['index', 6, '7']);
    });

    it('rejects two events swapped with their indices renumbered', () => {
      const events = buildLog();
      [events[1], events[4]] = [{ ...events[4]!, index: 1 }, { ...events[1]!, index: 4 }];
      const d = verifyLogSync(events, options()).firstDivergence!;
      assert.deepEqual([d.check, d.index, d.stream], ['chain', 1, 'run-b']);
    });

    it('reports the earliest of two divergences and stops there', () => {
      const events = buildLog();
      events[8] = { ...events[8]!, leafHash: 'f'.repeat(64) };
      events[3] = { ...events[3]!, leafHash: 'e'.repeat(64) };
      const progress: number[] = [];
      const report = verifyLogSync(events, options({ onProgress: (n) => progress.push(n), progressEvery: 1 }));
      assert.deepEqual([report.ok, report.firstDivergence?.index, report.events, report.checkpoints], [false, 3, 3, 1]);
      assert.deepEqual(progress, [1, 2, 3, 3]);
    });
  });

  describe('detects a change to any envelope field', () => {
    for (const [field, change] of ENVELOPE_CHANGES) {
      it(`names leaf 4 when ${field} is rewritten in the bytes (leaf hash kept) or only in the returned envelope`, () => {
        const inBytes = buildLog();
        const original = inBytes[4]!.leafHash;
        reseal(inBytes, 4, change);
        inBytes[4] = { ...inBytes[4]!, leafHash: original };
        const d1 = verifyLogSync(inBytes, options()).firstDivergence!;
        assert.deepEqual([d1.check, d1.index], ['leafHash', 4]);

        const inEnvelope = buildLog();
        const envelope = structuredClone(inEnvelope[4]!.envelope);
        change(envelope);
        inEnvelope[4] = { ...inEnvelope[4]!, envelope };
        const d2 = verifyLogSync(inEnvelope, options()).firstDivergence!;
        assert.deepEqual([d2.check, d2.index], ['envelope', 4]);
      });
    }
  });

  describe('checks every checkpoint', () => {
    it('rejects a checkpoint whose signature was altered', () => {
      const events = buildLog();
      const opts = options();
      const cp = opts.checkpoints[1]!;
      const tampered = { ...cp, note: cp.note.replace(/(\u2014 \S+ .{10})(.)/, (_, p: string, c: string) => p + (c === 'A' ? 'B' : 'A')) };
      const d = verifyLogSync(events, { ...opts, checkpoints: [opts.checkpoints[0]!, tampered, opts.checkpoints[2]!] }).firstDivergence!;
      assert.deepEqual([d.check, d.checkpoint, d.index], ['checkpoint', 2, 7]);
      assert.match(d.message, /^Checkpoint 2 \(tree size 7\): signature by key "test\.runledger\/log" .* does not verify/);
    });

    it('rejects a checkpoint signed by an unknown key', () => {
      const events = buildLog();
      const stranger = parseSignerKey(noteKeyFromSeed(ORIGIN, Buffer.alloc(32, 12)).signerKey);
      const checkpoints = [checkpointAt(events, 3), checkpointAt(events, 7, { signer: stranger })];
      const d = verifyLogSync(events, options({ checkpoints })).firstDivergence!;
      assert.deepEqual([d.check, d.checkpoint], ['checkpoint', 2]);
      assert.match(d.message, /unknown keys/);
    });

    it('rejects a checkpoint for another origin', () => {
      const events = buildLog();
      const d = verifyLogSync(events, options({ checkpoints: [checkpointAt(events, 3, { origin: 'other.example/log' })] })).firstDivergence!;
      assert.deepEqual([d.check, d.expected, d.actual], ['checkpoint', ORIGIN, 'other.example/log']);
    });

    it('rejects a stored size column that differs from the signed note', () => {
      const events = buildLog();
      const cp = { ...checkpointAt(events, 7), size: 6 };
      const d = verifyLogSync(events, options({ checkpoints: [cp] })).firstDivergence!;
      assert.deepEqual([d.check, d.expected, d.actual], ['checkpoint', '7', '6']);
    });

    it('rejects a stored root column that differs from the signed note', () => {
      const events = buildLog();
      const cp = { ...checkpointAt(events, 7), root: checkpointAt(events, 6).root };
      const d = verifyLogSync(events, options({ checkpoints: [cp] })).firstDivergence!;
      assert.equal(d.check, 'checkpoint');
      assert.match(d.message, /differs from the stored root column/);
    });

    it('rejects a validly signed checkpoint whose root the events do not produce', () => {
      const events = buildLog();
      const wrongRoot = rootOfLeaves(events.slice(0, 6).map((e) => Buffer.from(e.leafHash, 'hex')));
      const checkpoints = [checkpointAt(events, 3), checkpointAt(events, 7, { root: wrongRoot })];
      const d = verifyLogSync(events, options({ checkpoints })).firstDivergence!;
      assert.deepEqual([d.check, d.checkpoint, d.index, d.actual], ['root', 2, 7, wrongRoot.toString('hex')]);
    });

    it('rejects checkpoints listed out of order', () => {
      const events = buildLog();
      const checkpoints = [checkpointAt(events, 7), checkpointAt(events, 3)];
      const d = verifyLogSync(events, options({ checkpoints })).firstDivergence!;
      assert.deepEqual([d.check, d.checkpoint], ['checkpoint', 2]);
      assert.match(d.message, /after checkpoint 1 with size 7: checkpoint sizes must not decrease/);
    });

    it('rejects a checkpoint that claims more events than the log holds', () => {
      const events = buildLog();
      const longer = buildLog([...PLAN, 'run-a', 'run-b']);
      const checkpoints = [checkpointAt(events, 10), checkpointAt(longer, 12)];
      const report = verifyLogSync(events, options({ checkpoints }));
      assert.deepEqual([report.ok, report.checkpoints, report.firstDivergence?.checkpoint], [false, 1, 2]);
      assert.match(report.firstDivergence!.message, /claims tree size 12, but the log has only 10 events/);
    });

    it('rejects a truncated log against the checkpoints it once had', () => {
      const events = buildLog();
      const report = verifyLogSync(events.slice(0, 8), options());
      assert.deepEqual([report.firstDivergence?.check, report.firstDivergence?.checkpoint], ['checkpoint', 3]);
    });

    it('rejects a malformed stored checkpoint note', () => {
      const events = buildLog();
      const cp = { ...checkpointAt(events, 3), note: 'garbage' };
      const d = verifyLogSync(events, options({ checkpoints: [cp] })).firstDivergence!;
      assert.deepEqual([d.check, d.checkpoint], ['checkpoint', 1]);
      assert.match(d.message, /no blank line/);
    });
  });

  it('turns a failed report into an IntegrityError carrying the divergent event', () => {
    const events = buildLog();
    events[2] = { ...events[2]!, leafHash: '0'.repeat(64) };
    const report = verifyLogSync(events, options());
    assert.throws(
      () => assertLogVerified(report),
      (err: unknown) => err instanceof IntegrityError && err.exitCode === 1 && err.location.index === 2 && err.location.eventId === eventId(2) && err.message === report.firstDivergence!.message,
    );
  });
});
