import { groupHash, hashedPartition } from '../../src/routing/hashing.ts';
import { prng } from './prng.ts';

/** One message of the workload, with the partition an application keyed by its group would send it to. */
export interface WorkloadMessage {
  group: string;
  value: string;
  partition: number;
}

export interface Workload {
  /** The messages of each request; every sender converts them to its own format before the clock starts. */
  requests: WorkloadMessage[][];
  /** The same requests as ordered-produce bodies, JSON-encoded once so the load generator only sends bytes. */
  bodies: Buffer[];
  messagesPerRequest: number;
}

export interface WorkloadShape {
  topic: string;
  groups: number;
  partitions: number;
  messagesPerRequest: number;
  valueBytes: number;
  distinctBodies: number;
}

/**
 * `distinctBodies` requests of `messagesPerRequest` messages, each of a random group among `groups` and a
 * `valueBytes` value. The same seed every run, so every row and every run sends the same groups and bytes.
 */
export function buildWorkload(shape: WorkloadShape): Workload {
  const random = prng(42);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const value = (): string => Array.from({ length: shape.valueBytes }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
  const requests = Array.from({ length: shape.distinctBodies }, () =>
    Array.from({ length: shape.messagesPerRequest }, (): WorkloadMessage => {
      const group = `group-${String(Math.floor(random() * shape.groups)).padStart(5, '0')}`;
      return { group, value: value(), partition: hashedPartition(groupHash(group), shape.partitions) };
    }),
  );
  const bodies = requests.map((messages) =>
    Buffer.from(JSON.stringify({ topic: shape.topic, messages: messages.map((m) => ({ message_group: m.group, value: m.value })) })),
  );
  return { requests, bodies, messagesPerRequest: shape.messagesPerRequest };
}

/** The engine's ceiling input: for each partition, `size` messages of the workload that hash to it (repeated if too few). */
export function partitionBatches(workload: Workload, partitions: number, size: number): WorkloadMessage[][] {
  const all = workload.requests.flat();
  return Array.from({ length: partitions }, (_, p) => {
    const mine = all.filter((m) => m.partition === p);
    if (mine.length === 0) throw new Error(`no workload message hashes to partition ${p}`);
    return Array.from({ length: size }, (_, i) => mine[i % mine.length]!);
  });
}
