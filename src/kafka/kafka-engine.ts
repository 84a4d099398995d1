import type { KafkaClientName } from '../config/options.ts';

export { KAFKA_CLIENTS, type KafkaClientName } from '../config/options.ts';

/** One record as the sidecar hands it to Kafka; `null` is Kafka's null. */
export interface EngineMessage {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: Record<string, string>;
}

/**
 * The few things the sidecar needs from a Kafka client. Ordering lives above this interface (the partition
 * writer); every engine must give it the same guarantees:
 * - `send` writes one batch to one explicit partition, idempotently, acknowledged by all in-sync replicas,
 *   or fails; it is never silently redirected to another partition and never silently dropped;
 * - the engine's own retries of a batch keep its producer id and sequence numbers, so a retry that meets an
 *   attempt which did land is answered as a duplicate, not written twice;
 * - after any failed `send` (its fate may be unknown) later batches use a fresh producer id, so stale
 *   sequence numbers cannot make the broker drop a later batch as a duplicate of one that landed;
 * - a `send` settles within the write deadline it was built with, and nothing of it is retried after.
 */
export interface KafkaEngine {
  readonly name: KafkaClientName;
  /** Connects; safe to call again after a failure. Sends connect on demand too. */
  connect(): Promise<void>;
  /** Waits for nothing: callers drain their writes first. Idempotent. */
  close(): Promise<void>;
  /** Writes `messages` to `topic`/`partition` in order; resolves with the offset of the first. */
  send(topic: string, partition: number, messages: EngineMessage[]): Promise<bigint>;
  /** The topic's partition count read from the cluster now, or undefined when the topic does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
  /** Resolves when a broker of the cluster answers (readiness). */
  ping(): Promise<void>;
}
