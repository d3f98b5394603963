// Kafka commands: relay (ledger → topic) and ingest (topic → ledger). docs/kafka.md.
import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { parseBrokers } from '../../kafka/connection.js';
import { DEFAULT_GROUP, runIngest, type IngestReport, type Rejection } from '../../kafka/ingest.js';
import { relayConsumer, runRelay, type RelayReport } from '../../kafka/relay.js';
import { withJson, type CliContext } from '../context.js';

interface KafkaFlags {
  brokers?: string;
  topic: string;
  once?: boolean;
  json?: boolean;
}

export function registerKafkaCommands(program: Command, ctx: CliContext): void {
  withJson(program.command('relay'))
    .description('publish recorded events to a Kafka topic (key = stream, header event-id, value = canonical bytes), resuming from the relay\'s stored position')
    .option('--brokers <list>', 'host:port[,host:port…] (env KAFKA_BROKERS)')
    .requiredOption('--topic <name>', 'topic to publish to')
    .option('--once', 'send what is recorded now and exit (default: follow the ledger until SIGINT/SIGTERM)')
    .action(async (opts: KafkaFlags) => {
      const brokers = brokersOf(opts, ctx);
      const store = await ctx.store();
      const report: RelayReport = await untilSignal((signal) =>
        runRelay({ store, brokers, topic: checkTopic(opts.topic), once: opts.once ?? false, signal }),
      );
      ctx.print(opts.json ?? false, { ...report, consumer: relayConsumer(report.topic) }, () =>
        `Relayed ${report.sent} event${report.sent === 1 ? '' : 's'} to ${report.topic}; ledger position ${report.position} acknowledged`,
      );
    });

  withJson(program.command('ingest'))
    .description('append events published to a Kafka topic (idempotent by event id); malformed messages are reported and skipped')
    .option('--brokers <list>', 'host:port[,host:port…] (env KAFKA_BROKERS)')
    .requiredOption('--topic <name>', 'topic to consume')
    .option('--group <id>', 'consumer group (its committed offsets are the ingester\'s position)', DEFAULT_GROUP)
    .option('--dead-letter <topic>', 'also publish rejected messages, unchanged, to this topic')
    .option('--once', 'drain the messages present now and exit (default: run until SIGINT/SIGTERM)')
    .action(async (opts: KafkaFlags & { group: string; deadLetter?: string }) => {
      const brokers = brokersOf(opts, ctx);
      const store = await ctx.store();
      const report: IngestReport = await untilSignal((signal) =>
        runIngest({
          store,
          brokers,
          topic: checkTopic(opts.topic),
          group: opts.group,
          ...(opts.deadLetter !== undefined ? { deadLetterTopic: checkTopic(opts.deadLetter) } : {}),
          once: opts.once ?? false,
          signal,
          // Reported as they happen (a long-running ingester must not keep them to itself).
          onRejected: (r: Rejection) => ctx.note(`runledger: rejected ${r.topic}[${r.partition}]@${r.offset}: ${r.reason}`),
        }),
      );
      ctx.print(opts.json ?? false, report, () =>
        `Ingested from ${report.topic} (group ${report.group}): ${report.appended} appended, ${report.duplicates} already recorded, ${report.rejected.length} rejected`,
      );
    });
}

function brokersOf(opts: KafkaFlags, ctx: CliContext): string[] {
  const list = opts.brokers ?? ctx.env.KAFKA_BROKERS;
  if (list === undefined) throw new InputError('no Kafka broker: pass --brokers host:port or set KAFKA_BROKERS', { field: '--brokers' });
  return parseBrokers(list, opts.brokers !== undefined ? '--brokers' : 'KAFKA_BROKERS');
}

// Kafka topic names: 1–249 characters of [a-zA-Z0-9._-] (org.apache.kafka.common.internals.Topic).
export function checkTopic(topic: string, field = '--topic'): string {
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic) || topic === '.' || topic === '..') {
    throw new InputError(`${field}: "${topic}" is not a valid Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)`, { field });
  }
  return topic;
}

/** Runs until the work ends or SIGINT/SIGTERM asks it to stop cleanly (finish the batch, save the position). */
async function untilSignal<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
