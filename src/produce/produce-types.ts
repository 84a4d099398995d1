import type { OutgoingRecord } from '../writer/partition-writer.ts';

/** A validated message of an ordered produce request, ready for Kafka. */
export interface OrderedRecord extends OutgoingRecord {
  group: string;
  /** Idempotency id (`dedup_id`): within the window, a repeat is reported, not written again. */
  dedupId: string | undefined;
}

/** A validated message of a plain produce request: explicit partition or Kafka's key hashing. */
export interface PlainRecord extends OutgoingRecord {
  partition: number | undefined;
}

export interface ProduceRequest<R> {
  topic: string;
  records: R[];
}

/** Result of one request message, in request order. Offsets are decimal strings (64-bit safe). */
export type MessageResult = { partition: number; offset: string; duplicate?: true } | { partition?: number; error: string };

export interface PartitionResponse {
  partition: number;
  base_offset: string;
  message_count: number;
}

export interface PartitionError {
  partition: number;
  code: string;
  error: string;
  retriable: boolean;
  message_count: number;
}

/** The OrderedProduceResponse of the design, plus `results` (one per request message, in order). */
export interface ProduceResponse {
  topic: string;
  partition_responses: PartitionResponse[];
  partition_errors: PartitionError[];
  total_messages: number;
  successful_messages: number;
  /** Messages not written because their dedup_id was written before (counted in successful_messages). */
  duplicate_messages: number;
  /** Present when Redis was unreachable: dedup_ids were not checked, so a retried message may repeat. */
  dedup_unavailable?: true;
  results: MessageResult[];
}
