// One append transaction's statements, run on a client the caller has already put in a
// transaction (the store commits; a test can hold the transaction open to commit it late).
import type pg from 'pg';
import { ConcurrencyError } from '../../errors.js';
import type { AppendResult, AppendedStream } from '../port.js';
import { expectationHolds, recordedRetry, sealEvent, type PreparedRequest } from '../seal.js';
import type { LedgerSql } from './schema.js';

interface ExistingRow {
  id: string;
  position: number;
  stream: string;
  revision: number;
  contentDigest: string;
}

interface Head {
  revision: number;
  lastHash: string | null;
}

/**
 * Writes a validated batch inside the caller's open transaction, which must not have written
 * anything yet (the sequencer takes the transaction id together with the positions).
 * Two statements: `begin_append` locks the batch's streams (advisory locks held to commit, in key
 * order), reads their heads and the batch's recorded ids, and only then draws positions; then one
 * statement inserts the events, moves the heads and queues the NOTIFY PostgreSQL delivers on commit.
 */
export async function writeBatch(
  client: pg.ClientBase,
  sql: LedgerSql,
  requests: PreparedRequest[],
  recordedAt: string,
): Promise<AppendResult> {
  const ids = requests.flatMap((r) => r.events.map((e) => e.id));
  const names = [...new Set(requests.map((r) => r.stream))];
  const first = await client.query<{ positions: string[]; recorded: ExistingRow[]; heads: { stream: string; revision: number; leafHash: string }[] }>(
    `SELECT positions, recorded, heads FROM ${sql.beginAppend}($1::text[], $2::text[])`,
    [names, ids],
  );
  const reserved = first.rows[0]!.positions.map(Number);
  const existing = new Map(first.rows[0]!.recorded.map((row) => [row.id, { ...row, content_digest: row.contentDigest }]));
  const recorded = requests.map((request) => recordedRetry(request, (id) => existing.get(id)));

  const fresh = requests.filter((_, i) => recorded[i] === undefined);
  const freshCount = fresh.reduce((n, r) => n + r.events.length, 0);
  const heads = new Map<string, Head>();
  for (const name of names) heads.set(name, { revision: -1, lastHash: null });
  for (const row of first.rows[0]!.heads) heads.set(row.stream, { revision: Number(row.revision), lastHash: row.leafHash });

  const columns = {
    position: [] as number[],
    id: [] as string[],
    stream: [] as string[],
    revision: [] as number[],
    type: [] as string[],
    recordedAt: [] as string[],
    digest: [] as string[],
    leafHash: [] as Buffer[],
    canonical: [] as Buffer[],
  };
  const streams: AppendedStream[] = [];
  const positions: number[] = [];
  let next = 0;
  requests.forEach((request, i) => {
    const rows = recorded[i];
    if (rows) {
      const byId = new Map(rows.map((row) => [row.id, row]));
      const inOrder = request.events.map((e) => byId.get(e.id)!);
      for (const row of inOrder) positions.push(Number(row.position));
      streams.push({ stream: request.stream, firstRevision: Number(inOrder[0]!.revision), lastRevision: Number(inOrder.at(-1)!.revision) });
      return;
    }
    const head = heads.get(request.stream)!;
    if (!expectationHolds(request.expectedRevision, head.revision)) {
      throw new ConcurrencyError(request.stream, request.expectedRevision, head.revision);
    }
    const firstRevision = head.revision + 1;
    for (const event of request.events) {
      const sealed = sealEvent(request.stream, head.revision + 1, head.lastHash, event, recordedAt);
      const position = reserved[next++]!;
      columns.position.push(position);
      columns.id.push(event.id);
      columns.stream.push(request.stream);
      columns.revision.push(sealed.envelope.revision);
      columns.type.push(event.type);
      columns.recordedAt.push(sealed.envelope.metadata.recordedAt);
      columns.digest.push(event.contentDigest);
      columns.leafHash.push(Buffer.from(sealed.leafHash, 'hex'));
      columns.canonical.push(sealed.canonical);
      positions.push(position);
      head.revision += 1;
      head.lastHash = sealed.leafHash;
    }
    streams.push({ stream: request.stream, firstRevision, lastRevision: head.revision });
  });

  if (freshCount > 0) {
    // Insert, advance the heads and queue the commit notification in one statement.
    const touched = [...heads.entries()].filter(([, h]) => h.revision >= 0);
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
        columns.position,
        columns.id,
        columns.stream,
        columns.revision,
        columns.type,
        columns.recordedAt,
        columns.digest,
        columns.leafHash,
        columns.canonical,
        touched.map(([name]) => name),
        touched.map(([, h]) => h.revision),
        touched.map(([, h]) => (h.lastHash === null ? null : Buffer.from(h.lastHash, 'hex'))),
        sql.channel,
        String(columns.position.at(-1)),
      ],
    );
  }
  return { streams, positions, duplicate: freshCount === 0 };
}
