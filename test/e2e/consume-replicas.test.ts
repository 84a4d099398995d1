import { describe, expect, it, onTestFinished } from 'vitest';
import { deliveryEndpoint, expectDeliveredInOrder, waitFor } from '../support/delivery-endpoint.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { assignedNow, consumeReplicas, subscriptionStatus } from '../support/consume-sidecars.ts';
import type { SidecarProcess } from '../support/sidecar.ts';
import { produceGroups, seqOf, subscriptionsFile } from '../support/subscriptions.ts';

const { kafka, admin: adminClient } = useKafkaAdmin();

const GROUPS = Array.from({ length: 40 }, (_, i) => `g${i}`);
const PER_GROUP = 60;
const TOTAL = GROUPS.length * PER_GROUP;

/** Replicas that drain for up to 20 s on SIGTERM. */
const replicas = (path: string) => consumeReplicas(path, ['--shutdown-grace', '20s']);

/**
 * Checks the endpoint's record: no two deliveries of a group overlapped; every message was acknowledged;
 * and per group, no acknowledged message came before all earlier ones were (redeliveries may repeat, never skip).
 */
function expectOrderedWithoutGaps(endpoint: Awaited<ReturnType<typeof deliveryEndpoint>>) {
  expect(endpoint.overlaps).toEqual([]);
  for (const group of GROUPS) {
    const acked = (endpoint.acked().get(group) ?? []).map(seqOf);
    let highest = -1;
    for (const seq of acked) {
      expect(seq, `${group}: ${acked.join(',')}`).toBeLessThanOrEqual(highest + 1);
      highest = Math.max(highest, seq);
    }
    expect(new Set(acked).size, group).toBe(PER_GROUP);
  }
}

const ackedCount = (endpoint: Awaited<ReturnType<typeof deliveryEndpoint>>) => [...endpoint.acked().values()].reduce((n, l) => n + l.length, 0);
const distinctAcked = (endpoint: Awaited<ReturnType<typeof deliveryEndpoint>>) => new Set([...endpoint.acked().values()].flat()).size;

