import type { ConsumedRecord } from './consumer-engine.ts';

/**
 * The port for the operator's calls that act on a consumer group and read topics outside any running
 * consumer: offset resets and dead-letter replays. The adapter lives in src/kafka/consumer/.
 */

/** Where a reset puts a group: the first offset, the log end, or the first record at or after a time. */
export type OffsetTarget = { kind: 'earliest' } | { kind: 'latest' } | { kind: 'timestamp'; ms: number };

/** `[start, end)` of one partition. */
export interface OffsetRange {
  start: bigint;
  end: bigint;
}

/** The broker refused to change a group's offsets because the group has members: a consumer runs. */
export class GroupActiveError extends Error {
  override name = 'GroupActiveError';
}

export interface GroupOffsetsAdmin {
  /** Members of the consumer group now; 0 means no consumer of it runs anywhere. */
  groupMembers(groupId: string): Promise<number>;
  /** Per partition of `topic`, the offset `target` names (a time after the last record names the log end). */
  offsetsAt(topic: string, target: OffsetTarget): Promise<Map<number, bigint>>;
  /** The group's committed offsets on `topic` (partitions without one are absent). */
  committed(groupId: string, topic: string): Promise<Map<number, bigint>>;
  /**
   * Commits `offsets` for a group without members. Kafka itself refuses it while a member exists
   * (GroupActiveError), so a consumer that starts after the caller's own check cannot be overwritten.
   */
  setCommitted(groupId: string, topic: string, offsets: Map<number, bigint>): Promise<void>;
  /**
   * Reads `ranges` of `topic` without joining any application's group; `onRecords` is called with records of
   * one partition in offset order and awaited before more are handed over (bounded memory).
   */
  read(topic: string, ranges: Map<number, OffsetRange>, onRecords: (partition: number, records: ConsumedRecord[]) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}
