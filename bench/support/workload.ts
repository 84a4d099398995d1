import type { Message } from 'kafkajs';
import { GROUP_HEADER } from '../../src/produce/group-header.ts';
import { groupHash, hashedPartition } from '../../src/routing/hashing.ts';
import { prng } from './prng.ts';

export interface Workload {
  /** Ordered-produce request bodies, JSON-encoded once up front so the load generator only sends them. */
  bodies: string[];
  /** The same messages as kafkajs batches (one per body), partitioned by the groups' consistent hash. */
  batches: Message[][];
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

/** Requests of `messagesPerRequest` messages, each of a random group among `groups` and a `valueBytes` value. */
export function buildWorkload(shape: WorkloadShape, rawTopicPartitions = shape.partitions): Workload {
  const random = prng(42);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const value = (): string => Array.from({ length: shape.valueBytes }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
  const bodies: string[] = [];
  const batches: Message[][] = [];
  for (let b = 0; b < shape.distinctBodies; b++) {
    const messages = Array.from({ length: shape.messagesPerRequest }, () => ({
      message_group: `group-${String(Math.floor(random() * shape.groups)).padStart(5, '0')}`,
      value: value(),
    }));
    bodies.push(JSON.stringify({ topic: shape.topic, messages }));
    batches.push(
      messages.map((m) => ({
        value: m.value,
        headers: { [GROUP_HEADER]: m.message_group },
        partition: hashedPartition(groupHash(m.message_group), rawTopicPartitions),
      })),
    );
  }
  return { bodies, batches, messagesPerRequest: shape.messagesPerRequest };
}
