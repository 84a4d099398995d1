import { groupHash, hashedPartition } from '../../src/routing/hashing.ts';
import { prng } from './prng.ts';

/** One message of the workload, with the partition an application keyed by its group would send it to. */
export interface WorkloadMessage {
  group: string;
  value: string;
  partition: number;
}

export interface WorkloadShape {
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
export function buildRequests(shape: WorkloadShape): WorkloadMessage[][] {
  const random = prng(42);
  const alphabet = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789');
  const bytes = Buffer.alloc(shape.valueBytes);
  const value = (): string => {
    for (let i = 0; i < bytes.length; i++) bytes[i] = alphabet[Math.floor(random() * alphabet.length)]!;
    return bytes.toString('latin1');
  };
  return Array.from({ length: shape.distinctBodies }, () =>
    Array.from({ length: shape.messagesPerRequest }, (): WorkloadMessage => {
      const group = `group-${String(Math.floor(random() * shape.groups)).padStart(5, '0')}`;
      return { group, value: value(), partition: hashedPartition(groupHash(group), shape.partitions) };
    }),
  );
}

/** The requests as ordered-produce bodies, JSON-encoded once so the load generator only sends bytes. */
export const orderedProduceBodies = (topic: string, requests: readonly WorkloadMessage[][]): Buffer[] =>
  requests.map((messages) => Buffer.from(JSON.stringify({ topic, messages: messages.map((m) => ({ message_group: m.group, value: m.value })) })));

/** The engine's ceiling input: for each partition, `size` messages of the workload that hash to it (repeated if too few). */
export function partitionBatches(requests: readonly WorkloadMessage[][], partitions: number, size: number): WorkloadMessage[][] {
  const all = requests.flat();
  return Array.from({ length: partitions }, (_, p) => {
    const mine = all.filter((m) => m.partition === p);
    if (mine.length === 0) throw new Error(`no workload message hashes to partition ${p}`);
    return Array.from({ length: size }, (_, i) => mine[i % mine.length]!);
  });
}
