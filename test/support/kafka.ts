// A real Apache Kafka broker for tests, chosen by services.ts: the one named by KAFKA_BROKERS
// (reused, never stopped here), else a Testcontainers container where a container runtime answers,
// else — when Java is installed — one started with infra/kafka/start.sh (~5 s; when the jars are not
// cached yet and Maven is installed, start.sh fetches them first). It is started once per mocha run,
// in the global setup of mocha-fixtures.ts (outside any test's timeout), and stopped at the end.
// Otherwise suites skip with one line saying how to enable them. KAFKA_VERSION picks the broker
// version for the local jars and the container image alike (default: infra/kafka/pom.xml's).
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { repoRoot } from './cli.js';
import { sharedService } from './mocha-fixtures.js';
import { freePort, optionalModule, selectService, startContainer, type ContainerRuntime, type ServicePlan, type Skip, type Unavailable } from '../../infra/services/services.js';

export type { Skip };

export interface KafkaBroker {
  brokers: string[];
  /** KAFKA_BROKERS form, for child processes. */
  list: string;
}

const startScript = join(repoRoot, 'infra', 'kafka', 'start.sh');

let broker: Promise<KafkaBroker | Skip> | undefined;
let pidDir: string | undefined;
let stopContainer: (() => Promise<void>) | undefined;

function client(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'runledger-test', brokers, logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 3, initialRetryTime: 200 } });
}

