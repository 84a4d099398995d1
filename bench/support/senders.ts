import { Agent, request, type OutgoingHttpHeaders } from 'node:http';
import { GROUP_HEADER } from '../../src/protocol/group-header.ts';
import type { Engine } from './load-job.ts';
import { SendFailure } from './load.ts';
import type { WorkloadMessage } from './workload.ts';

/** Sends prepared request `index`; resolves with the messages acknowledged. Everything it sends is built before. */
export interface Sender {
  send(index: number): Promise<number>;
  close(): Promise<void>;
}

const CLIENT_ID = 'ordered-sidecar-bench';

/**
 * POSTs the prepared ordered-produce bodies over keep-alive connections (node:http, one socket per concurrent
 * request). A request counts as done when the sidecar answers 200 with every message written; messages a
 * failed request did write are still counted as acknowledged, for the Kafka-side check.
 */
export function httpSender(url: string, bodies: readonly Buffer[], messagesPerRequest: number, maxSockets: number): Sender {
  const { hostname, port } = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const headers: OutgoingHttpHeaders[] = bodies.map((b) => ({ 'content-type': 'application/json', 'content-length': b.length }));
  const send = (index: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request({ hostname, port, path: '/v1/ordered-produce', method: 'POST', agent, headers: headers[index] }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          // A regex instead of JSON.parse of the 100-entry answer: the load generator shares the cores it measures.
          const written = Number(/"successful_messages":(\d+)/.exec(text)?.[1] ?? 0);
          if (res.statusCode === 200 && written === messagesPerRequest) resolve(written);
          else reject(new SendFailure(`HTTP ${res.statusCode}, ${written} of ${messagesPerRequest} written: ${text.slice(0, 300)}`, written));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(bodies[index]);
    });
  return { send, close: async () => agent.destroy() };
}

/** An application on kafkajs: one idempotent producer as the sidecar configures it (acks all, one request in flight per connection). */
async function kafkajsSender(brokers: string[], topic: string, batches: readonly WorkloadMessage[][]): Promise<Sender> {
  const { CompressionTypes, Kafka, Partitioners, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ clientId: CLIENT_ID, brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const prepared = batches.map((batch) => batch.map((m) => ({ value: m.value, partition: m.partition, headers: { [GROUP_HEADER]: m.group } })));
  return {
    send: async (index) => {
      const messages = prepared[index]!;
      await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages });
      return messages.length;
    },
    close: () => producer.disconnect(),
  };
}

/** An application on @platformatic/kafka: one idempotent producer (which forces acks all and one request in flight per connection). */
async function platformaticSender(brokers: string[], topic: string, batches: readonly WorkloadMessage[][]): Promise<Sender> {
  const { Producer, stringSerializers } = await import('@platformatic/kafka');
  const producer = new Producer({
    clientId: CLIENT_ID,
    bootstrapBrokers: brokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: -1,
    autocreateTopics: false,
  });
  await producer.metadata({ topics: [topic] }); // connects before the clock starts, as kafkajs's connect() does
  const prepared = batches.map((batch) => batch.map((m) => ({ topic, partition: m.partition, value: m.value, headers: { [GROUP_HEADER]: m.group } })));
  return {
    send: async (index) => {
      const messages = prepared[index]!;
      await producer.send({ messages });
      return messages.length;
    },
    close: () => producer.close(),
  };
}

/** An application sending `batches` (one batch per send) straight to Kafka through `engine`. */
export const directSender = (engine: Engine, brokers: string[], topic: string, batches: readonly WorkloadMessage[][]): Promise<Sender> =>
  engine === 'kafkajs' ? kafkajsSender(brokers, topic, batches) : platformaticSender(brokers, topic, batches);
