// One append transaction's statements, run on a client the caller has already put in a
// transaction (the store commits; a test can hold the transaction open to commit it late).
import pg from 'pg';
import { UnavailableError } from '../../errors.js';
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

/** The insert of writeBatch: $5 and $6 hold 32 bytes per event, $7 the canonical bytes at $8 with lengths $9; $12 32 bytes per moved head. */
function insertSql(sql: LedgerSql): string {
  return `WITH inserted AS (
       INSERT INTO ${sql.events} (position, id, stream, revision, content_digest, leaf_hash, canonical)
       SELECT p, i, s, r, substring($5::bytea FROM (k * 32 - 31)::integer FOR 32), substring($6::bytea FROM (k * 32 - 31)::integer FOR 32), substring($7::bytea FROM o + 1 FOR n)
         FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $8::integer[], $9::integer[]) WITH ORDINALITY AS x (p, i, s, r, o, n, k)
     ), moved AS (
       INSERT INTO ${sql.streams} (stream, revision, last_hash)
       SELECT s, r, substring($12::bytea FROM (k * 32 - 31)::integer FOR 32)
         FROM unnest($10::text[], $11::bigint[]) WITH ORDINALITY AS y (s, r, k)
       ON CONFLICT (stream) DO UPDATE SET revision = EXCLUDED.revision, last_hash = EXCLUDED.last_hash
     )
     SELECT pg_notify(${pg.escapeLiteral(sql.channel)}, $13)`;
}

/**
 * Writes a validated batch, in the caller's open transaction (which must not have written anything
 * yet: the sequencer takes the transaction id together with the positions) or, with `framing`, in
 * its own: BEGIN then travels with begin_append in one simple-query message (values as SQL
 * literals — pg.escapeLiteral, array syntax escaped — as that protocol has no parameters), and
 * COMMIT is pipelined behind the insert (the client must be in node-postgres' pipeline mode):
 * two round trips per append. Two statements: `begin_append` locks the batch's streams (advisory
 * locks held to commit, in key order), reads their heads and the batch's recorded ids, and only
 * then draws positions; the shared planner checks and seals; then one prepared statement with
 * parameters inserts the events, moves the heads and queues the NOTIFY, which PostgreSQL delivers
 * only when the transaction commits. The insert's bytes are parameters, not literals: lexing and
 * decoding ~75 kB of literal text per 100-event batch was a quarter of the server's CPU per event
 * (docs/benchmarks.md, "Round 4"). A failing statement throws, and the caller rolls back.
 */
export async function writeBatch(
  client: pg.ClientBase,
  sql: LedgerSql,
  requests: readonly PreparedRequest[],
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
  // Insert, advance the heads and queue the commit notification in one statement, with parameters:
  // the bytes travel as three binary bytea values (all digests, all leaf hashes, all canonical bytes
  // concatenated) that the server slices, so it neither lexes nor decodes them.
  const offsets: number[] = [];
  const lengths: number[] = [];
  let offset = 0;
  for (const row of rows) {
    offsets.push(offset);
    lengths.push(row.canonical.length);
    offset += row.canonical.length;
  }
  // Named: each connection parses and plans it once (~2 µs of server CPU per event less than an
  // unnamed statement, measured). Behind PgBouncer's transaction mode this needs PgBouncer 1.21 or
  // newer with max_prepared_statements above 0 (docs/stores.md, "Operating notes").
  const insert = client.query({
    name: `runledger_insert_${sql.schema}`,
    text: insertSql(sql),
    values: [
      positions,
      rows.map((r) => r.envelope.id),
      rows.map((r) => r.envelope.stream),
      rows.map((r) => r.envelope.revision),
      Buffer.from(rows.map((r) => r.contentDigest).join(''), 'hex'),
      Buffer.concat(rows.map((r) => r.leaf)),
      Buffer.concat(rows.map((r) => r.canonical)),
      offsets,
      lengths,
      moved.map(([stream]) => stream),
      moved.map(([, h]) => h.revision),
      Buffer.from(moved.map(([, h]) => h.leafHash).join(''), 'hex'),
      String(positions.at(-1)),
    ],
  });
  if (!framing.commit) {
    await insert;
    return result;
  }
  await committedBehind(insert, client.query('COMMIT'), sql.schema);
  return result;
}

/**
 * Awaits a statement and the COMMIT sent right behind it without waiting for its answer (one round
 * trip instead of two; docs/benchmarks.md, "Round 6 (pg6)"). Each has its own Sync, so when the
 * statement fails the server still runs the COMMIT, which in the failed transaction rolls back
 * (command tag ROLLBACK): nothing of the batch is kept, and the statement's error is thrown. A
 * COMMIT answered as anything but COMMIT is refused too, so success means the batch is durable.
 */
async function committedBehind(statement: Promise<unknown>, commit: Promise<pg.QueryResult>, schema: string): Promise<void> {
  const [done, committed] = await Promise.allSettled([statement, commit]);
  if (done.status === 'rejected') throw done.reason;
  if (committed.status === 'rejected') throw committed.reason;
  if (committed.value.command !== 'COMMIT') {
    throw new UnavailableError(`append to ledger schema "${schema}" ended in ${committed.value.command}, not COMMIT: nothing of the batch was written`);
  }
}
