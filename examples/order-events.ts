/**
 * Order events per user: each user's events must be seen in the order they happened, users are independent.
 * One call carries the next event of every user (several MessageGroups per request).
 *
 *   SIDECAR_URL=http://127.0.0.1:8080 KAFKA_BROKERS=127.0.0.1:9092 node examples/order-events.ts
 */
import { Client } from '../src/sdk/index.ts';
import { createTopic, kafkaFor, printOrder, readBack, resolveExample, runFromCommandLine, type ExampleOptions, type ExampleResult } from './example-support.ts';

const USERS = 4;
const STEPS = ['order-1:created', 'order-1:paid', 'order-2:created', 'order-1:shipped', 'order-2:paid', 'order-1:delivered', 'order-2:cancelled'];

export async function main(options: ExampleOptions = {}): Promise<ExampleResult> {
  const { sidecarUrl, kafkaBrokers, topic, print } = resolveExample('order-events', options);
  const kafka = kafkaFor(kafkaBrokers);
  await createTopic(kafka, topic, 6);

  const client = new Client({ url: sidecarUrl });
  const producer = client.orderedProducer();
  const sent: Record<string, string[]> = {};
  for (const step of STEPS) {
    const messages = Array.from({ length: USERS }, (_, u) => ({ messageGroup: `user-${u + 1}`, key: `user-${u + 1}`, value: step }));
    for (const m of messages) (sent[m.messageGroup] ??= []).push(step);
    await producer.sendOrderedMessages(topic, messages);
  }
  await client.close();

  const observed = await readBack(kafka, topic, USERS * STEPS.length);
  const result = { topic, sent, observed };
  printOrder('order events', result, print);
  return result;
}

if (import.meta.main) await runFromCommandLine(main);
