import type { Logger } from '../logging/logger.ts';
import type { Clock } from './clock.ts';
import type { ProvisionalRoutes, ProvisionalRoute } from './provisional-routes.ts';
import type { RouteCache } from './route-cache.ts';
import type { RouteLogging } from './route-logging.ts';
import type { Count } from './router-metrics.ts';
import type { RouteStore, TopicState } from './route-store.ts';

export interface RecoveryDeps {
  store: Pick<RouteStore, 'ping' | 'record'>;
  state: (topic: string) => Promise<TopicState>;
  provisional: ProvisionalRoutes;
  cache: RouteCache;
  /** Puts each recorded route in the route log (when on): a rebuild after a loss of Redis's state keeps it. */
  logging: RouteLogging;
  conflicts: Count;
  log: Logger;
  now: Clock;
}

/**
 * Ends an outage: the store must answer, and every route hashed meanwhile (DEGRADED_ROUTING=hash) is recorded
 * first, in the store and in the route log. The store wins a conflict: that group was split, which is counted
 * and logged with the group.
 * When unprovable routes are refused (the default) nothing was hashed, so there is nothing to record or
 * move: a route-3.lua call that timed out and ran later only created a mapping nothing was written to.
 */
export class OutageRecovery {
  readonly #deps: RecoveryDeps;

  constructor(deps: RecoveryDeps) {
    this.#deps = deps;
  }

  /** True once the store answered and nothing is left to record; rejects with the store's error otherwise. */
  async attempt(): Promise<boolean> {
    const { store, provisional, cache, now } = this.#deps;
    await store.ping();
    for (const route of provisional.pending()) {
      const confirmedAt = now();
      const partition = await this.record(route);
      // Update only routes still cached: inserting would evict others routed while degraded, which exist
      // nowhere else until they are recorded too.
      if (cache.peek(route.topic, route.group)) cache.set(route.topic, route.group, { partition, hash: route.hash, confirmedAt });
      provisional.recorded(route);
    }
    return provisional.size === 0;
  }

  /** Records one hashed route, then logs it; returns the partition the store maps the group to from now on. */
  async record(route: ProvisionalRoute): Promise<number> {
    const { store, state, logging, conflicts, log } = this.#deps;
    const topicState = await state(route.topic);
    const partition = await store.record(route.topic, topicState, route.group, route.hash, route.partition);
    await logging.append(route.topic, topicState, route.group, partition);
    if (partition !== route.partition) {
      conflicts.inc();
      log.error(
        'MessageGroup split: routed by hash during the outage, but mapped elsewhere meanwhile; its messages around the outage are in two partitions, following Redis from now on',
        {
          topic: route.topic,
          group: route.group,
          used: route.partition,
          redis: partition,
        },
      );
    }
    return partition;
  }
}
