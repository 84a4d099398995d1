import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Connection, alterPartitionReassignmentsV0 } from '@platformatic/kafka';
import { beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { assignedNow, consumeReplicas, subscriptionStatus, unblock } from '../../support/consume-sidecars.ts';
import { unblockWhileAReplicaJoins } from '../../support/consume-scenarios.ts';
import { deliveryEndpoint, expectDeliveredInOrder, waitFor } from '../../support/delivery-endpoint.ts';
import { useKafkaAdmin, createTopic } from '../../support/kafka.ts';
import { produceGroups, subscriptionsFile } from '../../support/subscriptions.ts';

// Ordered consumption under Kafka and operator faults, on the three-broker stack. Every scenario holds batches
// with groups still queued behind them (a slow endpoint, few deliveries in flight), so a partition let go too
// early, or a batch marked read past what was delivered, shows in what the endpoint saw.

const run = promisify(execFile);
const stack = (...args: string[]) => run('bash', ['scripts/stack.sh', ...args], { timeout: 120_000 });

const { kafka, admin } = useKafkaAdmin();

beforeAll(async () => {
  expect(inject('kafkaBrokers').length, 'the failover suite needs `stack.sh up --kafka-nodes 3`').toBeGreaterThanOrEqual(3);
});

type Endpoint = Awaited<ReturnType<typeof deliveryEndpoint>>;

const groupNames = (n: number, prefix = 'g') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const values = (group: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${group}:${from + i}`);
const ackedCount = (endpoint: Endpoint) => [...endpoint.acked().values()].reduce((n, l) => n + l.length, 0);
const distinctAcked = (endpoint: Endpoint) => new Set([...endpoint.acked().values()].flat()).size;

/** Leader of each partition of `topic` (-1 while it has none); a dead broker asked meanwhile counts as "unknown". */
async function leaders(topic: string): Promise<Map<number, number> | undefined> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
  return metadata && new Map(metadata.topics[0]!.partitions.map((p) => [p.partitionId, p.leader]));
}

/** Moves every partition of `topic` to the brokers other than its current leader, through the Admin API. */
async function moveLeaders(topic: string): Promise<Map<number, number>> {
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  const brokers = (await admin.describeCluster()).brokers.map((b) => b.nodeId).sort();
  const before = new Map(metadata.topics[0]!.partitions.map((p) => [p.partitionId, p.leader]));
  const [host, port] = inject('kafkaBrokers')[0]!.split(':');
  const connection = new Connection('consume-faults-reassign');
  await connection.connect(host!, Number(port));
  try {
    const answer = await alterPartitionReassignmentsV0.api.async(connection, 30_000, false, [
      { name: topic, partitions: [...before].map(([partitionIndex, leader]) => ({ partitionIndex, replicas: brokers.filter((b) => b !== leader) })) },
    ]);
    expect(answer.errorCode).toBe(0);
    expect(answer.responses.flatMap((r) => r.partitions.map((p) => p.errorCode))).toEqual([...before].map(() => 0));
  } finally {
    await connection.close();
  }
  return before;
}

/**
 * One replica consumes 24 groups x 15 messages over three partitions (`replication` replicas each) with a slow
 * endpoint and 4 deliveries in flight, so batches are held with groups queued; `fault` runs once a sixth is
 * acknowledged, and calls `midStream` once the fault has hit (before any recovery). Then everything must
 * arrive, in order per group, without overlap.
 */
async function consumeThroughFault(replication: number, fault: (topic: string, midStream: () => void) => Promise<void>) {
  const groups = groupNames(24);
  const total = groups.length * 15;
  const topic = await createTopic(admin, 3, replication);
  const endpoint = await deliveryEndpoint({ latencyMs: [100, 250] });
  onTestFinished(() => endpoint.close());
  await produceGroups(kafka, topic, groups, 15, (g) => Number(g.slice(1)) % 3);
  const { path } = subscriptionsFile({ topic, endpoint: endpoint.url, max_in_flight_groups: 4, ack_timeout: '5s' });
  const sidecar = await consumeReplicas(path)();
  await waitFor(
    () => `acked ${ackedCount(endpoint)}`,
    () => ackedCount(endpoint) >= total / 6,
  );
  let hit = false;
  await fault(topic, () => {
    expect(distinctAcked(endpoint), 'the fault came while the stream was consumed').toBeLessThan(total);
    hit = true;
  });
  expect(hit).toBe(true);
  await waitFor(
    () => `distinct acked ${distinctAcked(endpoint)}`,
    () => distinctAcked(endpoint) === total,
    120_000,
  );
  expectDeliveredInOrder(endpoint, new Map(groups.map((g) => [g, values(g, 0, 15)])));
  return { endpoint, sidecar, total };
}

describe('ordered consumption under Kafka and operator faults (three brokers)', () => {
  it('a live partition reassignment that moves every leader while batches are held', async () => {
    const { endpoint, sidecar, total } = await consumeThroughFault(2, async (topic, midStream) => {
      const before = await moveLeaders(topic);
      await waitFor(
        () => 'every leader moved',
        async () => {
          const now = await leaders(topic);
          return now !== undefined && [...before].every(([p, leader]) => (now.get(p) ?? -1) >= 0 && now.get(p) !== leader);
        },
        90_000,
      );
      midStream();
    });
    const fenced = sidecar.logs.filter((l) => l.includes('reassigned while its batch was held')).length;
    console.log(`reassignment: ${endpoint.received.length} deliveries for ${total} messages; ${fenced} batches fenced`);
  });

  it('a broker killed and restarted while batches are held', async () => {
    await consumeThroughFault(3, async (topic, midStream) => {
      await stack('kill-broker', '2');
      try {
        await waitFor(
          () => 'every partition led by a surviving broker',
          async () => [...((await leaders(topic)) ?? new Map([[0, -1]])).values()].every((l) => l >= 0 && l !== 2),
          60_000,
        );
        midStream();
      } finally {
        await stack('start-broker', '2');
      }
    });
  });

  it('a rebalance while a long delivery runs: the new owner waits for it', async () => {
    const groups = ['long', ...groupNames(11)];
    const topic = await createTopic(admin, 2, 3);
    const LONG_MS = 8000;
    const endpoint = await deliveryEndpoint({
      latencyMs: [100, 200],
      delayMs: (b) => (b.message_group === 'long' && b.messages[0]!.value === 'long:0' ? LONG_MS : undefined),
    });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, groups, 10, (g) => (g === 'long' ? 0 : Number(g.slice(1)) % 2));
    const { path } = subscriptionsFile({ topic, endpoint: endpoint.url, max_in_flight_groups: 3, ack_timeout: '10s' });
    const start = consumeReplicas(path, ['--consume-session-timeout', '15s']);

    const a = await start();
    await waitFor(
      () => 'the long delivery started',
      () => endpoint.arrived.some((b) => b.message_group === 'long'),
    );
    const longDone = () => endpoint.received.some((r) => r.body.message_group === 'long');
    const b = await start();
    expect(longDone(), 'the second replica joined while the long delivery ran').toBe(false);
    await waitFor(
      () => 'the second replica owns a partition',
      () => assignedNow(b).length > 0,
      90_000,
    );
    expect(longDone(), 'the rebalance waited for the long delivery').toBe(true);
    await waitFor(
      () => `distinct acked ${distinctAcked(endpoint)}`,
      () => distinctAcked(endpoint) === groups.length * 10,
      120_000,
    );
    expectDeliveredInOrder(endpoint, new Map(groups.map((g) => [g, values(g, 0, 10)])));
    expect(assignedNow(a).length + assignedNow(b).length).toBe(2);
  });

  it('admin retry and skip while a replica joins: retried heads delivered first, skipped ones never', async () => {
    await unblockWhileAReplicaJoins(kafka, admin, { actions: ['retry', 'retry', 'skip', 'skip'], perGroup: 16, replication: 3 });
  });

  it('a restart with a blocked group: it stays blocked (attempts and error kept), and a skip made on another replica reaches its owner', async () => {
    const others = groupNames(8, 'o');
    const topic = await createTopic(admin, 2, 3);
    let failing = true;
    const endpoint = await deliveryEndpoint({ latencyMs: [50, 150], answer: (b) => (failing && b.messages.some((m) => m.value === 'stuck:0') ? 500 : 200) });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, ['stuck', ...others], 10, (g) => (g === 'stuck' ? 0 : Number(g.slice(1)) % 2));
    const { path, name } = subscriptionsFile({
      topic,
      endpoint: endpoint.url,
      max_attempts: 2,
      retry_backoff: '5ms',
      max_in_flight_groups: 3,
      ack_timeout: '5s',
    });
    const start = consumeReplicas(path);
    const headSent = () => endpoint.arrived.filter((b) => b.messages.some((m) => m.value === 'stuck:0')).length;

    const first = await start();
    await waitFor(
      () => 'stuck blocked after 2 attempts, the others done',
      async () => (await subscriptionStatus(first)).blocked_groups.length === 1 && distinctAcked(endpoint) === others.length * 10,
    );
    expect(headSent()).toBe(2);
    expect(await first.stop('SIGTERM')).toBe(0);

    const [b, c] = await Promise.all([start(), start()]);
    await waitFor(
      () => 'both replicas own a partition',
      () => assignedNow(b).length === 1 && assignedNow(c).length === 1,
      90_000,
    );
    const [owner, other] = assignedNow(b)[0] === 0 ? [b, c] : [c, b];
    await waitFor(
      () => 'the owner of partition 0 shows stuck blocked',
      async () => (await subscriptionStatus(owner)).blocked_groups.length === 1,
    );
    expect((await subscriptionStatus(owner)).blocked_groups).toEqual([
      { partition: 0, group: 'stuck', offsets: [expect.any(String)], attempt: 2, error: 'HTTP 500' },
    ]);
    expect(headSent(), 'the blocked head was not sent again after the restart').toBe(2);

    failing = false;
    const skip = await unblock(other, name, 'skip', 0, 'stuck');
    const skipped = await skip.text();
    expect(skip.status, skipped).toBe(200);
    expect((JSON.parse(skipped) as { head: { attempt: number } }).head.attempt).toBe(2);
    await waitFor(
      () => `stuck acked ${endpoint.acked().get('stuck')?.join(',')}`,
      () => endpoint.acked().get('stuck')?.length === 9,
    );
    expect(headSent(), 'a skipped head is never sent again').toBe(2);
    expectDeliveredInOrder(endpoint, new Map([['stuck', values('stuck', 1, 10)], ...others.map((g) => [g, values(g, 0, 10)] as const)]));
    expect((await subscriptionStatus(owner)).blocked_groups).toEqual([]);
    expect((await unblock(other, name, 'skip', 0, 'stuck')).status).toBe(409);
  });
});
