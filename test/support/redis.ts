import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { RouterStore } from '../../src/redis/router-store.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';

/** A fresh connection; the caller quits it (use `afterEach`/`onTestFinished`). */
export const connectRedis = (): Redis => new Redis(inject('redisUrl'), { lazyConnect: false });

/** A store under a unique prefix so tests never see each other's keys; removes its keys on `drop`. */
export function isolatedStore(redis: Redis): { store: RouterStore; prefix: string; drop: () => Promise<void> } {
  const prefix = `ost-${randomUUID().slice(0, 8)}`;
  return {
    store: new RouterStore(new RedisGateway(redis), prefix),
    prefix,
    drop: async () => {
      const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
      for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
    },
  };
}
