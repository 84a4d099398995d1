import { errorMessage, SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import { groupHash } from '../routing/hashing.ts';
import type { LoggedRoutes, RouteLog, RouteLogEntry } from '../routing/route-log.ts';
import type { PartitionWriter } from '../writer/partition-writer.ts';
import { aborted, type LogRecord, type LogTopicClient } from './log-topic-client.ts';

/** Partitions the sidecar creates the route log with. Never add partitions later: a key would change partition. */
export const ROUTE_LOG_PARTITIONS = 12;
/** Seconds a client is told to wait before retrying after a read of the log failed. */
const READ_RETRY_AFTER_S = 1;

export interface KafkaRouteLogOptions {
  /** The compacted topic holding the routes (ROUTE_LOG_TOPIC). */
  topic: string;
  /** The fleet's Redis prefix: fleets sharing a Kafka cluster and a log keep apart by it. */
  prefix: string;
  /** Replication factor the topic is created with; undefined takes the brokers' default.replication.factor. */
  replicationFactor: number | undefined;
  /** Longest a read of a topic's routes may take (ROUTE_LOG_READ_TIMEOUT). */
  readTimeoutMs: number;
}

/** The log's configuration: compacted, one record per key kept for ever, each write on every in-sync replica. */
const TOPIC_CONFIG = { 'cleanup.policy': 'compact', 'retention.ms': '-1', 'min.compaction.lag.ms': '0' };

interface StoredRoute {
  partition: number;
  buckets: number;
}

const parseJson = (bytes: Buffer): unknown => {
  try {
    return JSON.parse(bytes.toString()) as unknown;
  } catch {
    return undefined;
  }
};

const isRouteKey = (parsed: unknown): parsed is [string, string, string] =>
  Array.isArray(parsed) && parsed.length === 3 && parsed.every((part) => typeof part === 'string');

/** [prefix, topic, group] of a record the sidecar wrote, or undefined for any other record. */
function routeKey(key: Buffer | null): [string, string, string] | undefined {
  const parsed = key === null ? undefined : parseJson(key);
  return isRouteKey(parsed) ? parsed : undefined;
}

/** The {partition, buckets} value the sidecar wrote, or undefined for any other value. */
function storedRoute(value: Buffer): StoredRoute | undefined {
  const parsed = parseJson(value);
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { partition, buckets } = parsed as Partial<Record<keyof StoredRoute, unknown>>;
  return Number.isSafeInteger(partition) && Number.isSafeInteger(buckets) && (partition as number) >= 0 && (buckets as number) > 0
    ? { partition: partition as number, buckets: buckets as number }
    : undefined;
}

/**
 * The route log (src/routing/route-log.ts) in a compacted Kafka topic. One record per mapping change, keyed by
 * [prefix, topic, group] (JSON), valued {partition, buckets}, or null for a release (a tombstone compaction
 * removes after delete.retention.ms). All records of one topic go to one partition (by the hash of prefix and
 * topic), so a rebuild reads that partition only and its order is the order of the changes.
 *
 * Writes go through the sidecar's Kafka engine (either one: idempotent, acks=all, the write deadline) with a
 * PartitionWriter of their own, so concurrent new groups share a request. Reads and the topic's creation use
 * the engine's own client (LogTopicClient): a read is assigned its partition (no consumer group) and stops at
 * the end offset it found when it started, within `readTimeoutMs`.
 */
export class KafkaRouteLog implements RouteLog {
  readonly #writer: PartitionWriter;
  readonly #client: LogTopicClient;
  readonly #partitionCount: (topic: string) => Promise<number | undefined>;
  readonly #options: KafkaRouteLogOptions;
  readonly #log: Logger;
  #partitions: Promise<number> | undefined;
  #missingLogged = false;

  constructor(
    writer: PartitionWriter,
    client: LogTopicClient,
    partitionCount: (topic: string) => Promise<number | undefined>,
    options: KafkaRouteLogOptions,
    log: Logger,
  ) {
    this.#writer = writer;
    this.#client = client;
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

  /**
   * Rejects with ROUTE_LOG_UNAVAILABLE (retriable) when the read fails or does not end within the deadline;
   * the rebuild that asked logs it once (state-loss.ts), not every request waiting on it.
   */
  async read(topic: string): Promise<LoggedRoutes> {
    const { readTimeoutMs } = this.#options;
    const signal = AbortSignal.timeout(readTimeoutMs);
    const routes = new Map<string, number>();
    let buckets: number | undefined;
    let unreadable = 0;
    const onRecord = ({ key, value }: LogRecord): void => {
      const parsed = routeKey(key);
      if (parsed === undefined) unreadable++;
      if (parsed?.[0] !== this.#options.prefix || parsed[1] !== topic) return;
      const group = parsed[2];
      if (value === null) routes.delete(group);
      else {
        const stored = storedRoute(value);
        if (stored === undefined) {
          unreadable++;
          return;
        }
        routes.set(group, stored.partition);
        buckets = stored.buckets;
      }
    };
    try {
      const partition = this.#partitionOf(topic, await Promise.race([this.ready(), aborted(signal)]));
      await this.#client.readPartition(this.#options.topic, partition, onRecord, signal);
      // Records the sidecar did not write (someone produced to the log topic) are skipped: one cannot block every rebuild.
      if (unreadable > 0) this.#log.warn('skipped route log records that are not routes', { topic: this.#options.topic, partition, records: unreadable });
    } catch (err) {
      const timedOut = signal.aborted;
      throw new SidecarError(
        'ROUTE_LOG_UNAVAILABLE',
        timedOut
          ? `reading the routes of topic "${topic}" back from the route log "${this.#options.topic}" did not finish within ROUTE_LOG_READ_TIMEOUT (${readTimeoutMs} ms, ${routes.size} routes read)`
          : `reading the routes of topic "${topic}" back from the route log "${this.#options.topic}" failed (${errorMessage(err)})`,
        { cause: err, retryAfterSeconds: READ_RETRY_AFTER_S, summarized: true },
      );
    }
    return { routes, buckets };
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  #partitionOf(topic: string, partitions: number): number {
    return groupHash(JSON.stringify([this.#options.prefix, topic])) % partitions;
  }

  async #ensureTopic(): Promise<number> {
    const { topic, replicationFactor } = this.#options;
    const existing = await this.#partitionCount(topic);
    if (existing !== undefined) return existing;
    try {
      await this.#client.createTopic({ topic, partitions: ROUTE_LOG_PARTITIONS, replicationFactor, config: TOPIC_CONFIG });
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
    // Made here with this count and served (createTopic waited): a broker whose metadata still lags must not make it look missing.
    return ROUTE_LOG_PARTITIONS;
  }
}
