import { setTimeout as sleep } from 'node:timers/promises';

/** One record of a log partition, as read back. */
export interface LogRecord {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

export interface LogTopicSpec {
  topic: string;
  partitions: number;
  /** Undefined takes the brokers' default.replication.factor. */
  replicationFactor: number | undefined;
  config: Record<string, string>;
}

/**
 * What the route log (kafka-route-log.ts) needs of a Kafka client besides its writes, which go through the
 * engine: creating its topic and reading one partition back. Each engine has its own, so a sidecar loads one
 * client library only, and the log works with whatever the engine supports (OAUTHBEARER on platformatic).
 */
/** What the log topic is, as its brokers describe it: replicas per partition and the topic's effective configs. */
export interface LogTopicDescription {
  /** Replicas of its first partition (every partition of a topic the sidecar created has as many). */
  replicationFactor: number;
  /** Config name -> effective value (the topic's own, else the broker's default); a sensitive or absent value is left out. */
  config: Map<string, string>;
}

/** createTopic's rejection when the topic exists already (another replica made it first, or an operator). */
export class LogTopicExistsError extends Error {
  constructor(topic: string, options?: ErrorOptions) {
    super(`topic "${topic}" exists already`, options);
    this.name = 'LogTopicExistsError';
  }
}

export interface LogTopicClient {
  /**
   * Creates the topic and waits until its partitions are served (`untilServed`); rejects with LogTopicExistsError
   * when it exists, with the client's error when it may not be created.
   */
  createTopic(spec: LogTopicSpec): Promise<void>;
  /** The topic's replication factor and configs (DescribeConfigs on the topic, Metadata); rejects when it cannot be described. */
  describeTopic(topic: string): Promise<LogTopicDescription>;
  /**
   * Hands every record of the partition, in offset order, from its first offset to its end offset as of the
   * call, then resolves: a bounded read, by assignment (no consumer group, so no group join to wait for).
   * Stops and rejects once `signal` aborts.
   */
  readPartition(topic: string, partition: number, onRecord: (record: LogRecord) => void, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Rejects once `signal` aborts, with its reason; for racing a library call that takes no signal. */
export function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

/** Longest createTopic waits for a new topic's partitions to be served; past it, the first write or read waits on its own. */
const SERVED_WAIT_MS = 5000;
/** Between two asks whether they are: the wait ends within this much of the moment they are. */
const SERVED_POLL_MS = 20;

/**
 * Waits until `ask` succeeds (at most SERVED_WAIT_MS): one attempt, without retries of its own, at every
 * partition's end offset from its leader. CreateTopics answers before a new topic's partitions are served, and
 * Metadata names their leaders before that too: the broker publishes the new metadata before its replica
 * manager has made the partitions, and a ListOffsets, Fetch or Produce in between gets NOT_LEADER_OR_FOLLOWER,
 * which the first read of the log (right after, for the first new group) then waited out with a client retry
 * (a second on @platformatic/kafka). So the wait asks what a read asks first, until every partition answers.
 */
export async function untilServed(ask: () => Promise<unknown>): Promise<void> {
  const deadline = AbortSignal.timeout(SERVED_WAIT_MS);
  while (!deadline.aborted) {
    const served = await ask().then(
      () => true,
      () => false,
    );
    if (served) return;
    await sleep(SERVED_POLL_MS, undefined, { signal: deadline }).catch(() => undefined);
  }
}
