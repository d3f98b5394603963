// Read-only access to a range of the log by other threads (parallel verification's workers read
// their own rows: no bytes pass through the main thread). One statement per range, so in WAL mode
// each range is read from one snapshot; rows appended meanwhile lie past any range handed out.
import Database from 'better-sqlite3';

/**
 * A range comes back as one buffer (one allocation per range: a Buffer per row cost more than
 * SQLite's read of the row). Each row is a header of RANGE_HEADER ASCII hex digits — position
 * (16), the recorded leaf hash's byte length (8), the canonical bytes' length (8), as SQLite's
 * printf writes them — then the hash and the bytes as they are (`||` concatenates bytes; the
 * CASTs make the results BLOBs again). The reader of a block trusts none of it: `rangeRowAt` says
 * where the header does not parse or overruns the block, and the caller checks the position and
 * recomputes the hash; a row whose header or bytes are wrong (a row left out of the aggregate,
 * a column that is not a BLOB, rows out of order) only ends what the caller vouches for.
 */
export const RANGE_HEADER = 32;

/** Where a row of a block lies, filled by `rangeRowAt`. */
export interface RangeRowAt {
  position: number;
  /** Offset of the recorded leaf hash in the block; the canonical bytes follow it. */
  hash: number;
  hashLength: number;
  /** Offset of the canonical bytes; the next row starts at canonical + canonicalLength. */
  canonical: number;
  canonicalLength: number;
}

export interface LogRangeReader {
  /** The rows with position in [from, to), in position order (as stored: gaps and all), as one block; undefined when there are none. */
  range(from: number, to: number): Buffer | undefined;
  /** The canonical bytes of the first event the store's `readStream(stream, { fromRevision: revision, limit: 1 })` returns (the same statement); undefined when it returns none. */
  streamAt(stream: string, revision: number): Buffer | undefined;
  close(): void;
}

/** The columns of the store's event reads: the leaf hash as lowercase hex from SQLite itself (a string per row, not a Buffer plus its hex). */
export const EVENT_COLUMNS = 'position, lower(hex(leaf_hash)), canonical';

/**
 * The store's stream read (`EventStore.readStream` on SQLite): one statement for the store and for
 * the verification workers that check, stream by stream, that it reaches each stream's last event.
 */
export const READ_STREAM_SQL = `SELECT ${EVENT_COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?`;

// The subquery's ORDER BY is SQLite's rowid order, kept without a sort (group_concat(… ORDER BY)
// adds a temporary B-tree: 1.5–2 µs per row against 0.9–1.1). Nothing depends on it for
// correctness: each row carries its position, which the caller checks. A column that is not a BLOB
// (a table rewritten without STRICT) gets the length -1, which printf spells as 16 digits: the header
// then overruns the block and the row is not vouched for.
export const RANGE_SQL =
  "SELECT CAST(group_concat(CAST(printf('%016x%08x%08x', position, iif(typeof(leaf_hash) = 'blob', length(leaf_hash), -1), iif(typeof(canonical) = 'blob', length(canonical), -1)) AS BLOB) || leaf_hash || canonical, '') AS BLOB) " +
  'FROM (SELECT position, leaf_hash, canonical FROM events WHERE position >= ? AND position < ? ORDER BY position)';

/** Opens the ledger file read-only for range reads; the caller has opened it as a store already. */
export function openLogRangeReader(path: string): LogRangeReader {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const range = db.prepare(RANGE_SQL).pluck();
  const stream = db.prepare(READ_STREAM_SQL).raw();
  return {
    range: (from, to) => (range.get(from, to) as Buffer | null) ?? undefined,
    streamAt: (name, revision) => (stream.get(name, revision, 1) as [number, string, Buffer] | undefined)?.[2],
    close: () => db.close(),
  };
}

/** The value of `digits` lowercase hex digits at `at`, or -1 where one is not such a digit. */
function hexAt(block: Buffer, at: number, digits: number): number {
  let value = 0;
  for (let i = at; i < at + digits; i++) {
    const c = block[i]!;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

/** Parses the row starting at `at` into `row`; false where its header is not one or the row overruns the block. */
export function rangeRowAt(block: Buffer, at: number, row: RangeRowAt): boolean {
  if (at + RANGE_HEADER > block.length) return false;
  const position = hexAt(block, at, 16);
  const hashLength = hexAt(block, at + 16, 8);
  const canonicalLength = hexAt(block, at + 24, 8);
  if (position < 0 || hashLength < 0 || canonicalLength < 0) return false;
  const hash = at + RANGE_HEADER;
  const canonical = hash + hashLength;
  if (canonical + canonicalLength > block.length) return false;
  row.position = position;
  row.hash = hash;
  row.hashLength = hashLength;
  row.canonical = canonical;
  row.canonicalLength = canonicalLength;
  return true;
}
