import { randomUUID } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { inject } from 'vitest';
import { RouterStore } from '../../src/redis/router-store.ts';
import { RedisAdminStore } from '../../src/redis/redis-admin-store.ts';
import { topicKeys, type TopicKeys } from '../../src/redis/keys.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';
import { createRedisClient, type RedisClient } from '../../src/redis/redis-connection.ts';

/** Where the test Redis is, as the sidecar's options say it: one Redis, or the Cluster or Sentinels the stack runs. */
export const testRedisTopology = (): { redisUrl: string; redisClusterNodes?: string[]; redisSentinels?: string[]; redisSentinelMaster?: string } => {
  const nodes = inject('redisClusterNodes');
  const sentinels = inject('redisSentinels');
  return {
    redisUrl: inject('redisUrl') || 'redis://127.0.0.1:6379',
    ...(nodes.length ? { redisClusterNodes: nodes } : {}),
    ...(sentinels.length ? { redisSentinels: sentinels, redisSentinelMaster: inject('redisSentinelMaster') } : {}),
  };
};

/** The test Redis as the sidecar would see it, without TLS. */
export const testRedisConnection = () => ({ ...testRedisTopology(), redisTls: false });

/** A fresh connection (a Cluster client against a Cluster); the caller quits it (use `afterEach`/`onTestFinished`). */
export const connectRedis = (): RedisClient => createRedisClient(testRedisConnection(), { lazyConnect: false });

/** A fresh Cluster client, for the tests that work on the Cluster's slots and nodes; the caller quits it. */
export function connectCluster(): Cluster {
  const redis = connectRedis();
  if (!(redis instanceof Cluster)) throw new Error('this test needs a Redis Cluster (REDIS_CLUSTER_NODES)');
  return redis;
}

/** Every node holding data: the one Redis, or each Cluster master (a SCAN sees one node's keys only). */
export const dataNodes = (redis: RedisClient): Redis[] => (redis instanceof Cluster ? redis.nodes('master') : [redis]);

export interface IsolatedStore {
  store: RouterStore;
  /** The admin tools' store on the same keys. */
  admin: RedisAdminStore;
  prefix: string;
  /** The topic's keys under this prefix, for the tests that read or plant state directly. */
  keys: (topic: string) => TopicKeys;
  drop: () => Promise<void>;
}

/** A store under a unique prefix so tests never see each other's keys; removes its keys on `drop`. */
export function isolatedStore(redis: RedisClient): IsolatedStore {
  const prefix = `ost-${randomUUID().slice(0, 8)}`;
  const gateway = new RedisGateway(redis);
  const store = new RouterStore(gateway, prefix);
  return {
    store,
    admin: new RedisAdminStore(gateway, prefix, store),
    prefix,
    keys: (topic) => topicKeys(prefix, topic),
    drop: () => dropPrefix(redis, prefix),
  };
}

/** Removes every key under the test's prefix, on every node. */
export async function dropPrefix(redis: RedisClient, prefix: string): Promise<void> {
  for (const node of dataNodes(redis)) {
    const stream = node.scanStream({ match: `${prefix}:*`, count: 1000 });
    // One UNLINK per key: on a Cluster the keys of one scan page span slots.
    for await (const keys of stream as AsyncIterable<string[]>) await Promise.all(keys.map((key) => node.unlink(key)));
  }
}
