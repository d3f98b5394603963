// One Kafka client configuration for the relay and the ingester: bounded retries so an unreachable
// broker ends in an UnavailableError (exit 3) within seconds instead of hanging, and no kafkajs
// logging on the user's terminal (failures surface as one typed error instead).
import { Kafka, logLevel } from 'kafkajs';
import { InputError, UnavailableError } from '../errors.js';

export interface BrokerOptions {
  /** host:port list. */
  brokers: string[];
  clientId?: string;
}

/** Parses `host:port[,host:port…]` (the KAFKA_BROKERS form). */
export function parseBrokers(list: string, field = '--brokers'): string[] {
  const brokers = list
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new InputError(`${field} names no broker (expected host:port[,host:port…])`, { field });
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker)) throw new InputError(`${field}: "${broker}" is not host:port`, { field });
  }
  return brokers;
}

export function kafkaClient(options: BrokerOptions): Kafka {
  return new Kafka({
    clientId: options.clientId ?? 'runledger',
    brokers: options.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    // ~ 0.3 + 0.6 + 1.2 + 2.4 + 3 s: a broker that is down is reported in under ten seconds.
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3000 },
  });
}

/** Turns a kafkajs failure into the typed error the CLI maps to exit 3. */
export function brokerUnavailable(brokers: string[], err: unknown): UnavailableError {
  const cause = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`Kafka broker ${brokers.join(',')} is unavailable: ${cause}`);
}

/** True for errors raised by kafkajs (connection, protocol, retries exhausted). */
export function isKafkaError(err: unknown): boolean {
  return err instanceof Error && err.name.startsWith('KafkaJS');
}
