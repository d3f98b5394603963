// Ingest: Kafka topic → ledger. Workers on other machines publish events; the ingester appends each
// one through the run-stream door (src/governance/guarded-append.ts) — the same write rules as
// `runledger append` — and the store's append is idempotent by event id, so a re-delivered message
// records nothing twice. Producers key messages by stream, so a stream lives on one partition and its events
// arrive, and are appended, in the order they were published. Offsets are committed only after the
// append (and, for a rejected message, after it was reported and dead-lettered): a crash re-delivers,
// it never loses.
//
// A message value is one of:
//   - a proposed event  {"stream","type","data","id","schemaVersion"?,"metadata"?}  — id is required
//     so that a producer's retry is idempotent;
//   - a relayed envelope (what `runledger relay` publishes: the canonical bytes of a recorded event).
//     It is appended at the same revision with the same metadata, so the copy is byte-identical and
//     keeps its prevHash; a copy that would diverge is refused instead. Copies may be governance
//     events (the source ledger's recorder wrote them), and the write rules check them in full —
//     plan parity, stage order, run summary — as replay would.
// A proposed event may not be a governance event other than AuditFinding: those are the recorder's.
import { z } from 'zod';
import { Partitioners, type Admin, type KafkaMessage, type Producer } from 'kafkajs';
import { Envelope, ProposedEvent, StreamName } from '../../events/envelope.js';
import { ConcurrencyError, InputError, LedgerError, UnavailableError } from '../errors.js';
import { guardedAppend, RunHeads } from '../governance/guarded-append.js';
import { NO_STREAM, type EventStore, type ExpectedRevision } from '../store/port.js';
import { decodeUtf8, parseJson } from '../input/decode.js';
import { count, describeIssue, LIMITS, overLimit, quote } from '../input/limits.js';
import { brokerUnavailable, isKafkaError, kafkaClient, type BrokerOptions } from './connection.js';
import { EVENT_ID_HEADER } from './relay.js';

export const DEFAULT_GROUP = 'runledger-ingest';

/** What a worker publishes. Like `runledger append` input, but the id is mandatory. */
export const IngestMessage = ProposedEvent.extend({ stream: StreamName, id: z.uuid() }).strict();
export type IngestMessage = z.infer<typeof IngestMessage>;

export interface Rejection {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  reason: string;
}

export interface IngestOptions extends BrokerOptions {
  store: EventStore;
  topic: string;
  group?: string;
  /** Topic that receives rejected messages unchanged, with `runledger-error` and source headers. */
  deadLetterTopic?: string;
  /** Drain the messages present at start and return; otherwise consume until `signal` aborts. */
  once?: boolean;
  signal?: AbortSignal;
  onRejected?: (rejection: Rejection) => void;
  /** --once gives up (UnavailableError) when no message arrives for this long. Default 30 s. */
  idleTimeoutMs?: number;
}

export interface IngestReport {
  topic: string;
  group: string;
  appended: number;
  /** Messages whose events were already recorded (re-deliveries, producer retries). */
  duplicates: number;
  rejected: Rejection[];
}

export interface Decoded {
  stream: string;
  event: ProposedEvent;
  expectedRevision?: ExpectedRevision;
  /** For a relayed envelope: where it sat in its source stream, which the copy must reproduce. */
  copyOf?: { revision: number; prevHash: string | null };
}

