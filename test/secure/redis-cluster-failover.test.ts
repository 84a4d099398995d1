import { execFileSync } from 'node:child_process';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { Client } from '../../src/sdk/client.ts';
import { GROUP_HEADER } from '../../src/produce/group-header.ts';
import { topicKeys } from '../../src/redis/keys.ts';
import { connectAdmin, consumeAll, createTopic, testKafka } from '../support/kafka.ts';
import { connectRedis } from '../support/redis.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';

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

const stack = (...args: string[]): string =>
  execFileSync('bash', ['scripts/stack.sh', ...args], { env: process.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

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
    const clients = sidecars.map((s) => new Client({ url: s.url, retry: { maxElapsedMs: 60_000 } }));
    const sent = new Map<string, number>();
    let stopAt = Infinity;
    let round = 0;

    /** One group's sends, one at a time, alternating sidecars: each waits for the previous one's outcome. */
    const sendGroup = async (group: string, first: number): Promise<void> => {
      for (let seq = first; Date.now() < stopAt; seq++) {
        const client = clients[(seq + round++) % clients.length]!;
        await client.orderedProducer().sendSingleOrderedMessage(topic, group, null, `${group}#${seq}`);
        sent.set(group, seq + 1);
      }
    };

    const early = Array.from({ length: GROUPS - LATE_GROUPS }, (_, g) => sendGroup(`g-${g}`, 0));
    // Let every early group be routed and written a few times before the master goes.
    await until(() => [...sent.values()].filter((n) => n >= 3).length === GROUPS - LATE_GROUPS, 60_000);
    const master = await masterOf(topic);
    expect(master.node, `master ${master.address} is one of ${clusterNodes.join(',')}`).toBeGreaterThan(0);
    stack('kill-redis-node', String(master.node));
    killed = master.node;
    const late = Array.from({ length: LATE_GROUPS }, (_, g) => sendGroup(`late-${g}`, 0));
    // Keep sending through the failover, and a while after the replica took over.
    await until(async () => (await masterOf(topic)).address !== master.address, 60_000);
    const sentBeforeTakeover = new Map(sent);
    stopAt = Date.now() + 3000;
    await Promise.all([...early, ...late]);
    await Promise.all(clients.map((c) => c.close()));
    // The stream did go on across the failover: every group has messages sent after the new master took over.
    for (const [group, count] of sent) expect(count, group).toBeGreaterThan(sentBeforeTakeover.get(group) ?? 0);

    const records = await consumeAll(kafka, admin, topic);
    const byGroup = new Map<string, { partition: number; offset: bigint; seq: number }[]>();
    for (const r of records) {
      const group = r.headers[GROUP_HEADER]!;
      byGroup.set(group, [...(byGroup.get(group) ?? []), { partition: r.partition, offset: BigInt(r.offset), seq: Number(r.value!.split('#')[1]) }]);
    }
    expect(byGroup.size).toBe(GROUPS);
    for (const [group, count] of sent) {
      const stored = byGroup.get(group)!;
      expect(new Set(stored.map((r) => r.partition)).size, `${group} is in one partition`).toBe(1);
      const firsts = [...new Set(stored.sort((a, b) => (a.offset < b.offset ? -1 : 1)).map((r) => r.seq))];
      expect(firsts, `${group}: every message, first occurrences in send order`).toEqual(Array.from({ length: count }, (_, i) => i));
    }
  });
});

async function until(done: () => boolean | Promise<boolean>, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`condition not met within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
