import type { KafkaClientName, KafkaCompression } from '../config/options.ts';
import type { BatchSendPort } from '../writer/send-port.ts';

export { KAFKA_CLIENTS, type KafkaClientName } from '../config/options.ts';

/**
 * The few things the sidecar needs from a Kafka client: the writer's port (src/writer/send-port.ts, whose
 * guarantees every engine gives) and the cluster questions below. Beyond the port's contract:
 * - a batch is never silently redirected to another partition and never silently dropped;
 * - the engine's own retries of a request keep its producer id and sequence numbers, so a retry that meets
 *   an attempt which did land is answered as a duplicate, not written twice.
 */
export interface KafkaEngine extends BatchSendPort {
  readonly name: KafkaClientName;
  /** Connects; safe to call again after a failure. Sends connect on demand too. */
  connect(): Promise<void>;
  /** Waits for nothing: callers drain their writes first. Idempotent. */
  close(): Promise<void>;
  /** The topic's partition count read from the cluster now, or undefined when the topic does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
  /** Resolves when a broker of the cluster answers (readiness). */
  ping(): Promise<void>;
}

/** How the engine's producer writes. */
export interface ProducerSettings {
  /** The write deadline: one request settles within it, retries included. */
  writeTimeoutMs: number;
  compression: KafkaCompression;
}
