/**
 * The port for delivery leases: a replica delivers a MessageGroup only while it holds that group's lease, so
 * two replicas never have one group at the endpoint at once, whatever the consumer group's coordinator did
 * meanwhile (docs/consumption.md). The adapter is src/redis/lease-store.ts.
 */

/** One MessageGroup of one partition of a subscription's topic. */
export interface LeasedGroup {
  partition: number;
  group: string | null;
}

export interface GroupLeaseStore {
  /**
   * Takes or renews the leases of `groups` for `owner`, each for `ttlMs`. Per group, in order: 0 when `owner`
   * holds it now, else the ms left on another owner's lease. Rejects when the store cannot be reached.
   */
  take(subscription: string, owner: string, ttlMs: number, groups: readonly LeasedGroup[]): Promise<number[]>;
  /** Gives up the leases of `groups` that `owner` still holds. */
  release(subscription: string, owner: string, groups: readonly LeasedGroup[]): Promise<void>;
}
