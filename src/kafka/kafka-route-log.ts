import { errorMessage, SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import { groupHash } from '../routing/hashing.ts';
import type { LoggedRoutes, RouteLog, RouteLogEntry } from '../routing/route-log.ts';
import type { PartitionWriter } from '../writer/partition-writer.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { aborted, LogTopicExistsError, type LogRecord, type LogTopicClient, type LogTopicDescription } from './log-topic-client.ts';

/** Partitions the sidecar creates the route log with. Never add partitions later: a key would change partition. */
export const ROUTE_LOG_PARTITIONS = 12;
/** Seconds a client is told to wait before retrying after a read of the log failed. */
const READ_RETRY_AFTER_S = 1;
/** Longest ready() waits for a topic another replica just created to show in the metadata, and between two looks. */
const EXISTING_WAIT_MS = 3000;
const EXISTING_POLL_MS = 100;
/** How long a topic refused for its configs stays refused before ready() describes it again. */
const REFUSED_HOLD_MS = 5000;
/** Longer than the longest read (ROUTE_LOG_READ_TIMEOUT is at most 45 s): compaction leaves a record read in progress alone. */
export const MIN_COMPACTION_LAG_MS = 60_000;

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

/**
 * The log's configuration: compacted, one record per key kept for ever, a record younger than the longest read
 * left alone by compaction (a mapping a read in progress has not reached yet is not replaced under it).
 */
const TOPIC_CONFIG: Record<string, string> = { 'cleanup.policy': 'compact', 'retention.ms': '-1', 'min.compaction.lag.ms': String(MIN_COMPACTION_LAG_MS) };
/**
 * Added when the topic is created with three replicas or more: an acknowledged write (acks=all) is then on two
 * replicas at least, and a replica that missed writes never becomes leader. Not with fewer (min ISR 2 of 2
 * replicas stops every write while one broker is down), nor with the brokers' default factor, which the sidecar
 * does not know: ready() checks what the topic got (`topicProblems`).
 */
const DURABLE_CONFIG: Record<string, string> = { 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' };

/** The configs the sidecar creates the log topic with (exported for tests). */
export function routeLogTopicConfig(replicationFactor: number | undefined): Record<string, string> {
  return replicationFactor !== undefined && replicationFactor >= 3 ? { ...TOPIC_CONFIG, ...DURABLE_CONFIG } : { ...TOPIC_CONFIG };
}

/** What is wrong with an existing log topic: `refuse` loses mappings for sure, `error` weakens durability, `warn` the rest. */
export interface TopicProblems {
  refuse: string[];
  error: string[];
  warn: string[];
}

/** Checks an existing log topic's configs against what the route log needs (ready() acts on the answer). */
export function topicProblems({ replicationFactor, config }: LogTopicDescription): TopicProblems {
  const problems: TopicProblems = { refuse: [], error: [], warn: [] };
  const policies = (config.get('cleanup.policy') ?? 'delete').split(',').map((p) => p.trim());
  const unlimited = (name: string): boolean => {
    const value = config.get(name);
    return value === undefined || Number(value) < 0;
  };
  if (policies.includes('delete')) {
    const limits = ['retention.ms', 'retention.bytes'].filter((name) => !unlimited(name)).map((name) => `${name}=${config.get(name)}`);
    if (limits.length > 0) problems.refuse.push(`cleanup.policy=${policies.join(',')} with ${limits.join(', ')} deletes live mappings`);
    else if (!policies.includes('compact'))
      problems.warn.push('cleanup.policy=delete (unlimited retention) is never compacted: the log and every rebuild read grow for ever');
  }
  if (!policies.includes('compact') && !policies.includes('delete')) problems.warn.push(`cleanup.policy=${policies.join(',')} is not compact`);
  const minIsr = Number(config.get('min.insync.replicas') ?? '1');
  if (replicationFactor >= 3 && minIsr < 2) {
    problems.error.push(`min.insync.replicas=${minIsr} with ${replicationFactor} replicas: an acknowledged mapping may be on one broker only`);
  }
  if (replicationFactor < 3) problems.warn.push(`${replicationFactor} replica(s): use 3, with min.insync.replicas=2`);
  if (config.get('unclean.leader.election.enable') === 'true') problems.warn.push('unclean.leader.election.enable=true may drop acknowledged mappings');
  const lag = Number(config.get('min.compaction.lag.ms') ?? '0');
  if (lag < MIN_COMPACTION_LAG_MS) {
    problems.warn.push(`min.compaction.lag.ms=${lag} below ${MIN_COMPACTION_LAG_MS}: compaction may drop a mapping from a rebuild read in progress`);
  }
  return problems;
}

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
  #configLogged = false;
  #resizeLogged = false;

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

  /**
   * Creates the topic unless it exists (refused creation is fine if an operator made it); resolves with its
   * partition count, the one this process writes with from then on. An existing topic's configs are checked: one
   * whose policy deletes records by time or size is refused (ROUTE_LOG_UNAVAILABLE), since it would lose mappings.
   */
  ready(): Promise<number> {
    if (this.#partitions) return this.#partitions;
    const attempt = this.#ensureTopic().catch((err: unknown) => {
      // A refused topic stays refused a moment: every new group asks, and each ask would describe the topic again.
      const refused = err instanceof SidecarError && err.code === 'ROUTE_LOG_UNAVAILABLE';
      const forget = (): void => {
        if (this.#partitions === attempt) this.#partitions = undefined;
      };
      if (refused) setTimeout(forget, REFUSED_HOLD_MS).unref();
      else forget();
      throw err;
    });
    this.#partitions = attempt;
    return attempt;
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
      const count = await Promise.race([this.ready(), aborted(signal)]);
      await Promise.race([this.#checkPartitionCount(count), aborted(signal)]);
      const partition = this.#partitionOf(topic, count);
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

  /**
   * The topic's partition count now must be the one this process writes with: after partitions were added, the
   * topic's records are on another partition than a read would look at (hash % count), and it would succeed with
   * routes missing. Fails the read instead, naming the cause (logged once as an error).
   */
  async #checkPartitionCount(writtenWith: number): Promise<void> {
    const { topic } = this.#options;
    const now = await this.#partitionCount(topic);
    if (now === writtenWith) return;
    const message =
      now === undefined
        ? `the route log topic "${topic}" no longer exists (this process wrote it with ${writtenWith} partitions)`
        : `the route log topic "${topic}" has ${now} partitions now, this process writes it with ${writtenWith}: partitions were added, so a topic's routes are no longer where a read looks; never add partitions to it (docs/operations.md, "The route log")`;
    if (!this.#resizeLogged) {
      this.#resizeLogged = true;
      this.#log.error(message, { topic, partitions: now ?? null, writtenWith });
    }
    throw new Error(message);
  }

  async #ensureTopic(): Promise<number> {
    const { topic, replicationFactor } = this.#options;
    const existing = await this.#partitionCount(topic);
    if (existing !== undefined) {
      await this.#checkExisting();
      return existing;
    }
    try {
      await this.#client.createTopic({ topic, partitions: ROUTE_LOG_PARTITIONS, replicationFactor, config: routeLogTopicConfig(replicationFactor) });
      this.#log.info('created the route log topic', { topic, partitions: ROUTE_LOG_PARTITIONS, replicationFactor: replicationFactor ?? 'broker default' });
    } catch (err) {
      if (err instanceof LogTopicExistsError) {
        // Another replica created it first: the metadata may not show it yet for a moment.
        const count = await this.#untilListed();
        if (count !== undefined) {
          await this.#checkExisting();
          return count;
        }
        throw new Error(
          `the route log topic "${topic}" exists (creating it was refused for that) but the metadata did not show it within ${EXISTING_WAIT_MS} ms`,
          {
            cause: err,
          },
        );
      }
      // Creating topics is not allowed here: an operator must have made it then.
      const count = await this.#partitionCount(topic);
      if (count !== undefined) {
        await this.#checkExisting();
        return count;
      }
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

  /** The topic's partition count once the metadata lists it, polled within EXISTING_WAIT_MS; undefined if it never does. */
  async #untilListed(): Promise<number | undefined> {
    const deadline = Date.now() + EXISTING_WAIT_MS;
    for (;;) {
      const count = await this.#partitionCount(this.#options.topic);
      if (count !== undefined || Date.now() + EXISTING_POLL_MS > deadline) return count;
      await sleep(EXISTING_POLL_MS);
    }
  }

  /**
   * Checks the configs of a topic the sidecar did not just create (`topicProblems`). A policy that deletes by time
   * or size is refused, the rest logged once. A topic that cannot be described (no DescribeConfigs ACL) is used
   * with a warning: the check guards against a mistake, it must not stop a log that works.
   */
  async #checkExisting(): Promise<void> {
    const { topic } = this.#options;
    let described: LogTopicDescription;
    try {
      described = await this.#client.describeTopic(topic);
    } catch (err) {
      if (!this.#configLogged) {
        this.#configLogged = true;
        this.#log.warn(`could not check the configs of the route log topic "${topic}"; using it as it is`, { err });
      }
      return;
    }
    const problems = topicProblems(described);
    const refused = problems.refuse.length > 0;
    if (!this.#configLogged) {
      this.#configLogged = true;
      if (refused || problems.error.length > 0) {
        this.#log.error(
          `the route log topic "${topic}" is misconfigured: ${[...problems.refuse, ...problems.error].join('; ')}${refused ? '; new MessageGroups get 503 ROUTE_LOG_UNAVAILABLE until it is fixed (docs/operations.md, "The route log")' : ''}`,
          { topic },
        );
      }
      if (problems.warn.length > 0) this.#log.warn(`the route log topic "${topic}": ${problems.warn.join('; ')}`, { topic });
    }
    if (refused) {
      // Not remembered as logged for ever: once an operator fixes the topic, the next ready() passes and logs nothing.
      throw new SidecarError('ROUTE_LOG_UNAVAILABLE', `the route log topic "${topic}" would lose mappings: ${problems.refuse.join('; ')}`, {
        retryAfterSeconds: READ_RETRY_AFTER_S,
        summarized: true,
      });
    }
  }
}
