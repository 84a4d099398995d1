import type { RedisGateway } from './redis-gateway.ts';
import type { RedisClient } from './redis-connection.ts';
import type { ReplicatedWrites } from './replica-acks.ts';
import { randomUUID } from 'node:crypto';
import type { RestoreStore, RouteOutcome, RouteStore, TopicHold, TopicRegistration, TopicStamp, TopicState, TouchEntry } from '../routing/route-store.ts';
import type { CleanupStore, RemovedMapping } from '../routing/cleanup.ts';
import type { LoadsStore } from '../routing/load-refresher.ts';
import { StoreOnHoldError, StoreStateLostError } from '../errors/store-errors.ts';
import { STATE_FORMAT, checkStateFormat } from './state-format.ts';
import { bucketOf, groupHash as groupHashOf, preferenceOrder } from '../routing/hashing.ts';
import { cleanupLastRunKey, cleanupLockKey, topicKeys, topicsKey, type TopicKeys } from './keys.ts';

/** Mappings restored per pipelined script call (one bucket's share of them per call). */
const RESTORE_CHUNK = 500;
/** Bucket hashes read per pipeline when the loads are counted again. */
const RECOUNT_SLICE = 256;

const lost = (topic: string): StoreStateLostError =>
  new StoreStateLostError(`Redis no longer holds the routing state of topic "${topic}" this replica registered (its epoch is gone or another)`);

/** The routing core's ports on the router's Redis state (the admin tools' port is RedisAdminStore, same keys). */
export class RouterStore implements RouteStore, RestoreStore, CleanupStore, LoadsStore {
  readonly #gateway: RedisGateway;
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #topicKeys = new Map<string, TopicKeys>();
  /** Where mappings the sidecar produces on are written, when replicas must acknowledge them first (REDIS_REPLICA_ACKS). */
  readonly #replicated: ReplicatedWrites | undefined;

  constructor(gateway: RedisGateway, prefix: string, replicated?: ReplicatedWrites) {
    this.#gateway = gateway;
    this.#redis = gateway.redis;
    this.#prefix = prefix;
    this.#replicated = replicated;
  }

  /** One round trip per connection: resolves once Redis answers on each (an outage ends only when routes can be written too). */
  async ping(): Promise<void> {
    const replicated = this.#replicated?.gateway;
    await Promise.all([this.#gateway.run(() => this.#redis.ping()), replicated?.run(() => replicated.redis.ping())]);
  }

  /** A write of a mapping the sidecar produces on: acknowledged by the required replicas when they are asked for. */
  #writeMapping<T>(bucketKey: string, call: (redis: RedisClient) => Promise<T>): Promise<T> {
    return this.#replicated ? this.#replicated.write(bucketKey, call) : this.#gateway.run(() => call(this.#redis));
  }

  #keys(topic: string): TopicKeys {
    let keys = this.#topicKeys.get(topic);
    if (!keys) {
      keys = topicKeys(this.#prefix, topic);
      this.#topicKeys.set(topic, keys);
    }
    return keys;
  }

  /**
   * The topic's stored state, or undefined when Redis has none. A topic first used before formats or epochs
   * existed (a bucket count but no format or epoch) gets them here: it was not lost, it only predates them.
   */
  async readTopic(topic: string): Promise<TopicRegistration | undefined> {
    const keys = this.#keys(topic);
    // Read before anything is written: a format this sidecar cannot read is refused untouched.
    const [buckets, generation, format, epoch] = await this.#gateway.run(() => this.#redis.hmget(keys.meta, 'buckets', 'generation', 'format', 'epoch'));
    checkStateFormat(topic, format ?? null);
    if (buckets == null) return undefined;
    if (epoch != null && format != null) return { buckets: Number(buckets), generation: generation ?? null, epoch };
    await this.#gateway.run(() => this.#redis.multi().hsetnx(keys.meta, 'format', STATE_FORMAT).hsetnx(keys.meta, 'epoch', randomUUID()).exec());
    return this.readTopic(topic);
  }

  /** The topic's state, stamped fresh when Redis has none: a first use with no route log to consult (benchmarks, tests). */
  async registerTopic(topic: string, buckets: number): Promise<TopicRegistration> {
    const known = await this.readTopic(topic);
    if (known) return known;
    const keys = this.#keys(topic);
    await this.#gateway.run(() => this.#redis.sadd(topicsKey(this.#prefix), topic));
    // Set-if-absent field by field: concurrent first uses agree on the first writer's values.
    await this.#gateway.run(() =>
      this.#redis.multi().hsetnx(keys.meta, 'buckets', buckets).hsetnx(keys.meta, 'format', STATE_FORMAT).hsetnx(keys.meta, 'epoch', randomUUID()).exec(),
    );
    return (await this.readTopic(topic))!;
  }

