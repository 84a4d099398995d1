import type { Admin, Kafka } from 'kafkajs';
import { expect, onTestFinished } from 'vitest';
import { assignedNow, consumeReplicas, subscriptionStatus, unblock } from './consume-sidecars.ts';
import { deliveryEndpoint, expectDeliveredInOrder, waitFor } from './delivery-endpoint.ts';
import { createTopic } from './kafka.ts';
import { produceGroups, seqOf, subscriptionsFile } from './subscriptions.ts';

const values = (group: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${group}:${from + i}`);

/**
 * Groups blocked at their head (seq 0) on one replica, over two partitions; an admin retries or skips each
 * (`actions`, group -> action; groups are b0, b1, ... with bN on partition N % 2); a second replica joins
 * while the backlogs behind the heads drain (one message per delivery, a slow endpoint). From what the
 * endpoint saw: no overlap, first occurrences in order, retried groups complete, skipped heads never
 * delivered (the endpoint would acknowledge them by then).
 */
export async function unblockWhileAReplicaJoins(
  kafka: Kafka,
  admin: Admin,
  { actions, perGroup, replication }: { actions: ReadonlyArray<'retry' | 'skip'>; perGroup: number; replication: number },
): Promise<void> {
  const groups = actions.map((_, i) => `b${i}`);
  const topic = await createTopic(admin, 2, replication);
  let failing = true;
  const endpoint = await deliveryEndpoint({ latencyMs: [250, 350], answer: (b) => (failing && b.messages.some((m) => seqOf(m.value!) === 0) ? 500 : 200) });
  onTestFinished(() => endpoint.close());
  await produceGroups(kafka, topic, groups, perGroup, (g) => Number(g.slice(1)) % 2);
  const { path, name } = subscriptionsFile({ topic, endpoint: endpoint.url, max_attempts: 1, ack_timeout: '5s' });
  const start = consumeReplicas(path);
  const expected = new Map(groups.map((g, i) => [g, values(g, actions[i] === 'skip' ? 1 : 0, perGroup)]));
  const total = [...expected.values()].reduce((n, v) => n + v.length, 0);
  const distinctAcked = () => new Set([...endpoint.acked().values()].flat()).size;

  const first = await start();
  await waitFor(
    () => 'every group blocked at its head on the first replica',
    async () => (await subscriptionStatus(first)).blocked_groups.length === groups.length,
  );
  expect(endpoint.acked().size).toBe(0);
  failing = false;
  for (const [i, group] of groups.entries()) {
    const answer = await unblock(first, name, actions[i]!, i % 2, group);
    expect(answer.status, await answer.text()).toBe(200);
  }
  const second = await start();
  await waitFor(
    () => 'the second replica owns a partition',
    () => assignedNow(second).length > 0,
    90_000,
  );
  expect(distinctAcked(), 'the rebalance came while the backlogs were draining').toBeLessThan(total);
  await waitFor(
    () => `distinct acked ${distinctAcked()} of ${total}`,
    () => distinctAcked() === total,
    120_000,
  );
  expectDeliveredInOrder(endpoint, expected);
}
