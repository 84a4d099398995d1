import type { RedisGateway } from './redis-gateway.ts';
import type { RedisClient } from './redis-connection.ts';
import type { ReplicatedWrites } from './replica-acks.ts';
import type { RouteOutcome, RouteStore, TopicRegistration, TouchEntry } from '../routing/route-store.ts';
import type { CleanupStore } from '../routing/cleanup.ts';
import { STATE_FORMAT, checkStateFormat } from './state-format.ts';
import { bucketOf, preferenceOrder } from '../routing/hashing.ts';
import { cleanupLastRunKey, cleanupLockKey, topicKeys, topicsKey, type TopicKeys } from './keys.ts';

export interface StoredMapping {
  partition: number;
  lastAccess: Date;
}

export function parseMapping(value: string): StoredMapping {
  const [partition, minute] = value.split(':');
  return { partition: Number(partition), lastAccess: new Date(Number(minute) * 60_000) };
}

/** The one typed gateway to the router's Redis state; nothing else issues router commands. */
export class RouterStore implements RouteStore, CleanupStore {
  readonly gateway: RedisGateway;
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly #keys = new Map<string, TopicKeys>();
  /** Where mappings the sidecar produces on are written, when replicas must acknowledge them first (REDIS_REPLICA_ACKS). */
  readonly #replicated: ReplicatedWrites | undefined;

  constructor(gateway: RedisGateway, prefix: string, replicated?: ReplicatedWrites) {
    this.gateway = gateway;
    this.redis = gateway.redis;
    this.prefix = prefix;
    this.#replicated = replicated;
  }

  /** One round trip per connection: resolves once Redis answers on each (an outage ends only when routes can be written too). */
  async ping(): Promise<void> {
    const replicated = this.#replicated?.gateway;
    await Promise.all([this.gateway.run(() => this.redis.ping()), replicated?.run(() => replicated.redis.ping())]);
  }

