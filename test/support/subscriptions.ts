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

/** Produces `perGroup` messages to each group, values `group:seq`, with the group in the message-group header. */
export async function produceGroups(kafka: Kafka, topic: string, groups: string[], perGroup: number, partitionOf: (group: string) => number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const messages = [];
    for (let seq = 0; seq < perGroup; seq++) {
      for (const group of groups) messages.push({ partition: partitionOf(group), value: `${group}:${seq}`, headers: { 'message-group': group } });
    }
    for (let i = 0; i < messages.length; i += 1000) await producer.send({ topic, messages: messages.slice(i, i + 1000) });
  } finally {
    await producer.disconnect();
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
