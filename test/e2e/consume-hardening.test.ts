import { describe, expect, it, onTestFinished } from 'vitest';
import { deliveryEndpoint, expectDeliveredInOrder, waitFor } from '../support/delivery-endpoint.ts';
import { createTopic, testKafka } from '../support/kafka.ts';
import { assignedNow, consumeReplicas, subscriptionStatus, unblock } from '../support/consume-sidecars.ts';
import { fileAdmin, produceGroups, seqOf, subscriptionsFile } from '../support/subscriptions.ts';

const adminClient = fileAdmin();
const kafka = testKafka();

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
    const start = consumeReplicas(path);

    const a = await start();
    await waitFor(
      () => 'every group blocked at its head on the first replica',
      async () => (await subscriptionStatus(a)).blocked_groups.length === groups.length,
    );
    expect(endpoint.acked().size).toBe(0);
    // From here a delivery of a head would be acknowledged: one delivered after its skip would show.
    failing = false;
    for (const group of groups) {
      const skip = await unblock(a, name, 'skip', Number(group.slice(1)) % 2, group);
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

  it('bounds what a partition tracks behind a blocked head: fetching pauses at CONSUME_BUFFER_MESSAGES while the other groups keep sending', async () => {
    const LIMIT = 2000;
    const OTHERS = 40;
    const PER_OTHER = 500;
    const topic = await createTopic(adminClient(), 1);
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
    expect(Number(paused.lag)).toBeGreaterThan(OTHERS * PER_OTHER - LIMIT - 1500);
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
