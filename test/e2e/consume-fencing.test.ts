import { describe, expect, it, onTestFinished } from 'vitest';
import type { SubscriptionStatus } from '../../src/consume/subscription-status.ts';
import { deliveryEndpoint, expectDeliveredInOrder, waitFor } from '../support/delivery-endpoint.ts';
import { createTopic, testKafka } from '../support/kafka.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';
import { fileAdmin, produceGroups, seqOf, subscriptionsFile } from '../support/subscriptions.ts';

const adminClient = fileAdmin();
const kafka = testKafka();

/** Sidecar processes of one subscription file (one consumer group), killed when the test ends. */
function replicas(path: string) {
  const options = testOptions();
  const started: SidecarProcess[] = [];
  onTestFinished(async () => {
    await Promise.all(started.map((s) => s.stop('SIGKILL')));
  });
  return async () => {
    const sidecar = await spawnSidecar(options, {
      flags: ['--subscriptions-file', path, '--consume-session-timeout', '6s', '--consume-commit-interval', '200ms'],
    });
    started.push(sidecar);
    return sidecar;
  };
}

const statusOf = async (sidecar: SidecarProcess): Promise<SubscriptionStatus> =>
  ((await (await fetch(`${sidecar.url}/v1/subscriptions`)).json()) as { subscriptions: SubscriptionStatus[] }).subscriptions[0]!;

const assignedNow = (sidecar: SidecarProcess): number[] =>
  sidecar.logs
    .filter((l) => l.includes('"subscription assigned partitions"'))
    .map((l) => (JSON.parse(l) as { partitions: number[] }).partitions)
    .at(-1) ?? [];

describe('ordered consumption fenced to the assignment', () => {
  it('an admin skip while a replica joins: the skipped message is never delivered, backlogs never overlap or repeat ahead', async () => {
    const PER_GROUP = 24;
    const groups = ['b0', 'b1', 'b2', 'b3'];
    const topic = await createTopic(adminClient(), 2);
    let failing = true;
    // One message per delivery and a slow endpoint, so the backlogs are still draining when the rebalance comes.
    const endpoint = await deliveryEndpoint({ latencyMs: [250, 350], answer: (b) => (failing && b.messages.some((m) => seqOf(m.value!) === 0) ? 500 : 200) });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, groups, PER_GROUP, (g) => Number(g.slice(1)) % 2);
    const { path, name } = subscriptionsFile({ topic, endpoint: endpoint.url, max_attempts: 1, ack_timeout: '5s' });
    const start = replicas(path);

    const a = await start();
    await waitFor(
      () => 'every group blocked at its head on the first replica',
      async () => (await statusOf(a)).blocked_groups.length === groups.length,
    );
    expect(endpoint.acked().size).toBe(0);
    // From here a delivery of a head would be acknowledged: one delivered after its skip would show.
    failing = false;
    for (const group of groups) {
      const skip = await fetch(`${a.url}/admin/v1/subscriptions/${name}/blocked/skip`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ partition: Number(group.slice(1)) % 2, message_group: group }),
      });
      expect(skip.status, await skip.text()).toBe(200);
    }
    const b = await start();
    await waitFor(
      () => 'the second replica owns a partition',
      () => assignedNow(b).length > 0,
      60_000,
    );
    const ackedAtJoin = [...endpoint.acked().values()].flat().length;
    expect(ackedAtJoin, 'the rebalance came while the backlogs were draining').toBeLessThan(groups.length * (PER_GROUP - 1));
    await waitFor(
      () => `distinct acked ${new Set([...endpoint.acked().values()].flat()).size}`,
      () => new Set([...endpoint.acked().values()].flat()).size === groups.length * (PER_GROUP - 1),
      120_000,
    );
    expectDeliveredInOrder(endpoint, new Map(groups.map((g) => [g, Array.from({ length: PER_GROUP - 1 }, (_, i) => `${g}:${i + 1}`)])));
    expect(endpoint.received.filter((r) => r.status === 200 && r.body.messages.some((m) => seqOf(m.value!) === 0))).toEqual([]);
  }, 240_000);
});
