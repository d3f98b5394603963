// Read-only access to a range of the log by other threads (parallel verification's workers read
// their own rows: no bytes pass through the main thread). One statement per range, so in WAL mode
// each range is read from one snapshot; rows appended meanwhile lie past any range handed out.
import Database from 'better-sqlite3';

/**
 * One row of a range: position, the length of its recorded leaf hash, and that hash followed by the
 * canonical bytes in one buffer (one allocation per row instead of two). `||` concatenates the
 * bytes as they are (the CAST makes the result a BLOB again); a reader that got them wrong would
 * only fail to recompute the recorded hash and leave the row to the main thread.
 */
export type RangeRow = [position: number, leafHashLength: number, leafHashAndCanonical: Buffer];

export interface LogRangeReader {
  /** The rows with position in [from, to), in position order (as stored: gaps and all). */
  rows(from: number, to: number): RangeRow[];
  close(): void;
}

/** Opens the ledger file read-only for range reads; the caller has opened it as a store already. */
export function openLogRangeReader(path: string): LogRangeReader {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const range = db.prepare('SELECT position, length(leaf_hash), CAST(leaf_hash || canonical AS BLOB) FROM events WHERE position >= ? AND position < ? ORDER BY position').raw();
  return {
    rows: (from, to) => range.all(from, to) as RangeRow[],
    close: () => db.close(),
  };
}
