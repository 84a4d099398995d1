import type { Logger } from '../logging/logger.ts';
import { SidecarError } from '../errors/sidecar-error.ts';
import { StoreOnHoldError, StoreStateLostError } from '../errors/store-errors.ts';
import type { Clock } from './clock.ts';
import type { DegradedMode } from './degraded-mode.ts';
import { groupHash } from './hashing.ts';
import type { ProvenRoutes } from './proven-routes.ts';
import type { ReplicaAckRefusals } from './replica-ack-refusals.ts';
import { UNRECORDED } from './route-cache.ts';
import type { TopicCount } from './router-metrics.ts';
import type { RouteLogging } from './route-logging.ts';
import type { RouteStore } from './route-store.ts';
import { onHold, type StateLoss } from './state-loss.ts';
import type { TopicRecovery } from './topic-recovery.ts';
import type { TopicRegistry } from './topic-registry.ts';

/** Where partition counts come from (Kafka metadata in production); `fresh` skips any cached count. */
export type PartitionCounter = (topic: string, options?: { fresh?: boolean }) => Promise<number>;

export interface StoreRoutingDeps {
  store: Pick<RouteStore, 'route'>;
  /** Writes every new mapping to the durable route log (when on) before it is used. */
  logging: RouteLogging;
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
    const { store, logging, routes, topics, loss, recovery, degraded, unacknowledged, groupsCreated, now } = this.#deps;
    if (loss.isLost(topic)) await recovery.recover(topic);
    const [state, partitions] = await Promise.all([topics.state(topic), this.#deps.partitions(topic)]);
    const hash = groupHash(group);
    const confirmedAt = now();
    const provisional = routes.cache.peek(topic, group);
    try {
      if (provisional?.confirmedAt === UNRECORDED) {
        // Hashed while degraded and not recorded (or not logged) then: record and log the partition it used, so it
        // does not move.
        const recorded = await degraded.record({ topic, group, hash, partition: provisional.partition }, state);
        unacknowledged.acknowledged();
        await logging.append(topic, state, group, recorded);
        routes.confirmed(topic, group, recorded, hash, confirmedAt);
        return recorded;
      }
      const { partition, created, unlogged } = await store.route(topic, state, group, hash, partitions, logging.on);
      unacknowledged.acknowledged();
      if (created) groupsCreated.inc({ topic });
      // Before the log and the cache: a mapping past even the fresh count (the topic recreated smaller) is refused.
      if (partition >= partitions) await refusePastTopic(this.#deps.partitions, topic, [[group, partition]]);
      // In the log before anything is cached or produced, as with the replicas' acknowledgement above, and
      // still under the state it was made in (see RouteLogging.append).
      if (unlogged) await logging.append(topic, state, group, partition);
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
}

/**
 * Refuses routes naming a partition past the topic's fresh count with 409 (the topic deleted and created again
 * smaller; an operator releases the mapping, it is never moved silently); `drop` is told each such group. Callers
 * ask only for routes past the count they hold: counts only grow, so a fresh read usually settles it (another
 * replica saw the topic grow first).
 */
export async function refusePastTopic(
  partitions: PartitionCounter,
  topic: string,
  routes: Iterable<[group: string, partition: number]>,
  drop: (group: string) => void = () => undefined,
): Promise<void> {
  const fresh = await partitions(topic, { fresh: true });
  let first: SidecarError | undefined;
  for (const [group, partition] of routes) {
    if (partition < fresh) continue;
    drop(group);
    first ??= new SidecarError(
      'CONFLICT',
      `MessageGroup "${group}" is mapped to partition ${partition}, but topic "${topic}" has ${fresh} partitions (recreated smaller?); release the mapping with \`ordered-sidecar groups release\``,
      { field: 'messages' },
    );
  }
  if (first) throw first;
}
