// A worker on another machine, as far as the ingester can tell: a separate process that publishes
// the messages given on stdin (JSON array of {key?, value, headers?}) to a topic, then exits.
//   node dist/test/kafka/publisher.js <brokers> <topic>  < messages.json
import { Kafka, Partitioners, logLevel } from 'kafkajs';

interface Outgoing {
  key?: string;
  value: string;
  headers?: Record<string, string>;
}

const [brokers, topic] = process.argv.slice(2);
if (!brokers || !topic) throw new Error('usage: publisher.js <brokers> <topic>');
const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const messages = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Outgoing[];
const producer = new Kafka({ clientId: 'test-publisher', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).producer({
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();
await producer.send({ topic, acks: -1, messages });
await producer.disconnect();
