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
