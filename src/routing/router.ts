import type { Logger } from '../logging/logger.ts';
import { StoreNotReplicatedError, StoreUnreachableError } from '../errors/store-errors.ts';
import { monotonicClock, type Clock } from './clock.ts';
import { DegradedMode, REFUSAL_SUMMARY_INTERVAL_MS, type Resolution, type RouteSource } from './degraded-mode.ts';
import { cacheValidityMs } from './expiry.ts';
import { GenerationWatch } from './generation-watch.ts';
import { ProvenRoutes } from './proven-routes.ts';
import { ReplicaAckRefusals } from './replica-ack-refusals.ts';
import type { RouterMetrics } from './router-metrics.ts';
import type { RouteLog } from './route-log.ts';
import type { RestoreStore, RouteStore } from './route-store.ts';
import { RoutingRefusal } from './routing-refusal.ts';
import { StateLoss } from './state-loss.ts';
import { SingleFlight } from './single-flight.ts';
import { RouteLogging } from './route-logging.ts';
import { refusePastTopic, StoreRouting, type PartitionCounter } from './store-routing.ts';
import { TopicRecovery } from './topic-recovery.ts';
import { TopicRegistry } from './topic-registry.ts';
import { TouchBatcher } from './touch-batcher.ts';

export { REFUSAL_SUMMARY_INTERVAL_MS, type PartitionCounter };

/** A group of the request whose lookup is under way (no partition is negative). */
const PENDING = -1;

/** One request's routes, and how many of its distinct groups each source answered (for its trace span). */
export interface RoutedRequest {
  partitions: Map<string, number>;
  sources: Record<RouteSource, number>;
}

export interface RouterOptions {
  routerBuckets: number;
  routeCacheSize: number;
  groupTtlMs: number;
  touchFlushIntervalMs: number;
  /** Unprovable routes during an outage: refused (503), or hashed (may split a group); see SidecarOptions. @defaultValue 'reject' */
  degradedRouting?: 'reject' | 'hash';
  /** The durable route log every new mapping is written to before it is used; undefined when off (ROUTE_LOG=false). */
  routeLog?: RouteLog | undefined;
}

/**
 * MessageGroup -> partition, sticky, shared through the store. It composes the route cache read through its
 * validity rule (ProvenRoutes), merged lookups (SingleFlight), degraded mode (DegradedMode), the recovery of
 * a topic whose state the store lost (TopicRecovery), admin-change polling (GenerationWatch) and batched
 * last-access touches (TouchBatcher). During an outage only proven routes are served; see `degradedRouting`.
 */
export class OrderedMessageRouter {
  readonly #loss: StateLoss;
  readonly #options: RouterOptions;
  readonly #metrics: RouterMetrics;
  readonly #routes: ProvenRoutes;
  readonly #lookups = new SingleFlight<Resolution>();
  readonly #generations: GenerationWatch;
  readonly #touches: TouchBatcher;
  readonly #degraded: DegradedMode;
  readonly #unacknowledged: ReplicaAckRefusals;
  readonly #viaStore: StoreRouting;
  readonly #partitions: PartitionCounter;
  #flushTimer: NodeJS.Timeout | undefined;
  /** The flush in flight, if any: at most one runs and none queue behind it (see #flush). */
  #flushing: Promise<void> | undefined;

