import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { Client } from '../../src/sdk/client.ts';
import { topicKeys } from '../../src/redis/keys.ts';
import { connectAdmin, consumeAll, createTopic, testKafka } from '../support/kafka.ts';
import { expectGroupsIntact, OrderedStream } from '../support/ordered-stream.ts';
import { connectRedis } from '../support/redis.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';
import { stack } from '../support/stack.ts';

/**
 * Against `stack.sh up --redis-cluster` (three masters with a replica each): the master holding a topic's
 * slot is killed while two sidecar processes take ordered sends for it, and fails over to its replica.
 * No group may end up in two partitions, and no message may be lost (the SDK retries what the sidecars
 * refuse meanwhile); first occurrences stay in send order.
 */
const clusterNodes = (process.env.REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);
const GROUPS = 24;
/** Groups that appear only after the kill: routed for the first time while their slot has no master. */
const LATE_GROUPS = 8;
const PARTITIONS = 6;

let kafka: Kafka;
let admin: Admin;
let sidecars: SidecarProcess[] = [];
let killed: number | undefined;

beforeAll(async () => {
  kafka = testKafka();
  admin = await connectAdmin(kafka);
});

afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.stop()));
  await admin?.disconnect();
  // Leave the stack whole for the next test file: the killed node rejoins (as a replica of its successor).
  if (killed !== undefined) stack('start-redis-node', String(killed));
});

/** The stack's node number (1-based, the order of REDIS_CLUSTER_NODES) of the master serving `topic`'s keys. */
async function masterOf(topic: string): Promise<{ node: number; address: string }> {
  const redis = connectRedis();
  try {
    if (!(redis instanceof Cluster)) throw new Error('this test needs a Redis Cluster (REDIS_CLUSTER_NODES)');
    const slot = Number(await redis.cluster('KEYSLOT', topicKeys('x', topic).loads));
    const address = redis.slots[slot]![0]!;
    return { node: clusterNodes.indexOf(address) + 1, address };
  } finally {
    redis.disconnect();
  }
}

describe.runIf(clusterNodes.length >= 6)('a Redis Cluster master lost mid-stream', () => {
  it('splits no group and loses no message while its replica takes over', async () => {
    const topic = await createTopic(admin, PARTITIONS);
    const options = testOptions();
    sidecars = await Promise.all([0, 1].map(() => spawnSidecar(options)));
    const stream = new OrderedStream(
      sidecars.map((s) => new Client({ url: s.url, retry: { maxElapsedMs: 60_000 } })),
      topic,
    );

    stream.start('g', GROUPS - LATE_GROUPS);
    // Let every early group be routed and written a few times before the master goes.
    await until(() => [...stream.sent.values()].filter((n) => n >= 3).length === GROUPS - LATE_GROUPS, 60_000);
    const master = await masterOf(topic);
    expect(master.node, `master ${master.address} is one of ${clusterNodes.join(',')}`).toBeGreaterThan(0);
    stack('kill-redis-node', String(master.node));
    killed = master.node;
    stream.start('late', LATE_GROUPS);
    // Keep sending through the failover, and a while after the replica took over (every group must go on).
    await until(async () => (await masterOf(topic)).address !== master.address, 60_000);
    await stream.stopAfter(3000);

    expectGroupsIntact(await consumeAll(kafka, admin, topic), stream.sent);
  });
});

async function until(done: () => boolean | Promise<boolean>, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`condition not met within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