async function reachable(brokers: string[]): Promise<string | undefined> {
  const admin = client(brokers).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Undefined when start.sh would not download anything (`start.sh cached`), else why it would. */
function jarsMissing(): string | undefined {
  if (!existsSync(startScript)) return `${startScript} is missing`;
  const probe = spawnSync('bash', [startScript, 'cached'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status === 0) return undefined;
  const why = probe.stderr.trim().split('\n').slice(-1)[0]?.replace(/^kafka: /, '');
  return why || `the Kafka broker jars are not cached (${probe.stdout.trim() || 'infra/kafka/start.sh cached'})`;
}

/** True when `command` is on PATH. */
function onPath(command: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function runScript(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [startScript, ...args], { env, timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

function scriptEnv(): NodeJS.ProcessEnv {
  return { ...process.env, RUNLEDGER_KAFKA_PIDFILE: join(pidDir!, 'broker.pid') };
}

async function startLocal(): Promise<KafkaBroker | Unavailable> {
  if (!onPath('java')) return { unavailable: 'java is not installed to run the infra/kafka broker (Java 17+)' };
  const missing = jarsMissing();
  // Not cached yet: start.sh fetches the jars with Maven first, bounded by RUNLEDGER_KAFKA_FETCH_TIMEOUT.
  if (missing && !onPath('mvn')) return { unavailable: missing };
  const fetchSeconds = Number(process.env.RUNLEDGER_KAFKA_FETCH_TIMEOUT ?? 300);
  pidDir = mkdtempSync(join(tmpdir(), 'runledger-kafka-test-'));
  const started = await runScript([], scriptEnv(), missing ? (fetchSeconds + 120) * 1000 : 120_000);
  const line = /^KAFKA_BROKERS=(\S+)$/m.exec(started.stdout)?.[1];
  if (started.code !== 0 || !line) {
    const why = started.stderr.trim().split('\n').slice(-1)[0] ?? `exit ${started.code}`;
    return { unavailable: `the cached Kafka broker did not start (${why})` };
  }
  return { brokers: line.split(','), list: line };
}

interface KafkaModule {
  KafkaContainer: new (image: string) => {
    withKraft(): { start(): Promise<import('testcontainers').StartedTestContainer> };
  };
}

/** The version start.sh would run: KAFKA_VERSION, else the pom's default. */
function kafkaVersion(): string {
  const pom = readFileSync(join(repoRoot, 'infra', 'kafka', 'pom.xml'), 'utf8');
  return process.env.KAFKA_VERSION ?? /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1] ?? '3.9.1';
}

/**
 * @testcontainers/kafka when it is installed (a Confluent image: cp-kafka 7.9 is Kafka 3.9, 8.1 is
 * Kafka 4.1), else the apache/kafka image of the same version as the local jars, in KRaft mode,
 * with its client port published on the same number so the advertised address works on both sides.
 */
async function startContainerBroker(runtime: ContainerRuntime): Promise<KafkaBroker> {
  const version = kafkaVersion();
  const module = await optionalModule<KafkaModule>('@testcontainers/kafka');
  let list = '';
  const started = await startContainer(runtime, async (tc) => {
    if (module) {
      const image = process.env.RUNLEDGER_KAFKA_IMAGE ?? (Number(version.split('.')[0]) >= 4 ? 'confluentinc/cp-kafka:8.1.0' : 'confluentinc/cp-kafka:7.9.1');
      const container = await new module.KafkaContainer(image).withKraft().start();
      list = `${container.getHost()}:${container.getMappedPort(9093)}`;
      return container;
    }
    const port = await freePort();
    const container = await new tc.GenericContainer(process.env.RUNLEDGER_KAFKA_IMAGE ?? `apache/kafka:${version}`)
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: `PLAINTEXT://:${port},CONTROLLER://:9093`,
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${runtime.host}:${port}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      })
      .withExposedPorts({ container: port, host: port })
      .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
      .withStartupTimeout(120_000)
      .start();
    list = `${runtime.host}:${port}`;
    return container;
  });
  stopContainer = started.stop;
  return { brokers: [list], list };
}

/** KAFKA_BROKERS → container → the cached infra/kafka jars, as services.ts orders every service. */
export const kafkaPlan: ServicePlan<KafkaBroker> = {
  name: 'Kafka broker',
  envVar: 'KAFKA_BROKERS',
  envExample: '127.0.0.1:<port>',
  fromEnv: async (given) => {
    const brokers = given.split(',').map((b) => b.trim());
    const problem = await reachable(brokers);
    return problem ? { unavailable: problem } : { brokers, list: given };
  },
  fromContainer: startContainerBroker,
  fromLocal: startLocal,
  localHint: 'install a Java 17+ runtime (and Maven for the first download of the broker jars)',
};

/** The shared broker, or `{ skip }` with one line saying why there is none and how to enable it. */
export function kafkaBroker(): Promise<KafkaBroker | Skip> {
  broker ??= selectService(kafkaPlan).then((selected) => ('skip' in selected ? selected : selected.service));
  return broker;
}

/** Stops the broker this process started, if any (never one named by KAFKA_BROKERS). */
export async function stopKafkaBroker(): Promise<void> {
  broker = undefined;
  const container = stopContainer;
  stopContainer = undefined;
  if (container) await container();
  if (!pidDir) return;
  await runScript(['stop'], scriptEnv());
  rmSync(pidDir, { recursive: true, force: true });
  pidDir = undefined;
}

/** A topic name no other test (or earlier run against the same broker) uses. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export async function createTopic(brokers: string[], topic: string, partitions: number): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export interface TopicMessage {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
}

function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

/** Every message in the topic now, each partition in offset order (read with a throwaway group). */
export async function readTopic(brokers: string[], topic: string): Promise<TopicMessage[]> {
  const kafka = client(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const messages: TopicMessage[] = [];
  if (remaining.size === 0) return messages;
  const consumer = kafka.consumer({ groupId: uniqueTopic('reader') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`readTopic ${topic}: timed out with ${messages.length} messages`)), 30_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          messages.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value ?? Buffer.alloc(0), headers: headerStrings(message.headers) });
          const end = remaining.get(partition);
          if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

// Started once per mocha run by its global setup and stopped by its teardown (mocha-fixtures.ts);
// when mocha runs without .mocharc.json, the first suite starts it and the root suite's end stops it.
sharedService('kafka', { start: async () => void (await kafkaBroker()), stop: stopKafkaBroker });
const rootAfter = (globalThis as { after?: (fn: () => Promise<void>) => void }).after;
if (typeof rootAfter === 'function') rootAfter(stopKafkaBroker);
// Last resort (mocha --exit, a crash): kill the pid recorded by start.sh directly.
process.once('exit', () => {
  if (!pidDir) return;
  try {
    const [pid, data] = readFileSync(join(pidDir, 'broker.pid'), 'utf8').split('\n');
    if (Number(pid) > 0) process.kill(Number(pid), 'SIGTERM');
    if (data && existsSync(join(data, '.runledger-kafka'))) rmSync(data, { recursive: true, force: true });
  } catch {
    // never started or already stopped
  }
});
