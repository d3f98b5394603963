// The envelope grammars docs/integrity.md §1 states, one by one: what is accepted, what is refused,
// at append (InputError, nothing written) and in stored bytes (the verifier's `bytes` check).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Envelope, EventId, EventType, isRealRecordedAt, RecordedAt, StreamName } from '../../events/envelope.js';
import { InputError } from '../../src/errors.js';
import { prepareBatch } from '../../src/store/seal.js';

const ok = (schema: { safeParse(v: unknown): { success: boolean } }, value: unknown): boolean => schema.safeParse(value).success;

describe('event envelope grammars (docs/integrity.md §1)', () => {
  it('accepts only lowercase RFC 9562 UUIDs (versions 1–8, RFC variant, nil, max)', () => {
    for (const good of [
      '00000000-0000-4000-8000-000000000001',
      'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      '017f22e2-79b0-7cc3-98c4-dc0c0c07398f',
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
    ]) {
      assert.ok(ok(EventId, good), good);
    }
    for (const bad of [
      'F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6', // uppercase: the same UUID, another spelling
      'f81d4fae-7dec-11d0-a765-00A0c91e6bf6',
      'f81d4fae7dec11d0a76500a0c91e6bf6', // no hyphens
      '{f81d4fae-7dec-11d0-a765-00a0c91e6bf6}',
      'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      '00000000-0000-0000-8000-000000000001', // version 0
      '00000000-0000-9000-8000-000000000001', // version 9
      '00000000-0000-4000-c000-000000000001', // variant 110x (Microsoft)
      '00000000-0000-4000-8000-00000000001',
    ]) {
      assert.equal(ok(EventId, bad), false, bad);
    }
  });

  it('accepts recordedAt only as Date.prototype.toISOString writes it (UTC "Z", milliseconds, a real date)', () => {
    for (const good of ['2026-01-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z', '0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
      assert.ok(ok(RecordedAt, good), good);
      assert.equal(new Date(good).toISOString(), good);
    }
    for (const bad of [
      '2026-01-01T00:00:00.000+00:00', // the same instant, another spelling
      '2026-01-01T01:00:00.000+01:00',
      '2026-01-01T00:00:00Z', // no milliseconds
      '2026-01-01T00:00:00.1Z',
      '2026-01-01T00:00:00.000000Z',
      '2026-01-01T00:00:00.000z',
      '2026-01-01t00:00:00.000Z',
      '2026-01-01 00:00:00.000Z',
      '2026-01-01T00:00:00.000', // no offset
      '2023-02-29T00:00:00.000Z', // not a leap year
      '2026-13-01T00:00:00.000Z',
      '2026-01-01T24:00:00.000Z',
      '2026-12-31T23:59:60.000Z', // leap second
      '+002026-01-01T00:00:00.000Z',
    ]) {
      assert.equal(ok(RecordedAt, bad), false, bad);
    }
  });

  it('decides a real date and time by arithmetic exactly as the Date round trip does', () => {
    const roundTrip = (t: string): boolean => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(t) && Number.isFinite(Date.parse(t)) && new Date(Date.parse(t)).toISOString() === t;
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const shaped = fc
      .tuple(fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2024, 2100, 0)), two(14), two(32), two(25), two(61), two(61), fc.integer({ min: 0, max: 999 }))
      .map(([y, mo, d, h, mi, s, ms]) => `${String(y).padStart(4, '0')}-${mo}-${d}T${h}:${mi}:${s}.${String(ms).padStart(3, '0')}Z`);
    fc.assert(fc.property(fc.oneof(shaped, fc.string()), (t) => assert.equal(isRealRecordedAt(t), roundTrip(t), t)), { numRuns: 20_000 });
    for (const t of ['2024-02-29T00:00:00.000Z', '2023-02-29T00:00:00.000Z', '1900-02-29T00:00:00.000Z', '2000-02-29T23:59:59.999Z', '2026-04-31T00:00:00.000Z', '2026-01-01T24:00:00.000Z']) {
      assert.equal(isRealRecordedAt(t), roundTrip(t), t);
    }
  });

  it('accepts dotted identifiers as event types', () => {
    for (const good of ['GovernancePlanApproved', 'custom.sample', 'custom.a-b.c_d', 'x', 'a1_b']) assert.ok(ok(EventType, good), good);
    for (const bad of ['', '1abc', '.a', 'a.', 'a..b', 'a b', 'custom.', 'a-b', 'é', 'x'.repeat(201)]) assert.equal(ok(EventType, bad), false, bad);
  });

  it('accepts stream names without whitespace or C0 controls, 1–200 UTF-16 code units', () => {
    for (const good of ['run-r1', 's-7', 'ünï/çødé', '\u007f', 'x'.repeat(200)]) assert.ok(ok(StreamName, good), good);
    for (const bad of ['', 'a b', 'a\tb', 'a\u00a0b', 'a\u3000b', 'a\ufeffb', 'a\u2028b', 'a\u0000b', 'x'.repeat(201)]) assert.equal(ok(StreamName, bad), false, JSON.stringify(bad));
  });

  it('refuses an uppercase id or a "+00:00" time at append, writing nothing', () => {
    const event = { type: 'custom.sample', data: { i: 1 } };
    assert.doesNotThrow(() => prepareBatch([{ stream: 's', events: [{ ...event, id: '00000000-0000-4000-8000-00000000000a' }] }]));
    assert.throws(
      () => prepareBatch([{ stream: 's', events: [{ ...event, id: '00000000-0000-4000-8000-00000000000A' }] }]),
      (err: unknown) => err instanceof InputError && /field id: must be a lowercase RFC 9562 UUID/.test(err.message),
    );
    assert.throws(
      () => prepareBatch([{ stream: 's', events: [{ ...event, metadata: { recordedAt: '2026-01-01T00:00:00.000+00:00' } }] }]),
      (err: unknown) => err instanceof InputError && /field metadata\.recordedAt: must be an RFC 3339 UTC time/.test(err.message),
    );
  });

  it('refuses the same envelope in stored bytes when its id is uppercase', () => {
    const envelope = {
      id: '00000000-0000-4000-8000-00000000000a',
      stream: 's',
      revision: 0,
      type: 'custom.sample',
      schemaVersion: 1,
      data: {},
      metadata: { recordedAt: '2026-01-01T00:00:00.000Z', actor: 'a', correlationId: null, causationId: null },
      prevHash: null,
    };
    assert.ok(ok(Envelope, envelope));
    assert.equal(ok(Envelope, { ...envelope, id: envelope.id.toUpperCase() }), false);
    assert.equal(ok(Envelope, { ...envelope, metadata: { ...envelope.metadata, recordedAt: '2026-01-01T00:00:00Z' } }), false);
  });
});
