import type { RouterStore, TouchEntry } from '../redis/router-store.ts';
import type { SidecarMetrics } from '../metrics/sidecar-metrics.ts';
import type { Logger } from '../logging/logger.ts';
import { groupHash } from './hashing.ts';
import { cacheValidityMs } from './expiry.ts';
import { RouteCache } from './route-cache.ts';

/** Where partition counts come from (Kafka metadata in production). */
export type PartitionCounter = (topic: string) => Promise<number>;

export interface RouterOptions {
  routerBuckets: number;
  routeCacheSize: number;
  groupTtlMs: number;
  touchFlushIntervalMs: number;
}

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
  readonly #inflight = new Map<string, Promise<number>>();
  /** Groups used since the last flush, per topic; at most one entry per cached group. */
  #touched = new Map<string, Map<string, TouchEntry>>();
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
    this.#flushTimer = undefined;
    await this.flushTouches();
  }

  get cachedGroups(): number {
    return this.#cache.size;
  }

  /** The partition of `group` in `topic`, assigning one (least loaded) if the group is new. */
  route(topic: string, group: string): Promise<number> {
    const key = `${topic}\u0000${group}`;
    const cached = this.#cache.get(key);
    if (cached && performance.now() - cached.confirmedAt < this.#validityMs) {
      this.#metrics.cacheHits.inc();
      this.#noteUse(topic, key, group, cached.hash, cached.partition);
      return Promise.resolve(cached.partition);
    }
    this.#metrics.cacheMisses.inc();
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#routeViaRedis(topic, key, group).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /** Routes the distinct groups of one request concurrently (ioredis pipelines them on one connection). */
  async routeAll(topic: string, groups: Iterable<string>): Promise<Map<string, number>> {
    const distinct = [...new Set(groups)];
    const partitions = await Promise.all(distinct.map((g) => this.route(topic, g)));
    return new Map(distinct.map((g, i) => [g, partitions[i]!]));
  }

  /** Forgets a cached route (the admin tools call this after changing a mapping). */
  forget(topic: string, group: string): void {
    this.#cache.delete(`${topic}\u0000${group}`);
  }

  /** Sends batched last-access times; drops cached routes Redis no longer confirms. Never rejects. */
  flushTouches(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flush());
    return this.#flushing;
  }

  async #routeViaRedis(topic: string, key: string, group: string): Promise<number> {
    const [buckets, partitions] = await Promise.all([this.#bucketsOf(topic), this.#partitions(topic)]);
    const hash = groupHash(group);
    const confirmedAt = performance.now();
    const { partition, created } = await this.#store.route(topic, buckets, group, hash, partitions);
    if (created) this.#metrics.groupsCreated.inc({ topic });
    this.#cache.set(key, { partition, hash, confirmedAt });
    return partition;
  }

  #bucketsOf(topic: string): Promise<number> {
    let buckets = this.#buckets.get(topic);
    if (!buckets) {
      buckets = this.#store.registerTopic(topic, this.#options.routerBuckets);
      buckets.then(
        (stored) => {
          if (stored !== this.#options.routerBuckets) {
            this.#log.warn('topic keeps the bucket count it was first used with', { topic, configured: this.#options.routerBuckets, stored });
          }
        },
        () => this.#buckets.delete(topic),
      );
      this.#buckets.set(topic, buckets);
    }
    return buckets;
  }

  #noteUse(topic: string, key: string, group: string, hash: number, partition: number): void {
    let byKey = this.#touched.get(topic);
    if (!byKey) {
      byKey = new Map();
      this.#touched.set(topic, byKey);
    }
    byKey.set(key, { group, hash, partition });
  }

  async #flush(): Promise<void> {
    const touched = this.#touched;
    if (touched.size === 0) return;
    this.#touched = new Map();
    for (const [topic, byKey] of touched) {
      const keys = [...byKey.keys()];
      const entries = [...byKey.values()];
      for (let from = 0; from < entries.length; from += TOUCH_CHUNK) {
        const chunk = entries.slice(from, from + TOUCH_CHUNK);
        const sentAt = performance.now();
        try {
          const confirmed = await this.#store.touch(topic, await this.#bucketsOf(topic), chunk);
          confirmed.forEach((ok, i) => {
            const key = keys[from + i]!;
            const cached = this.#cache.peek(key);
            if (!cached || cached.partition !== chunk[i]!.partition) return;
            if (ok) cached.confirmedAt = Math.max(cached.confirmedAt, sentAt);
            else this.#cache.delete(key);
          });
        } catch (err) {
          // The cached routes simply age out (validity window) and the next use asks Redis again.
          this.#log.warn('could not record last access of MessageGroups in Redis', { topic, groups: chunk.length, err });
        }
      }
    }
  }
}
