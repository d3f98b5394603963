// A worker's view of a ledger it cannot reach, through Kafka (docs/kafka.md, "Workers on other
// machines"). The ledger publishes every recorded event on its relay topic (`runledger relay`) and
// appends what arrives on its ingest topic (`runledger ingest`); a remote worker sits between them:
//
// - It reads the relay topic from the beginning into a private in-memory mirror, appending each
//   `training-queue` and `run-*` envelope as a byte-identical copy at its revision, through the
//   run-stream door: the write rules check every copy in full (the approval, the plan parity of the
//   execution plan with the approval's plan hash, stage order, worker signatures) and the prevHash
//   chain must hold. A run whose copy fails these checks is never executed.
// - A claim is a proposed RunClaimed on the ingest topic. The ledger decides: the ingester appends the
//   first and refuses every later one (rule `once`). The worker learns the outcome from the relay
//   topic — the RunClaimed it sees there is its own (won) or another's (lost).
// - What the worker then records lands in the mirror first, through the same door, and each recorded
//   envelope is published on the ingest topic, which the ledger appends as a copy at the same
//   revision with the same prevHash: the ledger's run stream becomes byte-identical to the mirror's.
//   When the relay hands back a different event at a revision the worker already filled (an operator
//   ended the run: `runledger run fail`), the stream has diverged and every later append of the
//   worker on it is refused here, before anything is published.
import { randomUUID } from 'node:crypto';
import { Partitioners, type Admin, type Consumer, type Producer } from 'kafkajs';
import type { ProposedEvent } from '../../events/envelope.js';
import { IntegrityError, UnavailableError } from '../errors.js';
import { RunHeads } from '../governance/guarded-append.js';
import type { AppendRequest, AppendResult, EventStore, RecordedEvent } from '../store/port.js';
import { nowIso } from '../store/seal.js';
import { brokerUnavailable, isKafkaError, kafkaClient, type BrokerOptions } from './connection.js';
import { appendDecoded, decodeMessage } from './ingest.js';
import { relayMessage } from './relay.js';

export const DEFAULT_RELAY_TOPIC = 'runledger.events';
export const DEFAULT_INGEST_TOPIC = 'runledger.ingest';

export interface RemoteLedgerOptions extends BrokerOptions {
  /** The topic `runledger relay` publishes the ledger on. */
  relayTopic: string;
  /** The topic `runledger ingest` appends from. */
  ingestTopic: string;
  /** Where the copies are kept (an empty store: `sqlite::memory:`). */
  mirror: EventStore;
  /** How long to wait for the ledger to answer a claim or take a run's events. Default 60 s. */
  answerTimeoutMs?: number;
  /** A relayed copy the mirror refused (its stream is then never executed here). */
  onRefused?: (stream: string, reason: string) => void;
}

export type ClaimAnswer = 'won' | 'lost' | 'gone';

export interface RemoteLedger {
  /** The mirror, whose appends are published to the ledger. */
  readonly store: EventStore;
  /** Resolves once the mirror holds everything the relay topic held when called. */
  sync(): Promise<void>;
  /**
   * Publishes a claim and waits for the ledger's answer: `won` when its RunClaimed is the one recorded,
   * `lost` when another is; `gone` when the run ended first or its mirror stopped matching the ledger.
   */
  claim(stream: string, event: ProposedEvent & { id: string }): Promise<ClaimAnswer>;
  /** Waits until the ledger holds every event the mirror holds on `stream`; throws if it diverged. */
  settle(stream: string): Promise<void>;
  close(): Promise<void>;
}

const MIRRORED = /^(run-.+|training-queue)$/;
const RUN_END: ReadonlySet<string> = new Set(['RunCompleted', 'RunFailed']);

