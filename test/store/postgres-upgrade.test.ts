// Upgrading a PostgreSQL ledger written by schema 4 (the id and the content digest as text, type and
// recorded_at columns) to schema 5 in place: the upgrade converts every row in one transaction,
// verification still passes from what is stored, and readers get byte-identical envelopes; a row it
// cannot convert faithfully refuses the upgrade and changes nothing.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConcurrencyError, IntegrityError } from '../../src/errors.js';
import { generateNoteKey } from '../../src/integrity/note.js';
import { createCheckpoint } from '../../src/ledger/checkpoint.js';
import { ensureOrigin } from '../../src/ledger/origin.js';
import { ledgerSigner, startSignerState } from '../../src/ledger/signer-state.js';
import { verifyLedger } from '../../src/replay/ledger-verification.js';
import { createPostgresStore, ledgerSql } from '../../src/store/postgres/index.js';
import type { EventStore } from '../../src/store/port.js';
import { event, events } from './conformance.js';
import { pgTestDatabase, type PgTestDatabase } from './pg-database.js';

const database = pgTestDatabase('postgres upgrade suites');

/** Schema 4's tables, verbatim from runledger before schema 5 (its functions: init replaces them). */
function schema4Tables(schema: string): string[] {
  const s = `"${schema}"`;
  return [
    `CREATE SCHEMA ${s}`,
    `CREATE SEQUENCE ${s}.position_seq AS bigint MINVALUE 0 START 0 CACHE 1`,
    `CREATE TABLE ${s}.events (
       position bigint PRIMARY KEY,
       tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
       id text NOT NULL,
       stream text NOT NULL,
       revision bigint NOT NULL,
       type text NOT NULL,
       recorded_at text NOT NULL,
       content_digest text NOT NULL,
       leaf_hash bytea NOT NULL,
       canonical bytea NOT NULL,
       CONSTRAINT events_id_key UNIQUE (id),
       CONSTRAINT events_stream_revision_key UNIQUE (stream, revision)
     )`,
    `CREATE TABLE ${s}.streams (stream text PRIMARY KEY, revision bigint NOT NULL, last_hash bytea)`,
    `CREATE TABLE ${s}.tree (
       singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
       size bigint NOT NULL,
       range bytea NOT NULL,
       last_position bigint NOT NULL DEFAULT -1
     )`,
    `CREATE TABLE ${s}.gaps (
       position bigint PRIMARY KEY,
       length bigint NOT NULL CHECK (length > 0),
       missing_after bigint NOT NULL,
       next_index bigint NOT NULL UNIQUE
     )`,
    `CREATE TABLE ${s}.checkpoints (
       seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       size bigint NOT NULL,
       root text NOT NULL,
       note text NOT NULL,
       created_at text NOT NULL
     )`,
    `CREATE TABLE ${s}.meta (key text PRIMARY KEY, value text NOT NULL)`,
    `CREATE TABLE ${s}.positions (consumer text PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
  ];
}

/**
 * A schema 4 copy of the ledger in `from`: the v4 DDL, then every row as a schema 4 writer stored it
 * (type and recorded_at as the envelope spells them, the id and digest as text).
 */
async function copyAsSchema4(db: PgTestDatabase, from: string, to: string): Promise<void> {
  const a = ledgerSql(from);
  const b = ledgerSql(to);
  const client = await db.client();
  try {
    await client.query('BEGIN');
    for (const statement of schema4Tables(to)) await client.query(statement);
    await client.query(
      `INSERT INTO ${b.events} (position, tx_id, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical)
       SELECT position, tx_id, id::text, stream, revision, convert_from(canonical, 'UTF8')::json->>'type',
              convert_from(canonical, 'UTF8')::json->'metadata'->>'recordedAt', encode(content_digest, 'hex'), leaf_hash, canonical
         FROM ${a.events}`,
    );
    for (const table of ['streams', 'tree', 'gaps', 'meta', 'positions'] as const) {
      await client.query(`INSERT INTO ${b[table]} SELECT * FROM ${a[table]}`);
    }
    await client.query(`INSERT INTO ${b.checkpoints} OVERRIDING SYSTEM VALUE SELECT * FROM ${a.checkpoints}`);
    await client.query(`SELECT setval('"${to}".position_seq', (SELECT last_value FROM "${from}".position_seq))`);
    await client.query(`UPDATE ${b.meta} SET value = '4' WHERE key = 'schema_version'`);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

async function columnTypes(db: PgTestDatabase, schema: string): Promise<Record<string, string>> {
  const client = await db.client();
  try {
    const { rows } = await client.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events'`,
      [schema],
    );
    return Object.fromEntries(rows.map((r) => [r.column_name, r.data_type]));
  } finally {
    await client.end();
  }
}

