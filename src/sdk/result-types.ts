/** Why a message was not (or not surely) written. */
export interface MessageError {
  code: string;
  message: string;
  /** True when sending it again (same dedup id) may succeed. */
  retriable: boolean;
}

/**
 * What happened to one message of a send, in the order the messages were given:
 * - `written`: in Kafka at `partition`/`offset`;
 * - `failed`: not written (`error.retriable` says whether sending it again may succeed);
 * - `unknown`: may or may not be in Kafka (a timeout, a lost connection, an abort, retries used up on a
 *   retriable error). Its MessageGroup is then in doubt: resend it with the same `dedupId` to find out.
 */
export type MessageOutcome =
  | {
      status: 'written';
      messageGroup: string;
      partition: number;
      /** Kafka offset as a decimal string (64-bit safe). For a duplicate, the offset of the original write. */
      offset: string;
      /** True when the sidecar had already written this dedup id and did not write it again. */
      duplicate: boolean;
      /**
       * The message's idempotency id (the caller's, else a generated UUID). Sent as `dedup_id` when the sidecar
       * deduplicates; on the Kafka fallback and against a sidecar without dedup it only names the message.
       */
      dedupId: string;
    }
  | {
      status: 'failed' | 'unknown';
      messageGroup: string;
      /** The partition it was routed to, when known. */
      partition: number | undefined;
      error: MessageError;
      dedupId: string;
    };

/** Messages written to one partition by this send (duplicates included, at their original offsets). */
export interface PartitionResult {
  partition: number;
  /** Lowest and highest offset among them; other producers' records may lie in between. */
  firstOffset: string;
  lastOffset: string;
  messageCount: number;
}

/** Messages of this send routed to one partition and not (surely) written there, by error code. */
export interface PartitionFailure {
  partition: number;
  code: string;
  error: string;
  retriable: boolean;
  messageCount: number;
}

/** Outcome of one send, over all its attempts. */
export interface OrderedProduceResult {
  topic: string;
  /** 'sidecar', or 'kafka' when the client fell back to producing directly. */
  via: 'sidecar' | 'kafka';
  /** HTTP attempts made (1 = no retry); 1 on the Kafka fallback, where kafkajs retries internally. */
  attempts: number;
  /** successfulMessages + failedMessages + unknownMessages. */
  totalMessages: number;
  /** Written now or earlier (duplicates included). */
  successfulMessages: number;
  /** Of the successful ones, those the sidecar recognised as already written. */
  duplicateMessages: number;
  /** Not written. */
  failedMessages: number;
  /** Maybe written, maybe not (status 'unknown'): resend them with the same dedupId. */
  unknownMessages: number;
  /**
   * True when the sidecar wrote some of these messages without its dedup check (Redis unreachable): a
   * resend of them may write them twice.
   */
  dedupUnavailable: boolean;
  partitions: PartitionResult[];
  partitionErrors: PartitionFailure[];
  /** One per message given, in that order. */
  messages: MessageOutcome[];
}
