import { Base, kMetadata, type CallbackWithPromise, type ClusterMetadata, type MetadataOptions } from '@platformatic/kafka';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PartitionGoneError } from '../../src/kafka/kafka-errors.ts';
import { SharedRequestProducer } from '../../src/kafka/platformatic-producer.ts';

/** The library's own metadata read, answered from memory: topic "t" has `count` partitions now. */
function metadataSays(count: number): void {
  const metadata = {
    id: 'c',
    brokers: new Map(),
    controllerId: 1,
    lastUpdate: Date.now(),
    topics: new Map([['t', { id: 't', partitions: [], partitionsCount: count, lastUpdate: Date.now() }]]),
  } satisfies ClusterMetadata;
  vi.spyOn(Base.prototype, kMetadata).mockImplementation((_options: MetadataOptions, callback: CallbackWithPromise<ClusterMetadata>) =>
    callback(null, metadata),
  );
}

/** What the library's send path would get from a metadata read. */
const librarysRead = (producer: SharedRequestProducer): Promise<{ error: Error | null; metadata: ClusterMetadata | undefined }> =>
  new Promise((resolve) =>
    producer[kMetadata]({ topics: ['t'] }, ((error: Error | null, metadata?: ClusterMetadata) =>
      resolve({ error, metadata })) as CallbackWithPromise<ClusterMetadata>),
  );

const producer = () => new SharedRequestProducer({ clientId: 'guard-test', bootstrapBrokers: ['127.0.0.1:1'], idempotent: true, acks: -1 });

afterEach(() => vi.restoreAllMocks());

describe("the producer's guard on the library's metadata reads", () => {
  it('refuses metadata that lacks a partition a send in flight writes to, until that send ends', async () => {
    const p = producer();
    metadataSays(1);
    const written = p.writing([{ topic: 't', partition: 2 }]);
    const { error } = await librarysRead(p);
    expect(error).toBeInstanceOf(PartitionGoneError);
    expect(error).toMatchObject({ canRetry: false, message: expect.stringContaining('no partition 2') });
    written();
    expect((await librarysRead(p)).error).toBeNull();
    await p.close();
  });

  it('lets through metadata that has every partition in flight, and counts two sends of one partition apart', async () => {
    const p = producer();
    metadataSays(3);
    const first = p.writing([{ topic: 't', partition: 2 }]);
    const second = p.writing([{ topic: 't', partition: 2 }]);
    expect((await librarysRead(p)).metadata?.topics.get('t')?.partitionsCount).toBe(3);
    metadataSays(2);
    first();
    expect((await librarysRead(p)).error).toBeInstanceOf(PartitionGoneError);
    second();
    expect((await librarysRead(p)).error).toBeNull();
    await p.close();
  });

  it("never refuses a caller's own read through metadata(): a partition count must be the count", async () => {
    const p = producer();
    metadataSays(1);
    const written = p.writing([{ topic: 't', partition: 2 }]);
    const read = await p.metadata({ topics: ['t'] });
    expect(read.topics.get('t')?.partitionsCount).toBe(1);
    written();
    await p.close();
  });
});
