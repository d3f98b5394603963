// One append transaction's statements, run on a client the caller has already put in a
// transaction (the store commits; a test can hold the transaction open to commit it late).
import type pg from 'pg';
import type { AppendResult } from '../port.js';
import { appendReads, planAppend, type RecordedIdentity, type StreamHead } from '../append-plan.js';
import type { PreparedRequest } from '../seal.js';
import type { LedgerSql } from './schema.js';

interface BeginRow {
  positions: string[];
  recorded: (Omit<RecordedIdentity, 'position' | 'revision'> & { position: string | number; revision: string | number })[];
  heads: { stream: string; revision: string | number; leafHash: string }[];
}

/**
 * Writes a validated batch inside the caller's open transaction, which must not have written
 * anything yet (the sequencer takes the transaction id together with the positions).
 * Two statements: `begin_append` locks the batch's streams (advisory locks held to commit, in key
 * order), reads their heads and the batch's recorded ids, and only then draws positions; the shared
 * planner checks and seals; then one statement inserts the events, moves the heads and queues the
 * NOTIFY, which PostgreSQL delivers only when the transaction commits.
 */
export async function writeBatch(
  client: pg.ClientBase,
  sql: LedgerSql,
  requests: PreparedRequest[],
  recordedAt: string,
): Promise<AppendResult> {
  const { streams, ids } = appendReads(requests);
  const begun = await client.query<BeginRow>(`SELECT positions, recorded, heads FROM ${sql.beginAppend}($1::text[], $2::text[])`, [streams, ids]);
  const read = begun.rows[0]!;
  const heads = new Map<string, StreamHead>(read.heads.map((h) => [h.stream, { revision: Number(h.revision), leafHash: h.leafHash }]));
  const recorded = new Map<string, RecordedIdentity>(
    read.recorded.map((r) => [r.id, { ...r, position: Number(r.position), revision: Number(r.revision) }]),
  );
  const plan = planAppend(requests, { heads, recorded }, recordedAt);
  // begin_append drew one position per id it did not find, which is every planned row (checked here).
  const positions = read.positions.map(Number);
  const result = plan.result(plan.rows.length === 0 ? [] : positions);
  if (plan.duplicate) return result;

  const moved = [...plan.heads];
  // Insert, advance the heads and queue the commit notification in one statement.
  await client.query(
    `WITH inserted AS (
       INSERT INTO ${sql.events} (position, id, stream, revision, type, recorded_at, content_digest, leaf_hash, canonical)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bytea[])
     ), moved AS (
       INSERT INTO ${sql.streams} (stream, revision, last_hash)
       SELECT * FROM unnest($10::text[], $11::bigint[], $12::bytea[])
       ON CONFLICT (stream) DO UPDATE SET revision = EXCLUDED.revision, last_hash = EXCLUDED.last_hash
     )
     SELECT pg_notify($13, $14)`,
    [
      positions,
      plan.rows.map((r) => r.envelope.id),
      plan.rows.map((r) => r.envelope.stream),
      plan.rows.map((r) => r.envelope.revision),
      plan.rows.map((r) => r.envelope.type),
      plan.rows.map((r) => r.envelope.metadata.recordedAt),
      plan.rows.map((r) => r.contentDigest),
      plan.rows.map((r) => r.leaf),
      plan.rows.map((r) => r.canonical),
      moved.map(([stream]) => stream),
      moved.map(([, h]) => h.revision),
      moved.map(([, h]) => Buffer.from(h.leafHash, 'hex')),
      sql.channel,
      String(positions.at(-1)),
    ],
  );
  return result;
}
