// Offline audit bundles: export, verification with no store, determinism, a tamper matrix over
// every section and every event type, every single-byte change of a small bundle, and fuzzing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { InputError } from '../../src/errors.js';
import { exportBundle, verifyBundle, type BundleReport } from '../../src/bundle/bundle.js';
import { BUNDLE_MAGIC, encodeBundle, readBundle, SECTION_NAMES, type BundleSections, type SectionName } from '../../src/bundle/format.js';
import { canonicalBytes } from '../../src/integrity/canonical.js';
import { generateNoteKey, parseSignerKey } from '../../src/integrity/note.js';
import { signCheckpoint, openCheckpoint } from '../../src/integrity/checkpoint.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { approvePlan, recordFinding, recordStage } from '../../src/governance/recorder.js';
import { GOVERNANCE_TYPES } from '../../events/governance.js';
import { completedRun, openTestLedger, smallPlanText, type TestLedger } from '../governance/fixture.js';

/** Where each section's payload lies in the file, found by reading the headers as docs/bundle-format.md describes. */
function sectionOffsets(bundle: Buffer): Record<SectionName, { start: number; length: number }> {
  const out = {} as Record<SectionName, { start: number; length: number }>;
  let offset = bundle.indexOf(0x0a) + 1;
  for (const name of SECTION_NAMES) {
    const eol = bundle.indexOf(0x0a, offset);
    const [found, length] = bundle.subarray(offset, eol).toString('ascii').split(' ');
    assert.equal(found, name);
    out[name] = { start: eol + 1, length: Number(length) };
    offset = eol + 1 + Number(length) + 1;
  }
  return out;
}

/** For each byte of a bundle, the section a report must name when that byte alone changes. */
function sectionOfEveryByte(bundle: Buffer): string[] {
  const owner: string[] = [];
  const magicEnd = bundle.indexOf(0x0a) + 1;
  for (let i = 0; i < magicEnd; i++) owner.push('header');
  const offsets = sectionOffsets(bundle);
  for (const name of SECTION_NAMES) {
    const { start, length } = offsets[name];
    while (owner.length < start + length + 1) owner.push(name); // header line, payload, separator
  }
  while (owner.length < bundle.length) owner.push('end');
  return owner;
}

/** The bundle with one section's declared length changed by `delta` (digests left as they were). */
function withLength(bundle: Buffer, name: SectionName, delta: number): Buffer {
  const { start, length } = sectionOffsets(bundle)[name];
  const headerStart = bundle.lastIndexOf(0x0a, start - 2) + 1;
  const header = bundle.subarray(headerStart, start - 1).toString('ascii');
  const changed = header.replace(` ${length} `, ` ${length + delta} `);
  return Buffer.concat([bundle.subarray(0, headerStart), Buffer.from(changed, 'ascii'), bundle.subarray(start - 1)]);
}

/** Recomputes the end line over everything before it, as a forger (or a newer runledger) would. */
function reseal(bundle: Buffer): Buffer {
  const endAt = bundle.length - 69;
  return Buffer.concat([bundle.subarray(0, endAt), Buffer.from(`end ${createHash('sha256').update(bundle.subarray(0, endAt)).digest('hex')}\n`)]);
}

function flip(bundle: Buffer, at: number, mask = 0x01): Buffer {
  const copy = Buffer.from(bundle);
  copy[at]! ^= mask;
  return copy;
}

function failed(report: BundleReport): NonNullable<BundleReport['firstDivergence']> {
  assert.equal(report.ok, false, 'the altered bundle verified');
  assert.ok(report.firstDivergence, 'no divergence reported');
  assert.ok(report.firstDivergence.message.length > 10);
  return report.firstDivergence;
}

