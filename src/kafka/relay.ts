// Relay: ledger → Kafka topic. Every recorded event becomes one message: key = stream (so a stream
// maps to one partition and keeps its order), header `event-id` = envelope id (consumers
// deduplicate on it), value = the RFC 8785 bytes exactly as stored, so a consumer can recompute the
// leaf hash (RFC 9162 §2.1.1) without trusting the relay. The relay keeps its own position in the
// ledger (`relay:<topic>`) and saves it only after the broker acknowledged the batch (acks=all, idempotent
// producer): a crash between ack and save re-sends that batch (at-least-once; dedupe by event id), it
// never skips one.
import { Partitioners } from 'kafkajs';
import { bufferTime, concatMap, filter, type Subscription } from 'rxjs';
import type { EventStore, RecordedEvent } from '../store/port.js';
import { brokerUnavailable, isKafkaError, kafkaClient, type BrokerOptions } from './connection.js';

export const EVENT_ID_HEADER = 'event-id';

export interface RelayOptions extends BrokerOptions {
  store: EventStore;
  topic: string;
  /** Send what is recorded now and return; otherwise follow the ledger until `signal` aborts. */
  once?: boolean;
  signal?: AbortSignal;
  /** Events per produce request. Default 500. */
  batchSize?: number;
  /** Called after each acknowledged batch with the total sent so far. */
  onProgress?: (sent: number, position: number) => void;
}

export interface RelayReport {
  topic: string;
  sent: number;
  /** Ledger position of the last event the broker acknowledged (-1: nothing relayed yet). */
  position: number;
}

/** The name under which a relay stores its ledger position. */
export function relayConsumer(topic: string): string {
  return `relay:${topic}`;
}

export function relayMessage(event: RecordedEvent): { key: string; value: Buffer; headers: Record<string, string> } {
  return { key: event.envelope.stream, value: event.canonical, headers: { [EVENT_ID_HEADER]: event.envelope.id } };
}

export async function runRelay(options: RelayOptions): Promise<RelayReport> {
  const { store, topic } = options;
  const batchSize = options.batchSize ?? 500;
  const consumer = relayConsumer(topic);
  const report: RelayReport = { topic, sent: 0, position: (await store.getPosition(consumer)) ?? -1 };

  const producer = kafkaClient({ ...options, clientId: options.clientId ?? 'runledger-relay' }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    // murmur2 like the Java client, so key = stream lands on the same partition for every producer.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    await producer.connect();
  } catch (err) {
    throw brokerUnavailable(options.brokers, err);
  }

  const send = async (events: RecordedEvent[]): Promise<void> => {
    try {
      await producer.send({ topic, acks: -1, messages: events.map(relayMessage) });
    } catch (err) {
      throw isKafkaError(err) ? brokerUnavailable(options.brokers, err) : err;
    }
    // Only now is the batch durable in Kafka: advance the stored position past it.
    const last = events[events.length - 1]!.position;
    await store.setPosition(consumer, last);
    report.sent += events.length;
    report.position = last;
    options.onProgress?.(report.sent, last);
  };

  try {
    if (options.once) {
      // Drain: exactly what is recorded now, page by page, in store order.
      for (;;) {
        const page = await store.readAll({ after: report.position, limit: batchSize });
        if (page.length === 0) break;
        await send(page);
        if (options.signal?.aborted) break;
      }
    } else {
      await follow(store, report.position, batchSize, send, options.signal);
    }
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  return report;
}

/** Catch up and go live through the store subscription; batches are sent one at a time, in order. */
function follow(
  store: EventStore,
  after: number,
  batchSize: number,
  send: (events: RecordedEvent[]) => Promise<void>,
  signal: AbortSignal | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return resolve();
    let subscription: Subscription | undefined = undefined;
    const stop = (): void => {
      subscription?.unsubscribe();
      signal?.removeEventListener('abort', onAbort);
    };
    // On abort: stop reading; a batch already being sent still completes (concatMap is torn down
    // with the subscription, so the promise below is awaited through `inFlight`).
    let inFlight: Promise<void> = Promise.resolve();
    const onAbort = (): void => {
      stop();
      inFlight.then(resolve, reject);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    subscription = store
      .subscribe({ after })
      .pipe(
        bufferTime(100, null, batchSize),
        filter((batch) => batch.length > 0),
        concatMap((batch) => (inFlight = send(batch))),
      )
      .subscribe({
        error: (err: unknown) => {
          stop();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
        complete: () => {
          stop();
          resolve();
        },
      });
  });
}