describe('postgres store: upgrading schema 4 to 5', function () {
  this.timeout(60_000);
  let db: PgTestDatabase;
  let dir: string;

  before(async function () {
    const found = await database();
    if (!found) return this.skip();
    db = found;
    dir = mkdtempSync(join(tmpdir(), 'runledger-pg-upgrade-'));
  });

  after(async function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await (await database())?.stop();
  });

  /** A signed ledger with gaps, named and generated ids, and events appended after the last checkpoint. */
  async function signedLedger(store: EventStore): Promise<{ verifierKey: string; named: string }> {
    const { origin } = await ensureOrigin(store);
    const pair = generateNoteKey(origin);
    const signer = ledgerSigner(pair.signerKey, join(dir, `${randomBytes(4).toString('hex')}.state`));
    startSignerState(signer, origin);
    await assert.rejects(store.append('s', events(2, 'lost'), { expectedRevision: 3 }), ConcurrencyError);
    await store.append('s', events(3, 'a'));
    const named = randomUUID();
    await store.append('t', [event({ named: true }, named), event({ nil: true }, '00000000-0000-0000-0000-000000000000')]);
    await store.append('u', [{ type: 'custom.conformance', data: { generated: true } }]);
    await createCheckpoint(store, signer, origin);
    await store.append('s', events(2, 'after'));
    await createCheckpoint(store, signer, origin);
    await store.append('t', events(1, 'pending'));
    return { verifierKey: pair.verifierKey, named };
  }

  it('converts every row in place: the ledger verifies, envelopes read back byte for byte, retries still match', async function () {
    const original = await db.store();
    const { verifierKey, named } = await signedLedger(original.store);
    const expected = await original.store.readAll();
    const v4 = `t_${randomBytes(5).toString('hex')}`;
    await copyAsSchema4(db, original.schema, v4);
    assert.equal((await columnTypes(db, v4)).type, 'text', 'the copy has the schema 4 layout');

    const upgraded = createPostgresStore({ url: `${db.url}?schema=${v4}` });
    try {
      await upgraded.init();
      assert.equal(await upgraded.getMeta('schema_version'), '5');
      const columns = await columnTypes(db, v4);
      assert.equal(columns.id, 'uuid');
      assert.equal(columns.content_digest, 'bytea');
      assert.equal(columns.type, undefined);
      assert.equal(columns.recorded_at, undefined);

      const read = await upgraded.readAll();
      assert.deepEqual(read.map((e) => e.position), expected.map((e) => e.position));
      read.forEach((e, k) => assert.ok(e.canonical.equals(expected[k]!.canonical), `position ${e.position}: the stored bytes are unchanged`));
      assert.deepEqual(read.map((e) => e.envelope), expected.map((e) => e.envelope));

      const report = await verifyLedger(upgraded, { verifierKeys: [verifierKey], workers: 1 });
      assert.equal(report.ok, true, JSON.stringify(report.firstDivergence));
      assert.equal(report.pendingEvents, 1);

      // The converted ids and digests still answer retries, and the upgraded ledger takes appends.
      const retry = await upgraded.append('t', [event({ named: true }, named), event({ nil: true }, '00000000-0000-0000-0000-000000000000')]);
      assert.equal(retry.duplicate, true);
      await assert.rejects(upgraded.append('t', [event({ named: false }, named)]), /already recorded with different content/);
      await upgraded.append('t', events(1, 'upgraded'));
      const state = await upgraded.integrate();
      assert.equal(state.size, expected.length + 1);
    } finally {
      await upgraded.close();
      await original.cleanup();
    }
  });

  it('refuses to upgrade a ledger holding an id that is not a lowercase UUID, and changes nothing', async function () {
    const original = await db.store();
    await original.store.append('s', events(3, 'a'));
    const v4 = `t_${randomBytes(5).toString('hex')}`;
    await copyAsSchema4(db, original.schema, v4);
    const client = await db.client();
    const upper = randomUUID().toUpperCase();
    await client.query(`UPDATE "${v4}".events SET id = $1 WHERE position = (SELECT max(position) FROM "${v4}".events)`, [upper]);
    const upgraded = createPostgresStore({ url: `${db.url}?schema=${v4}` });
    try {
      await assert.rejects(upgraded.init(), (err: unknown) => {
        assert.ok(err instanceof IntegrityError, String(err));
        assert.match(err.message, new RegExp(`cannot upgrade ledger schema "${v4}" to version 5: event at position 2 has id "${upper}", not a lowercase UUID`));
        return true;
      });
      const { rows } = await client.query<{ value: string }>(`SELECT value FROM "${v4}".meta WHERE key = 'schema_version'`);
      assert.equal(rows[0]!.value, '4');
      assert.equal((await columnTypes(db, v4)).id, 'text', 'nothing converted');
    } finally {
      await client.end();
      await upgraded.close();
      await original.cleanup();
    }
  });
});
