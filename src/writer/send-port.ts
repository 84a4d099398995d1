import type { SidecarError } from '../errors/sidecar-error.ts';

/** One record as the writer hands it to Kafka; `null` is Kafka's null. */
export interface EngineMessage {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: Record<string, string>;
}

/** The records of one partition that travel in one Kafka request, in order. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: EngineMessage[];
}

/**
 * What Kafka did with one partition's batch. `baseOffset` is the offset of its first record. An `error` is
 * the engine's verdict for that partition alone: retriable when its fate is unknown (it may be in Kafka), so
 * the caller resends it, in order, with everything queued behind it.
 */
export type BatchOutcome = { baseOffset: bigint } | { error: SidecarError };

/**
 * The writer's port to Kafka (src/kafka's engines implement it). Each call is one Produce request, or as
 * close to one as the engine can make it; the writer keeps at most one call in flight per leader, so what
 * the engine guarantees per call holds per partition:
 * - each batch is written to its explicit partition, idempotently, acknowledged by all in-sync replicas, or
 *   fails; a batch reported written is never sent again, so one partition failing cannot duplicate another;
 * - after any failed batch, later batches use a fresh producer id (stale sequence numbers cannot make the
 *   broker drop a later batch as a duplicate of one that landed);
 * - the call settles within the write deadline, and nothing of it is retried after.
 */
export interface BatchSendPort {
  /**
   * The broker leading `topic`/`partition` as far as the engine knows right now (no network), so the writer
   * can put every partition of one broker in one request; `undefined` sends the partition in a request of
   * its own (an engine that cannot report per-partition outcomes of a shared request always says so).
   */
  leaderOf(topic: string, partition: number): number | undefined;
  /** Sends `batches` (at most one per partition) together; outcomes in the same order. Never rejects. */
  sendBatches(batches: readonly PartitionBatch[]): Promise<BatchOutcome[]>;
}
