// Store selection by URL (docs/stores.md): `sqlite:<path>`, `postgres://…`, `kurrentdb://…`.
// Adapters are imported on demand: the embedded path never loads a network driver, and commands
// that open no store (--help, --version) load no adapter at all.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError, UnavailableError } from '../errors.js';
import type { EventStore } from './port.js';

export interface OpenStoreOptions {
  /** Open without writing: the embedded store refuses appends and never creates a file. */
  readonly?: boolean;
  /** Directory relative `sqlite:` paths are resolved against. Default: the current directory. */
  cwd?: string;
}

/** The embedded ledger a home directory holds unless a store URL says otherwise. */
export function defaultStoreUrl(home: string): string {
  return `sqlite:${join(home, 'ledger.db')}`;
}

/**
 * The path of a `sqlite:` URL. `sqlite:` is followed by a file path, relative to the current
 * directory unless absolute; an optional `//` after the colon is dropped, so `sqlite:///var/l.db`
 * is `/var/l.db` and `sqlite://l.db` is `l.db`. `sqlite::memory:` is a private in-memory ledger.
 */
export function sqlitePath(url: string, cwd: string = process.cwd()): string {
  const path = url.replace(/^sqlite:(\/\/)?/, '');
  if (path === '') throw new InputError(`store URL "${url}" names no database file (expected sqlite:<path>)`, { field: 'store' });
  return path === ':memory:' ? path : resolve(cwd, path);
}

interface AdapterModule {
  createPostgresStore?: (options: { url: string }) => EventStore;
  createKurrentStore?: (options: { url: string }) => EventStore;
}

// A non-literal specifier: the adapter may be absent from a build, which must be a clear
// UnavailableError rather than a compile-time or load-time failure of every command.
async function importAdapter(dir: 'postgres' | 'kurrentdb'): Promise<AdapterModule | undefined> {
  const specifier = `./${dir}/index.js`;
  try {
    return (await import(specifier)) as AdapterModule;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`/${dir}/index.js`)) return undefined;
    throw err;
  }
}

/** Opens the store a URL names and creates its schema if needed (idempotent). */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<EventStore> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  let store: EventStore;
  switch (scheme) {
    case 'sqlite': {
      const { createSqliteStore } = await import('./sqlite/index.js');
      store = createSqliteStore({ path: sqlitePath(url, options.cwd), readonly: options.readonly });
      break;
    }
    case 'postgres':
    case 'postgresql': {
      const adapter = await importAdapter('postgres');
      if (!adapter?.createPostgresStore) throw new UnavailableError('the postgres adapter is not available in this build');
      store = adapter.createPostgresStore({ url });
      break;
    }
    case 'kurrentdb':
    case 'kurrentdb+discover':
    case 'esdb':
    case 'esdb+discover': {
      const adapter = await importAdapter('kurrentdb');
      if (!adapter?.createKurrentStore) throw new UnavailableError('the kurrentdb adapter is not available in this build');
      store = adapter.createKurrentStore({ url });
      break;
    }
    default:
      throw new InputError(
        `store URL "${redact(url)}" has no known scheme: use sqlite:<path>, postgres://…, kurrentdb://… or esdb://…`,
        { field: 'store' },
      );
  }
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}

/**
 * Opens the store of a ledger that exists: unless `create` is set, an embedded store whose file is
 * missing is an UnavailableError ending in `missingHint`, never a silently created empty ledger.
 * The CLI and the public API (`openLedger`) both open stores through here.
 */
export async function openLedgerStore(url: string, options: { create?: boolean; missingHint: string }): Promise<EventStore> {
  if (!options.create && url.startsWith('sqlite:')) {
    const path = sqlitePath(url);
    if (path !== ':memory:' && !existsSync(path)) throw new UnavailableError(`no ledger at ${path}: ${options.missingHint}`);
  }
  return openStore(url);
}

/** A URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}
