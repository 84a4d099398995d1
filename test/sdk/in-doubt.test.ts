import { describe, expect, it, onTestFinished } from 'vitest';
import { Client, GroupInDoubtError, RetriableError, type SidecarClientError } from '../../src/sdk/index.ts';
import { createTopic } from '../support/kafka.ts';
import { useSidecar } from '../support/fixture.ts';
import { DelayProxy } from './delay-proxy.ts';
import { byGroup, readTopic, recordingLogger } from './records.ts';

const fx = useSidecar();

const failure = async (promise: Promise<unknown>): Promise<SidecarClientError> =>
  (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as SidecarClientError;

/**
 * The proxy holds the sidecar's answer to the first POST past the client's deadline (no retries): the
 * sidecar wrote the messages, the client cannot know. Such a group must take nothing new until the
 * in-doubt messages are resent, or else a late write of them could land after the next messages.
 */
async function timedOutGroup(delayMs = 2_000): Promise<{ client: Client; proxy: DelayProxy; topic: string }> {
  const topic = await createTopic(fx.admin, 2);
  const proxy = await new DelayProxy({ target: fx.sidecar.url, delayMs }).start();
  const client = new Client({ url: proxy.url, requestTimeoutMs: 400, retry: { maxAttempts: 1 }, logger: recordingLogger() });
  // Registered before any assertion: a failed one must not leave the proxy listening or the client open.
  onTestFinished(async () => {
    await client.close();
    await proxy.close();
  });
  await client.capabilities();
  return { client, proxy, topic };
}

describe('a MessageGroup in doubt after a send whose outcome is unknown', () => {
  it('refuses the group’s later sends at once until the in-doubt messages are resent; Kafka holds the send order', async () => {
    const { client, proxy, topic } = await timedOutGroup();
    const producer = client.orderedProducer();

    const first = failure(
      producer.sendMessageGroupBatch(topic, 'account-1', [
        { value: 'a1', dedupId: 'a1' },
        { value: 'a2', dedupId: 'a2' },
      ]),
    );
    // Called while the first is still out: it waits for it, then is refused without being sent.
    const queued = failure(producer.sendSingleOrderedMessage(topic, 'account-1', null, 'a3', { dedupId: 'a3' }));
    const timedOut = await first;
    expect(timedOut).toBeInstanceOf(RetriableError);
    expect(timedOut).toMatchObject({ code: 'TIMEOUT', result: { unknownMessages: 2, failedMessages: 0, successfulMessages: 0 } });
    expect(timedOut.result!.messages.map((m) => [m.status, m.dedupId])).toEqual([
      ['unknown', 'a1'],
      ['unknown', 'a2'],
    ]);

    const refused = await queued;
    expect(refused).toBeInstanceOf(GroupInDoubtError);
    expect(refused).toMatchObject({ code: 'GROUP_IN_DOUBT', retriable: false, groups: [{ topic, messageGroup: 'account-1', dedupIds: ['a1', 'a2'] }] });
    expect((refused as GroupInDoubtError).dedupIds).toEqual(['a1', 'a2']);
    expect(refused.message).toContain('a1, a2');
    const started = Date.now();
    await expect(producer.sendSingleOrderedMessage(topic, 'account-1', null, 'a3', { dedupId: 'a3' })).rejects.toBeInstanceOf(GroupInDoubtError);
    expect(Date.now() - started).toBeLessThan(100);
    // Out of order, or without the in-doubt ids, is no resend.
    await expect(
      producer.sendMessageGroupBatch(topic, 'account-1', [
        { value: 'a2', dedupId: 'a2' },
        { value: 'a1', dedupId: 'a1' },
      ]),
    ).rejects.toBeInstanceOf(GroupInDoubtError);
    await expect(producer.sendMessageGroupBatch(topic, 'account-1', [{ value: 'a1' }, { value: 'a2' }])).rejects.toBeInstanceOf(GroupInDoubtError);
    expect(proxy.posts).toBe(1);
    expect(producer.inDoubt(topic, 'account-1')).toEqual(['a1', 'a2']);

    // Other groups are not held up, nor is the same group name on another topic.
    await expect(producer.sendSingleOrderedMessage(topic, 'account-2', null, 'b1')).resolves.toMatchObject({ successfulMessages: 1 });

    // The resend may lead a send of new messages: they go after it. The sidecar did write a1 and a2 (only
    // its answer was held), so they come back as duplicates at their first offsets.
    const resent = await producer.sendMessageGroupBatch(topic, 'account-1', [
      { value: 'a1', dedupId: 'a1' },
      { value: 'a2', dedupId: 'a2' },
      { value: 'a3', dedupId: 'a3' },
    ]);
    expect(resent.messages.map((m) => m.status === 'written' && m.duplicate)).toEqual([true, true, false]);
    expect(producer.inDoubt(topic, 'account-1')).toEqual([]);
    await expect(producer.sendSingleOrderedMessage(topic, 'account-1', null, 'a4')).resolves.toMatchObject({ successfulMessages: 1 });

    const groups = byGroup(await readTopic(fx.kafka, fx.admin, topic));
    expect(groups.get('account-1')!.values).toEqual(['a1', 'a2', 'a3', 'a4']);
    expect(groups.get('account-2')!.values).toEqual(['b1']);
  });

  it('a resend of part of the in-doubt messages resolves that part; resetGroup gives up on the rest', async () => {
    const { client, topic } = await timedOutGroup();
    const producer = client.orderedProducer();
    await expect(
      producer.sendMessageGroupBatch(topic, 'player-1', [
        { value: 'p1', dedupId: 'p1' },
        { value: 'p2', dedupId: 'p2' },
      ]),
    ).rejects.toMatchObject({ code: 'TIMEOUT' });

    await expect(producer.sendSingleOrderedMessage(topic, 'player-1', null, 'p1', { dedupId: 'p1' })).resolves.toMatchObject({ duplicateMessages: 1 });
    expect(producer.inDoubt(topic, 'player-1')).toEqual(['p2']);
    await expect(producer.sendSingleOrderedMessage(topic, 'player-1', null, 'p3')).rejects.toBeInstanceOf(GroupInDoubtError);

    // Every producer of the client shares the doubt, and the reset.
    expect(client.orderedProducer().resetGroup(topic, 'player-1')).toEqual(['p2']);
    expect(producer.resetGroup(topic, 'player-1')).toEqual([]);
    await expect(producer.sendSingleOrderedMessage(topic, 'player-1', null, 'p3')).resolves.toMatchObject({ successfulMessages: 1 });
    const groups = byGroup(await readTopic(fx.kafka, fx.admin, topic));
    expect(groups.get('player-1')!.values).toEqual(['p1', 'p2', 'p3']);
  });
});
