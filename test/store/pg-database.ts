// One PostgreSQL database per test file, and a fresh ledger schema in it per store, so tests stay
// independent without paying for CREATE DATABASE each time. Prints the skip reason once.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/index.js';
import type { EventStore } from '../../src/store/port.js';
import { startPostgres, type PostgresDatabase } from '../../infra/services/postgres.js';

export interface PgTestDatabase {
  url: string;
  /** A fresh initialised store in a schema of its own. */
  store(options?: Partial<PostgresStoreOptions>): Promise<{ store: EventStore; schema: string; url: string; cleanup(): Promise<void> }>;
  /** A plain node-postgres client on the test database (closed by the caller). */
  client(): Promise<pg.Client>;
  stop(): Promise<void>;
}

/** Memoised per importer: call once in `before`, get null (after one printed line) when PostgreSQL is unavailable. */
export function pgTestDatabase(suite: string): () => Promise<PgTestDatabase | null> {
  let started: Promise<PostgresDatabase | { skip: string }> | undefined;
  let warned = false;
  return async () => {
    started ??= startPostgres();
    const db = await started;
    if ('skip' in db) {
      if (!warned) console.log(`    skipping ${suite}: ${db.skip}`);
      warned = true;
      return null;
    }
    const client = async (): Promise<pg.Client> => {
      const c = new pg.Client({ connectionString: db.url });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    };
    return {
      url: db.url,
      client,
      stop: () => db.stop(),
      async store(options = {}) {
        const schema = `t_${randomBytes(5).toString('hex')}`;
        const url = `${db.url}?schema=${schema}`;
        const store = createPostgresStore({ url, ...options });
        await store.init();
        return {
          store,
          schema,
          url,
          async cleanup() {
            await store.close();
            const c = await client();
            try {
              await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
            } finally {
              await c.end();
            }
          },
        };
      },
    };
  };
}
