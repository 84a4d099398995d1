import type { RedisGateway } from './redis-gateway.ts';
import type { RedisClient } from './redis-connection.ts';
import { bucketOf } from '../routing/hashing.ts';
import type { CleanupStore } from '../routing/cleanup.ts';
import type { RouterStore } from './router-store.ts';
import type { AdminStore, BucketEntry, ReassignOutcome, Reassignment, StoredMapping } from '../admin/admin-store.ts';
import { topicKeys } from './keys.ts';

function parseMapping(value: string): StoredMapping {
  const [partition, minute] = value.split(':');
  return { partition: Number(partition), lastAccess: new Date(Number(minute) * 60_000) };
}

/**
 * The admin tools' store: the router's keys (same key layout), read and changed one mapping at a time. The
 * topic list, bucket counts and loads are the router store's reads (`routing`), shared rather than repeated.
 */
export class RedisAdminStore implements AdminStore {
  readonly #gateway: RedisGateway;
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #routing: Pick<CleanupStore, 'topics' | 'bucketCount'> & Pick<RouterStore, 'partitionLoads'>;

  constructor(gateway: RedisGateway, prefix: string, routing: Pick<CleanupStore, 'topics' | 'bucketCount'> & Pick<RouterStore, 'partitionLoads'>) {
    this.#gateway = gateway;
    this.#redis = gateway.redis;
    this.#prefix = prefix;
    this.#routing = routing;
  }

  topics(): Promise<string[]> {
    return this.#routing.topics();
  }

  bucketCount(topic: string): Promise<number | undefined> {
    return this.#routing.bucketCount(topic);
  }

  partitionLoads(topic: string, partitions: number): Promise<{ loads: number[]; beyond: number }> {
    return this.#routing.partitionLoads(topic, partitions);
  }

  async lookup(topic: string, buckets: number, group: string, hash: number): Promise<StoredMapping | undefined> {
    const value = await this.#gateway.run(() => this.#redis.hget(topicKeys(this.#prefix, topic).bucket(bucketOf(hash, buckets)), group));
    return value === null ? undefined : parseMapping(value);
  }

  bumpGeneration(topic: string): Promise<number> {
    return this.#gateway.run(() => this.#redis.hincrby(topicKeys(this.#prefix, topic).meta, 'generation', 1));
  }

  async reassign(topic: string, buckets: number, r: Reassignment): Promise<ReassignOutcome> {
    const keys = topicKeys(this.#prefix, topic);
    const [status, partition, minute, nowMs] = await this.#gateway.run(() =>
      this.#redis.osAdminReassign(keys.bucket(bucketOf(r.hash, buckets)), keys.loads, r.group, r.from, r.to ?? -1, r.minIdleMs, r.dryRun ? 1 : 0),
    );
    return { status, partition, lastAccess: minute < 0 ? undefined : new Date(minute * 60_000), now: new Date(nowMs) };
  }

  /** HSCAN, pipelined over the buckets: sparse topics have many empty ones. */
  async scanBuckets(
    topic: string,
    first: number,
    cursor: string,
    count: number,
    hint: number,
    prefix: string,
  ): Promise<{ next: string; entries: BucketEntry[] }[]> {
    const keys = topicKeys(this.#prefix, topic);
    const pipeline = this.#redis.pipeline();
    // MATCH filters in Redis, so a prefix listing carries only its groups; glob characters in the prefix are literal.
    const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    for (let b = first; b < first + count; b++) pipeline.hscan(keys.bucket(b), b === first ? cursor : '0', 'MATCH', match, 'COUNT', hint);
    // A reply's error is thrown inside `run`, so the gateway says what it means (refused, busy), as for one command.
    const results = await this.#gateway.run(async () =>
      ((await pipeline.exec()) ?? []).map(([err, reply]) => {
        if (err) throw err;
        return reply;
      }),
    );
    return results.map((reply) => {
      const [next, flat] = reply as [string, string[]];
      const entries: BucketEntry[] = [];
      for (let i = 0; i < flat.length; i += 2) entries.push({ group: flat[i]!, ...parseMapping(flat[i + 1]!) });
      entries.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
      return { next, entries };
    });
  }
}
