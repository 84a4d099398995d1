import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type ITopicConfig } from 'kafkajs';
import { beforeAll, inject, onTestFinished, vi } from 'vitest';
import { kafkaSecurity, kafkajsSecurity } from '../../src/kafka/kafka-security.ts';
import { KafkaConnectionProblem } from '../../src/kafka/connection-problem.ts';
import type { KafkaConnection } from '../../src/kafka/kafka-connection.ts';
import { stopKafkajsIdleChecks } from '../../src/kafka/kafkajs-request-queue.ts';
import { stackKafkaSecurity } from './sidecar.ts';

// The test processes use kafkajs directly too: the same fix as the sidecar's (no timer loop, no negative-delay warning).
stopKafkajsIdleChecks();

export interface ConsumedRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** How an engine reaches the test stack (with its TLS and SASL when secured), or `brokers` without security. */
export const testConnection = (clientId: string, brokers?: string[]): KafkaConnection => ({
  brokers: brokers ?? inject('kafkaBrokers'),
  clientId,
  security: brokers ? {} : kafkaSecurity(stackKafkaSecurity()),
  problem: new KafkaConnectionProblem(),
});

/** A kafkajs client for the test stack, with its TLS and SASL when it is secured (same credentials as the sidecar). */
export const testKafka = (): Kafka =>
  new Kafka({
    clientId: 'ordered-sidecar-tests',
    brokers: inject('kafkaBrokers'),
    logLevel: logLevel.NOTHING,
    ...kafkajsSecurity(kafkaSecurity(stackKafkaSecurity())),
  });

/**
 * A kafkajs client and its admin for the calling file or describe block: the admin connects before the block's
 * tests and disconnects after them, once the block's own `afterAll` hooks (which may still use it) have run.
 */
export function useKafkaAdmin(kafka: Kafka = testKafka()): { kafka: Kafka; admin: Admin } {
  const admin = kafka.admin();
  beforeAll(async () => {
    await admin.connect();
    return () => admin.disconnect();
  });
  return { kafka, admin };
}

/** Creates a topic with a fresh name and waits until every partition has a leader. */
export async function createTopic(admin: Admin, partitions: number, replicationFactor = 1): Promise<string> {
  const topic = `test-${randomUUID().slice(0, 8)}`;
  await createTopicWithLeaders(admin, { topic, numPartitions: partitions, replicationFactor });
  return topic;
}

/** Creates `spec` and waits until each of its partitions has a leader. */
export async function createTopicWithLeaders(admin: Admin, spec: ITopicConfig): Promise<void> {
  const partitions = spec.replicaAssignment?.length ?? spec.numPartitions ?? 1;
  try {
    await admin.createTopics({ topics: [spec], waitForLeaders: true });
  } catch (err) {
    // kafkajs waits for the leaders by asking one broker's metadata; a broker restarted just before (the
    // failover suites) may not know the new topic yet, on Kafka 3.9 in particular. The topic was created:
    // wait until every partition has a leader, as waitForLeaders would have.
    if ((err as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
    await vi.waitUntil(
      async () => {
        const [meta] = (await admin.fetchTopicMetadata({ topics: [spec.topic] }).catch(() => ({ topics: [] }))).topics;
        return meta?.partitions.length === partitions && meta.partitions.every((p) => p.leader >= 0);
      },
      { timeout: 30_000, interval: 200 },
    );
  }
}

/** Sum of end offsets: how many records the topic holds. */
export async function recordCount(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/** Reads the whole topic from the beginning, stopping once it holds nothing more (end offsets reached). */
export async function consumeAll(kafka: Kafka, admin: Admin, topic: string, timeoutMs = 60_000): Promise<ConsumedRecord[]> {
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  const expected = [...ends.values()].reduce((a, b) => a + b, 0n);
  const records: ConsumedRecord[] = [];
  if (expected === 0n) return records;
  const consumer = kafka.consumer({ groupId: `verify-${randomUUID()}`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${records.length} of ${expected} records of ${topic} in ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
          records.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers });
          if (BigInt(records.length) >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

export function disconnectAfter(client: { disconnect(): Promise<void> }): void {
  onTestFinished(() => client.disconnect());
}

/**
 * Every record the topic holds now, read to each partition's end as of the call. Unlike `consumeAll`, it does not
 * expect the end offsets' sum: a compacted topic holds fewer records than its offsets (its last record, in the
 * active segment compaction never cleans, is always there to stop at).
 */
export async function consumeToEnd(kafka: Kafka, admin: Admin, topic: string, timeoutMs = 60_000): Promise<ConsumedRecord[]> {
  const remaining = new Map((await admin.fetchTopicOffsets(topic)).filter((p) => p.high !== '0').map((p) => [p.partition, BigInt(p.high) - 1n]));
  const records: ConsumedRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `verify-${randomUUID()}`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${records.length} records of ${topic} but not to its end in ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const last = remaining.get(partition);
          if (last === undefined || BigInt(message.offset) > last) return;
          records.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, headers: {} });
          if (BigInt(message.offset) === last) remaining.delete(partition);
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
  return records;
}
