import { randomInt } from 'node:crypto';
import type { EngineMessage } from '../writer/send-port.ts';

/** Kafka's default partitioner for a plain record without a partition (murmur2 of the key, as the Java client). */
export type KeyPartitioner = (topic: string, partitionCount: number, message: EngineMessage) => number;

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils#murmur2) over the key's bytes: 32-bit arithmetic throughout. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[whole + 2]! << 16;
    // falls through
    case 2:
      h ^= data[whole + 1]! << 8;
    // falls through
    case 1:
      h ^= data[whole]!;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Kafka's default partitioner, as the Java client (and kafkajs's DefaultPartitioner) place records: a keyed record
 * goes to murmur2(key) mod the partition count, so every client agrees where a key lives; a record without a key
 * goes round-robin from a random start per topic. Written here rather than borrowed from a Kafka client so that
 * plain produce loads no client library the engine in use does not need.
 */
export function defaultPartitioner(): KeyPartitioner {
  const counters = new Map<string, number>();
  return (topic, partitionCount, { key }) => {
    if (key !== null) return (murmur2(typeof key === 'string' ? Buffer.from(key) : key) & 0x7fffffff) % partitionCount;
    const next = ((counters.get(topic) ?? randomInt(2 ** 31)) + 1) & 0x7fffffff;
    counters.set(topic, next);
    return next % partitionCount;
  };
}