/** Decodes and checks one message; a string is the reason it is refused. Pure. */
export function decodeMessage(message: Pick<KafkaMessage, 'key' | 'value' | 'headers'>): Decoded | string {
  if (!message.value || message.value.length === 0) return 'empty value (expected a JSON event)';
  let json: unknown;
  try {
    // The input-limits policy of every decoder (docs/limits.md): size, fatal UTF-8, no __proto__.
    if (message.value.length > LIMITS.lineBytes) throw overLimit('value', 'the message', count(message.value.length, 'bytes'), count(LIMITS.lineBytes, 'bytes'));
    json = parseJson(decodeUtf8(message.value, 'value'), 'value');
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
  let decoded: Decoded;
  const envelope = Envelope.safeParse(json);
  if (envelope.success) {
    const { stream, revision, prevHash, ...event } = envelope.data;
    decoded = { stream, event, expectedRevision: revision === 0 ? NO_STREAM : revision - 1, copyOf: { revision, prevHash } };
  } else {
    const proposed = IngestMessage.safeParse(json);
    if (!proposed.success) {
      const { field, message } = describeIssue(proposed.error.issues[0]!);
      return `field ${field || '(event)'}: ${message}`;
    }
    const { stream, ...event } = proposed.data;
    decoded = { stream, event };
  }
  const key = message.key?.toString('utf8');
  if (key !== undefined && key !== decoded.stream) return `key ${quote(key)} is not the event's stream "${decoded.stream}"`;
  const header = message.headers?.[EVENT_ID_HEADER];
  const headerId = Array.isArray(header) ? header[0] : header;
  if (headerId !== undefined && headerId.toString() !== decoded.event.id) {
    return `header ${EVENT_ID_HEADER} ${quote(headerId.toString())} is not the event's id "${decoded.event.id}"`;
  }
  return decoded;
}

export async function runIngest(options: IngestOptions): Promise<IngestReport> {
  const { store, topic } = options;
  const group = options.group ?? DEFAULT_GROUP;
  const report: IngestReport = { topic, group, appended: 0, duplicates: 0, rejected: [] };
  const kafka = kafkaClient({ ...options, clientId: options.clientId ?? 'runledger-ingest' });
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: group, retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3000 } });
  let deadLetters: Producer | undefined;
  let stallTimer: NodeJS.Timeout | undefined;

  try {
    await admin.connect();
    await consumer.connect();
    if (options.deadLetterTopic) {
      deadLetters = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await deadLetters.connect();
    }
  } catch (err) {
    await Promise.allSettled([admin.disconnect(), consumer.disconnect(), deadLetters?.disconnect()]);
    throw brokerUnavailable(options.brokers, err);
  }

  const reject = async (partition: number, message: KafkaMessage, reason: string): Promise<void> => {
    const rejection: Rejection = { topic, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, reason };
    report.rejected.push(rejection);
    options.onRejected?.(rejection);
    if (deadLetters && options.deadLetterTopic) {
      await deadLetters.send({
        topic: options.deadLetterTopic,
        acks: -1,
        messages: [
          {
            key: message.key,
            value: message.value,
            headers: {
              ...message.headers,
              'runledger-error': reason,
              'source-topic': topic,
              'source-partition': String(partition),
              'source-offset': message.offset,
            },
          },
        ],
      });
    }
  };

  // Run heads kept across messages: each append folds only what was recorded since the last.
  const heads = new RunHeads();
  const handle = async (partition: number, message: KafkaMessage): Promise<void> => {
    const decoded = decodeMessage(message);
    if (typeof decoded === 'string') return reject(partition, message, decoded);
    const outcome = await appendDecoded(store, decoded, heads);
    if ('refused' in outcome) return reject(partition, message, outcome.refused);
    if (outcome.duplicate) report.duplicates += 1;
    else report.appended += 1;
  };

  try {
    // --once: the high watermarks now are the end of what we drain.
    const targets = options.once ? await drainTargets(admin, topic, group) : undefined;
    // A follower may start before anyone published: create the topic (broker defaults) rather than
    // fail on a partition the broker does not host yet.
    if (!targets && !(await admin.listTopics()).includes(topic)) await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    if (targets && targets.size === 0) return report;
    let finish!: (err?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = (err?: unknown) => (err ? reject(err as Error) : resolve());
    });
    done.catch(() => undefined); // may settle before it is awaited below; the await still sees it
    const onAbort = (): void => finish();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    consumer.on(consumer.events.CRASH, (e) => finish(e.payload.error));
    // --once must not wait forever for partitions another member of the group holds.
    let lastProgress = Date.now();
    const idleMs = options.idleTimeoutMs ?? 30_000;
    if (targets) {
      stallTimer = setInterval(() => {
        if (Date.now() - lastProgress < idleMs) return;
        finish(
          new UnavailableError(
            `no message from topic "${topic}" arrived within ${Math.round(idleMs / 1000)} s although ${targets.size} partition(s) hold unread ones; ` +
              `is another member of consumer group "${group}" consuming them?`,
          ),
        );
      }, 500);
    }

    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        let next: string | undefined;
        let drained = false;
        try {
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) break;
            await handle(batch.partition, message);
            resolveOffset(message.offset);
            next = (BigInt(message.offset) + 1n).toString();
            lastProgress = Date.now();
            await heartbeat();
            const target = targets?.get(batch.partition);
            if (targets && target !== undefined && BigInt(next) >= target) {
              targets.delete(batch.partition);
              drained = targets.size === 0;
              if (drained) break;
            }
          }
          // Commit after the appends: a crash before this line re-delivers the batch, and appending is idempotent.
          if (next !== undefined) await consumer.commitOffsets([{ topic, partition: batch.partition, offset: next }]);
        } catch (err) {
          finish(err);
          throw err;
        }
        if (drained) finish();
      },
    });
    await done;
    options.signal?.removeEventListener('abort', onAbort);
  } catch (err) {
    if (err instanceof LedgerError) throw err;
    if (isKafkaError(err)) throw brokerUnavailable(options.brokers, err);
    throw err;
  } finally {
    if (stallTimer) clearInterval(stallTimer);
    await consumer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await deadLetters?.disconnect().catch(() => undefined);
  }
  return report;
}

