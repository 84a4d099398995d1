import type { Logger } from '../logging/logger.ts';
import { SidecarError } from '../errors/sidecar-error.ts';
import { StoreNotReplicatedError, StoreOnHoldError, StoreStateLostError, StoreUnreachableError } from '../errors/store-errors.ts';
import { monotonicClock, type Clock } from './clock.ts';
import { cacheValidityMs } from './expiry.ts';
import { GenerationWatch } from './generation-watch.ts';
import { groupHash, hashedPartition } from './hashing.ts';
import { OutageRecovery } from './outage-recovery.ts';
import { OutageState } from './outage-state.ts';
import { ProvenRoutes } from './proven-routes.ts';
import { ProvisionalRoutes } from './provisional-routes.ts';
import { RefusalTally } from './refusal-tally.ts';
import { ReplicaAckRefusals } from './replica-ack-refusals.ts';
import type { RouterMetrics } from './router-metrics.ts';
import type { RouteLog } from './route-log.ts';
import type { RestoreStore, RouteStore, TopicRegistration, TopicState } from './route-store.ts';
import { StateLoss, stateLost, STATE_LOST_RETRY_AFTER_S } from './state-loss.ts';
import { SingleFlight } from './single-flight.ts';
import { TopicRegistry } from './topic-registry.ts';
import { TouchBatcher } from './touch-batcher.ts';

/** Where partition counts come from (Kafka metadata in production); `fresh` skips any cached count. */
export type PartitionCounter = (topic: string, options?: { fresh?: boolean }) => Promise<number>;

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

/** A route, whether it was proven (by the store, or a cached confirmation still inside its validity window), and how it was found. */
interface Resolution {
  partition: number;
  proven: boolean;
  via: RouteSource;
}

/** Where a route came from: this replica's cache, the store's route script, or the hash (degraded). */
export type RouteSource = 'cache' | 'script' | 'hash';

/** One request's routes, and how many of its distinct groups each source answered (for its trace span). */
export interface RoutedRequest {
  partitions: Map<string, number>;
  sources: Record<RouteSource, number>;
}

/** Seconds a client is told to wait before retrying a group this replica cannot route during an outage. */
const OUTAGE_RETRY_AFTER_S = 1;
/** How often an outage probes the store. */
const RECOVERY_INTERVAL_MS = 1000;
/** Fewest hashed routes kept for recording, however small the cache. */
const MIN_PROVISIONAL = 1000;
/** Cached routes re-seeded per round of concurrent calls after a state loss with the route log off. */
const RESEED_SLICE = 256;
/** During an outage, at most one log line per this long counts the requests refused meanwhile. */
export const REFUSAL_SUMMARY_INTERVAL_MS = 60_000;

/**
 * The seed's OrderedMessageRouter: MessageGroup -> partition, sticky, shared through the store. It composes
 * the route cache read through its validity rule (ProvenRoutes), merged lookups (SingleFlight), the outage
 * state and its recovery, admin-change polling (GenerationWatch) and batched last-access touches
 * (TouchBatcher). During an outage only proven routes are served; see `degradedRouting` for the others.
 */
