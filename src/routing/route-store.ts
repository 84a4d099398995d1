/**
 * The router's port to the shared mapping store. The core owns it; `src/redis` implements it. A store call
 * fails with StoreUnreachableError, StoreBusyError or StoreRefusedError (src/errors/store-errors.ts) when the
 * store is the problem; any other error is a defect and is let through. `route` and `record` may also fail with
 * StoreNotReplicatedError: the mapping was written but too few replicas hold it yet to act on it (a
 * failover could lose it); the core refuses the request and caches nothing. `route`, `record`, `markLogged` and
 * `touch` fail with StoreStateLostError when the topic's state is not the one the caller registered (its epoch), and
 * `route` with StoreOnHoldError for a new group of a topic on hold; neither writes anything.
 */

export interface RouteOutcome {
  partition: number;
  /** True when this call created the mapping (the group was new). */
  created: boolean;
  /** True when the mapping is not in the route log yet (created now, or by a replica that has not logged it yet). */
  unlogged: boolean;
}

/** A use of a cached route, to record as the group's last access. */
export interface TouchEntry {
  group: string;
  hash: number;
  partition: number;
}

/** What a replica must know of a topic's stored state to route in it. */
export interface TopicState {
  /** The bucket count the topic was first used with (a group's bucket must never change). */
  buckets: number;
  /** Random id written when the topic's state was created or restored; another (or none) means it was lost. */
  epoch: string;
}

export interface TopicRegistration extends TopicState {
  /** The topic's mapping generation, bumped by every admin change of a live mapping. */
  generation: string | null;
}

/** What the generation watch reads of each topic: its generation, and the epoch (null when the state is gone). */
export interface TopicStamp {
  generation: string | null;
  epoch: string | null;
}

/** Why new groups of a topic are held: a rebuild from the route log runs, or re-seeded routes await an operator. */
export type TopicHold = 'restoring' | 'unproven';

export interface RouteStore {
  /** The topic's stored state, or undefined when the store has none (never used, or lost). */
  readTopic(topic: string): Promise<TopicRegistration | undefined>;
  /** The group's mapping, created on the least-loaded partition when there is none (route-3.lua). */
  route(topic: string, state: TopicState, group: string, hash: number, partitions: number, logged: boolean): Promise<RouteOutcome>;
  /**
   * The mapping is in the route log now (route-3.lua stops reporting it unlogged). Fails with
   * StoreStateLostError, writing nothing, when the topic's state is no longer `state`: a rebuild may have read
   * the log before this mapping reached it, so the mapping must not be used.
   */
  markLogged(topic: string, state: TopicState, group: string): Promise<void>;
  /**
   * Records a mapping made without the store unless one exists; returns the partition the store now maps. With
   * `logged` (the route log is on), a mapping it writes is listed unlogged, as `route` lists a new one.
   */
  record(topic: string, state: TopicState, group: string, hash: number, partition: number, logged: boolean): Promise<number>;
  /** Refreshes last access of used mappings; per entry, whether the store still maps it to that partition. */
  touch(topic: string, state: TopicState, entries: readonly TouchEntry[]): Promise<boolean[]>;
  /**
   * The mapping generation and epoch of each topic, or why it could not be read: topics live on different Redis
   * Cluster nodes, and one in trouble must not hide another's admin change.
   */
  stamps(topics: readonly string[]): Promise<PromiseSettledResult<TopicStamp>[]>;
  /** Resolves once the store answers. */
  ping(): Promise<void>;
}

/** The store's side of rebuilding a topic's state (state-loss.ts); src/redis implements it with RouteStore. */
export interface RestoreStore {
  /** Takes the topic's rebuild lock for `holdMs`; false when another replica holds it. */
  tryLockRestore(topic: string, owner: string, holdMs: number): Promise<boolean>;
  /** Releases the lock if `owner` still holds it. */
  unlockRestore(topic: string, owner: string): Promise<void>;
  /** Holds the lock `holdMs` from now if `owner` still holds it; false when it does not. */
  extendRestoreLock(topic: string, owner: string, holdMs: number): Promise<boolean>;
  /** Holds new groups of the topic (route-3.lua refuses them) while its state is rebuilt. */
  hold(topic: string, reason: TopicHold): Promise<void>;
  /** The topic's hold, undefined when it has none (so a failed admin rebuild can put it back). */
  readHold(topic: string): Promise<TopicHold | undefined>;
  /** Lets new groups of the topic be assigned again; false when the topic has no state. */
  release(topic: string): Promise<boolean>;
  /** Maps every group of `routes` the store does not map yet, loads included; returns how many were absent. */
  restoreRoutes(topic: string, buckets: number, routes: ReadonlyMap<string, number>): Promise<number>;
  /** Sets the topic's loads to the groups its mappings name per partition (after a restore: see StateLoss). */
  recountLoads(topic: string, buckets: number): Promise<void>;
  /**
   * Writes the topic's meta (bucket count, format, `epoch`, `hold` or none) and lists the topic; returns the
   * registration now stored. A new epoch tells every replica that the state it knew is gone.
   */
  stampTopic(topic: string, buckets: number, epoch: string, hold: TopicHold | undefined): Promise<TopicRegistration>;
}
