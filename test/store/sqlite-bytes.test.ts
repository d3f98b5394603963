// What the embedded store writes, byte for byte, against an oracle that shares none of the append
// path's fast paths: RFC 8785 as sort-and-JSON.stringify, SHA-256 through createHash, and the tree
// state as a compact range extended one leaf at a time. Guards every fast path of the append (kept
// texts, number writing, the batch's tree extension) at the level of the database itself.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { CompactRange } from '../../src/integrity/compact-range.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';

/** RFC 8785 for the JSON values below: members sorted by UTF-16 code units, JSON.stringify for the rest. */
function oracleJcs(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(oracleJcs).join(',')}]`;
  const record = value as Record<string, unknown>;
  const names = Object.keys(record).filter((name) => record[name] !== undefined).sort();
  return `{${names.map((name) => `${JSON.stringify(name)}:${oracleJcs(record[name])}`).join(',')}}`;
}

const sha256 = (bytes: Buffer | string): Buffer => createHash('sha256').update(bytes).digest();

const scalar = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(0, -0, 1e21, 1e-7, 0.1, 2 ** 53 - 1, 5e-324),
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant(null),
);
const data = fc.dictionary(fc.constantFrom('step', 'loss', 'phase', 'a', 'B', 'é', 'z1', 'nested'), fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.constantFrom('x', 'y'), scalar)), { maxKeys: 6 });
const event = fc.record(
  {
    type: fc.constantFrom('custom.bench.sample', 'custom.other'),
    data,
    metadata: fc.record({ actor: fc.constantFrom('bench', 'w-1'), correlationId: fc.option(fc.constantFrom('c1', 'c2')) }, { requiredKeys: [] }),
  },
  { requiredKeys: ['type', 'data'] },
);
const batches = fc.array(fc.record({ stream: fc.constantFrom('run-a', 'run-b', 'lab'), events: fc.array(event, { minLength: 1, maxLength: 70 }) }), { minLength: 1, maxLength: 5 });

describe('sqlite store bytes', function () {
  this.timeout(120_000);

  it('writes every row and the tree state exactly as the oracle computes them from the events appended', async function () {
    await fc.assert(
      fc.asyncProperty(batches, async (appends) => {
        const dir = mkdtempSync(join(tmpdir(), 'runledger-bytes-'));
        const path = join(dir, 'ledger.db');
        try {
          const store = createSqliteStore({ path });
          for (const { stream, events } of appends) await store.append(stream, events);
          await store.close();
          const db = new Database(path, { readonly: true });
          const rows = db.prepare('SELECT position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical FROM events ORDER BY position').all() as {
            position: number; id: string; stream: string; revision: number; type: string; recorded_at: string; content_digest: string; leaf_hash: Buffer; canonical: Buffer;
          }[];
          const tree = db.prepare('SELECT size, range FROM tree').get() as { size: number; range: Buffer };
          db.close();

          const proposed = appends.flatMap(({ stream, events }) => events.map((e) => ({ stream, e })));
          assert.equal(rows.length, proposed.length);
          const range = CompactRange.empty();
          const heads = new Map<string, { revision: number; leaf: string }>();
          rows.forEach((row, k) => {
            const { stream, e } = proposed[k]!;
            const head = heads.get(stream);
            const metadata = { actor: e.metadata?.actor ?? 'unknown', causationId: null, correlationId: e.metadata?.correlationId ?? null, recordedAt: row.recorded_at };
            const envelope = { id: row.id, stream, revision: (head?.revision ?? -1) + 1, type: e.type, schemaVersion: 1, data: e.data, metadata, prevHash: head?.leaf ?? null };
            const canonical = Buffer.from(oracleJcs(envelope), 'utf8');
            assert.deepEqual(row.canonical, canonical, `position ${k}: canonical bytes`);
            assert.deepEqual(row.leaf_hash, sha256(Buffer.concat([Buffer.from([0]), canonical])), `position ${k}: leaf hash`);
            const content = { data: e.data, metadata: e.metadata ?? {}, schemaVersion: 1, stream, type: e.type };
            assert.equal(row.content_digest, sha256(oracleJcs(content)).toString('hex'), `position ${k}: content digest`);
            assert.deepEqual([row.position, row.stream, row.revision, row.type], [k, stream, envelope.revision, e.type]);
            heads.set(stream, { revision: envelope.revision, leaf: row.leaf_hash.toString('hex') });
            range.append(row.leaf_hash);
          });
          assert.equal(tree.size, rows.length);
          assert.deepEqual(tree.range, Buffer.concat(range.hashes()), 'tree state');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});
