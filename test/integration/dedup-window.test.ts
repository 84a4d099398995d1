import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreUnreachableError } from '../../src/errors/store-errors.ts';
import type { RedisClient } from '../../src/redis/redis-connection.ts';
import { DedupWindow } from '../../src/dedup/dedup-window.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { RedisDedupStore } from '../../src/redis/dedup-store.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';
import { connectRedis, dataNodes, isolatedStore } from '../support/redis.ts';

const log = createLogger('error');
let redis: RedisClient;
let prefix: string;
let drop: () => Promise<void>;
const windows: DedupWindow[] = [];

beforeEach(() => {
  redis = connectRedis();
  ({ prefix, drop } = isolatedStore(redis));
});
afterEach(async () => {
  for (const w of windows.splice(0)) w.stop();
  await drop();
  await redis.quit();
});

const LEASE_MS = 300;

/** A sidecar's dedup window: its own owner token, a 300 ms lease, giving up after `maxWaitMs`. */
function sidecarWindow(maxWaitMs = 2000): DedupWindow {
  const w = new DedupWindow(new RedisDedupStore(new RedisGateway(redis), prefix, 60_000), { leaseMs: LEASE_MS, pollMs: 20, maxWaitMs }, log);
  windows.push(w);
  return w;
}

/** Lease deadline (Redis's clock, ms) of a pending claim of `id`, from whichever slice holds it; undefined if none. */
async function leaseDeadline(id: string): Promise<number | undefined> {
  for (const node of dataNodes(redis)) {
    for await (const slices of node.scanStream({ match: `${prefix}:*:dd:*`, count: 1000 }) as AsyncIterable<string[]>) {
      for (const slice of slices) {
        const deadline = /^p:(\d+):/.exec((await node.hget(slice, id)) ?? '')?.[1];
        if (deadline !== undefined) return Number(deadline);
      }
    }
  }
  return undefined;
}

/** Redis's clock, which judges leases, in ms. */
async function redisNow(): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** Polls (10 s at most) until `condition` holds. */
const until = (condition: () => Promise<boolean>) => vi.waitUntil(condition, { timeout: 10_000, interval: 20 });

describe('DedupWindow against real Redis', () => {
  it('reports a settled id as already written, with its position', async () => {
    const a = sidecarWindow();
    expect(await a.acquire('t', ['m1'])).toEqual(new Map([['m1', 'claimed']]));
    await a.settle('t', [{ id: 'm1', partition: 2, offset: '41' }]);
    expect(await sidecarWindow().acquire('t', ['m1'])).toEqual(new Map([['m1', { partition: 2, offset: '41' }]]));
  });

  it('keeps a claim whose sidecar is alive, however long its write takes (renewed leases)', async () => {
    const writer = sidecarWindow();
    writer.start();
    await writer.acquire('t', ['slow']);
    const first = (await leaseDeadline('slow'))!;
    // Renewed until it ends two leases after the first one would have: only renewals can get it there.
    await until(async () => ((await leaseDeadline('slow')) ?? 0) > first + 2 * LEASE_MS);
    await expect(sidecarWindow(300).acquire('t', ['slow'])).rejects.toMatchObject({
      code: 'DUPLICATE_IN_FLIGHT',
      retriable: true,
      retryAfterSeconds: 1,
      summarized: true,
    });
    await writer.settle('t', [{ id: 'slow', partition: 0, offset: '7' }]);
    expect(await sidecarWindow().acquire('t', ['slow'])).toEqual(new Map([['slow', { partition: 0, offset: '7' }]]));
  });

  it('lets another sidecar take over a claim once its owner stopped renewing (died)', async () => {
    const dead = sidecarWindow();
    await dead.acquire('t', ['orphan']); // never started: no renewals, as after a crash
    expect(await sidecarWindow().acquire('t', ['orphan'])).toEqual(new Map([['orphan', 'claimed']]));
  });

  it('makes a retry on the same sidecar wait for its own attempt instead of racing it', async () => {
    const w = sidecarWindow();
    await w.acquire('t', ['own']);
    const retry = w.acquire('t', ['own']);
    const deadline = (await leaseDeadline('own'))!;
    await until(async () => (await redisNow()) > deadline); // past the lease: a retry must still not claim it
    await w.settle('t', [{ id: 'own', partition: 1, offset: '3' }]);
    expect(await retry).toEqual(new Map([['own', { partition: 1, offset: '3' }]]));
  });

  it('waits for a pending id, then claims it when the earlier attempt released it (write failed)', async () => {
    const first = sidecarWindow();
    first.start();
    await first.acquire('t', ['x']);
    const retry = sidecarWindow().acquire('t', ['x', 'y']);
    // The retry has made its first claim round (y is claimed) and found x pending.
    await until(async () => (await leaseDeadline('y')) !== undefined);
    await first.release('t', ['x']);
    expect(await retry).toEqual(
      new Map([
        ['y', 'claimed'],
        ['x', 'claimed'],
      ]),
    );
  });

  it('releases what it claimed when it gives up, so nothing stays pending', async () => {
    const holder = sidecarWindow();
    holder.start();
    await holder.acquire('t', ['held']);
    const impatient = sidecarWindow(200);
    await expect(impatient.acquire('t', ['free', 'held'])).rejects.toMatchObject({ code: 'DUPLICATE_IN_FLIGHT' });
    expect(await sidecarWindow().acquire('t', ['free'])).toEqual(new Map([['free', 'claimed']]));
  });

  it('stops waiting for an earlier attempt when the client went away, and releases what it claimed', async () => {
    const holder = sidecarWindow();
    holder.start();
    await holder.acquire('t', ['busy']);
    const gone = new AbortController();
    const started = Date.now();
    const retry = sidecarWindow(10_000).acquire('t', ['mine', 'busy'], gone.signal);
    await until(async () => (await leaseDeadline('mine')) !== undefined);
    gone.abort();
    await expect(retry).rejects.toMatchObject({ code: 'DUPLICATE_IN_FLIGHT', message: expect.stringContaining('client went away') });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await sidecarWindow().acquire('t', ['mine'])).toEqual(new Map([['mine', 'claimed']]));
  });

  it('claims as usual for a client gone before any wait: only waiting looks at it', async () => {
    const gone = new AbortController();
    gone.abort();
    expect(await sidecarWindow().acquire('t', ['early'], gone.signal)).toEqual(new Map([['early', 'claimed']]));
  });
});

