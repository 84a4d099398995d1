/**
 * The consumer port: what ordered consumption needs from a Kafka client. The adapter lives in
 * src/kafka/consumer/; the core here never imports a Kafka library.
 */

/** One fetched record. Offsets are bigint (Kafka's are 64-bit); timestamp is Kafka's, in ms, as a decimal string. */
export interface ConsumedRecord {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | undefined>;
  timestamp: string;
}

/** Records of one partition from one fetch, in offset order. */
export interface FetchedBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  /**
   * The offset this fetch asked for (the engine's position for the partition when it sent the fetch). It can
   * be below the first record (compacted or aborted records) and, for a fetch sent before a rejoin and
   * answered after it, above the committed offset the new assignment starts from.
   */
  fetchedOffset: bigint;
  /** The offset after this batch (past any control records it skipped). */
  nextOffset: bigint;
  /** The partition's log end offset when fetched, for lag. */
  highWatermark: bigint;
  /**
   * Keeps the group membership alive while the handler holds the batch. Rejects with `RebalanceStarted`
   * when the group began rebalancing: the handler should then drain, commit and return.
   */
  heartbeat(): Promise<void>;
  /**
   * Marks the partition read up to `next` (the offset after what the handler took over): its next fetch
   * starts there. Without this call the engine fetches the partition again from where it stood, which after
   * a rejoin is the committed offset; so a handler whose partition was released under it never lets the
   * engine pass records it did not deliver.
   */
  consumed(next: bigint): void;
}

/** The group is rebalancing: partitions held by a running handler are released only once it returns. */
export class RebalanceStarted extends Error {
  override name = 'RebalanceStarted';
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to consume (Kafka's committed-offset convention). */
  offset: bigint;
}

export interface ConsumerEngineEvents {
  /**
   * Called for each fetched batch. The engine neither fetches this partition again nor releases it in a
   * rebalance until the returned promise settles: that is what lets in-flight deliveries finish and be
   * committed before another replica takes the partition over.
   */
  onBatch(batch: FetchedBatch): Promise<void>;
  /** The group started rebalancing (called synchronously, before this member rejoins). */
  onRebalance(): void;
  /** This member's new assignment after a (re)join, for the topic subscribed. */
  onAssigned(partitions: number[]): void;
  /** The consumer crashed: the engine either rejoins by itself (`onAssigned` follows) or has stopped for good. */
  onCrash(crash: ConsumerCrash): void;
}

export interface ConsumerCrash {
  error: unknown;
  /** False when the error is one no retry can change (an authorization refused, a bad setting): nothing restarts it. */
  willRestart: boolean;
}

export interface ConsumerEngine {
  /** Joins `group` and starts fetching `topic`; `fromBeginning` applies only without a committed offset. */
  start(events: ConsumerEngineEvents): Promise<void>;
  pause(partitions: number[]): void;
  /**
   * The partition's next fetch starts at `offset` (a partition of the current assignment); an answer to a fetch
   * of it sent before the seek is not handed out.
   */
  seek(partition: number, offset: bigint): void;
  resume(partitions: number[]): void;
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Log end offset per partition, for lag. */
  endOffsets(): Promise<Map<number, bigint>>;
  /** Committed offsets of the group per partition (partitions without one are absent). */
  committedOffsets(): Promise<Map<number, bigint>>;
  /** Whether the topic exists (a missing topic makes the subscription not ready). */
  topicExists(): Promise<boolean>;
  /** Stops fetching, waits for running `onBatch` handlers, leaves the group. */
  stop(): Promise<void>;
}
