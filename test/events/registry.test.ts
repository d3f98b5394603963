// The registry returns the data as its schema parsed it, stores record exactly that (defaults
// written out), and a verifier can require stored data to be normalized already.
import assert from 'node:assert/strict';
import { registry } from '../../events/index.js';
import { InputError } from '../../src/errors.js';
import { openStore } from '../../src/store/open.js';
import { prepareBatch } from '../../src/store/seal.js';

const finding = { runId: 'r1', severity: 'info', check: 'c', message: 'm', subject: null };

describe('event registry', () => {
  it('returns the parsed data, defaults filled in', () => {
    const { schemaVersion, data } = registry.validate('AuditFinding', finding);
    assert.equal(schemaVersion, 1);
    assert.deepEqual(data, { ...finding, details: {} });
  });

  it('records the normalized data: a store hands back the default the writer left out', async () => {
    const [request] = prepareBatch([{ stream: 'run-r1', events: [{ type: 'AuditFinding', data: finding }] }]);
    assert.deepEqual(request!.events[0]!.data, { ...finding, details: {} });
    assert.match(request!.events[0]!.canonicalData!, /"details":\{\}/);
    const store = await openStore('sqlite::memory:');
    try {
      await store.init();
      await store.append('run-r1', [{ type: 'AuditFinding', data: finding }]);
      const [event] = await store.readStream('run-r1');
      assert.deepEqual(event!.envelope.data, { ...finding, details: {} });
      assert.match(event!.canonical.toString('utf8'), /"details":\{\}/);
    } finally {
      await store.close();
    }
  });

  it('with { normalized: true }, refuses data that parsing would change, naming the field', () => {
    assert.throws(
      () => registry.validate('AuditFinding', finding, 1, 'leaf 3', { normalized: true }),
      (err: unknown) => err instanceof InputError && err.message === 'leaf 3: AuditFinding field data.details is not in normalized form (parsing the data again changes it), so no runledger writer recorded it' && err.location.field === 'data.details',
    );
    assert.doesNotThrow(() => registry.validate('AuditFinding', { ...finding, details: {} }, 1, '', { normalized: true }));
    assert.doesNotThrow(() => registry.validate('custom.anything', { any: [1] }, 1, '', { normalized: true }));
  });

  it('refuses an own "__proto__" member anywhere in data (zod would silently drop it; the log verifier refuses it)', () => {
    const refuses = (text: string, field: string): void =>
      assert.throws(
        () => prepareBatch([{ stream: 's', events: [{ type: 'custom.x', data: JSON.parse(text) as Record<string, unknown> }] }]),
        (err: unknown) => err instanceof InputError && err.message.includes(`field ${field}: the member name "__proto__" is refused`),
        text,
      );
    refuses('{"__proto__":{"admin":true},"a":1}', 'data.__proto__');
    refuses('{"a":[{"__proto__":{}}]}', 'data.a[0].__proto__');
    assert.doesNotThrow(() => prepareBatch([{ stream: 's', events: [{ type: 'custom.x', data: { s: '"__proto__":' } }] }]), 'a string that only looks like one');
  });

  it('names an unknown field without echoing a hostile name in full', () => {
    const name = 'x'.repeat(10_000);
    assert.throws(
      () => registry.validate('AuditFinding', { ...finding, [name]: 1 }),
      (err: unknown) => err instanceof InputError && err.message.length < 300 && /unknown field "x{60}…"/.test(err.message),
    );
  });
});