  async stampTopic(topic: string, buckets: number, epoch: string, hold: TopicHold | undefined): Promise<TopicRegistration> {
    const keys = this.#keys(topic);
    // The topic set lives in another Cluster slot than the topic's keys, so it stays out of the MULTI;
    // adding to it is idempotent and needs no atomicity with the rest.
    await this.#gateway.run(() => this.#redis.sadd(topicsKey(this.#prefix), topic));
    const generation = await this.#gateway.run(async () => {
      const multi = this.#redis.multi().hset(keys.meta, 'buckets', buckets, 'format', STATE_FORMAT, 'epoch', epoch);
      if (hold === undefined) multi.hdel(keys.meta, 'hold');
      else multi.hset(keys.meta, 'hold', hold);
      const replies = await multi.hget(keys.meta, 'generation').exec();
      const [err, value] = replies?.[2] ?? [new Error('MULTI was discarded')];
      if (err) throw err;
      return value as string | null;
    });
    return { buckets, generation, epoch };
  }

  async tryLockRestore(topic: string, owner: string, holdMs: number): Promise<boolean> {
    return (await this.#gateway.run(() => this.#redis.set(this.#keys(topic).restoreLock, owner, 'PX', holdMs, 'NX'))) === 'OK';
  }

  async unlockRestore(topic: string, owner: string): Promise<void> {
    await this.#gateway.run(() => this.#redis.osUnlock(this.#keys(topic).restoreLock, owner));
  }

  async extendRestoreLock(topic: string, owner: string, holdMs: number): Promise<boolean> {
    return (await this.#gateway.run(() => this.#redis.osExtendLock(this.#keys(topic).restoreLock, owner, holdMs))) === 1;
  }

  async hold(topic: string, reason: TopicHold): Promise<void> {
    await this.#gateway.run(() => this.#redis.hset(this.#keys(topic).meta, 'hold', reason));
  }

  async readHold(topic: string): Promise<TopicHold | undefined> {
    const hold = await this.#gateway.run(() => this.#redis.hget(this.#keys(topic).meta, 'hold'));
    if (hold === null) return undefined;
    // Only these two are written; any other value still refuses new groups (route-3.lua), so it stays a hold.
    return hold === 'restoring' ? 'restoring' : 'unproven';
  }

  async release(topic: string): Promise<boolean> {
    const keys = this.#keys(topic);
    const [exists] = await this.#gateway.run(async () => {
      const replies = await this.#redis.multi().hexists(keys.meta, 'epoch').hdel(keys.meta, 'hold').exec();
      return (replies ?? []).map(([err, value]) => {
        if (err) throw err;
        return value;
      });
    });
    return exists === 1;
  }

  async restoreRoutes(topic: string, buckets: number, routes: ReadonlyMap<string, number>): Promise<number> {
    const keys = this.#keys(topic);
    const byBucket = new Map<number, string[]>();
    for (const [group, partition] of routes) {
      const bucket = bucketOf(groupHashOf(group), buckets);
      let args = byBucket.get(bucket);
      if (!args) byBucket.set(bucket, (args = []));
      args.push(group, String(partition));
    }
    let restored = 0;
    let pipeline = this.#redis.pipeline();
    let queued = 0;
    const flush = async (): Promise<void> => {
      const sent = pipeline;
      pipeline = this.#redis.pipeline();
      queued = 0;
      restored += await this.#gateway.run(async () => {
        let n = 0;
        for (const [err, count] of (await sent.exec()) ?? []) {
          if (err) throw err;
          n += Number(count);
        }
        return n;
      });
    };
    for (const [bucket, args] of byBucket) {
      for (let i = 0; i < args.length; i += 2 * RESTORE_CHUNK) {
        pipeline.osRestoreBucket(keys.bucket(bucket), keys.loads, keys.meta, ...args.slice(i, i + 2 * RESTORE_CHUNK));
        queued += Math.min(RESTORE_CHUNK, (args.length - i) / 2);
        if (queued >= RESTORE_CHUNK) await flush();
      }
    }
    if (queued > 0) await flush();
    return restored;
  }

  async recountLoads(topic: string, buckets: number): Promise<void> {
    const keys = this.#keys(topic);
    const counts: Record<string, number> = {};
    for (let from = 0; from < buckets; from += RECOUNT_SLICE) {
      const pipeline = this.#redis.pipeline();
      for (let bucket = from; bucket < Math.min(buckets, from + RECOUNT_SLICE); bucket++) pipeline.hvals(keys.bucket(bucket));
      await this.#gateway.run(async () => {
        for (const [err, values] of (await pipeline.exec()) ?? []) {
          if (err) throw err;
          // "<partition>:<last access minute>" (route-3.lua)
          for (const value of values as string[]) {
            const partition = value.slice(0, value.indexOf(':'));
            counts[partition] = (counts[partition] ?? 0) + 1;
          }
        }
      });
    }
    await this.#gateway.run(async () => {
      const multi = this.#redis.multi().del(keys.loads);
      if (Object.keys(counts).length > 0) multi.hset(keys.loads, counts);
      for (const [err] of (await multi.exec()) ?? []) if (err) throw err;
    });
  }

  async route(topic: string, state: TopicState, group: string, hash: number, partitions: number, logged: boolean): Promise<RouteOutcome> {
    const keys = this.#keys(topic);
    const preference = preferenceOrder(hash, partitions).join(',');
    const bucketKey = keys.bucket(bucketOf(hash, state.buckets));
    const [partition, status] = await this.#writeMapping(bucketKey, (redis) =>
      redis.osRoute(bucketKey, keys.loads, keys.meta, group, partitions, preference, state.epoch, logged ? 1 : 0),
    );
    if (status === -1) throw lost(topic);
    if (status === -2) {
      const reason = (await this.#gateway.run(() => this.#redis.hget(keys.meta, 'hold'))) ?? 'restoring';
      throw new StoreOnHoldError(`new MessageGroups of topic "${topic}" are on hold (${reason})`, reason);
    }
    return { partition, created: status === 1, unlogged: status === 1 || status === 2 };
  }

  async markLogged(topic: string, state: TopicState, group: string): Promise<void> {
    const current = await this.#gateway.run(() => this.#redis.osMarkLogged(this.#keys(topic).meta, group, state.epoch));
    if (current !== 1) throw lost(topic);
  }

  /** Records a mapping made without Redis unless one exists; returns the partition Redis now maps the group to. */
  async record(topic: string, state: TopicState, group: string, hash: number, partition: number, logged: boolean): Promise<number> {
    const keys = this.#keys(topic);
    const bucketKey = keys.bucket(bucketOf(hash, state.buckets));
    const recorded = await this.#writeMapping(bucketKey, (redis) =>
      redis.osRecord(bucketKey, keys.loads, keys.meta, group, partition, state.epoch, logged ? 1 : 0),
    );
    if (recorded < 0) throw lost(topic);
    return recorded;
  }

  /**
   * Refreshes last access of used mappings; returns, per entry, whether Redis still maps it to that partition. A
   * touch confirms cached routes for another validity window, so it is a write the replicas must hold when they
   * are asked to (REDIS_REPLICA_ACKS): a failover that lost it could let cleanup remove a mapping still in use.
   */
  async touch(topic: string, state: TopicState, entries: readonly TouchEntry[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const keys = this.#keys(topic);
    const bucketKeys = entries.map((e) => keys.bucket(bucketOf(e.hash, state.buckets)));
    const args = entries.flatMap((e) => [e.group, e.partition]);
    const result = await this.#writeMapping(keys.meta, (redis) => redis.osTouch(entries.length + 1, keys.meta, ...bucketKeys, state.epoch, ...args));
    if (!Array.isArray(result)) throw lost(topic);
    return result.map((ok) => ok === 1);
  }

  /** Removes idle mappings of buckets [from, to) (and their unlogged marks); returns them. */
  async cleanupBuckets(topic: string, from: number, to: number, ttlMinutes: number): Promise<RemovedMapping[]> {
    const keys = this.#keys(topic);
    const pipeline = this.#redis.pipeline();
    for (let b = from; b < to; b++) {
      pipeline.osCleanupBucket(keys.bucket(b), keys.loads, keys.meta, ttlMinutes);
    }
    // A reply's error is thrown inside `run`, so the gateway says what it means (refused, busy), as for one command.
    return this.#gateway.run(async () => {
      const removed: RemovedMapping[] = [];
      for (const [err, flat] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        const pairs = flat as string[];
        for (let i = 0; i < pairs.length; i += 2) removed.push({ group: pairs[i]!, partition: Number(pairs[i + 1]) });
      }
      return removed;
    });
  }

  /** The partition each of `groups` is mapped to now; one HMGET per bucket, pipelined (a topic's keys share one slot). */
  async mappedPartitions(topic: string, buckets: number, groups: readonly string[]): Promise<Map<string, number>> {
    const mapped = new Map<string, number>();
    if (groups.length === 0) return mapped;
    const keys = this.#keys(topic);
    const byBucket = new Map<number, string[]>();
    for (const group of groups) {
      const bucket = bucketOf(groupHashOf(group), buckets);
      let inBucket = byBucket.get(bucket);
      if (!inBucket) byBucket.set(bucket, (inBucket = []));
      inBucket.push(group);
    }
    const asked = [...byBucket.values()];
    const pipeline = this.#redis.pipeline();
    for (const [bucket, inBucket] of byBucket) pipeline.hmget(keys.bucket(bucket), ...inBucket);
    await this.#gateway.run(async () => {
      const replies = (await pipeline.exec()) ?? [];
      replies.forEach(([err, values], i) => {
        if (err) throw err;
        (values as (string | null)[]).forEach((value, j) => {
          // "<partition>:<last access minute>" (route-3.lua)
          if (value !== null) mapped.set(asked[i]![j]!, Number(value.slice(0, value.indexOf(':'))));
        });
      });
    });
    return mapped;
  }

  /** Groups mapped to each partition 0..partitions-1. */
  async loads(topic: string, partitions: number): Promise<number[]> {
    return (await this.partitionLoads(topic, partitions)).loads;
  }

  /** `loads`, and the groups mapped to partitions past `partitions` (a topic recreated smaller), from one read. */
  async partitionLoads(topic: string, partitions: number): Promise<{ loads: number[]; beyond: number }> {
    const raw = await this.#gateway.run(() => this.#redis.hgetall(this.#keys(topic).loads));
    let beyond = 0;
    for (const [partition, count] of Object.entries(raw)) if (Number(partition) >= partitions) beyond += Number(count);
    return { loads: Array.from({ length: partitions }, (_, p) => Number(raw[String(p)] ?? 0)), beyond };
  }

  /** Groups mapped in the topic, whatever their partitions (the sum of its loads). */
  async mappedGroups(topic: string): Promise<number> {
    const counts = await this.#gateway.run(() => this.#redis.hvals(this.#keys(topic).loads));
    return counts.reduce((sum, count) => sum + Number(count), 0);
  }

  async topics(): Promise<string[]> {
    return (await this.#gateway.run(() => this.#redis.smembers(topicsKey(this.#prefix)))).sort();
  }

  async bucketCount(topic: string): Promise<number | undefined> {
    const [value, format] = await this.#gateway.run(() => this.#redis.hmget(this.#keys(topic).meta, 'buckets', 'format'));
    checkStateFormat(topic, format ?? null);
    return value == null ? undefined : Number(value);
  }

  /**
   * Mapping generation and epoch of each topic. Admin changes to a live mapping bump the generation; every
   * replica polls both with its touch flush, drops its cached routes of a topic whose generation changed, and
   * notices a topic whose state was lost (epoch gone or another).
   */
  async stamps(topics: readonly string[]): Promise<PromiseSettledResult<TopicStamp>[]> {
    // One command per topic, not one pipeline: topics live in different Cluster slots (and nodes). ioredis
    // writes them without waiting for each reply, so a single Redis still gets them in one round trip.
    return Promise.allSettled(
      topics.map(async (topic) => {
        const [generation, epoch] = await this.#gateway.run(() => this.#redis.hmget(this.#keys(topic).meta, 'generation', 'epoch'));
        return { generation: generation ?? null, epoch: epoch ?? null };
      }),
    );
  }

  /** Takes the fleet-wide cleanup turn for `holdMs`; false when another replica has it. */
  async tryTakeCleanupTurn(owner: string, holdMs: number): Promise<boolean> {
    return (await this.#gateway.run(() => this.#redis.set(cleanupLockKey(this.#prefix), owner, 'PX', holdMs, 'NX'))) === 'OK';
  }

  async recordCleanupRun(unixSeconds: number): Promise<void> {
    await this.#gateway.run(() => this.#redis.set(cleanupLastRunKey(this.#prefix), unixSeconds));
  }

  async lastCleanupRun(): Promise<number | undefined> {
    const value = await this.#gateway.run(() => this.#redis.get(cleanupLastRunKey(this.#prefix)));
    return value === null ? undefined : Number(value);
  }
}
