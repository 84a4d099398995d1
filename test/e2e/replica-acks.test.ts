import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import type { SidecarOptions } from '../../src/config/options.ts';
import { RedisGateway } from '../../src/redis/redis-gateway.ts';
import { ReplicatedWrites } from '../../src/redis/replica-acks.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { useKafkaAdmin, createTopic, recordCount } from '../support/kafka.ts';
import { OwnRedis } from '../support/own-redis.ts';
import { freePort } from '../support/ports.ts';
import { startTestSidecar } from '../support/sidecar.ts';

/**
 * REDIS_REPLICA_ACKS against a private master + replica pair of real redis-server processes. A frozen
 * replica (SIGSTOP) acknowledges nothing, so the replication window that a failover turns into a split is
 * held open at will: with acks the sidecar refuses to produce on a route only the master holds, without
 * them it produces while the replica is behind.
 */

const ACK_TIMEOUT_MS = 300;

const { admin } = useKafkaAdmin();
let master: OwnRedis;
let replica: OwnRedis;
let probe: Redis;
const sidecars: RunningSidecar[] = [];

/** Master's INFO replication as key -> value (slave0 is "ip=...,port=...,state=...,offset=...,lag=..."). */
async function replication(): Promise<Map<string, string>> {
  const info = await probe.info('replication');
  return new Map(info.split('\r\n').flatMap((line) => (line.includes(':') ? [line.split(':', 2) as [string, string]] : [])));
}

const replicaOffset = (info: Map<string, string>): number => Number(/offset=(\d+)/.exec(info.get('slave0') ?? '')?.[1] ?? -1);

async function replicaInSync(): Promise<boolean> {
  const info = await replication();
  return (info.get('slave0') ?? '').includes('state=online') && replicaOffset(info) === Number(info.get('master_repl_offset'));
}

async function sidecar(overrides: Partial<SidecarOptions>): Promise<RunningSidecar> {
  const s = await startTestSidecar({ redisUrl: master.url, redisReplicaAckTimeoutMs: ACK_TIMEOUT_MS, ...overrides });
  sidecars.push(s);
  return s;
}

const produce = (s: RunningSidecar, topic: string, group: string, value: string): Promise<Response> =>
  fetch(`${s.url}/v1/ordered-produce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic, messages: [{ message_group: group, value }] }),
  });

async function metric(s: RunningSidecar, name: string): Promise<number> {
  const line = (await (await fetch(`${s.url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.slice(name.length + 1) ?? 0);
}

async function expectRefused(response: Response): Promise<void> {
  const body = (await response.json()) as { error: { code: string; retriable: boolean } };
  expect({ status: response.status, code: body.error.code, retriable: body.error.retriable }).toEqual({
    status: 503,
    code: 'ROUTING_UNAVAILABLE',
    retriable: true,
  });
  expect(response.headers.get('retry-after')).toBe('1');
}

beforeAll(async () => {
  master = new OwnRedis(await freePort());
  await master.start();
  replica = new OwnRedis(await freePort(), { replicaOf: master.port });
  await replica.start();
  probe = new Redis(master.url);
  await vi.waitUntil(replicaInSync, { timeout: 30_000, interval: 50 });
});

afterAll(async () => {
  replica?.thaw();
  await Promise.all(sidecars.map((s) => s.close()));
  probe?.disconnect();
  await replica?.destroy();
  await master?.destroy();
});

beforeEach(async () => {
  // Each test freezes the replica itself, from a replica that holds everything.
  replica.thaw();
  await vi.waitUntil(replicaInSync, { timeout: 30_000, interval: 50 });
});

