import type { Logger } from '../logging/logger.ts';
import { SidecarError } from '../errors/sidecar-error.ts';
import { StoreOnHoldError, StoreStateLostError } from '../errors/store-errors.ts';
import type { Clock } from './clock.ts';
import type { DegradedMode } from './degraded-mode.ts';
import { groupHash } from './hashing.ts';
import type { ProvenRoutes } from './proven-routes.ts';
import type { ReplicaAckRefusals } from './replica-ack-refusals.ts';
import type { TopicCount } from './router-metrics.ts';
import type { RouteLog } from './route-log.ts';
import type { RouteStore, TopicState } from './route-store.ts';
import { onHold, STATE_LOST_RETRY_AFTER_S, type StateLoss } from './state-loss.ts';
import type { TopicRecovery } from './topic-recovery.ts';
import type { TopicRegistry } from './topic-registry.ts';

/** Where partition counts come from (Kafka metadata in production); `fresh` skips any cached count. */
export type PartitionCounter = (topic: string, options?: { fresh?: boolean }) => Promise<number>;

export interface StoreRoutingDeps {
  store: Pick<RouteStore, 'route' | 'markLogged'>;
  /** The durable route log every new mapping is written to before it is used; undefined when off. */
  routeLog: RouteLog | undefined;
  partitions: PartitionCounter;
  routes: ProvenRoutes;
  topics: TopicRegistry;
  loss: StateLoss;
  recovery: TopicRecovery;
  degraded: DegradedMode;
  unacknowledged: ReplicaAckRefusals;
  groupsCreated: TopicCount;
  log: Logger;
  now: Clock;
}

/**
 * A route the cache could not prove, asked of the store: the mapping made or read (route-3.lua), written to
 * the route log before it is used, then cached as confirmed. A route hashed during an outage is recorded
 * instead, and a topic whose state the store lost is recovered first (once per loss).
 */
export class StoreRouting {
  readonly #deps: StoreRoutingDeps;

  constructor(deps: StoreRoutingDeps) {
    this.#deps = deps;
  }

  async route(topic: string, group: string, afterLoss = false): Promise<number> {
    const { store, routeLog, routes, topics, loss, recovery, degraded, unacknowledged, groupsCreated, now } = this.#deps;
    if (loss.isLost(topic)) await recovery.recover(topic);
    const [state, partitions] = await Promise.all([topics.state(topic), this.#deps.partitions(topic)]);
    const hash = groupHash(group);
    const confirmedAt = now();
    const provisional = routes.cache.peek(topic, group);
    try {
      if (provisional?.confirmedAt === Number.NEGATIVE_INFINITY) {
        // Hashed while degraded but not recorded then: record the partition it used, so it does not move.
        const recorded = await degraded.record({ topic, group, hash, partition: provisional.partition });
        unacknowledged.acknowledged();
        await this.#logRoute(topic, state, group, recorded);
        routes.confirmed(topic, group, recorded, hash, confirmedAt);
        return recorded;
      }
      const { partition, created, unlogged } = await store.route(topic, state, group, hash, partitions, routeLog !== undefined);
      unacknowledged.acknowledged();
      if (created) groupsCreated.inc({ topic });
      if (partition >= partitions) await this.#confirmPartitionExists(topic, group, partition);
      // In the log before anything is cached or produced, as with the replicas' acknowledgement above, and
      // still under the state it was made in (see #logRoute).
      if (unlogged) await this.#logRoute(topic, state, group, partition);
      routes.confirmed(topic, group, partition, hash, confirmedAt);
      return partition;
    } catch (err) {
      if (err instanceof StoreOnHoldError) throw onHold(topic, err.reason);
      if (!(err instanceof StoreStateLostError) || afterLoss) throw err;
      // Routed with an epoch this replica has since replaced: not a new loss, just retry with the current one.
      if (topics.known(topic)?.epoch === state.epoch) loss.noteLost(topic);
      return this.route(topic, group, true);
    }
  }

  /**
   * Appends a mapping to the route log (when on), then lets Redis stop listing it as unlogged, checking that the
   * topic's state is still `state`. A rebuild that read the log before the append was acknowledged made a state
   * without this mapping (a new epoch), where another replica may assign the group elsewhere: the check then
   * fails with StoreStateLostError, nothing was cached or produced, and the caller routes again after the loss.
   * Once it passes, a later loss rebuilds from a log that holds the mapping. One round trip, new mappings only.
   */
  async #logRoute(topic: string, state: TopicState, group: string, partition: number): Promise<void> {
    if (!this.#deps.routeLog) return;
    try {
      await this.#deps.routeLog.append([{ topic, group, partition, buckets: state.buckets }]);
    } catch (err) {
      // The log's own refusal (a topic whose settings would lose mappings) is answered as it is: logged where
      // it was found, once, with its code and Retry-After.
      if (err instanceof SidecarError && err.code === 'ROUTE_LOG_UNAVAILABLE') throw err;
      throw new SidecarError(
        'KAFKA_UNAVAILABLE',
        `the route log could not record the partition of the new MessageGroup "${group}"; nothing was written, retry shortly`,
        { field: 'messages', cause: err, retryAfterSeconds: STATE_LOST_RETRY_AFTER_S },
      );
    }
    await this.#deps.store.markLogged(topic, state, group);
  }

  /**
   * Another replica saw the topic grow before this one did. Kafka partition counts only grow, so re-reading
   * the metadata normally settles it; a mapping beyond even the fresh count means the topic was deleted
   * and recreated smaller, which an operator resolves by releasing the mapping (never moved silently).
   */
  async #confirmPartitionExists(topic: string, group: string, partition: number): Promise<void> {
    const fresh = await this.#deps.partitions(topic, { fresh: true });
    if (partition < fresh) return;
    throw new SidecarError(
      'CONFLICT',
      `MessageGroup "${group}" is mapped to partition ${partition}, but topic "${topic}" has ${fresh} partitions (recreated smaller?); release the mapping with \`ordered-sidecar groups release\``,
      { field: 'messages' },
    );
  }
}
