// A real Apache Kafka broker for tests: the one named by KAFKA_BROKERS when set (reused, never
// stopped here), else — when Java is installed — one started with infra/kafka/start.sh (~5 s; the
// first time it fetches the jars with Maven into ~/.cache/runledger-kafka) once per mocha run, in
// the global setup of test/support/services.ts, and stopped in its global teardown.
// Otherwise suites skip with one line saying why and how to enable them.
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { repoRoot } from './cli.js';
import { sharedService } from './services.js';

export interface Skip {
  skip: string;
}

export interface KafkaBroker {
  brokers: string[];
  /** KAFKA_BROKERS form, for child processes. */
  list: string;
}

const HOW_TO_ENABLE = 'install a Java 17+ runtime (and Maven for the first download), or set KAFKA_BROKERS=host:port of a running broker';
const startScript = join(repoRoot, 'infra', 'kafka', 'start.sh');

let broker: Promise<KafkaBroker | Skip> | undefined;
let pidDir: string | undefined;

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

/** True when start.sh would not download anything: the jar set for this pom is cached. */
function jarsCached(): boolean {
  const cache = process.env.RUNLEDGER_KAFKA_CACHE ?? join(homedir(), '.cache', 'runledger-kafka');
  const pomHash = createHash('sha256').update(readFileSync(join(repoRoot, 'infra', 'kafka', 'pom.xml'))).digest('hex').slice(0, 16);
  return existsSync(join(cache, `libs-${pomHash}`, '.complete'));
}

function onPath(command: string): boolean {
  try {
    execFileSync('bash', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
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

async function startLocal(cached: boolean): Promise<KafkaBroker | Skip> {
  pidDir = mkdtempSync(join(tmpdir(), 'runledger-kafka-test-'));
  // A first run downloads the jars (start.sh bounds that by RUNLEDGER_KAFKA_FETCH_TIMEOUT, 300 s).
  const fetchSeconds = Number(process.env.RUNLEDGER_KAFKA_FETCH_TIMEOUT ?? 300);
  const started = await runScript([], scriptEnv(), cached ? 120_000 : (fetchSeconds + 120) * 1000);
  const line = /^KAFKA_BROKERS=(\S+)$/m.exec(started.stdout)?.[1];
  if (started.code !== 0 || !line) {
    const why = started.stderr.trim().split('\n').slice(-1)[0] || `exit ${started.code}`;
    rmSync(pidDir, { recursive: true, force: true });
    pidDir = undefined;
    return { skip: `infra/kafka/start.sh could not start a broker (${why}); ${HOW_TO_ENABLE}` };
  }
  return { brokers: line.split(','), list: line };
}

/** The shared broker, or `{ skip }` with one line saying why there is none and how to enable it. */
export function kafkaBroker(): Promise<KafkaBroker | Skip> {
  broker ??= (async (): Promise<KafkaBroker | Skip> => {
    const given = process.env.KAFKA_BROKERS;
    if (given) {
      const brokers = given.split(',').map((b) => b.trim());
      const problem = await reachable(brokers);
      return problem ? { skip: `KAFKA_BROKERS=${given} is set but the broker cannot be reached (${problem})` } : { brokers, list: given };
    }
    if (!onPath('java')) return { skip: `no Kafka broker: KAFKA_BROKERS is not set and java is not installed to start one; ${HOW_TO_ENABLE}` };
    const cached = jarsCached();
    if (!cached && !onPath('mvn')) return { skip: `no Kafka broker: the jars are not cached and mvn is not installed to fetch them; ${HOW_TO_ENABLE}` };
    return startLocal(cached);
  })();
  return broker;
}

/** Stops the broker this process started, if any (never one named by KAFKA_BROKERS). */
export async function stopKafkaBroker(): Promise<void> {
  broker = undefined;
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

// Started once per mocha run by the global setup, stopped by its teardown (test/support/services.ts).
sharedService('kafka', { start: async () => void (await kafkaBroker()), stop: stopKafkaBroker });
// Last resort (run without .mocharc.json, a crash): kill the pid recorded by start.sh directly.
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
