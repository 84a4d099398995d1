import type { RouterStore, TouchEntry } from '../redis/router-store.ts';
import type { SidecarMetrics } from '../metrics/sidecar-metrics.ts';
import type { Logger } from '../logging/logger.ts';
import { groupHash, hashedPartition } from './hashing.ts';
import { DegradedMode } from './degraded-mode.ts';
import { cacheValidityMs } from './expiry.ts';
import { RouteCache } from './route-cache.ts';
import { SidecarError } from '../errors/sidecar-error.ts';
import { StoreUnreachableError } from '../errors/store-errors.ts';

/** Where partition counts come from (Kafka metadata in production); `fresh` skips any cached count. */
export type PartitionCounter = (topic: string, options?: { fresh?: boolean }) => Promise<number>;

export interface RouterOptions {
  routerBuckets: number;
  routeCacheSize: number;
  groupTtlMs: number;
  touchFlushIntervalMs: number;
  /** Unprovable routes during an outage: refused (503), or hashed (may split a group); see SidecarOptions. @defaultValue 'reject' */
  degradedRouting?: 'reject' | 'hash';
}

/** A route and whether it was proven (by Redis, or a cached confirmation still inside its validity window). */
interface Resolution {
  partition: number;
  proven: boolean;
}

/** Seconds a client is told to wait before retrying a group this replica cannot route during an outage. */
const OUTAGE_RETRY_AFTER_S = 1;

/** Touches per script call: enough to amortise the round trip, small enough to keep Redis responsive. */
const TOUCH_CHUNK = 500;

/**
 * The seed's OrderedMessageRouter: MessageGroup -> partition, sticky, shared through Redis. The local cache
 * answers repeated groups without a round trip; their last-access times go to Redis in batches, and the
 * answer confirms the mapping still exists, which keeps the cache from outliving Redis (see expiry.ts).
 */
export class OrderedMessageRouter {
  readonly #store: RouterStore;
  readonly #partitions: PartitionCounter;
  readonly #options: RouterOptions;
  readonly #metrics: SidecarMetrics;
  readonly #log: Logger;
  readonly #cache: RouteCache;
  readonly #validityMs: number;
  readonly #buckets = new Map<string, Promise<number>>();
  readonly #inflight = new Map<string, Promise<Resolution>>();
  /** Groups used since the last flush, per topic then group; at most one entry per cached group. */
  #touched = new Map<string, Map<string, TouchEntry>>();
  /** Last seen mapping generation per topic (see RouterStore.generations). */
  readonly #generations = new Map<string, string | null>();
  readonly #degraded = new DegradedMode();
  #recoveryTimer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: RouterStore, partitions: PartitionCounter, options: RouterOptions, metrics: SidecarMetrics, log: Logger) {
    this.#store = store;
    this.#partitions = partitions;
    this.#options = options;
    this.#metrics = metrics;
    this.#log = log;
    this.#cache = new RouteCache(options.routeCacheSize);
    this.#validityMs = cacheValidityMs(options.groupTtlMs, options.touchFlushIntervalMs);
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

  get cachedGroups(): number {
    return this.#cache.size;
  }

  /** True while routing without Redis. */
  get degraded(): boolean {
    return this.#degraded.active;
  }