  /** A write of a mapping the sidecar produces on: acknowledged by the required replicas when they are asked for. */
  #writeMapping<T>(bucketKey: string, call: (redis: RedisClient) => Promise<T>): Promise<T> {
    return this.#replicated ? this.#replicated.write(bucketKey, call) : this.gateway.run(() => call(this.redis));
  }

  keys(topic: string): TopicKeys {
    let keys = this.#keys.get(topic);
    if (!keys) {
      keys = topicKeys(this.prefix, topic);
      this.#keys.set(topic, keys);
    }
    return keys;
  }

  /**
   * Registers the topic; returns its bucket count and current mapping generation. The first replica to use
   * a topic fixes the count; later replicas adopt it even if configured differently, because a group's
   * bucket must not change. The generation read here is the replica's baseline for admin changes.
   */
  async registerTopic(topic: string, buckets: number): Promise<TopicRegistration> {
    const keys = this.keys(topic);
    // Read before anything is written: a format this sidecar cannot read is refused untouched.
    const [stored, generation, format] = await this.gateway.run(() => this.redis.hmget(keys.meta, 'buckets', 'generation', 'format'));
    checkStateFormat(topic, format ?? null);
    if (stored != null && format != null) return { buckets: Number(stored), generation: generation ?? null };
    // First use (or a topic from before formats were stored): fix the bucket count and stamp the format.
    // The topic set lives in another Cluster slot than the topic's keys, so it stays out of the MULTI;
    // adding to it is idempotent and needs no atomicity with the rest.
    await this.gateway.run(() => this.redis.sadd(topicsKey(this.prefix), topic));
    const [fixed, current] = await this.gateway.run(async () => {
      const replies = await this.redis
        .multi()
        .hsetnx(keys.meta, 'buckets', buckets)
        .hsetnx(keys.meta, 'format', STATE_FORMAT)
        .hmget(keys.meta, 'buckets', 'generation')
        .exec();
      const [err, values] = replies?.[2] ?? [new Error('MULTI was discarded')];
      if (err) throw err;
      return values as (string | null)[];
    });
    return { buckets: Number(fixed ?? buckets), generation: current ?? null };
  }

  async route(topic: string, buckets: number, group: string, hash: number, partitions: number): Promise<RouteOutcome> {
    const keys = this.keys(topic);
    const preference = preferenceOrder(hash, partitions).join(',');
    const bucketKey = keys.bucket(bucketOf(hash, buckets));
    const [partition, created] = await this.#writeMapping(bucketKey, (redis) => redis.osRoute(bucketKey, keys.loads, group, partitions, preference));
    return { partition, created: created === 1 };
  }

  /** Records a mapping made without Redis unless one exists; returns the partition Redis now maps the group to. */
  async record(topic: string, buckets: number, group: string, hash: number, partition: number): Promise<number> {
    const keys = this.keys(topic);
    const bucketKey = keys.bucket(bucketOf(hash, buckets));
    return this.#writeMapping(bucketKey, (redis) => redis.osRecord(bucketKey, keys.loads, group, partition));
  }

  /** Refreshes last access of used mappings; returns, per entry, whether Redis still maps it to that partition. */
  async touch(topic: string, buckets: number, entries: readonly TouchEntry[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const keys = this.keys(topic);
    const bucketKeys = entries.map((e) => keys.bucket(bucketOf(e.hash, buckets)));
    const args = entries.flatMap((e) => [e.group, e.partition]);
    const result = await this.gateway.run(() => this.redis.osTouch(entries.length, ...bucketKeys, ...args));
    return result.map((ok) => ok === 1);
  }

  async lookup(topic: string, buckets: number, group: string, hash: number): Promise<StoredMapping | undefined> {
    const value = await this.gateway.run(() => this.redis.hget(this.keys(topic).bucket(bucketOf(hash, buckets)), group));
    return value === null ? undefined : parseMapping(value);
  }

  /** Removes idle mappings of buckets [from, to); returns how many were removed. */
  async cleanupBuckets(topic: string, from: number, to: number, ttlMinutes: number): Promise<number> {
    const keys = this.keys(topic);
    const pipeline = this.redis.pipeline();
    for (let b = from; b < to; b++) {
      pipeline.osCleanupBucket(keys.bucket(b), keys.loads, ttlMinutes);
    }
    // A reply's error is thrown inside `run`, so the gateway says what it means (refused, busy), as for one command.
    return this.gateway.run(async () => {
      let removed = 0;
      for (const [err, count] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        removed += Number(count);
      }
      return removed;
    });
  }

  /** Groups mapped to each partition 0..partitions-1. */
  async loads(topic: string, partitions: number): Promise<number[]> {
    const raw = await this.gateway.run(() => this.redis.hgetall(this.keys(topic).loads));
    return Array.from({ length: partitions }, (_, p) => Number(raw[String(p)] ?? 0));
  }

  /** Groups mapped in the topic, whatever their partitions (the sum of its loads). */
  async mappedGroups(topic: string): Promise<number> {
    const counts = await this.gateway.run(() => this.redis.hvals(this.keys(topic).loads));
    return counts.reduce((sum, count) => sum + Number(count), 0);
  }

  async topics(): Promise<string[]> {
    return (await this.gateway.run(() => this.redis.smembers(topicsKey(this.prefix)))).sort();
  }

  async bucketCount(topic: string): Promise<number | undefined> {
    const [value, format] = await this.gateway.run(() => this.redis.hmget(this.keys(topic).meta, 'buckets', 'format'));
    checkStateFormat(topic, format ?? null);
    return value == null ? undefined : Number(value);
  }

  /**
   * Mapping generation of each topic. Admin changes to a live mapping bump it; every replica polls it with
   * its touch flush and drops its cached routes of a topic whose generation changed.
   */
  async generations(topics: readonly string[]): Promise<(string | null)[]> {
    // One command per topic, not one pipeline: topics live in different Cluster slots (and nodes). ioredis
    // writes them without waiting for each reply, so a single Redis still gets them in one round trip.
    return Promise.all(topics.map((topic) => this.gateway.run(() => this.redis.hget(this.keys(topic).meta, 'generation'))));
  }

  async bumpGeneration(topic: string): Promise<number> {
    return this.gateway.run(() => this.redis.hincrby(this.keys(topic).meta, 'generation', 1));
  }

  /** Takes the fleet-wide cleanup turn for `holdMs`; false when another replica has it. */
  async tryTakeCleanupTurn(owner: string, holdMs: number): Promise<boolean> {
    return (await this.gateway.run(() => this.redis.set(cleanupLockKey(this.prefix), owner, 'PX', holdMs, 'NX'))) === 'OK';
  }

  async recordCleanupRun(unixSeconds: number): Promise<void> {
    await this.gateway.run(() => this.redis.set(cleanupLastRunKey(this.prefix), unixSeconds));
  }

  async lastCleanupRun(): Promise<number | undefined> {
    const value = await this.gateway.run(() => this.redis.get(cleanupLastRunKey(this.prefix)));
    return value === null ? undefined : Number(value);
  }
}
