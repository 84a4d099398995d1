/**
 * The port for blocked groups that outlive this replica's hold on their partition: a restart or a rebalance
 * finds them blocked again (same head, attempt count and last error) instead of trying them from attempt 1,
 * and an admin retry or skip made on any replica reaches the owner. The adapter is src/redis/blocked-store.ts.
 */

/** A blocked head as stored: its offsets (decimal strings), the attempts made, the last error. */
export interface StoredBlock {
  offsets: string[];
  attempt: number;
  error: string | undefined;
}

/** An admin retry or skip asked of the replica that owns the partition, for the head starting at `offset`. */
export interface UnblockRequest {
  action: 'retry' | 'skip';
  offset: string;
}

export interface StoredPartition {
  blocks: Map<string | null, StoredBlock>;
  requests: Map<string | null, UnblockRequest>;
  /** Heads an admin skipped, by their first offset (decimal), kept until a holding starts past them or a reset drops them. */
  skipped: Map<string, string[]>;
}

/** What a new holding of a partition takes over from earlier ones: blocked groups, and the offsets of skipped heads. */
export interface HeldBefore {
  blocks: ReadonlyMap<string | null, StoredBlock>;
  skipped: ReadonlySet<bigint>;
}

export interface BlockedStore {
  /** Everything stored for one partition of a subscription. */
  load(subscription: string, partition: number): Promise<StoredPartition>;
  /** Stores a block; a skip record of its head (from a skip whose answer was lost) goes: that head was not skipped. */
  save(subscription: string, partition: number, group: string | null, block: StoredBlock): Promise<void>;
  /**
   * Forgets the group's block and any request about it, and the skip record of `head` (a first offset) if one
   * was left by a skip whose answer was lost: a retried head is delivered, not skipped.
   */
  remove(subscription: string, partition: number, group: string | null, head?: string): Promise<void>;
  /**
   * Records that the group's blocked head (`offsets`) was skipped, and forgets its block and request, at once:
   * while the commit has not passed the head, a restart or a rebalance must not deliver it again.
   */
  skip(subscription: string, partition: number, group: string | null, offsets: readonly string[]): Promise<void>;
  /** Forgets skipped heads by their first offset (a holding that starts past them, an offset reset). */
  forgetSkips(subscription: string, partition: number, firstOffsets: readonly string[]): Promise<void>;
  /**
   * Leaves a request for the owner. It names the head's first offset, so a request that arrives after that
   * head moved on is ignored rather than applied to the group's next head.
   */
  request(subscription: string, partition: number, group: string | null, request: UnblockRequest): Promise<void>;
}

/** An offset as stored (a decimal string); undefined when it does not parse, so one bad field cannot stop a partition. */
export function parseOffset(text: string | undefined): bigint | undefined {
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  return BigInt(text);
}