  /** The partition of `group` in `topic`, assigning one (least loaded) if the group is new. */
  async route(topic: string, group: string): Promise<number> {
    return (await this.#resolve(topic, group)).partition;
  }

  #resolve(topic: string, group: string): Promise<Resolution> {
    const cached = this.#cache.get(topic, group);
    if (cached && performance.now() - cached.confirmedAt < this.#validityMs) {
      this.#metrics.cacheHits.inc();
      this.#noteUse(topic, group, cached.hash, cached.partition);
      return Promise.resolve({ partition: cached.partition, proven: true });
    }
    this.#metrics.cacheMisses.inc();
    if (this.#degraded.active) return this.#routeUnproven(topic, group);
    const key = `${topic}\u0000${group}`;
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#routeViaRedis(topic, group)
        .then((partition) => ({ partition, proven: true }))
        .catch((err: unknown) => {
          // The store adapter decides what is an outage; one unanswered command is not (it fails this lookup).
          if (!(err instanceof StoreUnreachableError && err.outage)) throw err;
          this.#enterDegraded(err);
          return this.#routeUnproven(topic, group);
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * Routes the groups of one request's messages concurrently (ioredis pipelines them on one connection). All
   * or nothing: one group that cannot be routed fails the whole request, so nothing of it is written.
   */
  async routeAll(topic: string, groups: Iterable<string>): Promise<Map<string, number>> {
    const messages = new Map<string, number>();
    for (const g of groups) messages.set(g, (messages.get(g) ?? 0) + 1);
    const distinct = [...messages.keys()];
    const resolved = await Promise.all(distinct.map((g) => this.#resolve(topic, g)));
    const unproven = distinct.reduce((n, g, i) => (resolved[i]!.proven ? n : n + messages.get(g)!), 0);
    if (unproven > 0) this.#metrics.hashRoutedMessages.inc(unproven);
    return new Map(distinct.map((g, i) => [g, resolved[i]!.partition]));
  }

  /** Forgets a cached route (the admin tools call this after changing a mapping). */
  forget(topic: string, group: string): void {
    this.#cache.delete(topic, group);
  }

  /** Sends batched last-access times; drops cached routes Redis no longer confirms. Never rejects. */
  flushTouches(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flush());
    return this.#flushing;
  }

  async #routeViaRedis(topic: string, group: string): Promise<number> {
    const [buckets, partitions] = await Promise.all([this.#bucketsOf(topic), this.#partitions(topic)]);
    const hash = groupHash(group);
    const confirmedAt = performance.now();
    const provisional = this.#cache.peek(topic, group);
    if (provisional?.confirmedAt === Number.NEGATIVE_INFINITY) {
      // Routed while degraded but not recorded then: record the partition it used, so it does not move.
      const recorded = await this.#store.record(topic, buckets, group, hash, provisional.partition);
      if (recorded !== provisional.partition) {
        this.#metrics.degradedConflicts.inc();
        this.#log.error('MessageGroup split: routed by hash during the outage, but mapped elsewhere meanwhile; following Redis from now on', { topic, group, used: provisional.partition, redis: recorded });
      }
      this.#cache.set(topic, group, { partition: recorded, hash, confirmedAt });
      return recorded;
    }
    const { partition, created } = await this.#store.route(topic, buckets, group, hash, partitions);
    if (created) this.#metrics.groupsCreated.inc({ topic });
    if (partition >= partitions) await this.#confirmPartitionExists(topic, group, partition);
    this.#cache.set(topic, group, { partition, hash, confirmedAt });
    return partition;
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
   * A group whose route this replica cannot prove while Redis is out of reach. By default it is refused
   * (another replica may have it mapped, or map it meanwhile, elsewhere). With `degradedRouting: 'hash'`, a
   * group this replica knows keeps its cached partition, however old; another takes its consistent-hash
   * partition, which every replica computes alike, and is recorded in Redis later.
   */
  async #routeUnproven(topic: string, group: string): Promise<Resolution> {
    if (this.#options.degradedRouting !== 'hash') {
      throw new SidecarError(
        'ROUTING_UNAVAILABLE',
        `Redis is out of reach and this replica cannot prove the partition of MessageGroup "${group}" (not in its cache); nothing was written, retry shortly`,
        { field: 'messages', retryAfterSeconds: OUTAGE_RETRY_AFTER_S },
      );
    }
    return { partition: await this.#routeByHash(topic, group), proven: false };
  }

  async #routeByHash(topic: string, group: string): Promise<number> {
    this.#metrics.degradedRoutes.inc();
    const known = this.#cache.peek(topic, group);
    if (known) return known.partition;
    const hash = groupHash(group);
    const partition = hashedPartition(hash, await this.#partitions(topic));
    this.#degraded.remember({ topic, group, hash, partition }, Math.max(1000, this.#options.routeCacheSize));
    // Never "confirmed": while degraded it is the route, afterwards Redis decides.
    this.#cache.set(topic, group, { partition, hash, confirmedAt: Number.NEGATIVE_INFINITY });
    return partition;
  }

  #enterDegraded(err: unknown): void {
    if (!this.#degraded.enter()) return;
    this.#metrics.degradedMode.set(1);
    const how = this.#options.degradedRouting === 'hash' ? 'other groups by consistent hashing (DEGRADED_ROUTING=hash)' : 'other groups get 503';
    this.#log.error(`Redis unreachable: routing in degraded mode (routes cached within their validity; ${how})`, { err });
    this.#recoveryTimer = setInterval(() => void this.#tryRecover(), 1000);
    this.#recoveryTimer.unref();
  }

  /**
   * Records the routes made by hash while degraded (Redis wins conflicts), then routes through Redis again.
   * When unprovable routes are refused there is nothing to record: a route-2.lua call that timed out and
   * ran later only created a mapping that nothing was written to yet.
   */
  async #tryRecover(): Promise<void> {
    try {
      // With nothing to record (always so when refusing unprovable routes), only an answer proves Redis is back.
      await this.#store.ping();
      for (const route of this.#degraded.pending()) {
        const confirmedAt = performance.now();
        const partition = await this.#store.record(route.topic, await this.#bucketsOf(route.topic), route.group, route.hash, route.partition);
        if (partition !== route.partition) {
          this.#metrics.degradedConflicts.inc();
          this.#log.error('MessageGroup split: routed by hash during the outage, but mapped elsewhere meanwhile; its messages around the outage are in two partitions, following Redis from now on', { topic: route.topic, group: route.group, used: route.partition, redis: partition });
        }
        // Update only routes still cached: inserting would evict others routed while degraded, which
        // exist nowhere else until they are recorded too.
        if (this.#cache.peek(route.topic, route.group)) this.#cache.set(route.topic, route.group, { partition, hash: route.hash, confirmedAt });
        this.#degraded.recorded(route);
      }
    } catch (err) {
      if (!(err instanceof StoreUnreachableError)) this.#log.error('recording degraded-mode routes failed; still degraded', { err });
      return; // try again on the next tick
    }
    const since = this.#degraded.since ?? Date.now();
    const unrecorded = this.#degraded.unrecorded;
    if (this.#degraded.leave()) {
      clearInterval(this.#recoveryTimer);
      this.#recoveryTimer = undefined;
      this.#metrics.degradedMode.set(0);
      this.#log.info('Redis reachable again: routing through Redis', { degradedForMs: Date.now() - since, unrecordedRoutes: unrecorded });
    }
  }

  #bucketsOf(topic: string): Promise<number> {
    let buckets = this.#buckets.get(topic);
    if (!buckets) {
      buckets = this.#store.registerTopic(topic, this.#options.routerBuckets).then(
        ({ buckets: stored, generation }) => {
          // The baseline is taken before any route of the topic is cached, so every later admin change shows.
          this.#generations.set(topic, generation);
          if (stored !== this.#options.routerBuckets) {
            this.#log.warn('topic keeps the bucket count it was first used with', { topic, configured: this.#options.routerBuckets, stored });
          }
          return stored;
        },
        (err: unknown) => {
          this.#buckets.delete(topic);
          throw err;
        },
      );
      this.#buckets.set(topic, buckets);
    }
    return buckets;
  }

  /** Drops the cached routes of topics whose mappings an operator changed since the last check. */
  async #checkGenerations(): Promise<void> {
    const topics = [...this.#generations.keys()];
    try {
      const current = await this.#store.generations(topics);
      topics.forEach((topic, i) => {
        if (this.#generations.get(topic) !== (current[i] ?? null)) {
          this.#cache.deleteTopic(topic);
          this.#log.info('mappings changed by an operator; dropped cached routes of the topic', { topic });
        }
        this.#generations.set(topic, current[i] ?? null);
      });
    } catch (err) {
      this.#log.warn('could not check mapping generations in Redis', { err });
    }
  }

  #noteUse(topic: string, group: string, hash: number, partition: number): void {
    let byGroup = this.#touched.get(topic);
    if (!byGroup) {
      byGroup = new Map();
      this.#touched.set(topic, byGroup);
    }
    byGroup.set(group, { group, hash, partition });
  }

  async #flush(): Promise<void> {
    // Uses keep accumulating (one entry per cached group) until Redis is back.
    if (this.#degraded.active) return;
    await this.#checkGenerations();
    const touched = this.#touched;
    if (touched.size === 0) return;
    this.#touched = new Map();
    for (const [topic, byGroup] of touched) {
      const entries = [...byGroup.values()];
      for (let from = 0; from < entries.length; from += TOUCH_CHUNK) {
        const chunk = entries.slice(from, from + TOUCH_CHUNK);
        const sentAt = performance.now();
        try {
          const confirmed = await this.#store.touch(topic, await this.#bucketsOf(topic), chunk);
          confirmed.forEach((ok, i) => {
            const { group, partition } = chunk[i]!;
            const cached = this.#cache.peek(topic, group);
            if (!cached || cached.partition !== partition) return;
            if (ok) cached.confirmedAt = Math.max(cached.confirmedAt, sentAt);
            else this.#cache.delete(topic, group);
          });
        } catch (err) {
          // The cached routes simply age out (validity window) and the next use asks Redis again.
          this.#log.warn('could not record last access of MessageGroups in Redis', { topic, groups: chunk.length, err });
        }
      }
    }
  }
}
