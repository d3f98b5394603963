// One append transaction's statements, run on a client the caller has already put in a
// transaction (the store commits; a test can hold the transaction open to commit it late).
import pg from 'pg';
import type { AppendResult } from '../port.js';
import { appendReads, planAppend, type RecordedIdentity, type StreamHead } from '../append-plan.js';
import type { PreparedRequest } from '../seal.js';
import type { LedgerSql } from './schema.js';

interface BeginRow {
  positions: string[];
  recorded: (Omit<RecordedIdentity, 'position' | 'revision'> & { position: string | number; revision: string | number })[];
  heads: { stream: string; revision: string | number; leafHash: string }[];
}

/** How writeBatch frames its statements: inside the caller's open transaction (the default), or its own. */
export interface BatchFraming {
  /** Sent in the first round trip, before begin_append: the transaction's BEGIN. */
  begin?: string;
  /** Commit in the second round trip, right after the insert. */
  commit?: boolean;
}

/**
 * A text[] literal, each element quoted (array syntax: backslash and double quote escaped), as one
 * SQL string literal. Without a quote or backslash in it (ids, hex digests, most stream names) the
 * literal is the text in quotes, which is what pg.escapeLiteral returns then too, without its
 * character-by-character copy (~1 µs per event of client CPU on a 100-event batch).
 */
function textArray(values: readonly string[]): string {
  const body = `{${values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
  return /['\\]/.test(body) ? pg.escapeLiteral(body) : `'${body}'`;
}

/** A bigint[] literal of safe integers. */
function integerArray(values: readonly number[]): string {
  return `'{${values.join(',')}}'`;
}

/** A bytea[] as hex text (only [0-9a-f]: nothing to escape), decoded server-side. */
function hexArray(values: readonly Buffer[]): string {
  return `'{${values.map((v) => v.toString('hex')).join(',')}}'`;
}

/** A bytea[] as base64 text, each element quoted (its alphabet has no quote, backslash or comma), decoded server-side: a third shorter than hex. */
function base64Array(values: readonly Buffer[]): string {
  return `'{${values.map((v) => `"${v.toString('base64')}"`).join(',')}}'`;
}

/**
 * Writes a validated batch, in the caller's open transaction (which must not have written anything
 * yet: the sequencer takes the transaction id together with the positions) or, with `framing`, in
 * its own, which then costs two round trips instead of four: BEGIN travels with begin_append and
 * COMMIT with the insert (simple-query protocol, several statements in one message; values are SQL
 * literals — pg.escapeLiteral, array syntax escaped — as that protocol has no parameters).
 * Two statements: `begin_append` locks the batch's streams (advisory locks held to commit, in key
 * order), reads their heads and the batch's recorded ids, and only then draws positions; the shared
 * planner checks and seals; then one statement inserts the events, moves the heads and queues the
 * NOTIFY, which PostgreSQL delivers only when the transaction commits. A failing statement stops
 * the message there: nothing after it runs, and the caller rolls back.
 */
export async function writeBatch(
  client: pg.ClientBase,
  sql: LedgerSql,
  requests: PreparedRequest[],
  recordedAt: string,
  framing: BatchFraming = {},
): Promise<AppendResult> {
  const { streams, ids } = appendReads(requests);
  // Events whose ids the ledger generated: positions without a lookup (appendReads leaves them out).
  const fresh = requests.reduce((n, r) => n + r.events.length, 0) - ids.length;
  const begin = `SELECT positions, recorded, heads FROM ${sql.beginAppend}(${textArray(streams)}::text[], ${textArray(ids)}::text[], ${fresh})`;
  const answers = (await client.query(framing.begin === undefined ? begin : `${framing.begin}; ${begin}`)) as unknown as pg.QueryResult<BeginRow> | pg.QueryResult[];
  const read = (Array.isArray(answers) ? (answers.at(-1) as pg.QueryResult<BeginRow>) : answers).rows[0]!;
  const heads = new Map<string, StreamHead>(read.heads.map((h) => [h.stream, { revision: Number(h.revision), leafHash: h.leafHash }]));
  const recorded = new Map<string, RecordedIdentity>(
    read.recorded.map((r) => [r.id, { ...r, position: Number(r.position), revision: Number(r.revision) }]),
  );
  const plan = planAppend(requests, { heads, recorded }, recordedAt);
  // begin_append drew one position per named id it did not find and per generated id, which is every planned row (checked here).
  const positions = read.positions.map(Number);
  const result = plan.result(plan.rows.length === 0 ? [] : positions);
  if (plan.duplicate) {
    if (framing.commit) await client.query('COMMIT');
    return result;
  }

  const moved = [...plan.heads];
  const rows = plan.rows;
  // Insert, advance the heads and queue the commit notification in one statement.
  const insert = `WITH inserted AS (
       INSERT INTO ${sql.events} (position, id, stream, revision, content_digest, leaf_hash, canonical)
       SELECT p, i, s, r, decode(d, 'hex'), decode(l, 'hex'), decode(c, 'base64')
         FROM unnest(${integerArray(positions)}::bigint[], ${textArray(rows.map((r) => r.envelope.id))}::uuid[],
                     ${textArray(rows.map((r) => r.envelope.stream))}::text[], ${integerArray(rows.map((r) => r.envelope.revision))}::bigint[],
                     ${textArray(rows.map((r) => r.contentDigest))}::text[], ${hexArray(rows.map((r) => r.leaf))}::text[],
                     ${base64Array(rows.map((r) => r.canonical))}::text[]) AS x (p, i, s, r, d, l, c)
     ), moved AS (
       INSERT INTO ${sql.streams} (stream, revision, last_hash)
       SELECT s, r, decode(h, 'hex')
         FROM unnest(${textArray(moved.map(([stream]) => stream))}::text[], ${integerArray(moved.map(([, h]) => h.revision))}::bigint[],
                     ${textArray(moved.map(([, h]) => h.leafHash))}::text[]) AS y (s, r, h)
       ON CONFLICT (stream) DO UPDATE SET revision = EXCLUDED.revision, last_hash = EXCLUDED.last_hash
     )
     SELECT pg_notify(${pg.escapeLiteral(sql.channel)}, ${pg.escapeLiteral(String(positions.at(-1)))})`;
  await client.query(framing.commit ? `${insert}; COMMIT` : insert);
  return result;
}