  constructor(
    store: RouteStore & RestoreStore,
    partitions: PartitionCounter,
    options: RouterOptions,
    metrics: RouterMetrics,
    log: Logger,
    now: Clock = monotonicClock,
  ) {
    this.#partitions = partitions;
    this.#options = options;
    this.#metrics = metrics;
    const routes = (this.#routes = new ProvenRoutes(options.routeCacheSize, cacheValidityMs(options.groupTtlMs, options.touchFlushIntervalMs), now));
    const { cache } = routes;
    const loss = (this.#loss = new StateLoss({ store, routeLog: options.routeLog, configuredBuckets: options.routerBuckets, metrics, log }));
    const onLost = (topic: string): void => recovery.inBackground(topic);
    const generations = (this.#generations = new GenerationWatch(store, (topic) => cache.deleteTopic(topic), onLost, log));
    const topics = new TopicRegistry(
      store,
      options.routerBuckets,
      (topic) => loss.recover(topic, undefined),
      (topic, registration) => {
        generations.baseline(topic, registration);
        // Exported at 0 from the topic's first use, so the first loss is an increase Prometheus can see
        // (a labelled counter has no series until it is first incremented).
        metrics.stateLosses.inc({ topic }, 0);
        metrics.routesRestored.inc({ topic }, 0);
      },
      log,
    );
    const state = (topic: string) => topics.state(topic);
    this.#touches = new TouchBatcher(store, state, onLost, cache, now, log);
    const recovery = new TopicRecovery({ store, loss, topics, routes, conflicts: metrics.degradedConflicts, log });
    const unacknowledged = (this.#unacknowledged = new ReplicaAckRefusals(metrics.replicaAckTimeouts, log, REFUSAL_SUMMARY_INTERVAL_MS, now));
    const onShortfall = (err: StoreNotReplicatedError): void => unacknowledged.noteShortfall(err);
    const { degradedRouting, routeCacheSize, routeLog } = options;
    const logging = new RouteLogging(routeLog, store);
    const degraded = (this.#degraded = new DegradedMode({
      store,
      state,
      partitions,
      cache,
      logging,
      onLost,
      degradedRouting,
      routeCacheSize,
      metrics,
      onShortfall,
      log,
      now,
    }));
    const { groupsCreated } = metrics;
    this.#viaStore = new StoreRouting({ store, logging, partitions, routes, topics, loss, recovery, degraded, unacknowledged, groupsCreated, log, now });
  }

  start(): void {
    this.#flushTimer ??= setInterval(() => void this.#flush(), this.#options.touchFlushIntervalMs);
    this.#flushTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#flushTimer);
    // An outage's recovery attempt under way ends first: its hashed routes are being recorded (store, route log).
    const recovery = this.#degraded.stop();
    this.#flushTimer = undefined;
    // A flush in flight is the last one, so a store whose commands time out costs shutdown one flush, not two;
    // the uses noted since it began go unsent (their groups' last access stays a second older, within the TTL).
    await this.#flush();
    await recovery;
  }

  /** True while routing without the store. */
  get degraded(): boolean {
    return this.#degraded.active;
  }

  /** The partition of `group` in `topic`, assigning one (least loaded) if the group is new. */
  async route(topic: string, group: string): Promise<number> {
    return (await this.routeRequest(topic, [group])).partitions.get(group)!;
  }

  /**
   * Routes the groups of one request's messages concurrently (ioredis pipelines them on one connection). All
   * or nothing: one group that cannot be routed fails the whole request, so nothing of it is written.
   */
  async routeAll(topic: string, groups: readonly string[]): Promise<Map<string, number>> {
    return (await this.routeRequest(topic, groups)).partitions;
  }

  /**
   * routeAll, telling also where the routes came from. The topic's partition count is read first (from memory,
   * as a rule): a topic Kafka does not have is refused before any group of it is mapped. Then per message: a
   * proven route is served without waiting (one clock read per request, the hits counted once); only the groups
   * the cache cannot prove wait for the store, each once however many messages it has. A request served from the
   * cache alone (the usual one) allocates nothing for misses.
   */
  async routeRequest(topic: string, groups: readonly string[]): Promise<RoutedRequest> {
    const topicPartitions = await this.#partitions(topic);
    // In first-appearance order; PENDING until a miss resolves. `waiting` counts a miss's messages (made on
    // the first miss, so a group is PENDING only once it exists).
    const partitions = new Map<string, number>();
    let waiting: Map<string, number> | undefined;
    const lookups: Promise<Resolution>[] = [];
    const now = this.#routes.now();
    let hits = 0;
    // A cached route naming a partition past the count (the store's routes are checked as they are read).
    let pastCached = false;
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      const known = partitions.get(group);
      if (known !== undefined) {
        if (known === PENDING) waiting!.set(group, waiting!.get(group)! + 1);
        continue;
      }
      const proven = this.#routes.get(topic, group, now);
      if (proven) {
        hits++;
        pastCached ||= proven.partition >= topicPartitions;
        partitions.set(group, proven.partition);
        this.#touches.noteUse(topic, group, proven);
        continue;
      }
      partitions.set(group, PENDING);
      (waiting ??= new Map()).set(group, 1);
      lookups.push(this.#resolveMiss(topic, group));
    }
    if (hits > 0) this.#metrics.cacheHits.inc(hits);
    const sources = { cache: hits, script: 0, hash: 0 };
    if (!waiting) {
      if (pastCached) await this.#refusePastTopic(topic, partitions);
      return { partitions, sources };
    }
    let resolved: Resolution[];
    try {
      resolved = await Promise.all(lookups);
    } catch (err) {
      if (err instanceof RoutingRefusal) {
        if (err.reason === 'replica_acks') this.#unacknowledged.refused(groups.length);
        else this.#degraded.refused(groups.length);
      }
      throw err;
    }
    let unproven = 0;
    let i = 0;
    for (const [group, count] of waiting) {
      const resolution = resolved[i++]!;
      partitions.set(group, resolution.partition);
      sources[resolution.via]++;
      if (!resolution.proven) unproven += count;
    }
    if (unproven > 0) this.#metrics.hashRoutedMessages.inc(unproven);
    if (pastCached) await this.#refusePastTopic(topic, partitions);
    return { partitions, sources };
  }

  /**
   * A request with a cached route past the topic's count as this replica holds it: cached before the topic was
   * deleted and created again smaller (the store's routes are checked as they are read, StoreRouting). Refused
   * whole when even a fresh count lacks the partition, 409, before anything is written, and every such cached
   * route is dropped, so once an operator releases the mappings the next request reads the new ones. Until this replica has read the smaller count (a
   * failed write or METADATA_REFRESH has it read again), such a route is served and its write fails on its own.
   */
  #refusePastTopic(topic: string, partitions: Map<string, number>): Promise<void> {
    return refusePastTopic(this.#partitions, topic, partitions, (group) => this.forget(topic, group));
  }

  /** Forgets a cached route (the admin tools call this after changing a mapping). */
  forget(topic: string, group: string): void {
    this.#routes.cache.delete(topic, group);
  }

  /** The admin rebuild: restores from the route log every mapping of the topic Redis misses; returns how many. */
  rebuild(topic: string): Promise<number> {
    return this.#loss.rebuild(topic);
  }

  /** The admin resume: new groups of the topic may be assigned again; false when Redis has no state of it. */
  resume(topic: string): Promise<boolean> {
    return this.#loss.resume(topic);
  }

  /** Checks for admin changes, then sends batched last-access times, after the flush in flight if any. Never rejects. */
  async flushTouches(): Promise<void> {
    await this.#flushing;
    await this.#flush();
  }

  /**
   * Joins the flush in flight, or starts one. A tick that finds one running is skipped: against a store whose
   * commands time out a flush outlasts the interval, and queued flushes would pile up for stop() to wait on.
   */
  #flush(): Promise<void> {
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    // Uses keep accumulating (one entry per cached group) until the store is back.
    if (this.#degraded.active) return;
    await this.#generations.check();
    await this.#touches.flush();
  }

  /** A group the cache cannot prove: the store (one lookup per group at a time), or degraded mode. */
  #resolveMiss(topic: string, group: string): Promise<Resolution> {
    this.#metrics.cacheMisses.inc();
    if (this.#degraded.active) return this.#degraded.routeUnproven(topic, group);
    return this.#lookups.run(`${topic}\u0000${group}`, () =>
      this.#viaStore.route(topic, group).then(
        (partition) => ({ partition, proven: true, via: 'script' }),
        (err: unknown) => {
          // Written but not on enough replicas: not cached, nothing produced; the retry rewrites and waits again.
          if (err instanceof StoreNotReplicatedError) throw this.#unacknowledged.refusal(group, err);
          // The store adapter decides what is an outage; one unanswered command is not (it fails this lookup).
          if (!(err instanceof StoreUnreachableError && err.outage)) throw err;
          this.#degraded.enter(err);
          return this.#degraded.routeUnproven(topic, group);
        },
      ),
    );
  }
}
