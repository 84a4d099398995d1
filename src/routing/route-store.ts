/**
 * The router's port to the shared mapping store. The core owns it; `src/redis` implements it. A store call
 * fails with StoreUnreachableError, StoreBusyError or StoreRefusedError (src/errors/store-errors.ts) when the
 * store is the problem; any other error is a defect and is let through. `route` and `record` may also fail with
 * StoreNotReplicatedError: the mapping was written but too few replicas hold it yet to act on it (a
 * failover could lose it); the core refuses the request and caches nothing.
 */

export interface RouteOutcome {
  partition: number;
  /** True when this call created the mapping (the group was new). */
  created: boolean;
}

/** A use of a cached route, to record as the group's last access. */
export interface TouchEntry {
  group: string;
  hash: number;
  partition: number;
}

export interface TopicRegistration {
  /** The bucket count the topic was first used with (a group's bucket must never change). */
  buckets: number;
  /** The topic's mapping generation, bumped by every admin change of a live mapping. */
  generation: string | null;
}

export interface RouteStore {
  /** Registers the topic (first use fixes its bucket count) and reads its generation. */
  registerTopic(topic: string, buckets: number): Promise<TopicRegistration>;
  /** The group's mapping, created on the least-loaded partition when there is none (route-2.lua). */
  route(topic: string, buckets: number, group: string, hash: number, partitions: number): Promise<RouteOutcome>;
  /** Records a mapping made without the store unless one exists; returns the partition the store now maps. */
  record(topic: string, buckets: number, group: string, hash: number, partition: number): Promise<number>;
  /** Refreshes last access of used mappings; per entry, whether the store still maps it to that partition. */
  touch(topic: string, buckets: number, entries: readonly TouchEntry[]): Promise<boolean[]>;
  /** The mapping generation of each topic. */
  generations(topics: readonly string[]): Promise<(string | null)[]>;
  /** Resolves once the store answers. */
  ping(): Promise<void>;
}
