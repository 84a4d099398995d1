import type { Clock } from './clock.ts';
import { RouteCache, type CachedRoute } from './route-cache.ts';

/**
 * The local route cache, read through its validity rule: a cached route is proven while the store confirmed
 * it less than `validityMs` ago (expiry.ts explains why it cannot outlive the stored mapping then). Only a
 * proven route is served without asking the store, during an outage too.
 */
export class ProvenRoutes {
  readonly cache: RouteCache;
  readonly #validityMs: number;
  readonly #now: Clock;

  constructor(capacity: number, validityMs: number, now: Clock) {
    this.cache = new RouteCache(capacity);
    this.#validityMs = validityMs;
    this.#now = now;
  }

  /** The clock `get` judges by: read once per request, not once per group. */
  now(): number {
    return this.#now();
  }

  /** The route if it is proven (at `now`, when a request reads the clock once for all its groups); counts as a use for eviction. */
  get(topic: string, group: string, now = this.#now()): CachedRoute | undefined {
    const cached = this.cache.get(topic, group);
    return cached && this.proves(cached, now) ? cached : undefined;
  }

  /** Whether a cached route is still proven at `now` (the rule `get` applies); not a use. */
  proves(route: CachedRoute, now = this.#now()): boolean {
    return now - route.confirmedAt < this.#validityMs;
  }

  /** Caches a route the store just confirmed. */
  confirmed(topic: string, group: string, partition: number, hash: number, at = this.#now()): void {
    this.cache.set(topic, group, { partition, hash, confirmedAt: at });
  }
}