describe('ordered consumption across sidecar replicas', () => {
  it('keeps per-group order without overlap or gaps when one replica stops gracefully and another is killed -9 mid-stream', async () => {
    const topic = await createTopic(adminClient, 4);
    const endpoint = await deliveryEndpoint({ latencyMs: [3, 12], answer: () => (Math.random() < 0.1 ? 500 : 200) });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, GROUPS, PER_GROUP, (g) => Number(g.slice(1)) % 4);
    const { path } = subscriptionsFile({
      topic,
      endpoint: endpoint.url,
      max_in_flight_groups: 4,
      max_attempts: 1000,
      retry_backoff: '5ms',
      retry_backoff_max: '20ms',
      ack_timeout: '5s',
    });
    const start = replicas(path);

    const a = await start();
    const b = await start();
    await waitFor(
      () => `acked ${ackedCount(endpoint)}`,
      () => ackedCount(endpoint) >= TOTAL / 5,
      90_000,
    );
    expect(await a.stop('SIGTERM')).toBe(0);
    expect(a.logs.some((l) => l.includes('shut down cleanly'))).toBe(true);

    await waitFor(
      () => `acked ${ackedCount(endpoint)}`,
      () => ackedCount(endpoint) >= TOTAL / 2,
      90_000,
    );
    expect(await b.stop('SIGKILL')).toBeNull();
    expect(distinctAcked(endpoint)).toBeLessThan(TOTAL);

    // A replacement resumes from the committed offsets once the killed member's session expires.
    await start();
    await waitFor(
      () => `distinct acked ${distinctAcked(endpoint)} of ${TOTAL}`,
      () => distinctAcked(endpoint) === TOTAL,
      120_000,
    );
    expectOrderedWithoutGaps(endpoint);
  }, 240_000);

  it('commits on graceful shutdown and resumes exactly there: nothing lost, nothing below the commit delivered again', async () => {
    const topic = await createTopic(adminClient, 2);
    const endpoint = await deliveryEndpoint({ latencyMs: [3, 12] });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, GROUPS, PER_GROUP, (g) => Number(g.slice(1)) % 2);
    const { path } = subscriptionsFile({ topic, endpoint: endpoint.url, max_in_flight_groups: 4, ack_timeout: '5s' });
    const start = replicas(path);

    const first = await start();
    await waitFor(
      () => `acked ${ackedCount(endpoint)}`,
      () => ackedCount(endpoint) >= TOTAL / 3,
      90_000,
    );
    expect(await first.stop('SIGTERM')).toBe(0);
    const stopped = first.logs.map((l) => JSON.parse(l) as { msg: string; committed?: Record<string, string> }).find((l) => l.msg === 'subscription stopped');
    const committed = stopped!.committed!;
    const receivedBefore = endpoint.received.length;
    expect(ackedCount(endpoint)).toBeLessThan(TOTAL);

    await start();
    await waitFor(
      () => `distinct acked ${distinctAcked(endpoint)}`,
      () => distinctAcked(endpoint) === TOTAL,
      120_000,
    );
    expectOrderedWithoutGaps(endpoint);
    // Groups that ran ahead of the partition's lowest unfinished offset see those messages again (at-least-once),
    // but the restart starts exactly at the offsets committed on shutdown.
    const resent = endpoint.received
      .slice(receivedBefore)
      .flatMap((r) => r.body.messages.map((m) => ({ partition: r.body.partition, offset: BigInt(m.offset) })));
    for (const partition of ['0', '1']) {
      const offsets = resent.filter((m) => String(m.partition) === partition).map((m) => m.offset);
      expect(offsets.reduce((a, b) => (a < b ? a : b))).toBe(BigInt(committed[partition]!));
    }
  }, 240_000);

  it('on a rebalance, lets go of partitions only after their in-flight deliveries finished (slow endpoint, a replica joining)', async () => {
    const topic = await createTopic(adminClient, 2);
    const groups = Array.from({ length: 16 }, (_, i) => `s${i}`);
    // Deliveries take long enough that a replica letting go at once would let the newcomer overlap them.
    const endpoint = await deliveryEndpoint({ latencyMs: [300, 600] });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, groups, 30, (g) => Number(g.slice(1)) % 2);
    const { path } = subscriptionsFile({ topic, endpoint: endpoint.url, ack_timeout: '5s' });
    const start = replicas(path);

    const first = await start();
    await waitFor(
      () => 'first deliveries',
      () => endpoint.received.length >= 16,
      90_000,
    );
    const second = await start();
    const assigned = (s: SidecarProcess) =>
      s.logs.filter((l) => l.includes('"subscription assigned partitions"')).map((l) => (JSON.parse(l) as { partitions: number[] }).partitions);
    // Both replicas take part: the rebalance hands a partition over while the first has deliveries in flight.
    await waitFor(
      () => 'the second replica owns a partition',
      () => (assigned(second).at(-1)?.length ?? 0) > 0,
      90_000,
    );
    expect(endpoint.received.length).toBeLessThan(groups.length * 30);
    await waitFor(
      () => `acked ${ackedCount(endpoint)}`,
      () => distinctAcked(endpoint) === groups.length * 30,
      120_000,
    );
    expect(endpoint.overlaps).toEqual([]);
    for (const group of groups) {
      const acked = endpoint.acked().get(group)!.map(seqOf);
      acked.forEach((seq, i) => expect(seq, `${group}: ${acked.join(',')}`).toBeLessThanOrEqual(Math.max(-1, ...acked.slice(0, i)) + 1));
    }
    expect(assigned(first).length).toBeGreaterThan(1);
  }, 240_000);

  it('groups waiting out long retries (their batches let go) while a replica joins: every message delivered once acknowledged, in order, never two of a group at once', async () => {
    const waiting = Array.from({ length: 8 }, (_, i) => `w${i}`);
    const topic = await createTopic(adminClient, 4);
    // Every group's first delivery fails; its retry waits 15-30 s, so each partition's batch is let go meanwhile.
    const failed = new Set<string | null>();
    const endpoint = await deliveryEndpoint({
      latencyMs: [2, 8],
      answer: (b) => {
        if (failed.has(b.message_group)) return 200;
        failed.add(b.message_group);
        return 503;
      },
    });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, waiting, 5, (g) => Number(g.slice(1)) % 4);
    const { path } = subscriptionsFile({ topic, endpoint: endpoint.url, retry_backoff: '30s', ack_timeout: '5s' });
    const start = replicas(path);
    const first = await start();
    await waitFor(
      () => `groups failed once: ${failed.size}`,
      () => failed.size === waiting.length,
    );
    expect(distinctAcked(endpoint), 'no retry goes out before it is due').toBe(0);
    // The join rebalances while every partition's batch is let go: the waits are cancelled, the new owners fetch
    // from the commit points (the failed heads) and deliver them at once.
    const second = await start();
    await waitFor(
      () => `partitions split: ${assignedNow(first).join(',')} / ${assignedNow(second).join(',')}`,
      () => assignedNow(first).length === 2 && assignedNow(second).length === 2,
    );
    await waitFor(
      () => `distinct acked ${distinctAcked(endpoint)}`,
      () => distinctAcked(endpoint) === waiting.length * 5,
      90_000,
    );
    expectDeliveredInOrder(endpoint, new Map(waiting.map((g) => [g, Array.from({ length: 5 }, (_, i) => `${g}:${i}`)])));
    // The joining replica took over groups that were waiting: it delivered their retries.
    expect((await subscriptionStatus(second)).counts.delivered).toBeGreaterThan(0);
  }, 120_000);
});