describe('offline audit bundles', function () {
  this.timeout(120_000);
  let ledger: TestLedger;
  let completed: Buffer;
  let failedRun: Buffer;
  let small: Buffer;
  let key: string;

  before(async () => {
    ledger = await openTestLedger();
    key = ledger.verifierKey;
    await completedRun(ledger.store, 'r1');
    await recordFinding(ledger.store, { runId: 'r1', severity: 'soft', check: 'budget.maxWallMs', message: 'slow', subject: 'stage:train', details: {} });
    const plan = parsePlan(smallPlanText());
    await approvePlan(ledger.store, plan, 'r2');
    await recordStage(ledger.store, 'r2', 'a', 'start');
    await recordStage(ledger.store, 'r2', 'a', 'fail', { reason: 'out of memory', wallMs: 2 });
    await approvePlan(ledger.store, plan, 'tiny');
    await ledger.checkpoint();
    completed = (await exportBundle(ledger.store, 'r1', [key])).bundle;
    failedRun = (await exportBundle(ledger.store, 'r2', [key])).bundle;
    small = (await exportBundle(ledger.store, 'tiny', [key])).bundle;
  });
  after(async () => {
    await ledger.close();
  });

  it('verifies with only the bundle bytes and the verifier key', () => {
    const report = verifyBundle(completed, [key]);
    assert.equal(report.ok, true, report.firstDivergence?.message);
    assert.equal(report.runId, 'r1');
    assert.equal(report.events, 10);
    assert.equal(report.status, 'completed');
    const r2 = verifyBundle(failedRun, [key]);
    assert.equal(r2.ok, true, r2.firstDivergence?.message);
    assert.equal(r2.status, 'failed');
    assert.ok(completed.subarray(0, BUNDLE_MAGIC.length + 1).equals(Buffer.from(`${BUNDLE_MAGIC}\n`)));
  });

  it('exports byte-identical bundles from the same ledger, and different ones for a perturbed seed', async () => {
    const again = (await exportBundle(ledger.store, 'r1', [key])).bundle;
    assert.ok(again.equals(completed));
    await approvePlan(ledger.store, parsePlan(smallPlanText(42)), 'same-a');
    await approvePlan(ledger.store, parsePlan(smallPlanText(99)), 'perturbed');
    await ledger.checkpoint();
    const plansOf = (b: Buffer) => readBundle(b).sections.plans.toString('utf8');
    const a = (await exportBundle(ledger.store, 'same-a', [key])).bundle;
    const p = (await exportBundle(ledger.store, 'perturbed', [key])).bundle;
    assert.equal(JSON.parse(plansOf(a)).governance.planHash, JSON.parse(plansOf(small)).governance.planHash);
    assert.notEqual(JSON.parse(plansOf(p)).governance.planHash, JSON.parse(plansOf(a)).governance.planHash);
  });

  it('refuses to export a run with no events (exit 2), so no bundle is ever empty', async () => {
    await assert.rejects(exportBundle(ledger.store, 'nothing-here', [key]), (err: unknown) => err instanceof InputError && /run nothing-here has no events/.test(err.message));
  });

  it('refuses to export a run whose events are not covered by a checkpoint', async () => {
    await approvePlan(ledger.store, parsePlan(smallPlanText()), 'late');
    await assert.rejects(exportBundle(ledger.store, 'late', [key]), /run `runledger checkpoint` first/);
    await ledger.checkpoint();
  });

  it('fails with a key that did not sign the checkpoint', () => {
    const d = failed(verifyBundle(completed, [generateNoteKey(ledger.origin).verifierKey]));
    assert.equal(d.check, 'checkpoint');
    assert.equal(d.section, 'checkpoint');
  });

  it('names the section when one byte of any section changes', () => {
    const offsets = sectionOffsets(completed);
    for (const name of SECTION_NAMES) {
      const { start, length } = offsets[name];
      const d = failed(verifyBundle(flip(completed, start + Math.floor(length / 2)), [key]));
      assert.equal(d.section, name, d.message);
      assert.match(d.message, new RegExp(`section "${name}"`));
    }
  });

  it('names the proofs section, and the event whose proof no longer verifies, when a proof hash digit changes', () => {
    const { start } = sectionOffsets(completed).proofs;
    const proofs = readBundle(completed).sections.proofs.toString('ascii');
    const at = start + proofs.indexOf('"proof":["', proofs.indexOf('"index":3')) + 10;
    const bytes = Buffer.from(completed);
    bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30; // still a hex digit
    const d = failed(verifyBundle(bytes, [key]));
    assert.equal(d.section, 'proofs');
    assert.equal(d.check, 'inclusion');
    assert.equal(d.revision, 3);
  });

  it('names the event, for every governance event type, when a byte of its canonical bytes changes', () => {
    const types = new Set<string>();
    for (const bundle of [completed, failedRun]) {
      const { start } = sectionOffsets(bundle).events;
      const lines = readBundle(bundle).sections.events.toString('utf8').split('\n').slice(0, -1);
      let lineStart = start;
      for (const line of lines) {
        const event = JSON.parse(line) as { id: string; type: string };
        types.add(event.type);
        const at = lineStart + Buffer.byteLength(line.slice(0, line.indexOf('"runId":"') + 9));
        const d = failed(verifyBundle(flip(bundle, at, 0x02), [key]));
        assert.equal(d.section, 'events');
        assert.equal(d.eventId, event.id, `${event.type}: ${d.message}`);
        assert.equal(d.type, event.type);
        lineStart += Buffer.byteLength(line) + 1;
      }
    }
    assert.deepEqual([...types].filter((t) => (GOVERNANCE_TYPES as readonly string[]).includes(t)).sort(), [...GOVERNANCE_TYPES].sort());
  });

  it('fails for a change of every single byte of a small bundle, naming the section the byte belongs to', () => {
    assert.equal(verifyBundle(small, [key]).ok, true);
    const owner = sectionOfEveryByte(small);
    const named = new Set<string>();
    for (const mask of [0x01, 0x02, 0x80]) {
      for (let at = 0; at < small.length; at++) {
        const d = failed(verifyBundle(flip(small, at, mask), [key]));
        assert.equal(d.section, owner[at]!, `byte ${at} ^ ${mask}: ${d.message}`);
        named.add(d.section);
      }
    }
    assert.deepEqual([...named].sort(), ['checkpoint', 'end', 'events', 'header', 'manifest', 'plans', 'proofs']);
  });

  it('names the section whose header length was lowered or raised by one (payloads ending in a newline included)', () => {
    for (const name of SECTION_NAMES) {
      for (const delta of [-1, 1]) {
        const d = failed(verifyBundle(withLength(small, name, delta), [key]));
        assert.equal(d.section, name, `${name} length ${delta > 0 ? '+' : ''}${delta}: ${d.message}`);
      }
    }
  });

  it('tells an unsupported version (exit 2) from an altered magic line (exit 1) by the end digest', () => {
    const v2 = Buffer.from(small);
    v2.write('2', BUNDLE_MAGIC.length - 1, 'ascii'); // runledger-bundle/2
    assert.equal(failed(verifyBundle(v2, [key])).section, 'header');
    const resealed = reseal(v2);
    assert.throws(() => verifyBundle(resealed, [key]), (err: unknown) => err instanceof InputError && /unsupported bundle version "runledger-bundle\/2"/.test(err.message));
    const v10 = reseal(Buffer.concat([Buffer.from('runledger-bundle/10'), small.subarray(BUNDLE_MAGIC.length)]));
    assert.throws(() => verifyBundle(v10, [key]), (err: unknown) => err instanceof InputError && /unsupported bundle version "runledger-bundle\/10"/.test(err.message));
  });

  describe('a forger who recomputes every digest', () => {
    const sections = (b: Buffer): BundleSections => readBundle(b).sections;
    const json = (b: Buffer): Record<string, unknown> => JSON.parse(b.toString('utf8')) as Record<string, unknown>;

    it('is caught changing the manifest, naming the field', () => {
      const s = sections(completed);
      const manifest = { ...json(s.manifest), status: 'failed' };
      const d = failed(verifyBundle(encodeBundle({ ...s, manifest: canonicalBytes(manifest) }), [key]));
      assert.equal(d.section, 'manifest');
      assert.match(d.message, /field status differs/);
    });

    it('is caught adding whitespace to a JSON section', () => {
      const s = sections(completed);
      const spaced = Buffer.from(JSON.stringify(json(s.manifest), null, 1));
      const d = failed(verifyBundle(encodeBundle({ ...s, manifest: spaced }), [key]));
      assert.equal(d.section, 'manifest');
      assert.match(d.message, /not in RFC 8785 canonical form/);
      const d2 = failed(verifyBundle(encodeBundle({ ...s, proofs: Buffer.concat([s.proofs, Buffer.from(' ')]) }), [key]));
      assert.equal(d2.section, 'proofs');
    });

    it('is caught changing the plans section', () => {
      const s = sections(completed);
      const plans = json(s.plans) as { governance: { approver: string } };
      plans.governance.approver = 'mallory';
      const d = failed(verifyBundle(encodeBundle({ ...s, plans: canonicalBytes(plans) }), [key]));
      assert.equal(d.section, 'plans');
      assert.equal(d.check, 'plan-parity');
    });

    it('is caught dropping the last event without rebuilding the manifest (a rebuilt one would verify: see docs/bundle-format.md §6)', () => {
      const s = sections(failedRun);
      const lines = s.events.toString('utf8').split('\n').slice(0, -1);
      const proofs = JSON.parse(s.proofs.toString('utf8')) as unknown[];
      const d = failed(
        verifyBundle(encodeBundle({ ...s, events: Buffer.from(`${lines.slice(0, -1).join('\n')}\n`), proofs: canonicalBytes(proofs.slice(0, -1)) }), [key]),
      );
      assert.equal(d.section, 'manifest');
    });

    it('is caught swapping two events', () => {
      const s = sections(completed);
      const lines = s.events.toString('utf8').split('\n').slice(0, -1);
      [lines[3], lines[4]] = [lines[4]!, lines[3]!];
      const d = failed(verifyBundle(encodeBundle({ ...s, events: Buffer.from(`${lines.join('\n')}\n`) }), [key]));
      assert.equal(d.check, 'chain');
      assert.equal(d.revision, 4);
    });

    it('is caught changing a proof hash', () => {
      const s = sections(completed);
      const proofs = JSON.parse(s.proofs.toString('utf8')) as { index: number; proof: string[] }[];
      proofs[2]!.proof[0] = '0'.repeat(64);
      const d = failed(verifyBundle(encodeBundle({ ...s, proofs: canonicalBytes(proofs) }), [key]));
      assert.equal(d.check, 'inclusion');
      assert.equal(d.revision, 2);
    });

    it('is caught emptying the events (a bundle has at least one event), with check bundle', () => {
      const s = sections(small);
      const d = failed(verifyBundle(encodeBundle({ ...s, events: Buffer.alloc(0), proofs: Buffer.from('[]') }), [key]));
      assert.equal(d.check, 'bundle');
      assert.equal(d.section, 'events');
      assert.match(d.message, /section "events" is empty/);
    });

    it('reports a malformed proofs entry as check bundle, section proofs; a well-formed wrong one as check inclusion', () => {
      const s = sections(small);
      const proofs = JSON.parse(s.proofs.toString('utf8')) as { index: number; proof: string[] }[];
      const variants: [string, unknown][] = [
        ['negative index', [{ ...proofs[0]!, index: -1 }, ...proofs.slice(1)]],
        ['fractional index', [{ ...proofs[0]!, index: 0.5 }, ...proofs.slice(1)]],
        ['uppercase hex', [{ ...proofs[0]!, proof: proofs[0]!.proof.map((h) => h.toUpperCase()) }, ...proofs.slice(1)]],
        ['extra member', [{ ...proofs[0]!, size: 9 }, ...proofs.slice(1)]],
        ['missing member', [{ index: proofs[0]!.index }, ...proofs.slice(1)]],
        ['not an array', { 0: proofs[0] }],
        ['one entry too few', proofs.slice(1)],
        ['65 hashes', [{ ...proofs[0]!, proof: Array.from({ length: 65 }, () => '0'.repeat(64)) }, ...proofs.slice(1)]],
      ];
      for (const [what, value] of variants) {
        const d = failed(verifyBundle(encodeBundle({ ...s, proofs: canonicalBytes(value) }), [key]));
        assert.deepEqual([d.check, d.section], ['bundle', 'proofs'], `${what}: ${d.message}`);
      }
      for (const [what, value] of [
        ['one hash too few', [{ ...proofs[0]!, proof: proofs[0]!.proof.slice(1) }, ...proofs.slice(1)]],
        ['one hash too many', [{ ...proofs[0]!, proof: [...proofs[0]!.proof, '0'.repeat(64)] }, ...proofs.slice(1)]],
        ['index beyond the tree', [{ ...proofs[0]!, index: 1e9 }, ...proofs.slice(1)]],
        ['indices not increasing', [proofs[0]!, { ...proofs[1]!, index: proofs[0]!.index }, ...proofs.slice(2)]],
      ] as [string, unknown][]) {
        const d = failed(verifyBundle(encodeBundle({ ...s, proofs: canonicalBytes(value) }), [key]));
        assert.deepEqual([d.check, d.section], ['inclusion', 'events'], `${what}: ${d.message}`);
      }
    });

    it('is caught re-signing the checkpoint with another key', () => {
      const s = sections(completed);
      const checkpoint = openCheckpoint(s.checkpoint.toString('utf8'), [key]);
      const forger = generateNoteKey(checkpoint.origin);
      const note = signCheckpoint(checkpoint.origin, checkpoint.size, checkpoint.root, parseSignerKey(forger.signerKey));
      const manifest = json(s.manifest) as { checkpoint: { note: string } };
      manifest.checkpoint.note = note;
      const forged = encodeBundle({ ...s, checkpoint: Buffer.from(note), manifest: canonicalBytes(manifest) });
      const d = failed(verifyBundle(forged, [key]));
      assert.equal(d.check, 'checkpoint');
      assert.match(d.message, /unknown keys/);
      // The same bundle verifies under the forger's own key: the auditor's key must come from the signer.
      assert.equal(verifyBundle(forged, [forger.verifierKey]).ok, true);
    });
  });

  it('refuses files that are not bundles with an input error', () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from('hello\n'), Buffer.from('{"manifest":{}}'), Buffer.from('runledger-bundle/2\nmanifest 0 x\n')]) {
      assert.throws(() => verifyBundle(bytes, [key]), (err: unknown) => err instanceof InputError && /bundle/.test(err.message));
    }
    assert.throws(() => verifyBundle(completed, ['not a key']), (err: unknown) => err instanceof InputError && /--key/.test(err.message));
  });

  it('fails cleanly on JSON nested deeper than the stack, in every section', () => {
    const s = readBundle(small).sections;
    const deep = Buffer.from('['.repeat(20_000) + ']'.repeat(20_000)); // deep enough to exhaust the JCS writer's stack
    for (const name of SECTION_NAMES) {
      // In `events`, the first event is replaced and the count kept, so the event verifier itself meets it.
      const payload = name === 'events' ? Buffer.concat([deep, s.events.subarray(s.events.indexOf(0x0a))]) : deep;
      const d = failed(verifyBundle(encodeBundle({ ...s, [name]: payload }), [key]));
      assert.equal(d.section, name, d.message);
      if (name === 'events') assert.equal(d.check, 'bytes');
    }
  });

  it('never crashes on arbitrary bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), (random, prefixed) => {
        const bytes = prefixed ? Buffer.concat([Buffer.from(`${BUNDLE_MAGIC}\n`), random]) : Buffer.from(random);
        try {
          assert.equal(verifyBundle(bytes, [key]).ok, false);
        } catch (err) {
          assert.ok(err instanceof InputError, `unexpected ${String(err)}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never crashes and never verifies on mutations of a valid bundle (fast-check)', () => {
    const mutation = fc.record({
      at: fc.nat({ max: small.length - 1 }),
      remove: fc.nat({ max: 64 }),
      insert: fc.uint8Array({ maxLength: 64 }),
    });
    fc.assert(
      fc.property(mutation, ({ at, remove, insert }) => {
        const bytes = Buffer.concat([small.subarray(0, at), Buffer.from(insert), small.subarray(at + remove)]);
        fc.pre(!bytes.equals(small));
        try {
          const report = verifyBundle(bytes, [key]);
          assert.equal(report.ok, false);
          assert.ok(report.firstDivergence?.message);
        } catch (err) {
          assert.ok(err instanceof InputError, `unexpected ${String(err)}`);
        }
      }),
      { numRuns: 400 },
    );
  });
});
