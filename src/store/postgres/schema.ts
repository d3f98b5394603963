// The ledger's tables in one PostgreSQL schema, created idempotently. docs/stores.md (PostgreSQL)
// explains every table and the ordering rule; keep the two in step.
import { createHash } from 'node:crypto';

/** Bumped when the DDL changes; `init()` re-runs the DDL when the stored value differs. */
export const SCHEMA_VERSION = '5';

/** PostgreSQL 13 added xid8, pg_current_xact_id() and pg_current_snapshot(), which ordering relies on. */
export const MIN_SERVER_VERSION = 130000;

/** Qualified names and lock keys of one ledger. The schema name is a validated plain identifier. */
export interface LedgerSql {
  schema: string;
  events: string;
  streams: string;
  tree: string;
  checkpoints: string;
  meta: string;
  positions: string;
  gaps: string;
  reservePositions: string;
  /** The append transaction's first statement: stream locks, then reads, then the sequencer. */
  beginAppend: string;
  /** NOTIFY channel appends signal on commit. */
  channel: string;
  /** Advisory lock (bigint, as text) serializing xid assignment with position reservation. */
  sequencerLock: string;
  /** Advisory lock held by the one integrator of this ledger. */
  integratorLock: string;
  /** Advisory lock serializing concurrent `init()` DDL. */
  initLock: string;
  /** Seed of the per-stream advisory-lock keys, `hashtextextended(stream, seed)`: one key space per ledger. */
  streamLockSeed: string;
}

/** A stable signed 64-bit advisory-lock key per (schema, purpose), so ledgers sharing a database never contend. */
function lockKey(schema: string, purpose: string): string {
  return createHash('sha256').update(`runledger:${schema}:${purpose}`).digest().readBigInt64BE(0).toString();
}

export function ledgerSql(schema: string): LedgerSql {
  const q = (name: string): string => `"${schema}"."${name}"`;
  return {
    schema,
    events: q('events'),
    streams: q('streams'),
    tree: q('tree'),
    checkpoints: q('checkpoints'),
    meta: q('meta'),
    positions: q('positions'),
    gaps: q('gaps'),
    reservePositions: q('reserve_positions'),
    beginAppend: q('begin_append'),
    channel: `runledger_${schema}`,
    sequencerLock: lockKey(schema, 'sequencer'),
    integratorLock: lockKey(schema, 'integrator'),
    initLock: lockKey(schema, 'init'),
    streamLockSeed: lockKey(schema, 'stream'),
  };
}

