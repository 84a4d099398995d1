import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { onTestFinished } from 'vitest';
import type { SidecarOptions } from '../../src/config/options.ts';
import type { SubscriptionStatus } from '../../src/protocol/subscriptions.ts';
import { startTestSidecar } from './sidecar.ts';
import { tempDir } from './temp-dir.ts';

/** Writes a subscriptions file with one subscription (fresh name and consumer group) and returns its path. */
export function subscriptionsFile(entry: Record<string, unknown> & { topic: string; endpoint: string }): { path: string; name: string; consumerGroup: string } {
  const name = `sub-${randomUUID().slice(0, 8)}`;
  const consumerGroup = `cg-${randomUUID().slice(0, 8)}`;
  const path = join(tempDir('subs-'), 'subscriptions.json');
  writeFileSync(path, JSON.stringify({ subscriptions: [{ name, consumer_group: consumerGroup, on_exhausted: 'block', ...entry }] }));
  return { path, name, consumerGroup };
}

/**
 * Produces `perGroup` messages to each group, values `group:seq`, with the group in the message-group header.
 * Idempotent: a plain producer's retry (NOT_ENOUGH_REPLICAS_AFTER_APPEND on the three-broker stack, a leader
 * moving) writes a batch twice, and a second copy of a group's head is a record of its own, rightly delivered even
 * when an admin skipped the first; the partitions' end offsets are checked, so a copy fails here, not later.
 */
export async function produceGroups(kafka: Kafka, topic: string, groups: string[], perGroup: number, partitionOf: (group: string) => number): Promise<void> {
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    const ends = async () => new Map((await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => [partition, Number(high)]));
    const before = await ends();
    const messages = [];
    const sent = new Map<number, number>();
    for (let seq = 0; seq < perGroup; seq++) {
      for (const group of groups) {
        const partition = partitionOf(group);
        messages.push({ partition, value: `${group}:${seq}`, headers: { 'message-group': group } });
        sent.set(partition, (sent.get(partition) ?? 0) + 1);
      }
    }
    for (let i = 0; i < messages.length; i += 1000) await producer.send({ topic, messages: messages.slice(i, i + 1000) });
    for (const [partition, end] of await ends()) {
      const written = end - (before.get(partition) ?? 0);
      if (written !== (sent.get(partition) ?? 0)) throw new Error(`${topic}/${partition}: ${written} records written for ${sent.get(partition) ?? 0} sent`);
    }
  } finally {
    await Promise.all([producer.disconnect(), admin.disconnect()]);
  }
}

export const seqs = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));
export const seqOf = (value: string): number => Number(value.slice(value.lastIndexOf(':') + 1));

/** A sidecar consuming the one subscription `entry` describes (closed after the test), and that subscription's status. */
export async function consumingSidecar(entry: Record<string, unknown> & { topic: string; endpoint: string }, options: Partial<SidecarOptions> = {}) {
  const file = subscriptionsFile(entry);
  const sidecar = await startTestSidecar({ subscriptionsFile: file.path, consumeCommitIntervalMs: 200, shutdownGraceMs: 10_000, ...options });
  onTestFinished(() => sidecar.close());
  const status = async (): Promise<SubscriptionStatus> => {
    const body = (await (await fetch(`${sidecar.url}/v1/subscriptions`)).json()) as { subscriptions: SubscriptionStatus[] };
    return body.subscriptions[0]!;
  };
  return { sidecar, status, ...file };
}

/** The offsets Kafka itself holds for `consumerGroup` on `topic`, by partition (not the sidecar's view of them). */
export async function committedInKafka(admin: Admin, consumerGroup: string, topic: string): Promise<Record<number, string>> {
  const [offsets] = await admin.fetchOffsets({ groupId: consumerGroup, topics: [topic] });
  return Object.fromEntries(offsets!.partitions.map((p) => [p.partition, p.offset]));
}
