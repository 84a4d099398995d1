import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type Admin, type Cluster, type Kafka } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';
import type { KafkaConnection } from './kafka-connection.ts';
import { kafkajsClient } from './kafkajs-client.ts';
import {
  aborted,
  LogTopicExistsError,
  untilServed,
  type LogRecord,
  type LogTopicClient,
  type LogTopicDescription,
  type LogTopicSpec,
} from './log-topic-client.ts';

/** Bytes one Fetch answers at most: a route record is about 100 bytes. */
const FETCH_MAX_BYTES = 4 * 1024 * 1024;
const RETRY_MS = 200;

/** The part of kafkajs's Fetch answer the reader uses (kafkajs types it `any`). */
interface FetchAnswer {
  responses: { topicName: string; partitions: { partition: number; messages: { offset: string; key: Buffer | null; value: Buffer | null }[] }[] }[];
}

/**
 * The route log's client on kafkajs. kafkajs has no consumer without a group, so a read asks the partition's
 * leader directly: the Cluster a consumer is built on (handed, in kafkajs's public types, to a partition
 * assigner when the consumer is created) gives the leader and the offsets, and its Broker the Fetch. The
 * consumer is connected, never run, so it never joins its group.
 */
export class KafkajsLogTopicClient implements LogTopicClient {
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  #adminTail: Promise<unknown> = Promise.resolve();

  constructor(connection: KafkaConnection, log: Logger) {
    this.#kafka = kafkajsClient(connection, log);
    this.#admin = this.#kafka.admin();
  }

  async createTopic({ topic, partitions, replicationFactor, config }: LogTopicSpec): Promise<void> {
    await this.#oneAtATime(() => this.#admin.connect());
    const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
    const created = await this.#oneAtATime(() =>
      this.#admin.createTopics({
        topics: [{ topic, numPartitions: partitions, replicationFactor: replicationFactor ?? -1, configEntries }],
        waitForLeaders: true,
      }),
    );
    // kafkajs answers false when every topic asked for exists (TOPIC_ALREADY_EXISTS), and throws otherwise.
    if (!created) throw new LogTopicExistsError(topic);
    // kafkajs's ListOffsets through the Cluster is one attempt (its admin's would retry with its own backoff).
    const asked = [{ topic, partitions: Array.from({ length: partitions }, (_, partition) => ({ partition })), fromBeginning: false }];
    await this.#withCluster((cluster) =>
      untilServed(async () => {
        await cluster.addTargetTopic(topic);
        await cluster.fetchTopicsOffset(asked);
      }),
    );
  }

  async describeTopic(topic: string): Promise<LogTopicDescription> {
    await this.#oneAtATime(() => this.#admin.connect());
    const metadata = await this.#oneAtATime(() => this.#admin.fetchTopicMetadata({ topics: [topic] }));
    const described = await this.#oneAtATime(() =>
      this.#admin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false }),
    );
    const replicas = metadata.topics.find((t) => t.name === topic)?.partitions[0]?.replicas.length;
    const resource = described.resources.find((r) => r.resourceName === topic);
    if (replicas === undefined || resource === undefined) throw new Error(`the brokers did not describe topic "${topic}"`);
    if (resource.errorCode !== 0)
      throw new Error(`describing the configs of topic "${topic}" failed (error code ${resource.errorCode}: ${resource.errorMessage})`);
    const config = new Map<string, string>();
    for (const { configName, configValue, isSensitive } of resource.configEntries) {
      if (configValue !== null && !isSensitive) config.set(configName, configValue);
    }
    return { replicationFactor: replicas, config };
  }

  async readPartition(topic: string, partition: number, onRecord: (record: LogRecord) => void, signal: AbortSignal): Promise<void> {
    await this.#withCluster((cluster) => this.#read(cluster, topic, partition, onRecord, signal), signal);
  }

  async close(): Promise<void> {
    await this.#admin.disconnect().catch(() => undefined);
  }

  /** Runs `use` with a consumer's Cluster (see the class comment), the consumer connected and never run; stops once `signal` aborts. */
  async #withCluster(use: (cluster: Cluster) => Promise<void>, signal?: AbortSignal): Promise<void> {
    let cluster: Cluster | undefined;
    const consumer = this.#kafka.consumer({
      groupId: `route-log-reader-${randomUUID()}`,
      allowAutoTopicCreation: false,
      partitionAssigners: [
        (context) => {
          cluster = context.cluster;
          return kafkajs.PartitionAssigners.roundRobin(context);
        },
      ],
    });
    if (!cluster) throw new Error('kafkajs did not hand its cluster to the partition assigner (kafkajs changed?)');
    const connected = cluster;
    const using = (async () => {
      await consumer.connect();
      await use(connected);
    })();
    try {
      await (signal ? Promise.race([using, aborted(signal)]) : using);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  async #read(cluster: Cluster, topic: string, partition: number, onRecord: (record: LogRecord) => void, signal: AbortSignal): Promise<void> {
    await cluster.addTargetTopic(topic);
    const offsetAt = async (fromBeginning: boolean): Promise<bigint> => {
      const [listed] = await cluster.fetchTopicsOffset([{ topic, partitions: [{ partition }], fromBeginning }]);
      const offset = listed?.partitions.find((p) => p.partition === partition)?.offset;
      // An answer without the partition is no offset: taken as 0, the read would end at once, empty, and look complete.
      if (offset === undefined) throw new Error(`the broker's ListOffsets answer has no offset of partition ${partition} of "${topic}"`);
      return BigInt(offset);
    };
    const end = await offsetAt(false);
    let next = await offsetAt(true);
    while (next < end && !signal.aborted) {
      await cluster.refreshMetadataIfNecessary();
      const leader = cluster.findTopicPartitionMetadata(topic).find((p) => p.partitionId === partition)?.leader ?? -1;
      if (leader < 0) throw new Error(`partition ${partition} of "${topic}" has no leader now`);
      const broker = await cluster.findBroker({ nodeId: String(leader) });
      let answer: FetchAnswer;
      try {
        answer = (await broker.fetch({
          maxWaitTime: 500,
          maxBytes: FETCH_MAX_BYTES,
          topics: [{ topic, partitions: [{ partition, fetchOffset: next.toString(), maxBytes: FETCH_MAX_BYTES }] }],
        })) as FetchAnswer;
      } catch (err) {
        // A moved leader (NOT_LEADER_OR_FOLLOWER and the like): asked again with fresh metadata, within the deadline.
        if (!(err instanceof kafkajs.KafkaJSError && err.retriable)) throw err;
        await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
        await cluster.refreshMetadata();
        continue;
      }
      const messages = answer.responses.find((r) => r.topicName === topic)?.partitions.find((p) => p.partition === partition)?.messages ?? [];
      for (const message of messages) {
        const offset = BigInt(message.offset);
        if (offset < next || offset >= end) continue;
        onRecord({ offset, key: message.key, value: message.value });
        next = offset + 1n;
      }
    }
  }

  /** kafkajs's admin is not safe for concurrent calls while it (re)connects (see KafkajsEngine). */
  #oneAtATime<T>(call: () => Promise<T>): Promise<T> {
    const run = this.#adminTail.then(call);
    this.#adminTail = run.catch(() => undefined);
    return run;
  }
}
