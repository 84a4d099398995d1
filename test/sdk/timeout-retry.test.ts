import { describe, expect, it } from 'vitest';
import { Client, type OrderedMessage } from '../../src/sdk/index.ts';
import { createTopic } from '../support/kafka.ts';
import { useSidecar } from '../support/fixture.ts';
import { DelayProxy } from './delay-proxy.ts';
import { byGroup, readTopic, recordingLogger, sidecarDeduplicates } from './records.ts';

const fx = useSidecar();

/**
 * Exactly-once under a lost answer: the sidecar writes the first attempt, the proxy holds its answer past
 * the client's deadline, the client retries with the same dedup ids, which the sidecar deduplicates.
 */
describe('retry after a forced timeout', () => {
  it('writes each message exactly once and reports the retry as duplicates of the first write', async () => {
    expect(await sidecarDeduplicates(fx.sidecar.url)).toBe(true);
    const topic = await createTopic(fx.admin, 3);
    const proxy = await new DelayProxy({ target: fx.sidecar.url, delayMs: 3_000 }).start();
    const logger = recordingLogger();
    const client = new Client({ url: proxy.url, requestTimeoutMs: 1_000, retry: { maxAttempts: 3, initialBackoffMs: 50 }, logger });
    const messages: OrderedMessage[] = Array.from({ length: 20 }, (_, i) => ({
      messageGroup: `account-${i % 4}`,
      value: `account-${i % 4}#${Math.floor(i / 4)}`,
    }));

    const result = await client.orderedProducer().sendOrderedMessages(topic, messages);

    expect(proxy.posts).toBe(2);
    expect(result).toMatchObject({ attempts: 2, totalMessages: 20, successfulMessages: 20, failedMessages: 0, duplicateMessages: 20 });
    const records = await readTopic(fx.kafka, fx.admin, topic);
    expect(records).toHaveLength(20);
    const groups = byGroup(records);
    for (let g = 0; g < 4; g++) {
      expect(groups.get(`account-${g}`)!.values).toEqual(Array.from({ length: 5 }, (_, k) => `account-${g}#${k}`));
    }
    // The offsets the retry reports are where the first attempt wrote.
    for (const [i, m] of result.messages.entries()) {
      expect(m.status).toBe('written');
      if (m.status === 'written') expect(records.find((r) => r.partition === m.partition && r.offset === m.offset)?.value?.toString()).toBe(messages[i]!.value);
    }
    expect(logger.lines).toEqual([]);
    // Resolved by the retry: no group is left in doubt.
    for (let g = 0; g < 4; g++) expect(client.orderedProducer().inDoubt(topic, `account-${g}`)).toEqual([]);
    await client.close();
    await proxy.close();
  });
});
