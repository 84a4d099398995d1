import type { GroupLeaseStore, LeasedGroup } from '../consume/group-lease-store.ts';
import { leaseKey } from './keys.ts';
import type { RedisGateway } from './redis-gateway.ts';

/**
 * Delivery leases as Redis strings holding their owner, with Redis's expiry (lease-take.lua,
 * lease-release.lua). A subscription's keys share one hash slot, so one script call covers many groups.
 */
export class RedisLeaseStore implements GroupLeaseStore {
  readonly #gateway: RedisGateway;
  readonly #prefix: string;

  constructor(gateway: RedisGateway, prefix: string) {
    this.#gateway = gateway;
    this.#prefix = prefix;
  }

  async take(subscription: string, owner: string, ttlMs: number, groups: readonly LeasedGroup[]): Promise<number[]> {
    if (groups.length === 0) return [];
    const keys = this.#keys(subscription, groups);
    return this.#gateway.run(() => this.#gateway.redis.osLeaseTake(keys.length, ...keys, owner, ttlMs));
  }

  async release(subscription: string, owner: string, groups: readonly LeasedGroup[]): Promise<void> {
    if (groups.length === 0) return;
    const keys = this.#keys(subscription, groups);
    await this.#gateway.run(() => this.#gateway.redis.osLeaseRelease(keys.length, ...keys, owner));
  }

  #keys(subscription: string, groups: readonly LeasedGroup[]): string[] {
    return groups.map((g) => leaseKey(this.#prefix, subscription, g.partition, g.group));
  }
}
