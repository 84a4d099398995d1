/**
 * Key layout of the router's state. Every key of one topic carries `{topic}` so Redis Cluster puts them
 * in one hash slot, which the multi-key scripts need. Kafka topic names cannot contain braces.
 */
export interface TopicKeys {
  /**
   * Hash: `buckets` (bucket count fixed at first use), `generation` (bumped by admin changes), `format`
   * (the state format, state-format.ts; absent on topics first used before it existed), `epoch` (random id
   * written when the state was created or restored: route-3.lua compares it with the caller's), `hold` (new
   * groups refused: 'restoring' or 'unproven', src/routing/state-loss.ts), and `unlogged:<group>` per new
   * mapping not yet in the route log (route-3.lua).
   */
  meta: string;
  /** String: the replica rebuilding the topic's state (expires rather than being relied on to be released). */
  restoreLock: string;
  /** Hash: partition -> number of mapped groups. */
  loads: string;
  /** Hash per bucket: group -> "partition:lastAccessMinute". */
  bucket(index: number): string;
  /** Hash per time slice: deduplication id -> state (see dedup-claim.lua). */
  dedupSlice(slice: number): string;
}

export function topicKeys(prefix: string, topic: string): TopicKeys {
  const base = `${prefix}:{${topic}}`;
  return {
    meta: `${base}:meta`,
    loads: `${base}:loads`,
    restoreLock: `${base}:restore-lock`,
    bucket: (index) => `${base}:m:${index}`,
    dedupSlice: (slice) => `${base}:dd:${slice}`,
  };
}

/** Set of topics that have mappings, so cleanup and the admin tools can find them. */
export const topicsKey = (prefix: string): string => `${prefix}:topics`;

/** Held by the replica running cleanup; it expires rather than being released, which also spaces runs out. */
export const cleanupLockKey = (prefix: string): string => `${prefix}:cleanup-lock`;

/** Unix seconds of the last completed cleanup, by any replica. */
export const cleanupLastRunKey = (prefix: string): string => `${prefix}:cleanup-last`;

/** Hash of one consumed partition's blocked groups (blocked-store.ts); braced per subscription for a Cluster. */
export const blockedKey = (prefix: string, subscription: string, partition: number): string => `${prefix}:{consume:${subscription}}:blocked:${partition}`;

/** String: the replica delivering one MessageGroup of a consumed partition (lease-store.ts); braced per subscription like blockedKey. */
export const leaseKey = (prefix: string, subscription: string, partition: number, group: string | null): string =>
  `${prefix}:{consume:${subscription}}:lease:${partition}:${JSON.stringify(group)}`;
