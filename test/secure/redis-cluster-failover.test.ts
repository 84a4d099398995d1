import { afterAll, describe, expect, it } from 'vitest';
import { topicKeys } from '../../src/redis/keys.ts';
import { waitFor } from '../support/delivery-endpoint.ts';
import { runFaultScenario } from '../support/fault-scenario.ts';
import { useKafkaAdmin } from '../support/kafka.ts';
import { connectCluster } from '../support/redis.ts';
import { stack } from '../support/stack.ts';

/**
 * Against `stack.sh up --redis-cluster` (three masters with a replica each): the master holding a topic's
 * slot is killed while two sidecar processes take ordered sends for it, and fails over to its replica.
 * No group may end up in two partitions, and no message may be lost (the SDK retries what the sidecars
 * refuse meanwhile); first occurrences stay in send order (runFaultScenario checks all of it).
 *
 * The kill comes without waiting for replication: a route is used only once a replica acknowledged it
 * (REDIS_REPLICA_ACKS, 1 by default with a Cluster), so the promoted replica holds every mapping the stream
 * produced on. The promoted master has no replica of its own until the killed node is back, so the late
 * groups are refused (503, retried by the SDK) until then: the node is restarted once the promotion is seen.
 */
const clusterNodes = (process.env.REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean);

const { kafka, admin } = useKafkaAdmin();
let killed: number | undefined;

afterAll(async () => {
  // Leave the stack whole for the next test file: the killed node rejoins (as a replica of its successor).
  if (killed !== undefined) stack('start-redis-node', String(killed));
});

/** The stack's node number (1-based, the order of REDIS_CLUSTER_NODES) of the master serving `topic`'s keys. */
async function masterOf(topic: string): Promise<{ node: number; address: string }> {
  const redis = connectCluster();
  try {
    const slot = Number(await redis.cluster('KEYSLOT', topicKeys('x', topic).loads));
    const address = redis.slots[slot]![0]!;
    return { node: clusterNodes.indexOf(address) + 1, address };
  } finally {
    redis.disconnect();
  }
}

describe.runIf(clusterNodes.length >= 6)('a Redis Cluster master lost mid-stream', () => {
  it('splits no group and loses no message while its replica takes over', async () => {
    await runFaultScenario({
      kafka,
      admin,
      name: 'cluster master failover',
      fault: async ({ topic, startLateGroups }) => {
        const master = await masterOf(topic);
        expect(master.node, `master ${master.address} is one of ${clusterNodes.join(',')}`).toBeGreaterThan(0);
        stack('kill-redis-node', String(master.node));
        killed = master.node;
        startLateGroups();
        await waitFor(
          () => `a new master for ${topic}'s slot instead of ${master.address}`,
          async () => (await masterOf(topic)).address !== master.address,
        );
        // Over once the killed node is back as the new master's replica (every group must then go on).
        stack('start-redis-node', String(master.node));
        killed = undefined;
      },
    });
  });
});
