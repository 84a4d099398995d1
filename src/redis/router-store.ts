import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis-connection.ts';
import { bucketOf, preferenceOrder } from '../routing/hashing.ts';
import { cleanupLastRunKey, cleanupLockKey, topicKeys, topicsKey, type TopicKeys } from './keys.ts';

const script = (name: string): string => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');

/** The scripts, registered once per connection; ioredis sends EVALSHA and falls back to EVAL after a Redis restart. */
interface ScriptCommands {
  osRoute(bucketKey: string, loadsKey: string, group: string, partitions: number, preference: string): Promise<[number, number]>;
  osTouch(numKeys: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
  osCleanupBucket(bucketKey: string, loadsKey: string, ttlMinutes: number): Promise<number>;
  osRecord(bucketKey: string, loadsKey: string, group: string, partition: number): Promise<number>;
}

export interface RouteOutcome {
  partition: number;
  /** True when this call created the mapping (the group was new). */
  created: boolean;
}

export interface TouchEntry {
  group: string;
  hash: number;
  partition: number;
}

export interface StoredMapping {
  partition: number;
  lastAccess: Date;
}

export function parseMapping(value: string): StoredMapping {
  const [partition, minute] = value.split(':');
  return { partition: Number(partition), lastAccess: new Date(Number(minute) * 60_000) };
}

/** The one typed gateway to the router's Redis state; nothing else issues router commands. */
export class RouterStore {
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly #scripts: ScriptCommands;
  readonly #keys = new Map<string, TopicKeys>();

  constructor(redis: RedisClient, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
    redis.defineCommand('osRoute', { numberOfKeys: 2, lua: script('route-2.lua') });
    redis.defineCommand('osTouch', { lua: script('touch.lua') });
    redis.defineCommand('osCleanupBucket', { numberOfKeys: 2, lua: script('cleanup-bucket-2.lua') });
    redis.defineCommand('osRecord', { numberOfKeys: 2, lua: script('record-2.lua') });
    this.#scripts = redis as unknown as ScriptCommands;
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
  async registerTopic(topic: string, buckets: number): Promise<{ buckets: number; generation: string | null }> {
    const keys = this.keys(topic);
    // The topic set lives in another Cluster slot than the topic's keys, so it cannot join the transaction;
    // adding it is idempotent and needs no atomicity with the rest.
    const [, [, stored, generation]] = await Promise.all([
      this.redis.sadd(topicsKey(this.prefix), topic),
      this.redis.multi().hsetnx(keys.meta, 'buckets', buckets).hget(keys.meta, 'buckets').hget(keys.meta, 'generation').exec() as Promise<[unknown, [Error | null, string | null], [Error | null, string | null]]>,
    ]);
    return { buckets: Number(stored[1] ?? buckets), generation: generation[1] };
  }

  async route(topic: string, buckets: number, group: string, hash: number, partitions: number): Promise<RouteOutcome> {
    const keys = this.keys(topic);
    const preference = preferenceOrder(hash, partitions).join(',');
    const [partition, created] = await this.#scripts.osRoute(keys.bucket(bucketOf(hash, buckets)), keys.loads, group, partitions, preference);
    return { partition, created: created === 1 };
  }

  /** Records a mapping made without Redis unless one exists; returns the partition Redis now maps the group to. */
  async record(topic: string, buckets: number, group: string, hash: number, partition: number): Promise<number> {
    const keys = this.keys(topic);
    return this.#scripts.osRecord(keys.bucket(bucketOf(hash, buckets)), keys.loads, group, partition);
  }

  /** Refreshes last access of used mappings; returns, per entry, whether Redis still maps it to that partition. */
  async touch(topic: string, buckets: number, entries: readonly TouchEntry[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const keys = this.keys(topic);
    const bucketKeys = entries.map((e) => keys.bucket(bucketOf(e.hash, buckets)));
    const args = entries.flatMap((e) => [e.group, e.partition]);
    const result = await this.#scripts.osTouch(entries.length, ...bucketKeys, ...args);
    return result.map((ok) => ok === 1);
  }

  async lookup(topic: string, buckets: number, group: string, hash: number): Promise<StoredMapping | undefined> {
    const value = await this.redis.hget(this.keys(topic).bucket(bucketOf(hash, buckets)), group);
    return value === null ? undefined : parseMapping(value);
  }

  /** Removes idle mappings of buckets [from, to); returns how many were removed. */
  async cleanupBuckets(topic: string, from: number, to: number, ttlMinutes: number): Promise<number> {
    const keys = this.keys(topic);
    const pipeline = this.redis.pipeline();
    for (let b = from; b < to; b++) {
      (pipeline as unknown as { osCleanupBucket: (...a: unknown[]) => void }).osCleanupBucket(keys.bucket(b), keys.loads, ttlMinutes);
    }
    const results = (await pipeline.exec()) ?? [];
    let removed = 0;
    for (const [err, count] of results) {
      if (err) throw err;
      removed += Number(count);
    }
    return removed;
  }

  /** Groups mapped to each partition 0..partitions-1. */
  async loads(topic: string, partitions: number): Promise<number[]> {
    const raw = await this.redis.hgetall(this.keys(topic).loads);
    return Array.from({ length: partitions }, (_, p) => Number(raw[String(p)] ?? 0));
  }

  async topics(): Promise<string[]> {
    return (await this.redis.smembers(topicsKey(this.prefix))).sort();
  }

  async bucketCount(topic: string): Promise<number | undefined> {
    const value = await this.redis.hget(this.keys(topic).meta, 'buckets');
    return value === null ? undefined : Number(value);
  }

  /**
   * Mapping generation of each topic. Admin changes to a live mapping bump it; every replica polls it with
   * its touch flush and drops its cached routes of a topic whose generation changed.
   */
  async generations(topics: readonly string[]): Promise<(string | null)[]> {
    // One command per topic, not one pipeline: topics live in different Cluster slots (and nodes). ioredis
    // writes them without waiting for each reply, so a single Redis still gets them in one round trip.
    return Promise.all(topics.map((topic) => this.redis.hget(this.keys(topic).meta, 'generation')));
  }

  async bumpGeneration(topic: string): Promise<number> {
    return this.redis.hincrby(this.keys(topic).meta, 'generation', 1);
  }

  /** Takes the fleet-wide cleanup turn for `holdMs`; false when another replica has it. */
  async tryTakeCleanupTurn(owner: string, holdMs: number): Promise<boolean> {
    return (await this.redis.set(cleanupLockKey(this.prefix), owner, 'PX', holdMs, 'NX')) === 'OK';
  }

  async recordCleanupRun(unixSeconds: number): Promise<void> {
    await this.redis.set(cleanupLastRunKey(this.prefix), unixSeconds);
  }

  async lastCleanupRun(): Promise<number | undefined> {
    const value = await this.redis.get(cleanupLastRunKey(this.prefix));
    return value === null ? undefined : Number(value);
  }
}
