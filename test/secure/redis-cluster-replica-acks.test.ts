import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { topicKeys } from '../../src/redis/keys.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { useKafkaAdmin, createTopic, recordCount } from '../support/kafka.ts';
import { connectCluster } from '../support/redis.ts';
import { startTestSidecar } from '../support/sidecar.ts';

/**
 * Against `stack.sh up --redis-cluster` (three masters with a replica each): REDIS_REPLICA_ACKS defaults to
 * 1 on a Cluster, and its WAIT must reach the master that holds the topic's slot. Freezing (SIGSTOP) the
 * replica of that master refuses a new group; freezing the replica of another shard does not.
 */
const clusterNodes = (process.env.REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);

interface ClusterNode {
  id: string;
  address: string;
  /** The master's id for a replica; undefined for a master. */
  masterId: string | undefined;
}

let cluster: Cluster;
let sidecar: RunningSidecar;
const frozen: number[] = [];

async function clusterNodesList(): Promise<ClusterNode[]> {
  const text = String(await cluster.cluster('NODES'));
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, master] = line.split(' ') as [string, string, string, string];
      return { id, address: address.split('@')[0]!, masterId: flags.includes('slave') ? master : undefined };
    });
}

/** One master's replica is online and has acknowledged everything the master wrote. */
async function replicaInSync(master: Redis): Promise<boolean> {
  const info = await master.info('replication');
  const slave = /slave0:.*state=online,offset=(\d+)/.exec(info);
  const offset = /master_repl_offset:(\d+)/.exec(info);
  return slave !== null && offset !== null && slave[1] === offset[1];
}

/** SIGSTOP to the redis-server at `address` (its pid from INFO server): it keeps its sockets, answers and acknowledges nothing. */
async function freeze(address: string): Promise<void> {
  const [host, port] = address.split(':') as [string, string];
  const node = new Redis({ host, port: Number(port), lazyConnect: true });
  try {
    await node.connect();
    const pid = Number(/process_id:(\d+)/.exec(await node.info('server'))?.[1]);
    process.kill(pid, 'SIGSTOP');
    frozen.push(pid);
  } finally {
    node.disconnect();
  }
}

function thawAll(): void {
  for (const pid of frozen.splice(0)) process.kill(pid, 'SIGCONT');
}

/** The replica of the master serving `topic`'s keys, and a replica of another shard. */
async function replicasFor(topic: string): Promise<{ own: ClusterNode; other: ClusterNode }> {
  const slot = Number(await cluster.cluster('KEYSLOT', topicKeys('x', topic).loads));
  const masterAddress = cluster.slots[slot]![0]!;
  const nodes = await clusterNodesList();
  const master = nodes.find((n) => n.address === masterAddress && n.masterId === undefined)!;
  const own = nodes.find((n) => n.masterId === master.id);
  const other = nodes.find((n) => n.masterId !== undefined && n.masterId !== master.id);
  if (!own || !other) throw new Error(`no replica for ${masterAddress} or another shard in:\n${JSON.stringify(nodes)}`);
  return { own, other };
}

const produce = (topic: string, group: string): Promise<Response> =>
  fetch(`${sidecar.url}/v1/ordered-produce`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ topic, messages: [{ message_group: group, value: 'v' }] }),
  });

describe.runIf(clusterNodes.length >= 6)('REDIS_REPLICA_ACKS on a Redis Cluster', () => {
  const { admin } = useKafkaAdmin();

  beforeAll(async () => {
    cluster = connectCluster();
    sidecar = await startTestSidecar({ redisReplicaAckTimeoutMs: 300 });
  });

  afterEach(async () => {
    thawAll();
    // Leave every shard in sync for the next test (and file).
    await vi.waitUntil(async () => (await Promise.all(cluster.nodes('master').map(replicaInSync))).every(Boolean), { timeout: 60_000, interval: 100 });
  });

  afterAll(async () => {
    await sidecar?.close();
    cluster?.disconnect();
  });

  it("waits for the replica of the slot's own master: frozen, a new group gets 503 and nothing is written", async () => {
    const topic = await createTopic(admin, 3);
    const { own } = await replicasFor(topic);
    await freeze(own.address);
    const response = await produce(topic, 'g-own');
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('ROUTING_UNAVAILABLE');
    expect(await recordCount(admin, topic)).toBe(0);
    thawAll();
    await vi.waitUntil(async () => (await produce(topic, 'g-own')).status === 200, { timeout: 30_000, interval: 100 });
    expect(await recordCount(admin, topic)).toBe(1);
  });

  it('does not wait for the replica of another shard: frozen, a new group is written', async () => {
    const topic = await createTopic(admin, 3);
    const { other } = await replicasFor(topic);
    await freeze(other.address);
    const response = await produce(topic, 'g-other');
    expect(response.status).toBe(200);
    expect(await recordCount(admin, topic)).toBe(1);
  });
});