describe('REDIS_REPLICA_ACKS: a route is produced on only once replicas hold it', () => {
  it('acks=1 and a frozen replica: a new group gets 503 and nothing is written; after the thaw the retry succeeds', async () => {
    const strict = await sidecar({ redisReplicaAcks: 1 });
    const topic = await createTopic(admin, 3);
    const before = await metric(strict, 'ordered_sidecar_route_replica_ack_timeouts_total');

    replica.freeze();
    await expectRefused(await produce(strict, topic, 'new-group', 'v1'));
    expect(await recordCount(admin, topic)).toBe(0);
    expect(await metric(strict, 'ordered_sidecar_route_replica_ack_timeouts_total')).toBeGreaterThan(before);

    replica.thaw();
    let status = 0;
    await vi.waitUntil(async () => (status = (await produce(strict, topic, 'new-group', 'v1')).status) !== 503, { timeout: 30_000, interval: 100 });
    expect(status).toBe(200);
    expect(await recordCount(admin, topic)).toBe(1);
  });

  it('acks=0 and a frozen replica: 200 while the replica has not got the mapping (the window the option closes)', async () => {
    const loose = await sidecar({ redisReplicaAcks: 0 });
    const topic = await createTopic(admin, 3);
    replica.freeze();
    const response = await produce(loose, topic, 'unreplicated', 'v1');
    expect(response.status).toBe(200);
    expect(await recordCount(admin, topic)).toBe(1);
    // The mapping is on the master only: the replica's acknowledged offset is behind the master's.
    const info = await replication();
    expect(replicaOffset(info)).toBeLessThan(Number(info.get('master_repl_offset')));
  });

  it('a mapping another sidecar created that has not reached the replica is refused to a sidecar that reads it (cache miss)', async () => {
    const creator = await sidecar({ redisReplicaAcks: 0 });
    const reader = await sidecar({ redisReplicaAcks: 1 });
    const topic = await createTopic(admin, 3);
    replica.freeze();
    expect((await produce(creator, topic, 'shared', 'v1')).status).toBe(200);
    // The reader's connection wrote nothing yet: without route-3 rewriting the existing mapping, its WAIT
    // would answer at once and it would produce on a route the replica does not hold.
    await expectRefused(await produce(reader, topic, 'shared', 'v2'));
    expect(await recordCount(admin, topic)).toBe(1);
  });

  it('a group created on one acks=1 sidecar while the replica is frozen is refused there and on a second one', async () => {
    const a = await sidecar({ redisReplicaAcks: 1 });
    const b = await sidecar({ redisReplicaAcks: 1 });
    const topic = await createTopic(admin, 3);
    replica.freeze();
    await expectRefused(await produce(a, topic, 'both', 'v1'));
    await expectRefused(await produce(b, topic, 'both', 'v1'));
    expect(await recordCount(admin, topic)).toBe(0);
    replica.thaw();
    await vi.waitUntil(async () => (await produce(b, topic, 'both', 'v1')).status === 200, { timeout: 30_000, interval: 100 });
    expect(await recordCount(admin, topic)).toBe(1);
  });

  it('acks=1: the touch that confirms cached routes waits for the replicas too', async () => {
    const strict = await sidecar({ redisReplicaAcks: 1, touchFlushIntervalMs: 100 });
    const topic = await createTopic(admin, 3);
    const waits = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(await probe.info('commandstats'))?.[1] ?? 0);
    expect((await produce(strict, topic, 'cached', 'v1')).status).toBe(200);
    const before = await waits();
    // Served from the cache; its use goes to Redis with the next touch flush, and that write is waited for.
    expect((await produce(strict, topic, 'cached', 'v2')).status).toBe(200);
    await vi.waitUntil(async () => (await waits()) > before, { timeout: 10_000, interval: 50 });
  });

  it('concurrent route writes share WAITs: far fewer WAITs than writes, every write acknowledged', async () => {
    const client = new Redis(master.url);
    const writes = new ReplicatedWrites(new RedisGateway(client), { replicas: 1, timeoutMs: ACK_TIMEOUT_MS });
    const waits = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(await probe.info('commandstats'))?.[1] ?? 0);
    try {
      const before = await waits();
      const keys = Array.from({ length: 200 }, (_, i) => `replica-acks-test:{t}:k${i}`);
      await Promise.all(keys.map((key) => writes.write(key, (redis) => redis.set(key, 'v'))));
      const sent = (await waits()) - before;
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(keys.length / 10);
    } finally {
      client.disconnect();
    }
  });
});
