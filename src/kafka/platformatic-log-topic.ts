import type { Admin, Consumer } from '@platformatic/kafka';
import type { KafkaConnection } from './kafka-connection.ts';
import { platformaticSecurity } from './kafka-security.ts';
import {
  aborted,
  LogTopicExistsError,
  untilServed,
  type LogRecord,
  type LogTopicClient,
  type LogTopicDescription,
  type LogTopicSpec,
} from './log-topic-client.ts';

/** ListOffsets' special timestamps. */
const EARLIEST = -2n;
const LATEST = -1n;
/** Bytes one Fetch answers at most: a route record is about 100 bytes. */
const FETCH_MAX_BYTES = 4 * 1024 * 1024;
/** DescribeConfigs' resource type of a topic (ConfigResourceTypes.TOPIC). */
const TOPIC_RESOURCE = 2;

/**
 * True when Kafka's error `name` is anywhere in the error: @platformatic/kafka wraps a broker's answer in a
 * MultipleErrors per attempt ("Creating topics failed."), each holding a ResponseError whose errors carry `apiId`.
 */
function hasKafkaError(err: unknown, name: string, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 8) return false;
  const shape = err as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (shape.apiId === name) return true;
  if (Array.isArray(shape.errors) && shape.errors.some((inner) => hasKafkaError(inner, name, depth + 1))) return true;
  return hasKafkaError(shape.cause, name, depth + 1);
}

/** The clients, loaded on first use (platformatic-log-clients.ts says why). */
const clients = (): Promise<typeof import('./platformatic-log-clients.ts')> => import('./platformatic-log-clients.ts');

/**
 * The route log's client on @platformatic/kafka. Reads use the Consumer's plain Fetch on the partition's leader
 * (`consumer.fetch`), never `consume`: that would join a consumer group (a rebalance delay) for a read that
 * only needs one partition up to an offset known at the start.
 */
export class PlatformaticLogTopicClient implements LogTopicClient {
  readonly #connection: KafkaConnection;
  #admin: Admin | undefined;

  constructor(connection: KafkaConnection) {
    this.#connection = connection;
  }

  async createTopic({ topic, partitions, replicationFactor, config }: LogTopicSpec): Promise<void> {
    const admin = await this.#adminClient();
    try {
      await admin.createTopics({
        topics: [topic],
        partitions,
        replicas: replicationFactor ?? -1,
        configs: Object.entries(config).map(([name, value]) => ({ name, value })),
      });
    } catch (err) {
      if (hasKafkaError(err, 'TOPIC_ALREADY_EXISTS')) throw new LogTopicExistsError(topic, { cause: err });
      throw err;
    }
    await this.#untilServed(topic, partitions);
  }

  async describeTopic(topic: string): Promise<LogTopicDescription> {
    const admin = await this.#adminClient();
    const [metadata, described] = await Promise.all([
      admin.metadata({ topics: [topic], forceUpdate: true }),
      admin.describeConfigs({ resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic }] }),
    ]);
    const replicas = metadata.topics.get(topic)?.partitions[0]?.replicas.length;
    const entries = described.find((r) => r.resourceName === topic)?.configs;
    if (replicas === undefined || entries === undefined) throw new Error(`the brokers did not describe topic "${topic}"`);
    const config = new Map<string, string>();
    for (const { name, value, isSensitive } of entries) if (typeof value === 'string' && !isSensitive) config.set(name, value);
    return { replicationFactor: replicas, config };
  }

  async readPartition(topic: string, partition: number, onRecord: (record: LogRecord) => void, signal: AbortSignal): Promise<void> {
    const { Consumer } = await clients();
    // Never joins its group: the id only satisfies the constructor.
    const consumer = new Consumer({
      clientId: this.#connection.clientId,
      bootstrapBrokers: this.#connection.brokers,
      ...platformaticSecurity(this.#connection),
      groupId: `${this.#connection.clientId}-route-log-reader`,
      autocommit: false,
    });
    // Its fetches refresh the metadata of tracked topics only: a moved leader is then found again.
    consumer.topics.track(topic);
    try {
      await Promise.race([this.#read(consumer, topic, partition, onRecord, signal), aborted(signal)]);
    } finally {
      await consumer.close(true).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.#admin?.close().catch(() => undefined);
  }

  async #adminClient(): Promise<Admin> {
    const { Admin } = await clients();
    this.#admin ??= new Admin({
      clientId: this.#connection.clientId,
      bootstrapBrokers: this.#connection.brokers,
      ...platformaticSecurity(this.#connection),
    });
    return this.#admin;
  }

  /** `untilServed`, on an admin of its own that never retries: its retries would wait a second each. */
  async #untilServed(topic: string, partitions: number): Promise<void> {
    const { Admin } = await clients();
    const probe = new Admin({
      clientId: this.#connection.clientId,
      bootstrapBrokers: this.#connection.brokers,
      ...platformaticSecurity(this.#connection),
      retries: 0,
    });
    const asked = [{ name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: LATEST })) }];
    try {
      await untilServed(() => probe.listOffsets({ topics: asked }));
    } finally {
      await probe.close().catch(() => undefined);
    }
  }

  async #read(consumer: Consumer, topic: string, partition: number, onRecord: (record: LogRecord) => void, signal: AbortSignal): Promise<void> {
    const offsetAt = async (timestamp: bigint): Promise<bigint> => {
      const offset = (await consumer.listOffsets({ topics: [topic], partitions: { [topic]: [partition] }, timestamp })).get(topic)?.[partition];
      // An answer without the partition is no offset: taken as 0, the read would end at once, empty, and look complete.
      if (offset === undefined) throw new Error(`the broker's ListOffsets answer has no offset of partition ${partition} of "${topic}"`);
      return offset;
    };
    const end = await offsetAt(LATEST);
    let next = await offsetAt(EARLIEST);
    while (next < end && !signal.aborted) {
      const metadata = await consumer.metadata({ topics: [topic] });
      const described = metadata.topics.get(topic);
      const leader = described?.partitions[partition]?.leader ?? -1;
      if (!described || leader < 0) throw new Error(`partition ${partition} of "${topic}" has no leader now`);
      const answer = await consumer.fetch({
        node: leader,
        maxBytes: FETCH_MAX_BYTES,
        maxWaitTime: 500,
        topics: [
          {
            topicId: described.id,
            partitions: [{ partition, fetchOffset: next, partitionMaxBytes: FETCH_MAX_BYTES, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }],
          },
        ],
      });
      for (const batch of answer.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === partition)?.records ?? []) {
        for (const record of batch.records) {
          const offset = batch.firstOffset + BigInt(record.offsetDelta);
          if (offset >= next && offset < end) onRecord({ offset, key: record.key, value: record.value });
        }
        // A batch compaction emptied still tells how far it reached.
        const after = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        if (after > next) next = after;
      }
    }
  }
}
