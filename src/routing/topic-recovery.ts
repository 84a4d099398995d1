import type { Logger } from '../logging/logger.ts';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { ProvenRoutes } from './proven-routes.ts';
import { UNRECORDED } from './route-cache.ts';
import type { Count } from './router-metrics.ts';
import type { RestoreStore, RouteStore, TopicRegistration } from './route-store.ts';
import type { StateLoss } from './state-loss.ts';
import type { TopicRegistry } from './topic-registry.ts';

/** Cached routes re-seeded per round of concurrent calls after a state loss with the route log off. */
const RESEED_SLICE = 256;

export interface TopicRecoveryDeps {
  store: Pick<RouteStore, 'record'> & Pick<RestoreStore, 'hold'>;
  loss: StateLoss;
  topics: TopicRegistry;
  routes: ProvenRoutes;
  conflicts: Count;
  log: Logger;
}

/**
 * This replica's side of a topic whose state Redis lost (src/routing/state-loss.ts rebuilds it): waits for or
 * makes the rebuilt state, re-seeds the cached routes when there is no route log, and adopts the new state.
 */
export class TopicRecovery {
  readonly #deps: TopicRecoveryDeps;

  constructor(deps: TopicRecoveryDeps) {
    this.#deps = deps;
  }

  /** Waits for (or makes) the rebuilt state of a lost topic and routes with it from now on. */
  async recover(topic: string): Promise<void> {
    const { loss, topics } = this.#deps;
    const known = topics.known(topic);
    const registration = await loss.recover(topic, known);
    if (!loss.isLost(topic)) return; // another request of this replica adopted it meanwhile
    if (!loss.logged && known && registration.epoch !== known.epoch) await this.#reseed(topic, registration);
    topics.adopt(topic, registration);
    loss.recovered(topic);
  }

  /** A loss seen outside a request (the generation watch, a touch): rebuild now rather than at the next new group. */
  inBackground(topic: string): void {
    this.#deps.loss.noteLost(topic);
    this.recover(topic).catch((err: unknown) => {
      // Both were logged where they arose.
      if (!(err instanceof SidecarError && (err.code === 'ROUTING_STATE_LOST' || err.code === 'ROUTE_LOG_UNAVAILABLE')))
        this.#deps.log.warn('rebuilding the routing state of the topic failed; the next request tries again', { topic, err });
    });
  }

  /**
   * No route log: the routes this replica has cached are all that is left of the lost state. They are put back
   * (Redis wins when another replica put back another partition first: that group is split, counted, logged)
   * under an 'unproven' hold, since a group only a restarted replica knew cannot be proven. Only routes still
   * proven (within their validity, as served from the cache) are put back: an older one may name a mapping the
   * cleanup removed since, and that another replica then made afresh elsewhere and still uses; it is dropped.
   */
  async #reseed(topic: string, registration: TopicRegistration): Promise<void> {
    const { store, routes: proven, conflicts: splits, log } = this.#deps;
    const { cache } = proven;
    await store.hold(topic, 'unproven');
    let conflicts = 0;
    let stale = 0;
    const now = proven.now();
    const routes = cache.routesOf(topic).filter(([group, route]) => {
      // Hashed while degraded: recorded by their own path (and kept: nothing else holds them yet).
      if (route.confirmedAt === UNRECORDED) return false;
      if (proven.proves(route, now)) return true;
      stale++;
      cache.delete(topic, group);
      return false;
    });
    const reseedOne = async ([group, route]: (typeof routes)[number]): Promise<void> => {
      // Re-seeded only with the route log off: nothing to list as unlogged.
      const partition = await store.record(topic, registration, group, route.hash, route.partition, false);
      if (partition === route.partition) return;
      conflicts++;
      splits.inc();
      cache.delete(topic, group);
      log.error('MessageGroup split: re-seeded after Redis lost its state, but another replica re-seeded another partition first', {
        topic,
        group,
        cached: route.partition,
        redis: partition,
      });
    };
    // Pipelined a slice at a time: a cache holds up to ROUTE_CACHE_SIZE routes of the topic.
    for (let from = 0; from < routes.length; from += RESEED_SLICE) await Promise.all(routes.slice(from, from + RESEED_SLICE).map(reseedOne));
    log.warn('re-seeded cached routes of the topic into Redis; new MessageGroups wait for an operator (`ordered-sidecar groups resume`)', {
      topic,
      routes: routes.length,
      conflicts,
      stale,
    });
  }
}