export class OrderedMessageRouter {
  readonly #store: RouteStore & RestoreStore;
  readonly #routeLog: RouteLog | undefined;
  readonly #loss: StateLoss;
  readonly #partitions: PartitionCounter;
  readonly #options: RouterOptions;
  readonly #metrics: RouterMetrics;
  readonly #log: Logger;
  readonly #now: Clock;
  readonly #routes: ProvenRoutes;
  readonly #lookups = new SingleFlight<Resolution>();
  readonly #topics: TopicRegistry;
  readonly #generations: GenerationWatch;
  readonly #touches: TouchBatcher;
  readonly #outage = new OutageState();
  readonly #provisional: ProvisionalRoutes;
  readonly #recovery: OutageRecovery;
  readonly #refusals: RefusalTally;
  readonly #unacknowledged: ReplicaAckRefusals;
  #recoveryTimer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    store: RouteStore & RestoreStore,
    partitions: PartitionCounter,
    options: RouterOptions,
    metrics: RouterMetrics,
    log: Logger,
    now: Clock = monotonicClock,
  ) {
    this.#store = store;
    this.#routeLog = options.routeLog;
    this.#partitions = partitions;
    this.#options = options;
    this.#metrics = metrics;
    this.#log = log;
    this.#now = now;
    this.#routes = new ProvenRoutes(options.routeCacheSize, cacheValidityMs(options.groupTtlMs, options.touchFlushIntervalMs), now);
    const cache = this.#routes.cache;
    this.#loss = new StateLoss({ store, routeLog: options.routeLog, configuredBuckets: options.routerBuckets, metrics, log });
    const onLost = (topic: string): void => this.#lostInBackground(topic);
    this.#generations = new GenerationWatch(store, (topic) => cache.deleteTopic(topic), onLost, log);
    this.#topics = new TopicRegistry(
      store,
      options.routerBuckets,
      (topic) => this.#loss.recover(topic, undefined),
      (topic, registration) => this.#generations.baseline(topic, registration),
      log,
    );
    const state = (topic: string) => this.#topics.state(topic);
    this.#touches = new TouchBatcher(store, state, onLost, cache, now, log);
    this.#provisional = new ProvisionalRoutes(Math.max(MIN_PROVISIONAL, options.routeCacheSize));
    this.#recovery = new OutageRecovery({ store, state, provisional: this.#provisional, cache, conflicts: metrics.degradedConflicts, log, now });
    this.#refusals = new RefusalTally(REFUSAL_SUMMARY_INTERVAL_MS, now);
    this.#unacknowledged = new ReplicaAckRefusals(metrics.replicaAckTimeouts, log, REFUSAL_SUMMARY_INTERVAL_MS, now);
  }

  start(): void {
    this.#flushTimer ??= setInterval(() => void this.flushTouches(), this.#options.touchFlushIntervalMs);
    this.#flushTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#flushTimer);
    clearInterval(this.#recoveryTimer);
    this.#flushTimer = undefined;
    await this.flushTouches();
  }

  /** True while routing without the store. */
  get degraded(): boolean {
    return this.#outage.active;
  }

  /** The partition of `group` in `topic`, assigning one (least loaded) if the group is new. */
  async route(topic: string, group: string): Promise<number> {
    return (await this.#resolve(topic, group)).partition;
  }

  /**
   * Routes the groups of one request's messages concurrently (ioredis pipelines them on one connection). All
   * or nothing: one group that cannot be routed fails the whole request, so nothing of it is written.
   */
  async routeAll(topic: string, groups: Iterable<string>): Promise<Map<string, number>> {
    return (await this.routeRequest(topic, groups)).partitions;
  }

  /** routeAll, telling also where the routes came from. */
  async routeRequest(topic: string, groups: Iterable<string>): Promise<RoutedRequest> {
    const messages = new Map<string, number>();
    for (const g of groups) messages.set(g, (messages.get(g) ?? 0) + 1);
    const distinct = [...messages.keys()];
    let resolved: Resolution[];
    try {
      resolved = await Promise.all(distinct.map((g) => this.#resolve(topic, g)));
    } catch (err) {
      if (err instanceof SidecarError && err.code === 'ROUTING_UNAVAILABLE') {
        if (err.cause instanceof StoreNotReplicatedError) this.#unacknowledged.refused(totalOf(messages));
        else this.#noteRefusal(messages);
      }
      throw err;
    }
    const unproven = distinct.reduce((n, g, i) => (resolved[i]!.proven ? n : n + messages.get(g)!), 0);
    if (unproven > 0) this.#metrics.hashRoutedMessages.inc(unproven);
    const sources = { cache: 0, script: 0, hash: 0 };
    for (const r of resolved) sources[r.via]++;
    return { partitions: new Map(distinct.map((g, i) => [g, resolved[i]!.partition])), sources };
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
    return this.#store.release(topic);
  }

  /** Checks for admin changes, then sends batched last-access times. Never rejects. */
  flushTouches(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      // Uses keep accumulating (one entry per cached group) until the store is back.
      if (this.#outage.active) return;
      await this.#generations.check();
      await this.#touches.flush();
    });
    return this.#flushing;
  }

  #resolve(topic: string, group: string): Promise<Resolution> {
    const proven = this.#routes.get(topic, group);
    if (proven) {
      this.#metrics.cacheHits.inc();
      this.#touches.noteUse(topic, { group, hash: proven.hash, partition: proven.partition });
      return Promise.resolve({ partition: proven.partition, proven: true, via: 'cache' });
    }
    this.#metrics.cacheMisses.inc();
    if (this.#outage.active) return this.#routeUnproven(topic, group);
    return this.#lookups.run(`${topic}\u0000${group}`, () =>
      this.#routeViaStore(topic, group).then(
        (partition) => ({ partition, proven: true, via: 'script' }),
        (err: unknown) => {
          // Written but not on enough replicas: not cached, nothing produced; the retry rewrites and waits again.
          if (err instanceof StoreNotReplicatedError) throw this.#unacknowledged.refusal(group, err);
          // The store adapter decides what is an outage; one unanswered command is not (it fails this lookup).
          if (!(err instanceof StoreUnreachableError && err.outage)) throw err;
          this.#enterOutage(err);
          return this.#routeUnproven(topic, group);
        },
      ),
    );
  }

  async #routeViaStore(topic: string, group: string, afterLoss = false): Promise<number> {
    if (this.#loss.isLost(topic)) await this.#recoverTopic(topic);
    const [state, partitions] = await Promise.all([this.#topics.state(topic), this.#partitions(topic)]);
    const hash = groupHash(group);
    const confirmedAt = this.#now();
    const provisional = this.#routes.cache.peek(topic, group);
    try {
      if (provisional?.confirmedAt === Number.NEGATIVE_INFINITY) {
        // Hashed while degraded but not recorded then: record the partition it used, so it does not move.
        const recorded = await this.#recovery.record({ topic, group, hash, partition: provisional.partition });
        this.#unacknowledged.acknowledged();
        await this.#logRoute(topic, state, group, recorded);
        this.#routes.confirmed(topic, group, recorded, hash, confirmedAt);
        return recorded;
      }
      const { partition, created, unlogged } = await this.#store.route(topic, state, group, hash, partitions, this.#routeLog !== undefined);
      this.#unacknowledged.acknowledged();
      if (created) this.#metrics.groupsCreated.inc({ topic });
      if (partition >= partitions) await this.#confirmPartitionExists(topic, group, partition);
      // In the log before anything is cached or produced, as with the replicas' acknowledgement above.
      if (unlogged) await this.#logRoute(topic, state, group, partition);
      this.#routes.confirmed(topic, group, partition, hash, confirmedAt);
      return partition;
    } catch (err) {
      if (err instanceof StoreOnHoldError) {
        throw stateLost(
          err.reason === 'unproven'
            ? `new MessageGroups of topic "${topic}" are refused until an operator decides: Redis lost the topic's routing state and the route log is off (\`ordered-sidecar groups resume ${topic}\`); nothing was written`
            : `the routing state of topic "${topic}" is being rebuilt; nothing was written, retry shortly`,
        );
      }
      if (!(err instanceof StoreStateLostError) || afterLoss) throw err;
      // Routed with an epoch this replica has since replaced: not a new loss, just retry with the current one.
      if (this.#topics.known(topic)?.epoch === state.epoch) this.#loss.noteLost(topic);
      return this.#routeViaStore(topic, group, true);
    }
  }

  /** Appends a mapping to the route log (when on), then lets Redis stop listing it as unlogged. */
  async #logRoute(topic: string, state: TopicState, group: string, partition: number): Promise<void> {
    if (!this.#routeLog) return;
    try {
      await this.#routeLog.append([{ topic, group, partition, buckets: state.buckets }]);
    } catch (err) {
      throw new SidecarError(
        'KAFKA_UNAVAILABLE',
        `the route log could not record the partition of the new MessageGroup "${group}"; nothing was written, retry shortly`,
        { field: 'messages', cause: err, retryAfterSeconds: STATE_LOST_RETRY_AFTER_S },
      );
    }
    // Only an optimisation: a mapping left listed is logged again by the next replica that reads it.
    this.#store.markLogged(topic, group).catch((err: unknown) => this.#log.debug('could not mark a mapping as logged', { topic, group, err }));
  }

  /** Waits for (or makes) the rebuilt state of a lost topic and routes with it from now on. */
  async #recoverTopic(topic: string): Promise<void> {
    const known = this.#topics.known(topic);
    const registration = await this.#loss.recover(topic, known);
    if (!this.#loss.isLost(topic)) return; // another request of this replica adopted it meanwhile
    if (!this.#loss.logged && known && registration.epoch !== known.epoch) await this.#reseed(topic, registration);
    this.#topics.adopt(topic, registration);
    this.#loss.recovered(topic);
  }

  /**
   * No route log: the routes this replica has cached are all that is left of the lost state. They are put back
   * (Redis wins when another replica put back another partition first: that group is split, counted, logged)
   * under an 'unproven' hold, since a group only a restarted replica knew cannot be proven.
   */
  async #reseed(topic: string, registration: TopicRegistration): Promise<void> {
    await this.#store.hold(topic, 'unproven');
    let conflicts = 0;
    // Hashed while degraded: recorded by their own path.
    const routes = this.#routes.cache.routesOf(topic).filter(([, route]) => route.confirmedAt !== Number.NEGATIVE_INFINITY);
    const reseedOne = async ([group, route]: (typeof routes)[number]): Promise<void> => {
      const partition = await this.#store.record(topic, registration, group, route.hash, route.partition);
      if (partition === route.partition) return;
      conflicts++;
      this.#metrics.degradedConflicts.inc();
      this.#routes.cache.delete(topic, group);
      this.#log.error('MessageGroup split: re-seeded after Redis lost its state, but another replica re-seeded another partition first', {
        topic,
        group,
        cached: route.partition,
        redis: partition,
      });
    };
    // Pipelined a slice at a time: a cache holds up to ROUTE_CACHE_SIZE routes of the topic.
    for (let from = 0; from < routes.length; from += RESEED_SLICE) await Promise.all(routes.slice(from, from + RESEED_SLICE).map(reseedOne));
    this.#log.warn('re-seeded cached routes of the topic into Redis; new MessageGroups wait for an operator (`ordered-sidecar groups resume`)', {
      topic,
      routes: routes.length,
      conflicts,
    });
  }

  /** A loss seen outside a request (the generation watch, a touch): rebuild now rather than at the next new group. */
  #lostInBackground(topic: string): void {
    this.#loss.noteLost(topic);
    this.#recoverTopic(topic).catch((err: unknown) => {
      // Both were logged where they arose.
      if (!(err instanceof SidecarError && (err.code === 'ROUTING_STATE_LOST' || err.code === 'ROUTE_LOG_UNAVAILABLE')))
        this.#log.warn('rebuilding the routing state of the topic failed; the next request tries again', { topic, err });
    });
  }

  /**
   * Another replica saw the topic grow before this one did. Kafka partition counts only grow, so re-reading
   * the metadata normally settles it; a mapping beyond even the fresh count means the topic was deleted
   * and recreated smaller, which an operator resolves by releasing the mapping (never moved silently).
   */
  async #confirmPartitionExists(topic: string, group: string, partition: number): Promise<void> {
    const fresh = await this.#partitions(topic, { fresh: true });
    if (partition < fresh) return;
    throw new SidecarError(
      'CONFLICT',
      `MessageGroup "${group}" is mapped to partition ${partition}, but topic "${topic}" has ${fresh} partitions (recreated smaller?); release the mapping with \`ordered-sidecar groups release\``,
      { field: 'messages' },
    );
  }

  /**
   * A group whose route this replica cannot prove while the store is out of reach. By default it is refused
   * (another replica may have it mapped, or map it meanwhile, elsewhere). With `degradedRouting: 'hash'`, a
   * group this replica knows keeps its cached partition, however old; another takes its consistent-hash
   * partition, which every replica computes alike, and is recorded in the store later.
   */
  async #routeUnproven(topic: string, group: string): Promise<Resolution> {
    if (this.#options.degradedRouting !== 'hash') {
      throw new SidecarError(
        'ROUTING_UNAVAILABLE',
        `Redis is out of reach and this replica cannot prove the partition of MessageGroup "${group}" (not in its cache); nothing was written, retry shortly`,
        { field: 'messages', retryAfterSeconds: OUTAGE_RETRY_AFTER_S, summarized: true },
      );
    }
    this.#metrics.degradedRoutes.inc();
    const known = this.#routes.cache.peek(topic, group);
    if (known) return { partition: known.partition, proven: false, via: 'cache' };
    const hash = groupHash(group);
    const partition = hashedPartition(hash, await this.#partitions(topic));
    this.#provisional.remember({ topic, group, hash, partition });
    // Never "confirmed": while degraded it is the route, afterwards the store decides.
    this.#routes.cache.set(topic, group, { partition, hash, confirmedAt: Number.NEGATIVE_INFINITY });
    return { partition, proven: false, via: 'hash' };
  }

  #enterOutage(err: unknown): void {
    if (!this.#outage.enter()) return;
    this.#provisional.resetCount();
    this.#metrics.degradedMode.set(1);
    const how = this.#options.degradedRouting === 'hash' ? 'other groups by consistent hashing (DEGRADED_ROUTING=hash)' : 'other groups get 503';
    this.#log.error(
      `Redis unreachable: routing in degraded mode (routes cached within their validity; ${how}); refused requests are counted in one line per minute at most`,
      { err },
    );
    this.#recoveryTimer = setInterval(() => void this.#tryRecover(), RECOVERY_INTERVAL_MS);
    this.#recoveryTimer.unref();
  }

  /** Counts a request refused for the outage; its log line is the periodic summary, not one per request. */
  #noteRefusal(messagesPerGroup: Map<string, number>): void {
    if (!this.#outage.active) return;
    this.#refusals.refused(totalOf(messagesPerGroup));
    this.#logRefusalSummary();
  }

  #logRefusalSummary(): void {
    const summary = this.#refusals.due();
    if (!summary) return;
    this.#log.warn(
      `Redis still unreachable: ${summary.requests} requests (${summary.messages} messages) refused with 503 ROUTING_UNAVAILABLE in the last ${Math.round(summary.overMs / 1000)} s`,
      {
        refusedRequests: summary.requests,
        refusedMessages: summary.messages,
        overMs: summary.overMs,
        degradedForMs: Date.now() - (this.#outage.since ?? Date.now()),
      },
    );
  }

  async #tryRecover(): Promise<void> {
    // A summary is due even when no request comes to trigger one.
    this.#logRefusalSummary();
    let done: boolean;
    try {
      done = await this.#recovery.attempt();
    } catch (err) {
      if (err instanceof StoreNotReplicatedError) this.#unacknowledged.noteShortfall(err);
      else if (!(err instanceof StoreUnreachableError)) this.#log.error('recording degraded-mode routes failed; still degraded', { err });
      return; // try again on the next tick
    }
    const since = this.#outage.since ?? Date.now();
    if (done && this.#outage.leave()) {
      clearInterval(this.#recoveryTimer);
      this.#recoveryTimer = undefined;
      this.#metrics.degradedMode.set(0);
      const refused = this.#refusals.end();
      this.#log.info('Redis reachable again: routing through Redis', {
        degradedForMs: Date.now() - since,
        refusedRequests: refused.requests,
        refusedMessages: refused.messages,
        unrecordedRoutes: this.#provisional.unrecorded,
      });
    }
  }
}

const totalOf = (messagesPerGroup: Map<string, number>): number => {
  let messages = 0;
  for (const n of messagesPerGroup.values()) messages += n;
  return messages;
};
