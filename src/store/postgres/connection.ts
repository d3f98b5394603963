// Connection settings from a store URL, and driver failures turned into the typed errors users
// see. A password never leaves this file: messages name the host through `displayUrl`.
import pg from 'pg';
import { InputError, LedgerError, UnavailableError } from '../../errors.js';

export interface PostgresSettings {
  /** Connection string handed to node-postgres (runledger's own query parameters removed). */
  connectionString: string;
  /** The URL without its password. */
  displayUrl: string;
  /** `host:port/database`, the place an error message names. */
  where: string;
  /** PostgreSQL schema holding this ledger's tables; several ledgers can share a database. */
  schema: string;
  poolSize: number;
}

const DEFAULT_SCHEMA = 'runledger';
const DEFAULT_POOL_SIZE = 10;
// Unquoted-identifier form, so the schema name needs no escaping anywhere and folds to itself.
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Parses `postgres://user:password@host:port/database?schema=name&pool=n`. `schema` (default
 * `runledger`) and `pool` (default 10 connections) are runledger's; every other parameter
 * (`sslmode`, …) goes to node-postgres unchanged.
 */
export function parsePostgresUrl(url: string, overrides: { schema?: string; poolSize?: number } = {}): PostgresSettings {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`store URL "${redactPassword(url)}" is not a valid postgres:// URL`, { field: 'store' });
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InputError(`store URL "${redactPassword(url)}" is not a postgres:// URL`, { field: 'store' });
  }
  const schema = overrides.schema ?? parsed.searchParams.get('schema') ?? DEFAULT_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new InputError(`schema "${schema}" must be a lowercase identifier (letters, digits, _; at most 63 characters)`, {
      field: 'schema',
    });
  }
  const poolParam = parsed.searchParams.get('pool');
  const poolSize = overrides.poolSize ?? (poolParam === null ? DEFAULT_POOL_SIZE : Number(poolParam));
  if (!Number.isSafeInteger(poolSize) || poolSize < 1) {
    throw new InputError(`pool size must be a positive integer, got "${poolParam ?? poolSize}"`, { field: 'pool' });
  }
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('pool');
  const connectionString = parsed.toString();
  const shown = new URL(connectionString);
  if (shown.password !== '') shown.password = '';
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres';
  const host = parsed.hostname || 'localhost';
  return {
    connectionString,
    displayUrl: shown.toString(),
    where: `${host}:${parsed.port || '5432'}/${database}`,
    schema,
    poolSize,
  };
}

/** For messages about URLs that did not even parse. */
export function redactPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

// SQLSTATE classes that mean "the server cannot serve us now", not "your request was wrong":
// 08 connection exception, 28 authorization, 53 insufficient resources, 57 operator intervention
// (57P01 is pg_terminate_backend), 58 system error, 3D000 no such database.
const UNAVAILABLE_CLASSES = ['08', '28', '53', '57', '58'];
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** SQLSTATE of a server error, undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}

/** True when the failure is the connection or server, so retrying later may succeed. */
export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof UnavailableError) return true;
  const state = sqlState(err);
  if (state !== undefined) return state === '3D000' || UNAVAILABLE_CLASSES.some((c) => state.startsWith(c));
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end/i.test(
    message,
  );
}

/** Typed errors pass through; connection failures and a missing schema become UnavailableError. */
export function storeFailure(err: unknown, settings: PostgresSettings): unknown {
  if (err instanceof LedgerError) return err;
  const state = sqlState(err);
  if (state === '42P01' || state === '3F000' || state === '42883') {
    return new UnavailableError(
      `no runledger ledger in schema "${settings.schema}" of PostgreSQL at ${settings.where}: run "runledger init --store ${settings.displayUrl}" first`,
    );
  }
  if (isConnectionFailure(err)) {
    const reason = err instanceof Error ? err.message || (err as { code?: string }).code || 'connection failed' : String(err);
    return new UnavailableError(`PostgreSQL at ${settings.where} is unavailable: ${reason}`);
  }
  return err;
}
