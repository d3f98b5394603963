// The ledger's tables in one PostgreSQL schema, created idempotently. docs/stores.md (PostgreSQL)
// explains every table and the ordering rule; keep the two in step.
import { createHash } from 'node:crypto';

/** Bumped when the DDL changes; `init()` re-runs the DDL when the stored value differs. */
export const SCHEMA_VERSION = '1';

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
  reservePositions: string;
  /** NOTIFY channel appends signal on commit. */
  channel: string;
  /** Advisory lock (bigint, as text) serializing xid assignment with position reservation. */
  sequencerLock: string;
  /** Advisory lock held by the one integrator of this ledger. */
  integratorLock: string;
  /** Advisory lock serializing concurrent `init()` DDL. */
  initLock: string;
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
    reservePositions: q('reserve_positions'),
    channel: `runledger_${schema}`,
    sequencerLock: lockKey(schema, 'sequencer'),
    integratorLock: lockKey(schema, 'integrator'),
    initLock: lockKey(schema, 'init'),
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
    `CREATE TABLE IF NOT EXISTS ${sql.events} (
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
       leaf_index bigint,
       CONSTRAINT events_id_key UNIQUE (id),
       CONSTRAINT events_stream_revision_key UNIQUE (stream, revision),
       CONSTRAINT events_leaf_index_key UNIQUE (leaf_index)
     )`,
    // The integrator's work queue: small, because integrated rows leave it.
    `CREATE INDEX IF NOT EXISTS events_unintegrated ON ${sql.events} (position) WHERE leaf_index IS NULL`,
    // One row per stream: its head, locked by every append to the stream (the prevHash chain).
    `CREATE TABLE IF NOT EXISTS ${sql.streams} (
       stream text PRIMARY KEY,
       revision bigint NOT NULL,
       last_hash bytea
     )`,
    // The persisted compact range: one 32-byte hash per set bit of size, concatenated left to right.
    `CREATE TABLE IF NOT EXISTS ${sql.tree} (
       singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
       size bigint NOT NULL,
       range bytea NOT NULL
     )`,
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
    `INSERT INTO ${sql.meta} (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}')
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
  ];
}
