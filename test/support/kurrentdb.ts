// A real KurrentDB for the store conformance suite, chosen by services.ts: the server named by
// KURRENTDB_URL (kurrentdb:// or esdb://), else a Testcontainers container (insecure single node,
// in-memory) where a container runtime answers. There is no embedded KurrentDB, so otherwise the
// suite skips with one line saying how to enable it. A container started here is stopped when
// mocha's root suite ends.
import { KurrentDBClient } from '@kurrent/kurrentdb-client';
import { selectService, startContainer, type ContainerRuntime, type ServicePlan, type Skip, type Unavailable } from '../../infra/services/services.js';

export type { Skip };

export interface KurrentServer {
  /** Connection string for @kurrent/kurrentdb-client. */
  url: string;
}

/** The 2026 LTS line (KurrentDB: one LTS a year, minor 0); docker-compose.yml runs the same tag. */
export const KURRENTDB_IMAGE = process.env.RUNLEDGER_KURRENTDB_IMAGE ?? 'docker.kurrent.io/kurrent-lts/kurrentdb:26.0.3';

let server: Promise<KurrentServer | Skip> | undefined;
let stopContainer: (() => Promise<void>) | undefined;

/** Undefined when a one-event read of $all answers within `timeoutMs`, else why not. */
export async function kurrentReachable(url: string, timeoutMs = 5000): Promise<string | undefined> {
  let client: KurrentDBClient;
  try {
    client = KurrentDBClient.connectionString(url);
  } catch (err) {
    return `not a KurrentDB connection string: ${(err as Error).message}`;
  }
  let timer: NodeJS.Timeout | undefined;
  const read = (async (): Promise<string | undefined> => {
    for await (const _ of client.readAll({ maxCount: 1, deadline: timeoutMs })) break;
    return undefined;
  })();
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs + 500);
  });
  try {
    return await Promise.race([read, timeout]);
  } catch (err) {
    const { message, type } = err as Error & { type?: string };
    // The client's connection errors carry only their class name ("UnavailableError").
    return type === 'unavailable' ? `no node answered: the client reports ${message}` : message.split('\n')[0];
  } finally {
    clearTimeout(timer);
    read.catch(() => undefined);
    await client.dispose().catch(() => undefined);
  }
}

async function startContainerServer(runtime: ContainerRuntime): Promise<KurrentServer | Unavailable> {
  let url = '';
  const started = await startContainer(runtime, async (tc) => {
    const container = await new tc.GenericContainer(KURRENTDB_IMAGE)
      .withEnvironment({
        KURRENTDB_CLUSTER_SIZE: '1',
        KURRENTDB_INSECURE: 'true',
        KURRENTDB_MEM_DB: 'true',
        KURRENTDB_RUN_PROJECTIONS: 'None',
      })
      .withExposedPorts(2113)
      // The image declares a HEALTHCHECK on /health/live.
      .withWaitStrategy(tc.Wait.forHealthCheck())
      .withStartupTimeout(120_000)
      .start();
    url = `kurrentdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`;
    return container;
  });
  stopContainer = started.stop;
  return { url };
}

/** KURRENTDB_URL → container, as services.ts orders every service. */
export const kurrentdbPlan: ServicePlan<KurrentServer> = {
  name: 'KurrentDB',
  envVar: 'KURRENTDB_URL',
  envExample: 'kurrentdb://127.0.0.1:2113?tls=false',
  fromEnv: async (url) => {
    const problem = await kurrentReachable(url);
    return problem ? { unavailable: problem } : { url };
  },
  fromContainer: startContainerServer,
};

/** The shared KurrentDB, or `{ skip }` with one line saying why there is none and how to enable it. */
export function kurrentdbServer(): Promise<KurrentServer | Skip> {
  server ??= selectService(kurrentdbPlan).then((selected) => ('skip' in selected ? selected : selected.service));
  return server;
}

export async function stopKurrentdbServer(): Promise<void> {
  server = undefined;
  const stop = stopContainer;
  stopContainer = undefined;
  if (stop) await stop();
}

const rootAfter = (globalThis as { after?: (fn: () => Promise<void>) => void }).after;
if (typeof rootAfter === 'function') rootAfter(stopKurrentdbServer);
