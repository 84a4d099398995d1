import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { waitFor } from '../support/delivery-endpoint.ts';
import { metricSum, runFaultScenario } from '../support/fault-scenario.ts';
import { useKafkaAdmin } from '../support/kafka.ts';
import { stack } from '../support/stack.ts';

/**
 * Against `stack.sh up --redis-sentinel` (a master, one replica, three sentinels): the master is killed
 * (kill -9) while two sidecar processes take ordered sends with dedup ids, and the sentinels promote the
 * replica. No group may end up in two partitions, no message may be lost (the SDK retries what the sidecars
 * refuse meanwhile), and first occurrences stay in send order (runFaultScenario checks all of it).
 *
 * The kill comes without waiting for replication: a route is used only once the replica acknowledged it
 * (REDIS_REPLICA_ACKS, 1 by default with Sentinels), so the promoted replica holds every mapping the stream
 * produced on. The promoted master has no replica until the killed node comes back, so the late groups (first
 * routed after the kill) are refused (503, retried by the SDK) until `stack.sh start-redis-replica` brings it
 * back in sync, once the promotion is seen.
 */
const sentinels = inject('redisSentinels');
const masterName = inject('redisSentinelMaster');
const { kafka, admin } = useKafkaAdmin();

const connect = (address: string): Redis => {
  const at = address.lastIndexOf(':');
  return new Redis({ host: address.slice(0, at), port: Number(address.slice(at + 1)), lazyConnect: true, maxRetriesPerRequest: 1 });
};

/** Asks each sentinel in turn (one may be unreachable) which address serves `masterName` now. */
async function currentMaster(): Promise<string> {
  for (const address of sentinels) {
    const sentinel = connect(address);
    try {
      const [host, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', masterName)) as [string, string];
      return `${host}:${port}`;
    } catch {
      // Try the next sentinel.
    } finally {
      sentinel.disconnect();
    }
  }
  throw new Error(`no sentinel of ${sentinels.join(',')} answers`);
}

/** The replica the sentinels list for `masterName` now. */
async function currentReplica(): Promise<string> {
  const sentinel = connect(sentinels[0]!);
  try {
    const replicas = (await sentinel.call('SENTINEL', 'replicas', masterName)) as string[][];
    const fields = new Map<string, string>();
    const first = replicas[0] ?? [];
    for (let i = 0; i < first.length; i += 2) fields.set(first[i]!, first[i + 1]!);
    return `${fields.get('ip')}:${fields.get('port')}`;
  } finally {
    sentinel.disconnect();
  }
}

describe.runIf(sentinels.length > 0)('a Sentinel-managed Redis master lost mid-stream', () => {
  it('splits no group and loses no message while the sentinels promote the replica', async () => {
    await runFaultScenario({
      kafka,
      admin,
      name: 'sentinel failover',
      fault: async ({ startLateGroups }) => {
        const master = await currentMaster();
        stack('kill-redis-master');
        startLateGroups();
        await waitFor(
          () => `a new master instead of ${master}`,
          async () => (await currentMaster().catch(() => master)) !== master,
        );
        // Over once the killed node is back, a replica in sync with the new master (every group must then go on).
        stack('start-redis-replica');
      },
    });
  });
});

/**
 * The same failover, to a replica that missed the topic's whole routing state: its link to the master is cut
 * before the topic's first message (a wrong masterauth, then its master connection killed), and the sidecars do
 * not wait for replicas (REDIS_REPLICA_ACKS=0, an operator's choice), so everything the stream maps reaches the
 * master only. The promoted replica has no epoch for the topic: the sidecars see the loss, rebuild the topic from
 * the route log, and no group may be split.
 */
describe.runIf(sentinels.length > 0)('a Sentinel failover to a replica that missed the last mappings', () => {
  it('rebuilds the topic from the route log: no group split, no message lost', async () => {
    let replica: Redis | undefined;
    try {
      const outcome = await runFaultScenario({
        kafka,
        admin,
        name: 'sentinel failover to a stale replica',
        sidecarFlags: ['--redis-replica-acks', '0'],
        beforeStream: async () => {
          replica = connect(await currentReplica());
          await replica.config('SET', 'masterauth', 'not-the-password');
          await replica.client('KILL', 'TYPE', 'master');
          await waitFor(
            () => 'the replica cut off from its master',
            async () => /master_link_status:down/.test(await replica!.info('replication')),
          );
        },
        fault: async ({ startLateGroups }) => {
          const master = await currentMaster();
          stack('kill-redis-master');
          startLateGroups();
          await waitFor(
            () => `a new master instead of ${master}`,
            async () => (await currentMaster().catch(() => master)) !== master,
          );
          await replica!.config('SET', 'masterauth', '');
          stack('start-redis-replica');
        },
      });
      // The promoted replica had nothing of the topic: the loss was seen and the routes came from the log.
      expect(metricSum(outcome.metrics, 'ordered_sidecar_routing_state_losses_total')).toBeGreaterThan(0);
      expect(metricSum(outcome.metrics, 'ordered_sidecar_routes_restored_total')).toBeGreaterThan(0);
    } finally {
      // Whatever happened, the node must be able to follow a master again (the next run's replica).
      await replica?.config('SET', 'masterauth', '').catch(() => undefined);
      replica?.disconnect();
    }
  });
});
