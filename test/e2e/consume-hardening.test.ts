import { describe, expect, it, onTestFinished } from 'vitest';
import { deliveryEndpoint, expectDeliveredInOrder, waitFor } from '../support/delivery-endpoint.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { unblockWhileAReplicaJoins } from '../support/consume-scenarios.ts';
import { assignedNow, consumeReplicas, removeOwner, subscriptionStatus, unblock } from '../support/consume-sidecars.ts';
import { produceGroups, subscriptionsFile } from '../support/subscriptions.ts';

const { kafka, admin: adminClient } = useKafkaAdmin();

describe('ordered consumption fenced to the assignment', () => {
  it('an admin skip while a replica joins: the skipped message is never delivered, backlogs never overlap or repeat ahead', async () => {
    await unblockWhileAReplicaJoins(kafka, adminClient, { actions: ['skip', 'skip', 'skip', 'skip'], perGroup: 24, replication: 1 });
  }, 240_000);

  it('a skip the commit cannot pass yet (another group blocked below it) holds across a restart: the skipped head is never sent again', async () => {
    const topic = await createTopic(adminClient, 1);
    const endpoint = await deliveryEndpoint({ answer: (b) => (b.messages.some((m) => m.value === 'pin:0' || m.value === 'skipped:0') ? 500 : 200) });
    onTestFinished(() => endpoint.close());
    // Offsets: pin:0 0, skipped:0 1, pin:1 2, skipped:1 3, ...: pin's blocked head keeps the commit at 0.
    await produceGroups(kafka, topic, ['pin', 'skipped'], 4, () => 0);
    const { path, name } = subscriptionsFile({ topic, endpoint: endpoint.url, max_attempts: 1, ack_timeout: '5s' });
    const start = consumeReplicas(path);
    const sent = (value: string) => endpoint.arrived.filter((b) => b.messages.some((m) => m.value === value)).length;

    const first = await start();
    await waitFor(
      () => 'pin and skipped blocked',
      async () => (await subscriptionStatus(first)).blocked_groups.length === 2,
    );
    const skip = await unblock(first, name, 'skip', 0, 'skipped');
    expect(skip.status, await skip.text()).toBe(200);
    await waitFor(
      () => `skipped acked ${endpoint.acked().get('skipped')?.join(',')}`,
      () => endpoint.acked().get('skipped')?.length === 3,
    );
    expect(await first.stop('SIGTERM')).toBe(0);

    const second = await start();
    // skipped:1..3 were delivered but not committed past (pin:0 holds the commit): they are delivered again.
    await waitFor(
      () => `skipped:3 sent ${sent('skipped:3')} times, skipped:0 ${sent('skipped:0')} times`,
      () => sent('skipped:3') === 2 || sent('skipped:0') > 1,
    );
    expect((await subscriptionStatus(second)).blocked_groups.map((b) => b.group)).toEqual(['pin']);
    expect(sent('skipped:0'), 'the skipped head is never sent again').toBe(1);
    expect(sent('pin:0'), 'the blocked head stays blocked without being sent').toBe(1);
  });

  it("a replica removed from the group while its deliveries run: the new owner waits for each group's lease, no group is at the endpoint twice", async () => {
    const groups = Array.from({ length: 6 }, (_, i) => `g${i}`);
    const PER_GROUP = 4;
    const topic = await createTopic(adminClient, 2, 1);
    // Every group of partition 0 in flight at once, each delivery 3-4 s (within ack_timeout): the old owner's
    // deliveries are still at the endpoint when the coordinator hands the partition over.
    const endpoint = await deliveryEndpoint({ latencyMs: [3000, 4000] });
    onTestFinished(() => endpoint.close());
    const { path, consumerGroup } = subscriptionsFile({ topic, endpoint: endpoint.url, max_in_flight_groups: 8, ack_timeout: '5s' });
    const start = consumeReplicas(path);
    const [a, b] = [await start(), await start()];
    await waitFor(
      () => 'each replica owns one partition',
      () => assignedNow(a).length === 1 && assignedNow(b).length === 1,
      90_000,
    );
    const newOwner = assignedNow(a)[0] === 0 ? b : a;
    await produceGroups(kafka, topic, groups, PER_GROUP, () => 0);
    await waitFor(
      () => `first deliveries of every group at the endpoint (${endpoint.arrived.length})`,
      () => endpoint.arrived.length >= groups.length,
    );
    expect(endpoint.received, 'the old owner still delivers when it is removed').toEqual([]);
    await removeOwner(adminClient, consumerGroup, topic, 0);
    await waitFor(
      () => 'the new owner took partition 0',
      () => assignedNow(newOwner).includes(0),
    );
    await waitFor(
      () => `distinct acked ${new Set([...endpoint.acked().values()].flat()).size}`,
      () => new Set([...endpoint.acked().values()].flat()).size === groups.length * PER_GROUP,
      120_000,
    );
    // No overlap per group, first acknowledgements in order, nothing missing.
    expectDeliveredInOrder(endpoint, new Map(groups.map((g) => [g, Array.from({ length: PER_GROUP }, (_, i) => `${g}:${i}`)])));
    // The new owner did meet the old owner's live leases (and waited), so the scenario reached the overlap.
    const metrics = await (await fetch(`${newOwner.url}/metrics`)).text();
    const waits = Number(/^ordered_sidecar_consume_lease_waits_total\{subscription="[^"]+",reason="held_elsewhere"\} (\S+)$/m.exec(metrics)?.[1] ?? 0);
    expect(waits, "deliveries put off by the old owner's leases").toBeGreaterThan(0);
  }, 240_000);

  it('bounds what a partition tracks behind a blocked head: fetching pauses at CONSUME_BUFFER_MESSAGES while the other groups keep sending', async () => {
    const LIMIT = 2000;
    const OTHERS = 40;
    const PER_OTHER = 500;
    const topic = await createTopic(adminClient, 1);
    const endpoint = await deliveryEndpoint({ answer: (b) => (b.message_group === 'stuck' ? 500 : 200) });
    onTestFinished(() => endpoint.close());
    const { path, name } = subscriptionsFile({ topic, endpoint: endpoint.url, max_attempts: 1, batch_max_messages: 50, ack_timeout: '5s' });
    const sidecar = await consumeReplicas(path, ['--consume-buffer-messages', String(LIMIT)])();
    // The blocked head first, then heavy traffic of the others behind it. Values of 1 KB keep one fetch
    // (1 MiB per partition) near a thousand records.
    await produceGroups(kafka, topic, ['stuck'], 1, () => 0);
    await waitFor(
      () => 'stuck blocked',
      async () => (await subscriptionStatus(sidecar)).blocked_groups.length === 1,
    );
    const producer = kafka.producer();
    await producer.connect();
    onTestFinished(() => producer.disconnect());
    const pad = 'x'.repeat(1000);
    for (let seq = 0; seq < PER_OTHER; seq++) {
      const messages = Array.from({ length: OTHERS }, (_, g) => ({ value: `o${g}:${seq}:${pad}`, headers: { 'message-group': `o${g}` } }));
      await producer.send({ topic, messages: messages.map((m) => ({ ...m, partition: 0 })) });
    }
    let mostTracked = 0;
    await waitFor(
      () => 'partition 0 paused',
      async () => {
        const p = (await subscriptionStatus(sidecar)).partitions[0]!;
        mostTracked = Math.max(mostTracked, p.tracked);
        return p.paused;
      },
      120_000,
    );
    // Paused, it stays paused: what was fetched is delivered, nothing more comes in.
    await waitFor(
      () => 'the fetched records delivered',
      async () => (await subscriptionStatus(sidecar)).partitions[0]!.buffered === 1,
    );
    const paused = (await subscriptionStatus(sidecar)).partitions[0]!;
    const delivered = endpoint.acked();
    mostTracked = Math.max(mostTracked, paused.tracked);
    expect(paused).toMatchObject({ paused: true, committed_offset: '0' });
    // At most the limit plus the one fetch that crossed it.
    expect(mostTracked).toBeGreaterThanOrEqual(LIMIT);
    expect(mostTracked).toBeLessThan(LIMIT + 1500);
    // The lag is read against the end offset the sidecar last refreshed, which may predate the producer's
    // last sends: it has to catch up with everything produced minus what was fetched, while still paused.
    await waitFor(
      () => 'the lag covers everything not fetched',
      async () => {
        const p = (await subscriptionStatus(sidecar)).partitions[0]!;
        return p.paused && Number(p.lag) > OTHERS * PER_OTHER - LIMIT - 1500;
      },
    );
    expect([...delivered.values()].flat().length).toBeLessThan(LIMIT + 1500);
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ordered_sidecar_consume_paused_partitions\\{subscription="${name}"\\} 1`));
    expect(metrics).toMatch(new RegExp(`ordered_sidecar_consume_tracked_records\\{subscription="${name}",partition="0"\\} ${paused.tracked}\\n`));
    const heap = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)![1]);
    expect(heap, 'the sidecar holds a bounded part of the 20 MB behind the head').toBeLessThan(150 * 2 ** 20);

    // Skipping the head lets the commit pass and the partition resume: everything else is delivered.
    const skip = await unblock(sidecar, name, 'skip', 0, 'stuck');
    expect(skip.status).toBe(200);
    await waitFor(
      () => `distinct acked ${new Set([...endpoint.acked().values()].flat()).size}`,
      () => new Set([...endpoint.acked().values()].flat()).size === OTHERS * PER_OTHER,
      120_000,
    );
    const acked = endpoint.acked();
    for (let g = 0; g < OTHERS; g++) {
      const seqs = [...new Set(acked.get(`o${g}`)!.map((v) => Number(v.split(':')[1])))];
      expect(seqs).toEqual(Array.from({ length: PER_OTHER }, (_, i) => i));
    }
    expect(endpoint.overlaps).toEqual([]);
  }, 240_000);
});
