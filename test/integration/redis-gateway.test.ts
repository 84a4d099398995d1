import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { StoreBusyError, StoreRefusedError, StoreUnreachableError } from '../../src/errors/store-errors.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';
import { SCRIPTS } from '../../src/redis/scripts.ts';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';

// A private redis-server: these tests make it sleep, which must never happen to the shared one.
let server: OwnRedis;
let redis: Redis;

beforeAll(async () => {
  server = new OwnRedis(await freePort());
  await server.start();
  redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  await redis.connect();
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => expect.unreachable('resolved'),
    (err: unknown) => err,
  );

describe('RedisGateway decides what a failure means', () => {
  it('lets a programming error through unchanged: it is no outage', async () => {
    const gateway = new RedisGateway(redis);
    const bug = new TypeError('cannot read properties of undefined');
    expect(await rejection(gateway.run(() => Promise.reject(bug)))).toBe(bug);
    // A TypeError thrown after a real command answered (JSON cannot serialise a BigInt).
    expect(await rejection(gateway.run(() => redis.get('k').then(() => JSON.stringify(1n))))).toBeInstanceOf(TypeError);
  });

  it('reports an error reply as refused, not unreachable', async () => {
    const err = await rejection(new RedisGateway(redis).run(() => redis.call('NO-SUCH-COMMAND')));
    expect(err).toBeInstanceOf(StoreRefusedError);
  });

  it('reports an error reply whose code says "retry shortly" as busy, any other as refused', async () => {
    const gateway = new RedisGateway(redis);
    // Real replies of a real Redis, with the codes a moving slot, a failover or a loading node answer.
    const reply = (text: string) => rejection(gateway.run(() => redis.eval(`return redis.error_reply('${text}')`, 0)));
    for (const code of ['TRYAGAIN', 'ASK 1 127.0.0.1:1', 'MOVED 1 127.0.0.1:1', 'CLUSTERDOWN', 'LOADING', 'READONLY', 'MASTERDOWN', 'BUSY']) {
      expect(await reply(`${code} reason`), code).toBeInstanceOf(StoreBusyError);
    }
    // A code word only counts as the first word of the reply.
    for (const text of ['ERR TRYAGAIN later', 'WRONGTYPE Operation against a key', 'OOM command not allowed', 'TRYAGAINX']) {
      expect(await reply(text), text).toBeInstanceOf(StoreRefusedError);
    }
  });

  it('counts an unanswered command as unreachable, and three in a row as an outage', async () => {
    const gateway = new RedisGateway(redis, { commandTimeoutMs: 100 });
    const outages: boolean[] = [];
    server.freeze();
    try {
      for (let i = 0; i < 3; i++) {
        const err = await rejection(gateway.run(() => redis.get('k')));
        expect(err).toBeInstanceOf(StoreUnreachableError);
        outages.push((err as StoreUnreachableError).outage);
      }
    } finally {
      server.thaw();
    }
    expect(outages).toEqual([false, false, true]);
    // An answer resets the count: the next unanswered command is one slow command again, not an outage.
    await expect(new RedisGateway(redis, { commandTimeoutMs: 5000 }).run(() => redis.ping())).resolves.toBe('PONG');
    await expect(gateway.run(() => redis.ping())).resolves.toBe('PONG');
    server.freeze();
    try {
      expect(await rejection(gateway.run(() => redis.get('k')))).toMatchObject({ outage: false });
    } finally {
      server.thaw();
    }
  });

  it('reports a connection that is gone as an outage at once', async () => {
    const closed = new Redis(`redis://127.0.0.1:${await freePort()}`, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    closed.on('error', () => undefined);
    try {
      const err = await rejection(new RedisGateway(closed).run(() => closed.get('k')));
      expect(err).toBeInstanceOf(StoreUnreachableError);
      expect((err as StoreUnreachableError).outage).toBe(true);
    } finally {
      closed.disconnect();
    }
  });
});

describe('the script registry', () => {
  it('registers every Lua script of src/redis/lua exactly once, and each runs on the connection', async () => {
    const files = readdirSync(new URL('../../src/redis/lua/', import.meta.url))
      .filter((f) => f.endsWith('.lua'))
      .sort();
    expect(
      Object.values(SCRIPTS)
        .map((s) => s.file)
        .sort(),
    ).toEqual(files);
    new RedisGateway(redis);
    // A typed call, with no cast: the touch of a group nobody mapped, in a topic of that epoch, reports it unmapped.
    await redis.hset('registry-test:meta', 'epoch', 'e1');
    try {
      expect(await redis.osTouch(2, 'registry-test:meta', 'registry-test:m:0', 'e1', 'nobody', 0)).toEqual([0]);
    } finally {
      await redis.del('registry-test:meta');
    }
  });
});
