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
export interface LogTopicClient {
  /** Creates the topic and waits for its leaders; rejects when it exists or may not be created. */
  createTopic(spec: LogTopicSpec): Promise<void>;
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
