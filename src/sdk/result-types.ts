/** Why a message was not written. */
export interface MessageError {
  code: string;
  message: string;
  /** True when sending it again (same dedup id) may succeed. */
  retriable: boolean;
}

/** What happened to one message of a send, in the order the messages were given. */
export type MessageOutcome =
  | {
      status: 'written';
      messageGroup: string;
      partition: number;
      /** Kafka offset as a decimal string (64-bit safe). For a duplicate, the offset of the original write. */
      offset: string;
      /** True when the sidecar had already written this dedup id and did not write it again. */
      duplicate: boolean;
      /** The id sent as `dedup_id`; undefined when the sidecar does not deduplicate (or on the Kafka fallback). */
      dedupId: string | undefined;
    }
  | {
      status: 'failed';
      messageGroup: string;
      /** The partition it was routed to, when known. */
      partition: number | undefined;
      error: MessageError;
      dedupId: string | undefined;
    };

/** Messages written to one partition by this send (duplicates included, at their original offsets). */
export interface PartitionResult {
  partition: number;
  /** Lowest and highest offset among them; other producers' records may lie in between. */
  firstOffset: string;
  lastOffset: string;
  messageCount: number;
}

/** A partition where some messages could not be written, as the last attempt reported it. */
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
  totalMessages: number;
  /** Written now or earlier (duplicates included). */
  successfulMessages: number;
  /** Of the successful ones, those the sidecar recognised as already written. */
  duplicateMessages: number;
  failedMessages: number;
  partitions: PartitionResult[];
  partitionErrors: PartitionFailure[];
  /** One per message given, in that order. */
  messages: MessageOutcome[];
}
