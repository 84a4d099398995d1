import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { ClientLogger } from '../../src/sdk/index.ts';

export interface RawRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Reads a whole topic with keys and values as bytes (binary values must survive the round trip). */
export async function readTopic(kafka: Kafka, admin: Admin, topic: string, timeoutMs = 60_000): Promise<RawRecord[]> {
  const expected = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const records: RawRecord[] = [];
  if (expected === 0) return records;
  const consumer = kafka.consumer({ groupId: `sdk-verify-${randomUUID()}`, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${records.length} of ${expected} records of ${topic}`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          records.push({ partition, offset: message.offset, key: message.key, value: message.value, headers });
          if (records.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** Values per MessageGroup (from the `message-group` header), in offset order, with the partitions they used. */
export function byGroup(records: RawRecord[]): Map<string, { values: string[]; partitions: Set<number> }> {
  const sorted = [...records].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  const groups = new Map<string, { values: string[]; partitions: Set<number> }>();
  for (const r of sorted) {
    const group = r.headers['message-group']!;
    const entry = groups.get(group) ?? { values: [], partitions: new Set() };
    entry.values.push(r.value?.toString() ?? '<null>');
    entry.partitions.add(r.partition);
    groups.set(group, entry);
  }
  return groups;
}

/** A logger that remembers instead of printing. */
export function recordingLogger(): ClientLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (message) => void lines.push(message) };
}

/** Whether the sidecar at `url` deduplicates (tests of exactly-once need it; before, retries may duplicate). */
export async function sidecarDeduplicates(url: string): Promise<boolean> {
  const body = (await (await fetch(`${url}/v1/api-versions`)).json()) as { features?: { dedup?: unknown } };
  return body.features?.dedup !== undefined;
}
