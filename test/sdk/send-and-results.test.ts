import { describe, expect, it } from 'vitest';
import { Client, OrderedProducer, type OrderedProduceResult } from '../../src/sdk/index.ts';
import { createTopic } from '../support/kafka.ts';
import { useSidecar } from '../support/fixture.ts';
import { DelayProxy } from './delay-proxy.ts';
import { readTopic, recordingLogger, sidecarDeduplicates, type RawRecord } from './records.ts';

const fx = useSidecar({ metadataRefreshMs: 200 });

const at = (records: RawRecord[], partition: number, offset: string): RawRecord | undefined =>
  records.find((r) => r.partition === partition && r.offset === offset);

describe('OrderedProducer against a real sidecar', () => {
  it('sends with all three methods; every result names the record really written', async () => {
    const topic = await createTopic(fx.admin, 3);
    const client = new Client({ url: fx.sidecar.url, logger: recordingLogger() });
    const producer = client.orderedProducer();
    expect(new OrderedProducer(client)).toBeInstanceOf(OrderedProducer);

    const binary = Buffer.from([0, 255, 1, 254, 10, 13]);
    const many = await producer.sendOrderedMessages(topic, [
      { messageGroup: 'user-1', key: 'k1', value: 'created ✓', headers: { trace: 't1' } },
      { messageGroup: 'user-2', value: binary },
      { messageGroup: 'user-1', key: null, value: 'paid', dedupId: 'user-1-paid' },
    ]);
    const single = await producer.sendSingleOrderedMessage(topic, 'user-1', 'k1', 'shipped', { headers: { trace: 't2' } });
    const batch = await producer.sendMessageGroupBatch(topic, 'user-2', [
      { value: new Uint8Array([7, 8, 9]), key: new Uint8Array([1]) },
      { value: null, key: 'gone' },
    ]);

    expect(many).toMatchObject({
      topic,
      via: 'sidecar',
      attempts: 1,
      totalMessages: 3,
      successfulMessages: 3,
      failedMessages: 0,
      unknownMessages: 0,
      duplicateMessages: 0,
      dedupUnavailable: false,
      partitionErrors: [],
    });
    expect(single.totalMessages).toBe(1);
    expect(batch.totalMessages).toBe(2);
    expect(await sidecarDeduplicates(fx.sidecar.url)).toBe(true);
    for (const result of [many, single, batch]) {
      expect(result.partitions.reduce((n, p) => n + p.messageCount, 0)).toBe(result.totalMessages);
      for (const m of result.messages) {
        expect(m.status).toBe('written');
        // Every message carries an id: the caller's, or a generated UUID.
        expect(m.dedupId).toMatch(/^(user-1-paid|[0-9a-f-]{36})$/);
      }
    }
    expect(many.messages[2]!.dedupId).toBe('user-1-paid');

    const records = await readTopic(fx.kafka, fx.admin, topic);
    expect(records).toHaveLength(6);
    const written = (r: OrderedProduceResult, i: number): RawRecord => {
      const m = r.messages[i]!;
      if (m.status !== 'written') throw new Error('not written');
      return at(records, m.partition, m.offset)!;
    };
    expect(written(many, 0).value!.toString()).toBe('created ✓');
    expect(written(many, 0).key!.toString()).toBe('k1');
    expect(written(many, 0).headers).toEqual({ trace: 't1', 'message-group': 'user-1' });
    expect(Buffer.compare(written(many, 1).value!, binary)).toBe(0);
    expect(written(many, 1).key).toBeNull();
    expect(written(many, 2).value!.toString()).toBe('paid');
    expect(written(single, 0).value!.toString()).toBe('shipped');
    expect(written(single, 0).headers.trace).toBe('t2');
    expect([...written(batch, 0).value!]).toEqual([7, 8, 9]);
    expect([...written(batch, 0).key!]).toEqual([1]);
    expect(written(batch, 1).value).toBeNull();
    expect(written(batch, 1).key!.toString()).toBe('gone');
    // One partition per group, and within it the send order.
    const user1 = [written(many, 0), written(many, 2), written(single, 0)];
    expect(new Set(user1.map((r) => r.partition)).size).toBe(1);
    expect(user1.map((r) => BigInt(r.offset))).toEqual([...user1.map((r) => BigInt(r.offset))].sort((a, b) => (a < b ? -1 : 1)));
    await client.close();
  });

  it('reports a repeated dedupId as a duplicate at the original offset and writes it once', async () => {
    expect(await sidecarDeduplicates(fx.sidecar.url)).toBe(true);
    const topic = await createTopic(fx.admin, 2);
    const producer = new Client({ url: fx.sidecar.url }).orderedProducer();
    const first = await producer.sendSingleOrderedMessage(topic, 'account-7', null, 'debit 10', { dedupId: 'tx-1' });
    const again = await producer.sendOrderedMessages(topic, [
      { messageGroup: 'account-7', value: 'debit 10', dedupId: 'tx-1' },
      { messageGroup: 'account-7', value: 'credit 5', dedupId: 'tx-2' },
    ]);
    expect(first.messages[0]).toMatchObject({ status: 'written', duplicate: false });
    const original = first.messages[0]!;
    expect(again.messages[0]).toMatchObject({
      status: 'written',
      duplicate: true,
      partition: original.partition,
      offset: original.status === 'written' ? original.offset : '',
    });
    expect(again.messages[1]).toMatchObject({ status: 'written', duplicate: false });
    expect(again).toMatchObject({ successfulMessages: 2, duplicateMessages: 1 });
    const records = await readTopic(fx.kafka, fx.admin, topic);
    expect(records.map((r) => r.value!.toString())).toEqual(['debit 10', 'credit 5']);
  });

  it('reads the capabilities once and shares one check between concurrent first sends', async () => {
    const topic = await createTopic(fx.admin, 1);
    const proxy = await new DelayProxy({ target: fx.sidecar.url, delayMs: 0, delayPosts: 0 }).start();
    const client = new Client({ url: proxy.url, logger: recordingLogger() });
    const producer = client.orderedProducer();
    await Promise.all(Array.from({ length: 5 }, (_, i) => producer.sendSingleOrderedMessage(topic, `g-${i}`, null, `v${i}`)));
    await producer.sendSingleOrderedMessage(topic, 'g-0', null, 'again');
    const capabilities = await client.capabilities();
    expect(capabilities?.orderedProducePath).toBe('/v1/ordered-produce');
    expect(await client.mode()).toBe('sidecar');
    expect(proxy.requests.filter((r) => r === 'GET')).toHaveLength(1);
    expect(proxy.posts).toBe(6);
    await proxy.close();
  });
});