/** Every statement of the schema, each idempotent, run in order inside one transaction. */
export function schemaStatements(sql: LedgerSql): string[] {
  const s = `"${sql.schema}"`;
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    // Positions start at 0 like the embedded store's; values taken by rolled-back appends are gaps.
    // CACHE 1 (PostgreSQL's default, stated because it matters): a per-session cache would hand
    // out numbers out of sequencer order.
    `CREATE SEQUENCE IF NOT EXISTS ${s}.position_seq AS bigint MINVALUE 0 START 0 CACHE 1`,
    // tx_id: the writing transaction's 64-bit id. Readers only return rows whose transaction is
    // older than every transaction still running (see reserve_positions and docs/stores.md).
    // Schema 5 narrowed the row (docs/stores.md, "Schema"): the id as uuid (16 bytes instead of 37;
    // event ids are lowercase RFC 9562 UUIDs before they reach any store, EVENT_ID_PATTERN, so the
    // type's case folding never merges two ids SQLite keeps apart), the content digest as 32 bytes
    // instead of 64 hex characters, and no type or recorded_at columns: nothing reads them, and
    // both are inside the canonical bytes, which readers take the envelope from.
    // No leaf index column: integration never rewrites an event row. Integrated events are exactly
    // those at positions up to tree.last_position, in position order; the leaf index of one is its
    // position minus the positions missing below it, which the gaps table records (below).
    `CREATE TABLE IF NOT EXISTS ${sql.events} (
       position bigint PRIMARY KEY,
       tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
       id uuid NOT NULL,
       stream text NOT NULL,
       revision bigint NOT NULL,
       content_digest bytea NOT NULL,
       leaf_hash bytea NOT NULL,
       canonical bytea NOT NULL,
       CONSTRAINT events_id_key UNIQUE (id),
       CONSTRAINT events_stream_revision_key UNIQUE (stream, revision)
     )`,
    // One row per stream: its head (the prevHash chain), read and moved only under the stream's lock.
    `CREATE TABLE IF NOT EXISTS ${sql.streams} (
       stream text PRIMARY KEY,
       revision bigint NOT NULL,
       last_hash bytea
     )`,
    // The persisted compact range: one 32-byte hash per set bit of size, concatenated left to right;
    // last_position: the position of leaf size - 1 (-1 while the tree is empty).
    `CREATE TABLE IF NOT EXISTS ${sql.tree} (
       singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
       size bigint NOT NULL,
       range bytea NOT NULL,
       last_position bigint NOT NULL DEFAULT -1
     )`,
    `ALTER TABLE ${sql.tree} ADD COLUMN IF NOT EXISTS last_position bigint NOT NULL DEFAULT -1`,
    // Runs of positions below tree.last_position that hold no event (drawn by appends that rolled
    // back), written by the integrator as it passes them: rare, so this table stays small.
    // missing_after: positions missing below position + length, this run included;
    // next_index: the leaf index of the first event after the run.
    `CREATE TABLE IF NOT EXISTS ${sql.gaps} (
       position bigint PRIMARY KEY,
       length bigint NOT NULL CHECK (length > 0),
       missing_after bigint NOT NULL,
       next_index bigint NOT NULL UNIQUE
     )`,
    // Schema 1 and 2 kept a leaf_index column, written by an UPDATE of every integrated row. Its
    // assignment followed positions, so it converts to gap runs; anything else is refused.
    `DO $migrate$
     BEGIN
       IF EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = '${sql.schema}' AND table_name = 'events' AND column_name = 'leaf_index') THEN
         IF EXISTS (SELECT 1 FROM (SELECT leaf_index, row_number() OVER (ORDER BY position) - 1 AS rank
                                     FROM ${sql.events} WHERE leaf_index IS NOT NULL) AS x WHERE leaf_index <> rank)
            OR EXISTS (SELECT 1 FROM ${sql.events} WHERE leaf_index IS NULL
                        AND position < (SELECT max(position) FROM ${sql.events} WHERE leaf_index IS NOT NULL)) THEN
           RAISE EXCEPTION 'cannot upgrade ledger schema "${sql.schema}": its leaf indices do not follow positions';
         END IF;
         INSERT INTO ${sql.gaps} (position, length, missing_after, next_index)
           SELECT prev + 1, position - prev - 1, position - leaf_index, leaf_index
             FROM (SELECT position, leaf_index, coalesce(lag(position) OVER (ORDER BY position), -1) AS prev
                     FROM ${sql.events} WHERE leaf_index IS NOT NULL) AS x
            WHERE position > prev + 1;
         UPDATE ${sql.tree} SET last_position = coalesce((SELECT max(position) FROM ${sql.events} WHERE leaf_index IS NOT NULL), -1);
         DROP INDEX IF EXISTS ${s}.events_unintegrated;
         ALTER TABLE ${sql.events} DROP COLUMN leaf_index;
       END IF;
     END
     $migrate$`,
    // Schema 4 and older kept the id and the content digest as text and the type and recorded_at
    // as columns. The conversion rewrites the table once, in this transaction (ALTER TYPE takes an
    // exclusive lock: writers wait, and older writers fail afterwards, naming a dropped column);
    // an id that is not a lowercase UUID, or a digest that is not 64 lowercase hex digits, cannot
    // convert without changing what a retry matches, so the upgrade is refused and nothing changes.
    `DO $migrate$
     DECLARE
       bad record;
     BEGIN
       IF EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = '${sql.schema}' AND table_name = 'events' AND column_name = 'id' AND data_type = 'text') THEN
         SELECT position, id INTO bad FROM ${sql.events}
          WHERE id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' ORDER BY position LIMIT 1;
         IF FOUND THEN
           RAISE EXCEPTION 'cannot upgrade ledger schema "${sql.schema}" to version 5: event at position % has id "%", not a lowercase UUID', bad.position, bad.id;
         END IF;
         SELECT position, content_digest AS id INTO bad FROM ${sql.events}
          WHERE content_digest !~ '^[0-9a-f]{64}$' ORDER BY position LIMIT 1;
         IF FOUND THEN
           RAISE EXCEPTION 'cannot upgrade ledger schema "${sql.schema}" to version 5: event at position % has content digest "%", not 64 lowercase hex digits', bad.position, bad.id;
         END IF;
         ALTER TABLE ${sql.events}
           DROP COLUMN IF EXISTS type,
           DROP COLUMN IF EXISTS recorded_at,
           ALTER COLUMN id TYPE uuid USING id::uuid,
           ALTER COLUMN content_digest TYPE bytea USING decode(content_digest, 'hex');
       END IF;
     END
     $migrate$`,
    `INSERT INTO ${sql.tree} (singleton, size, range) VALUES (true, 0, '\\x') ON CONFLICT DO NOTHING`,
    `CREATE TABLE IF NOT EXISTS ${sql.checkpoints} (
       seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       size bigint NOT NULL,
       root text NOT NULL,
       note text NOT NULL,
       created_at text NOT NULL
     )`,
    `CREATE TABLE IF NOT EXISTS ${sql.meta} (key text PRIMARY KEY, value text NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${sql.positions} (
       consumer text PRIMARY KEY,
       position bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
    // The sequencer's critical section: the transaction's id and its positions are taken together
    // under one lock, so position order equals transaction-id order. Readers can then page by a
    // single position and still never pass a transaction that took a lower position but has not
    // committed (its id is at or above the snapshot's xmin, so its rows are held back).
    // A session lock, released before the function returns, so writers overlap everywhere else;
    // the handler releases it on failure too (session locks outlive a rolled-back transaction).
    `CREATE OR REPLACE FUNCTION ${sql.reservePositions}(n integer) RETURNS SETOF bigint
       LANGUAGE plpgsql AS $fn$
     BEGIN
       IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
         RAISE EXCEPTION 'reserve_positions must run before the transaction writes anything';
       END IF;
       PERFORM pg_advisory_lock(${sql.sequencerLock});
       BEGIN
         PERFORM pg_current_xact_id();
         RETURN QUERY SELECT nextval('${sql.schema}.position_seq') FROM generate_series(1, n);
       EXCEPTION WHEN OTHERS OR query_canceled THEN
         PERFORM pg_advisory_unlock(${sql.sequencerLock});
         RAISE;
       END;
       PERFORM pg_advisory_unlock(${sql.sequencerLock});
     END
     $fn$`,
    // The first statement of every append (docs/stores.md, "Appending"). Per-stream order: the
    // stream locks are transaction advisory locks, held to commit, taken before the positions are
    // drawn. So the previous writer of a stream has drawn its positions and committed before this
    // one draws, and position (hence leaf) order within a stream is revision order. Keys are taken
    // in ascending order, so writers of overlapping stream sets never wait on each other in a cycle.
    // Heads and recorded ids are read after the locks (READ COMMITTED: each statement here gets a
    // fresh snapshot), so they are current. Positions are drawn for the named ids not yet recorded
    // and for the `fresh` events whose ids the ledger generated (never recorded, so not looked up):
    // a pure retry takes no positions and no transaction id. Schema 4 added `fresh`.
    `DROP FUNCTION IF EXISTS ${sql.beginAppend}(text[], text[])`,
    `CREATE OR REPLACE FUNCTION ${sql.beginAppend}(stream_names text[], event_ids text[], fresh integer)
       RETURNS TABLE (positions bigint[], recorded json, heads json)
       LANGUAGE plpgsql AS $fn$
     DECLARE
       lock_key bigint;
       known integer;
     BEGIN
       IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
         RAISE EXCEPTION 'begin_append must run before the transaction writes anything';
       END IF;
       FOR lock_key IN SELECT DISTINCT hashtextextended(name, ${sql.streamLockSeed}) FROM unnest(stream_names) AS name ORDER BY 1 LOOP
         PERFORM pg_advisory_xact_lock(lock_key);
       END LOOP;
       SELECT coalesce(json_agg(json_build_object('id', e.id, 'position', e.position, 'stream', e.stream,
                                                  'revision', e.revision, 'contentDigest', encode(e.content_digest, 'hex'))), '[]'),
              count(*)
         INTO recorded, known
         FROM ${sql.events} AS e WHERE e.id = ANY(event_ids::uuid[]);
       SELECT coalesce(json_agg(json_build_object('stream', s.stream, 'revision', s.revision, 'leafHash', encode(s.last_hash, 'hex'))), '[]')
         INTO heads
         FROM ${sql.streams} AS s WHERE s.stream = ANY(stream_names) AND s.revision >= 0;
       IF cardinality(event_ids) - known + fresh > 0 THEN
         positions := ARRAY(SELECT p FROM ${sql.reservePositions}(cardinality(event_ids) - known + fresh) AS p ORDER BY p);
       ELSE
         positions := '{}';
       END IF;
       RETURN NEXT;
     END
     $fn$`,
    `INSERT INTO ${sql.meta} (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}')
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
  ];
}
