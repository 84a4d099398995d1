import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { defaultPartitioner } from '../../src/produce/key-partitioner.ts';

/** kafkajs's DefaultPartitioner: a port of the Java client's, the reference for where a key lands. */
function kafkajsPartition(key: string | Buffer, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 }));
  return Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata, message: { key, value: null } });
}

describe('defaultPartitioner', () => {
  it('places every key where the Java client (and kafkajs) would, for keys of every length mod 4', () => {
    const partition = defaultPartitioner();
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'order-17', 'customer-ü-€', 'x'.repeat(101), ...Array.from({ length: 500 }, (_, i) => `key-${i * 7919}`)];
    for (const partitions of [1, 3, 12, 100]) {
      for (const key of keys)
        expect(partition('t', partitions, { key, value: null, headers: {} }), `${key} over ${partitions}`).toBe(kafkajsPartition(key, partitions));
    }
    const binary = Buffer.from([0xff, 0x00, 0x80, 0x7f, 0x01]);
    expect(partition('t', 12, { key: binary, value: null, headers: {} })).toBe(kafkajsPartition(binary, 12));
  });

  it('spreads records without a key round-robin over every partition', () => {
    const partition = defaultPartitioner();
    const seen = Array.from({ length: 12 }, () => partition('t', 4, { key: null, value: 'v', headers: {} }));
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe((seen[i - 1]! + 1) % 4);
  });
});