describe('DedupWindow when Redis stops answering', () => {
  // A private redis-server: these tests freeze it, which must never happen to the shared one.
  let server: OwnRedis;
  let client: Redis;
  beforeAll(async () => {
    server = new OwnRedis(await freePort());
    await server.start();
    client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterEach(() => server.thaw());
  afterAll(async () => {
    client?.disconnect();
    await server?.destroy();
  });

  /** A window on the private Redis whose commands time out after 200 ms (REDIS_COMMAND_TIMEOUT). */
  const frozenWindow = (): DedupWindow =>
    new DedupWindow(
      new RedisDedupStore(new RedisGateway(client, { commandTimeoutMs: 200 }), 'frozen', 60_000),
      { leaseMs: 60_000, pollMs: 20, maxWaitMs: 10_000 },
      log,
    );

  it('answers DUPLICATE_IN_FLIGHT, not "unreachable" (a write without the check), once it saw an earlier attempt in flight', async () => {
    await frozenWindow().acquire('t', ['order-1']); // another sidecar's attempt, still being written
    const retry = frozenWindow().acquire('t', ['order-1']);
    const outcome = retry.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    await new Promise((resolve) => setTimeout(resolve, 100)); // it polls the pending id
    server.freeze();
    const err = await outcome;
    expect(err).toMatchObject({ code: 'DUPLICATE_IN_FLIGHT', retriable: true, retryAfterSeconds: 1 });
    expect((err as Error).cause).toBeInstanceOf(StoreUnreachableError);
  });

  it('still reports Redis unreachable when it saw nothing pending (the caller may write without the check)', async () => {
    server.freeze();
    await expect(frozenWindow().acquire('t', ['order-2'])).rejects.toBeInstanceOf(StoreUnreachableError);
  });
});

describe('DedupStore slices under clock skew', () => {
  it('finds an outcome recorded by a replica whose clock runs a slice ahead', async () => {
    const store = new RedisDedupStore(new RedisGateway(redis), prefix, 60_000); // 12 s slices
    const { sliceKey } = await store.claim('t', ['skewed'], 'fast-replica', 1000, Date.now() + 12_000);
    await store.settle('t', [{ id: 'skewed', partition: 1, offset: '9', sliceKey }]);
    const { states } = await store.claim('t', ['skewed'], 'slow-replica', 1000, Date.now());
    expect(states[0]).toEqual({ kind: 'done', partition: 1, offset: '9' });
  });

  it("finds an outcome to the end of the window when the reading replica's clock runs ahead of the writer's", async () => {
    const store = new RedisDedupStore(new RedisGateway(redis), prefix, 60_000); // 12 s slices
    const writerNow = (Math.floor(Date.now() / 12_000) + 1) * 12_000 - 1; // the last ms of a slice
    const { sliceKey } = await store.claim('t', ['late'], 'writer', 1000, writerNow);
    await store.settle('t', [{ id: 'late', partition: 0, offset: '5', sliceKey }], writerNow);
    // 10 ms before the window ends, asked through a replica whose clock runs 20 ms ahead.
    const { states } = await store.claim('t', ['late'], 'reader', 1000, writerNow + 60_000 - 10 + 20);
    expect(states[0]).toEqual({ kind: 'done', partition: 0, offset: '5' });
    // The slice outlives the last claim that may read it: the window and three slices from its last write.
    expect(await redis.ttl(sliceKey)).toBeGreaterThan(60 + 2 * 12);
  });
});
