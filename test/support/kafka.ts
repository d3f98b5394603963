// A real Apache Kafka broker for tests: the one named by KAFKA_BROKERS (CI starts one with
// infra/kafka/start.sh and exports it), else — when the broker jars are already cached from an
// earlier infra/kafka/start.sh — one started here (~5 s) and stopped when mocha's root suite ends.
// Otherwise suites skip with one line saying how to enable them.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { repoRoot } from './cli.js';

export interface Skip {
  skip: string;
}

export interface KafkaBroker {
  brokers: string[];
  /** KAFKA_BROKERS form, for child processes. */
  list: string;
}

const HOW_TO_ENABLE = 'run infra/kafka/start.sh and set the KAFKA_BROKERS=127.0.0.1:<port> it prints';
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

function runScript(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [startScript, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

function scriptEnv(): NodeJS.ProcessEnv {
  return { ...process.env, RUNLEDGER_KAFKA_PIDFILE: join(pidDir!, 'broker.pid') };
}

async function startLocal(): Promise<KafkaBroker | Skip> {
  pidDir = mkdtempSync(join(tmpdir(), 'runledger-kafka-test-'));
  const started = await runScript([], scriptEnv());
  const line = /^KAFKA_BROKERS=(\S+)$/m.exec(started.stdout)?.[1];
  if (started.code !== 0 || !line) {
    const why = started.stderr.trim().split('\n').slice(-1)[0] ?? `exit ${started.code}`;
    return { skip: `the cached Kafka broker did not start (${why}); ${HOW_TO_ENABLE}` };
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
    if (jarsCached() && existsSync(startScript)) return startLocal();
    return { skip: `no Kafka broker: ${HOW_TO_ENABLE}` };
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

// Stop a broker started here when mocha's root suite ends; registered once, on import.
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