/**
 * Appends one decoded message through the run-stream door (a relayed envelope as a byte-identical copy
 * at its revision). Bad input (schema, a write rule, an idempotency conflict, a diverging copy) is the
 * message's fault and comes back as `refused`; anything else (store down, integrity failure) throws.
 */
export async function appendDecoded(store: EventStore, decoded: Decoded, heads: RunHeads): Promise<{ duplicate: boolean } | { refused: string }> {
  const fork = decoded.copyOf && (await forkOf(store, decoded.stream, decoded.copyOf));
  if (fork) return { refused: fork };
  try {
    const request = { stream: decoded.stream, events: [decoded.event], ...(decoded.expectedRevision !== undefined ? { expectedRevision: decoded.expectedRevision } : {}) };
    const result = await guardedAppend(store, [request], { allowGovernance: decoded.copyOf !== undefined, heads });
    return { duplicate: result.duplicate };
  } catch (err) {
    if (err instanceof InputError || err instanceof ConcurrencyError) return { refused: err.message };
    throw err;
  }
}

/**
 * Why copying a relayed envelope would fork its stream: the event before it here is not the one its
 * prevHash names. (The append's expected revision covers the rest: a missing or extra predecessor.)
 */
async function forkOf(store: EventStore, stream: string, copy: { revision: number; prevHash: string | null }): Promise<string | undefined> {
  if (copy.revision === 0) return undefined;
  const [previous] = await store.readStream(stream, { fromRevision: copy.revision - 1, limit: 1 });
  if (!previous || previous.leafHash === copy.prevHash) return undefined;
  return (
    `stream "${stream}" revision ${copy.revision - 1} here has leaf hash ${previous.leafHash}, ` +
    `but the relayed event chains to ${copy.prevHash ?? 'nothing'}: copying it would fork the stream`
  );
}

/** Partitions with messages the group has not committed yet, mapped to their high watermark. */
async function drainTargets(admin: Admin, topic: string, group: string): Promise<Map<number, bigint>> {
  // A topic nobody has published to yet holds nothing to drain.
  if (!(await admin.listTopics()).includes(topic)) return new Map();
  const ends = await admin.fetchTopicOffsets(topic);
  const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const done = new Map<number, bigint>();
  for (const p of committed[0]?.partitions ?? []) done.set(p.partition, BigInt(p.offset));
  const targets = new Map<number, bigint>();
  for (const p of ends) {
    const high = BigInt(p.high);
    const start = done.get(p.partition) ?? -1n;
    const from = start >= 0n ? start : BigInt(p.low);
    if (high > from) targets.set(p.partition, high);
  }
  return targets;
}
