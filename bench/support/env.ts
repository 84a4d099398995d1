import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { createLogger, type Logger } from '../../src/logging/logger.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';

/** Where the benchmarks find the services; the same variables the tests and `scripts/stack.sh env` use. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/** A Redis key prefix nobody else uses; every bench key lives under `<prefix>:`. */
export const benchPrefix = (): string => `bench-${randomUUID().slice(0, 8)}`;

/** A Kafka topic or router topic name nobody else uses. */
export const benchTopic = (label: string): string => `bench-${label}-${randomUUID().slice(0, 8)}`;

export const connectRedis = (): Redis => new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });

/** Deletes every key under `prefix:` (SCAN + UNLINK, never KEYS on a shared Redis). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<number> {
  let removed = 0;
  const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) {
    if (keys.length > 0) removed += await redis.unlink(...keys);
  }
  return removed;
}

/** Metrics on a private registry without the default process collectors (as a sidecar would have them). */
export const benchMetrics = (): SidecarMetrics => new SidecarMetrics(new Registry(), { defaultMetrics: false });

export const quietLog = (): Logger => createLogger('warn', { bench: true });

export const benchKafka = (): Kafka => new Kafka({ clientId: 'ordered-sidecar-bench', brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });

/**
 * Creates a topic with a fresh name and waits until every partition's leader answers. The metadata that
 * `waitForLeaders` waits for comes first: for a moment after it, partitions still answer "not the leader"
 * (a ListOffsets right away fails so, and kafkajs's admin does not retry it). Produce requests sent in that
 * moment are partly refused; in one benchmark run the kafkajs application of the row that followed then failed
 * every send with "out of order sequence number". No row starts in that window.
 */
export async function createTopic(admin: Admin, label: string, partitions: number, timeoutMs = 30_000): Promise<string> {
  const topic = benchTopic(label);
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true }).catch((err: unknown) => {
    // kafkajs waits for the leaders by asking one broker's metadata, which may not know the new topic yet (a
    // broker just started): the topic was created, and the loop below waits for its leaders.
    if ((err as { type?: unknown }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await admin.fetchTopicOffsets(topic); // a ListOffsets on every partition's leader
      return topic;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Records the topic holds: the sum over partitions of high - low watermark. */
export async function recordCount(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}

/** Group names as an application might use them: `order-` and a zero-padded number (16 bytes). */
export const orderGroup = (n: number): string => `order-${String(n).padStart(10, '0')}`;
