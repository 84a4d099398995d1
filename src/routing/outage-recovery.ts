import { SidecarError } from '../errors/sidecar-error.ts';
import { StoreStateLostError } from '../errors/store-errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { Clock } from './clock.ts';
import type { ProvisionalRoutes, ProvisionalRoute } from './provisional-routes.ts';
import { type RouteCache, UNRECORDED } from './route-cache.ts';
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
  /** Redis no longer holds the topic's state this replica registered: rebuild it (the routes are recorded after). */
  onLost: (topic: string) => void;
  conflicts: Count;
  log: Logger;
  now: Clock;
}

/** How RouteLogging.append reports a route log it could not write to (anything else is the store's or a defect). */
const LOG_FAILURES: ReadonlySet<string> = new Set(['KAFKA_UNAVAILABLE', 'ROUTE_LOG_UNAVAILABLE']);

/**
 * Ends an outage: the store must answer, and every route hashed meanwhile (DEGRADED_ROUTING=hash) is recorded
 * first. The store wins a conflict: that group was split, which is counted and logged with the group.
 * Each recorded route is appended to the route log too. One the log cannot take now does not hold the outage open
 * (this replica would go on hashing new groups while the others route through Redis): Redis lists it unlogged
 * and it stays unconfirmed in the cache, so its next lookup, here or on any replica, appends it before use.
 * When unprovable routes are refused (the default) nothing was hashed, so there is nothing to record or
 * move: a route-3.lua call that timed out and ran later only created a mapping nothing was written to.
 */
export class OutageRecovery {
  readonly #deps: RecoveryDeps;

  constructor(deps: RecoveryDeps) {
    this.#deps = deps;
  }

  /**
   * True once the store answered and every route was recorded; rejects with the store's error otherwise. A route
   * of a topic whose state Redis lost meanwhile is left to the request path (its cache entry stays unconfirmed):
   * that topic is rebuilt first there, and a rebuild that cannot run yet (the route log out of reach) must not
   * keep the replica degraded for every other topic.
   */
  async attempt(): Promise<boolean> {
    const { provisional, log } = this.#deps;
    await this.#deps.store.ping();
    const unlogged = { count: 0, topics: new Set<string>(), err: undefined as unknown };
    try {
      for (const route of provisional.pending()) {
        const outcome = await this.#recordAndLog(route);
        if (outcome === true || outcome.err instanceof StoreStateLostError) continue;
        unlogged.count++;
        unlogged.topics.add(route.topic);
        unlogged.err = outcome.err;
      }
    } finally {
      if (unlogged.count > 0) {
        log.warn('routes hashed during the outage are recorded in Redis but not yet in the route log; each is appended on its next lookup', {
          unlogged: unlogged.count,
          topics: [...unlogged.topics],
          err: unlogged.err,
        });
      }
    }
    return provisional.size === 0;
  }

  /**
   * One pending route recorded, then logged: true, or what kept it out of the log (it is recorded all the same) or
   * out of Redis (its topic's state was lost: the request path records it after the rebuild).
   */
  async #recordAndLog(route: ProvisionalRoute): Promise<true | { err: unknown }> {
    const { state, provisional, cache, logging, now } = this.#deps;
    const confirmedAt = now();
    const topicState = await state(route.topic);
    let partition = route.partition;
    let outcome: true | { err: unknown } = true;
    try {
      partition = await this.record(route, topicState);
      await logging.append(route.topic, topicState, route.group, partition);
    } catch (err) {
      if (err instanceof StoreStateLostError) await this.#lost(route.topic, topicState);
      else if (!(err instanceof SidecarError && LOG_FAILURES.has(err.code))) throw err;
      outcome = { err };
    }
    // Update only routes still cached: inserting would evict others routed while degraded, which exist nowhere
    // else until they are recorded too. Not logged, it stays unconfirmed (at Redis's partition, if recorded).
    if (cache.peek(route.topic, route.group)) {
      cache.set(route.topic, route.group, { partition, hash: route.hash, confirmedAt: outcome === true ? confirmedAt : UNRECORDED });
    }
    provisional.recorded(route);
    return outcome;
  }

  /** Has the topic rebuilt, unless the state the attempt used was already replaced (by a rebuild under way). */
  async #lost(topic: string, used: TopicState): Promise<void> {
    if ((await this.#deps.state(topic)).epoch === used.epoch) this.#deps.onLost(topic);
  }

  /**
   * Records one hashed route under `topicState` (the state its caller also logs it under); returns the partition
   * the store maps the group to from now on.
   */
  async record(route: ProvisionalRoute, topicState: TopicState): Promise<number> {
    const { store, logging, conflicts, log } = this.#deps;
    const partition = await store.record(route.topic, topicState, route.group, route.hash, route.partition, logging.on);
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
