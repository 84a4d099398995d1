import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';
import { groupHash } from '../routing/hashing.ts';
import type { LoggedRoutes, RouteLog, RouteLogEntry } from '../routing/route-log.ts';
import type { PartitionWriter } from '../writer/partition-writer.ts';

/** Partitions the sidecar creates the route log with. Never add partitions later: a key would change partition. */
export const ROUTE_LOG_PARTITIONS = 12;
/** Longest a rebuild waits to read a topic's routes back from the log. */
const READ_TIMEOUT_MS = 60_000;
const END_OFFSET_ATTEMPTS = 5;
const END_OFFSET_RETRY_MS = 200;

export interface KafkaRouteLogOptions {
  /** The compacted topic holding the routes (ROUTE_LOG_TOPIC). */
  topic: string;
  /** The fleet's Redis prefix: fleets sharing a Kafka cluster and a log keep apart by it. */
  prefix: string;
  /** Replication factor the topic is created with; undefined takes the brokers' default.replication.factor. */
  replicationFactor: number | undefined;
  /** Client id of the reader's consumer groups (one short-lived group per read). */
  clientId: string;
}

/** The log's configuration: compacted, one record per key kept for ever, each write on every in-sync replica. */
const TOPIC_CONFIG = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'retention.ms', value: '-1' },
  { name: 'min.compaction.lag.ms', value: '0' },
];

interface StoredRoute {
  partition: number;
  buckets: number;
}

/**
 * The route log (src/routing/route-log.ts) in a compacted Kafka topic. One record per mapping change, keyed by
 * [prefix, topic, group] (JSON), valued {partition, buckets}, or null for a release (a tombstone compaction
 * removes after delete.retention.ms). All records of one topic go to one partition (by the hash of prefix and
 * topic), so a rebuild reads that partition only and its order is the order of the changes.
 *
 * Writes go through the sidecar's Kafka engine (either one: idempotent, acks=all, the write deadline) with a
 * PartitionWriter of their own, so concurrent new groups share a request. Reads use a kafkajs consumer in a
 * throwaway group (as consumption does, docs/consumption.md): a rebuild is rare and reads to the partition's end.
 */
export class KafkaRouteLog implements RouteLog {
  readonly #writer: PartitionWriter;
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  readonly #partitionCount: (topic: string) => Promise<number | undefined>;
  readonly #options: KafkaRouteLogOptions;
  readonly #log: Logger;
  #partitions: Promise<number> | undefined;
  #missingLogged = false;
  #adminTail: Promise<unknown> = Promise.resolve();

  constructor(
    writer: PartitionWriter,
    kafka: Kafka,
    partitionCount: (topic: string) => Promise<number | undefined>,
    options: KafkaRouteLogOptions,
    log: Logger,
  ) {
    this.#writer = writer;
    this.#kafka = kafka;
    this.#admin = kafka.admin();
    this.#partitionCount = partitionCount;
    this.#options = options;
    this.#log = log;
  }

