// Opening an embedded ledger file: recognising it as a runledger database, creating the schema on
// first use, and setting the pragmas that make an acknowledged append durable.
import { closeSync, constants, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { IntegrityError, UnavailableError } from '../../errors.js';

/** SQLite header field `application_id` (file offset 68): "RLDG", so `file(1)` and we can tell a ledger apart. */
export const APPLICATION_ID = 0x524c4447;
/** Header field `user_version`: the schema version this build writes. */
export const SCHEMA_VERSION = 1;

// position is both the store order and the RFC 9162 leaf index: the append transaction holds the
// write lock, so commit order is position order and the tree is extended in the same transaction.
const SCHEMA = `
CREATE TABLE events (
  position       INTEGER PRIMARY KEY,
  id             TEXT    NOT NULL UNIQUE,
  stream         TEXT    NOT NULL,
  revision       INTEGER NOT NULL,
  type           TEXT    NOT NULL,
  recorded_at    TEXT    NOT NULL,
  content_digest TEXT    NOT NULL,
  leaf_hash      BLOB    NOT NULL,
  canonical      BLOB    NOT NULL,
  UNIQUE (stream, revision)
) STRICT;
CREATE TABLE tree (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
  size      INTEGER NOT NULL,
  range     BLOB    NOT NULL
) STRICT;
INSERT INTO tree (singleton, size, range) VALUES (0, 0, x'');
CREATE TABLE checkpoints (
  seq        INTEGER PRIMARY KEY,
  size       INTEGER NOT NULL,
  root       TEXT    NOT NULL,
  note       TEXT    NOT NULL,
  created_at TEXT    NOT NULL
) STRICT;
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE positions (
  consumer   TEXT PRIMARY KEY,
  position   INTEGER NOT NULL,
  updated_at TEXT    NOT NULL
) STRICT;
PRAGMA application_id = ${APPLICATION_ID};
PRAGMA user_version = ${SCHEMA_VERSION};
`;

export interface OpenOptions {
  path: string;
  readonly: boolean;
  busyTimeoutMs: number;
}

function isSqliteError(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_');
}

/**
 * Turns a driver error into the ledger's typed errors: a corrupt file is an IntegrityError, a file
 * that cannot be used (locked, not a database, read-only, disk full) is an UnavailableError.
 * Anything else is returned unchanged.
 */
export function storeFailure(err: unknown, path: string, busyTimeoutMs: number): unknown {
  if (!isSqliteError(err)) return err;
  const code = err.code;
  if (code.startsWith('SQLITE_CORRUPT')) return new IntegrityError(`ledger database ${path} is corrupt: ${err.message}`);
  if (code.startsWith('SQLITE_NOTADB')) return new UnavailableError(`${path} is not an SQLite database, so not a runledger ledger`);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new UnavailableError(`ledger database ${path} stayed locked by another process for more than ${busyTimeoutMs} ms`);
  }
  if (code.startsWith('SQLITE_READONLY')) return new UnavailableError(`ledger database ${path} cannot be written: ${err.message}`);
  if (code.startsWith('SQLITE_CANTOPEN')) return new UnavailableError(`cannot open ledger database ${path}: ${err.message}`);
  if (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_PERM')) {
    return new UnavailableError(`ledger database ${path} failed: ${err.message}`);
  }
  return err;
}

/** Opens (and on first use creates) a ledger database. Throws UnavailableError/IntegrityError with one sentence. */
export function openLedgerDatabase(options: OpenOptions): Database.Database {
  const { path, readonly, busyTimeoutMs } = options;
  const memory = path === ':memory:';
  if (!memory) {
    if (readonly && !existsSync(path)) throw new UnavailableError(`no ledger at ${path}`);
    if (!readonly) {
      try {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        // 0600 whatever the umask (a mode only ever loses bits to it); SQLite gives the -wal and
        // -shm files it creates the database file's mode.
        closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600));
      } catch (err) {
        throw new UnavailableError(`cannot create ledger database ${path} or its directory: ${(err as Error).message}`);
      }
    }
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly, timeout: busyTimeoutMs });
  } catch (err) {
    const failure = storeFailure(err, path, busyTimeoutMs);
    throw failure === err ? new UnavailableError(`cannot open ledger database ${path}: ${(err as Error).message}`) : failure;
  }
  try {
    prepare(db, path, readonly);
    return db;
  } catch (err) {
    db.close();
    throw storeFailure(err, path, busyTimeoutMs);
  }
}

function prepare(db: Database.Database, path: string, readonly: boolean): void {
  // Reading the header first: on a file that is not SQLite this fails with SQLITE_NOTADB.
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  if (applicationId !== 0 && applicationId !== APPLICATION_ID) {
    throw new UnavailableError(`${path} is an SQLite database of another application, not a runledger ledger`);
  }
  if (!readonly) {
    // WAL: readers never block the writer and a commit is one sequential append to the -wal file;
    // synchronous=FULL fsyncs the WAL at every commit, so an acknowledged append survives power loss.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  if (applicationId === 0) {
    if (readonly) throw new UnavailableError(`${path} is not a runledger ledger (it has no ledger schema)`);
    // Two processes may initialise the same new file: the check and the creation share one write lock.
    db.transaction(() => {
      if ((db.pragma('application_id', { simple: true }) as number) === APPLICATION_ID) return;
      const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'`).get() as { n: number };
      if (tables.n > 0) throw new UnavailableError(`${path} is an SQLite database but not a runledger ledger`);
      db.exec(SCHEMA);
    }).immediate();
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new UnavailableError(`ledger database ${path} has schema version ${version}, newer than this runledger understands (${SCHEMA_VERSION})`);
  }
  // Cheap consistency check (two index lookups): the tree must cover exactly the stored events.
  // One statement, so both values come from one snapshot even while other processes append.
  const row = db
    .prepare('SELECT (SELECT size FROM tree WHERE singleton = 0) AS size, (SELECT max(position) FROM events) AS p')
    .get() as { size: number | null; p: number | null };
  const events = row.p === null ? 0 : row.p + 1;
  if (row.size === null) throw new IntegrityError(`ledger database ${path} has no tree state row`);
  if (row.size !== events) {
    throw new IntegrityError(`ledger database ${path} is inconsistent: tree size ${row.size} but ${events} events are stored`);
  }
}