export async function openRemoteLedger(options: RemoteLedgerOptions): Promise<RemoteLedger> {
  const { mirror, relayTopic, ingestTopic } = options;
  const timeoutMs = options.answerTimeoutMs ?? 60_000;
  const kafka = kafkaClient({ ...options, clientId: options.clientId ?? 'runledger-worker' });
  const admin: Admin = kafka.admin();
  // A group of its own, never committed: every start reads the ledger's history from the beginning.
  const consumer: Consumer = kafka.consumer({ groupId: `runledger-worker-${randomUUID()}`, retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3000 } });
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  try {
    await Promise.all([admin.connect(), consumer.connect(), producer.connect()]);
    for (const topic of [relayTopic, ingestTopic]) {
      if (!(await admin.listTopics()).includes(topic)) await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    }
  } catch (err) {
    await Promise.allSettled([admin.disconnect(), consumer.disconnect(), producer.disconnect()]);
    throw brokerUnavailable(options.brokers, err);
  }

  /** Next offset to read, per relay partition. */
  const consumed = new Map<number, bigint>();
  /** The last revision the relay confirmed, per mirrored stream. */
  const relayed = new Map<string, number>();
  /** Why a stream's mirror no longer matches the ledger. */
  const diverged = new Map<string, string>();
  let failure: unknown;
  const heads = new RunHeads();

  // A consumer that gives up (broker gone past its retries) fails the next wait instead of hanging it.
  consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) failure ??= brokerUnavailable(options.brokers, e.payload.error);
  });
  try {
    await consumer.subscribe({ topic: relayTopic, fromBeginning: true });
  } catch (err) {
    await Promise.allSettled([admin.disconnect(), consumer.disconnect(), producer.disconnect()]);
    throw brokerUnavailable(options.brokers, err);
  }
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      try {
        const decoded = decodeMessage(message);
        const stream = typeof decoded === 'string' ? undefined : decoded.stream;
        if (typeof decoded !== 'string' && decoded.copyOf && stream && MIRRORED.test(stream) && !diverged.has(stream)) {
          const outcome = await appendDecoded(mirror, decoded, heads);
          if ('refused' in outcome) {
            diverged.set(stream, outcome.refused);
            options.onRefused?.(stream, outcome.refused);
          } else {
            relayed.set(stream, decoded.copyOf.revision);
          }
        }
      } catch (err) {
        failure ??= err;
      }
      consumed.set(partition, BigInt(message.offset) + 1n);
    },
  });

  const waitFor = async (what: string, done: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
      if (await done()) return;
      if (Date.now() > deadline) throw new UnavailableError(`${what} within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const publish = async (messages: { key: string; value: Buffer; headers?: Record<string, string> }[]): Promise<void> => {
    try {
      await producer.send({ topic: ingestTopic, acks: -1, messages });
    } catch (err) {
      throw isKafkaError(err) ? brokerUnavailable(options.brokers, err) : err;
    }
  };

  const refuseDiverged = (requests: readonly AppendRequest[]): void => {
    for (const r of requests) {
      const why = diverged.get(r.stream);
      if (why) throw new IntegrityError(`stream "${r.stream}" of the ledger no longer matches what this worker recorded (${why}); nothing more is recorded on it`);
    }
  };

  /** Publishes what an append recorded in the mirror, as relayed envelopes (the ledger copies them). */
  const published = async (result: AppendResult): Promise<AppendResult> => {
    if (result.duplicate) return result;
    const recorded: RecordedEvent[] = [];
    for (const s of result.streams) {
      recorded.push(...(await mirror.readStream(s.stream, { fromRevision: s.firstRevision, limit: s.lastRevision - s.firstRevision + 1 })));
    }
    await publish(recorded.map(relayMessage));
    return result;
  };

  const store: EventStore = new Proxy(mirror, {
    get(target, property, receiver) {
      if (property === 'append') {
        return async (stream: string, events: ProposedEvent[], opts?: { expectedRevision?: AppendRequest['expectedRevision'] }) => {
          const requests = [{ stream, events, ...(opts?.expectedRevision !== undefined ? { expectedRevision: opts.expectedRevision } : {}) }];
          refuseDiverged(requests);
          return published(await target.append(stream, events.map(withFullMetadata), opts));
        };
      }
      if (property === 'appendBatch') {
        return async (requests: AppendRequest[]) => {
          refuseDiverged(requests);
          return published(await target.appendBatch(requests.map((r) => ({ ...r, events: r.events.map(withFullMetadata) }))));
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });

  return {
    store,
    async sync() {
      let ends: { partition: number; high: string }[];
      try {
        ends = await admin.fetchTopicOffsets(relayTopic);
      } catch (err) {
        throw brokerUnavailable(options.brokers, err);
      }
      await waitFor(`the relay topic "${relayTopic}" was not read to its end`, async () => ends.every((p) => BigInt(p.high) === 0n || (consumed.get(p.partition) ?? 0n) >= BigInt(p.high)));
    },
    async claim(stream, event) {
      await publish([{ key: stream, value: Buffer.from(JSON.stringify({ stream, ...event })) }]);
      let winner: string | undefined;
      await waitFor(`no ingester answered the claim of "${stream}" (is \`runledger ingest --topic ${ingestTopic}\` running beside \`runledger relay --topic ${relayTopic}\`?)`, async () => {
        const events = await mirror.readStream(stream);
        winner = events.find((e) => e.envelope.type === 'RunClaimed')?.envelope.id;
        // No claim will come for a run that ended meanwhile (`run fail` before any claim).
        return winner !== undefined || diverged.has(stream) || events.some((e) => RUN_END.has(e.envelope.type));
      });
      return winner === undefined ? 'gone' : winner === event.id ? 'won' : 'lost';
    },
    async settle(stream) {
      const head = await mirror.streamRevision(stream);
      await waitFor(`the ledger did not record the events of "${stream}" up to revision ${head} (is \`runledger ingest --topic ${ingestTopic}\` running?)`, async () => {
        const why = diverged.get(stream);
        if (why) throw new IntegrityError(`the ledger refused what this worker recorded on "${stream}": ${why}`);
        return (relayed.get(stream) ?? -1) >= head;
      });
    },
    async close() {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
}

/**
 * The metadata the store would seal, given up front: the ledger's copy proposes the sealed envelope's
 * metadata, and a retry must repeat the content (metadata included) that was first proposed, so the
 * relayed copy coming back to the mirror is then a duplicate of what the mirror holds.
 */
function withFullMetadata(event: ProposedEvent): ProposedEvent {
  const m = event.metadata ?? {};
  return { ...event, metadata: { recordedAt: m.recordedAt ?? nowIso(), actor: m.actor ?? 'unknown', correlationId: m.correlationId ?? null, causationId: m.causationId ?? null } };
}