  /** Creates the topic unless it exists (refused creation is fine if an operator made it); resolves with its partition count. */
  ready(): Promise<number> {
    this.#partitions ??= this.#ensureTopic().catch((err: unknown) => {
      this.#partitions = undefined;
      throw err;
    });
    return this.#partitions;
  }

  async append(entries: readonly RouteLogEntry[]): Promise<void> {
    const partitions = await this.ready();
    const byPartition = new Map<number, RouteLogEntry[]>();
    for (const entry of entries) {
      const p = this.#partitionOf(entry.topic, partitions);
      byPartition.set(p, [...(byPartition.get(p) ?? []), entry]);
    }
    await Promise.all(
      [...byPartition].map(async ([partition, records]) => {
        const outgoing = records.map((e) => {
          const key = JSON.stringify([this.#options.prefix, e.topic, e.group]);
          const value = e.partition === null ? null : JSON.stringify({ partition: e.partition, buckets: e.buckets } satisfies StoredRoute);
          return { message: { key, value, headers: {} }, bytes: key.length + (value?.length ?? 0) };
        });
        const result = await this.#writer.write(this.#options.topic, partition, outgoing, 'plain');
        if (result.error) throw result.error;
      }),
    );
  }

  async read(topic: string): Promise<LoggedRoutes> {
    const partition = this.#partitionOf(topic, await this.ready());
    const end = await this.#endOffset(partition);
    const routes = new Map<string, number>();
    let buckets: number | undefined;
    if (end === 0n) return { routes, buckets };
    const groupId = `${this.#options.clientId}-route-log-read-${randomUUID()}`;
    const consumer = this.#kafka.consumer({ groupId, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: this.#options.topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`read ${routes.size} routes of "${topic}" from the route log but not its end within ${READ_TIMEOUT_MS} ms`)),
          READ_TIMEOUT_MS,
        );
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              if (batch.partition !== partition) return;
              for (const message of batch.messages) {
                const key = message.key ? (JSON.parse(message.key.toString()) as unknown) : undefined;
                if (Array.isArray(key) && key[0] === this.#options.prefix && key[1] === topic && typeof key[2] === 'string') {
                  if (message.value === null) routes.delete(key[2]);
                  else {
                    const stored = JSON.parse(message.value.toString()) as StoredRoute;
                    routes.set(key[2], stored.partition);
                    buckets = stored.buckets;
                  }
                }
                // The partition's last record is in its active segment, which compaction never cleans: it is always read.
                if (BigInt(message.offset) >= end - 1n) {
                  clearTimeout(timer);
                  resolve();
                  return;
                }
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await this.#oneAtATime(() => this.#admin.deleteGroups([groupId])).catch(() => undefined);
    }
    return { routes, buckets };
  }

  async close(): Promise<void> {
    await this.#admin.disconnect().catch(() => undefined);
  }

  /**
   * The partition's end offset. A topic created a moment ago may not have its leaders known to every broker yet
   * (NOT_LEADER_FOR_PARTITION and the like, retriable): asked again a few times, briefly.
   */
  async #endOffset(partition: number): Promise<bigint> {
    for (let attempt = 1; ; attempt++) {
      try {
        const offsets = await this.#oneAtATime(() => this.#admin.fetchTopicOffsets(this.#options.topic));
        return BigInt(offsets.find((o) => o.partition === partition)?.high ?? '0');
      } catch (err) {
        if (attempt >= END_OFFSET_ATTEMPTS || !(err instanceof kafkajs.KafkaJSError && err.retriable)) throw err;
        await sleep(END_OFFSET_RETRY_MS * attempt);
      }
    }
  }

  #partitionOf(topic: string, partitions: number): number {
    return groupHash(JSON.stringify([this.#options.prefix, topic])) % partitions;
  }

  async #ensureTopic(): Promise<number> {
    const { topic, replicationFactor } = this.#options;
    await this.#oneAtATime(() => this.#admin.connect());
    const existing = await this.#partitionCount(topic);
    if (existing !== undefined) return existing;
    try {
      await this.#oneAtATime(() =>
        this.#admin.createTopics({
          topics: [{ topic, numPartitions: ROUTE_LOG_PARTITIONS, replicationFactor: replicationFactor ?? -1, configEntries: TOPIC_CONFIG }],
          waitForLeaders: true,
        }),
      );
      this.#log.info('created the route log topic', { topic, partitions: ROUTE_LOG_PARTITIONS, replicationFactor: replicationFactor ?? 'broker default' });
    } catch (err) {
      // Another replica created it first, or creating topics is not allowed here: it must exist then.
      const count = await this.#partitionCount(topic);
      if (count !== undefined) return count;
      // Every new group retries this: one line per process, not one per new group.
      if (!this.#missingLogged) {
        this.#missingLogged = true;
        this.#log.error(
          `the route log topic "${topic}" does not exist and could not be created: new MessageGroups get 503 until it exists; create it as docs/operations.md says ("The route log"), or set ROUTE_LOG=false`,
          { err },
        );
      }
      throw err;
    }
    const created = await this.#partitionCount(topic);
    if (created === undefined) throw new Error(`the route log topic "${topic}" was created but has no metadata yet`);
    return created;
  }

  /** kafkajs's admin is not safe for concurrent calls while it (re)connects (see KafkajsEngine). */
  #oneAtATime<T>(call: () => Promise<T>): Promise<T> {
    const run = this.#adminTail.then(call);
    this.#adminTail = run.catch(() => undefined);
    return run;
  }
}
