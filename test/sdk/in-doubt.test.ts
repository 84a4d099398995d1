import { describe, expect, it } from 'vitest';
import { Client, GroupInDoubtError, RetriableError, type SidecarClientError } from '../../src/sdk/index.ts';
import { InDoubtGroups } from '../../src/sdk/in-doubt.ts';
import type { MessageOutcome } from '../../src/sdk/result-types.ts';
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
    await client.close();
    await proxy.close();
  });

  it('a resend of part of the in-doubt messages resolves that part; resetGroup gives up on the rest', async () => {
    const { client, proxy, topic } = await timedOutGroup();
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
    await client.close();
    await proxy.close();
  });
});

describe('InDoubtGroups', () => {
  const unknown = (messageGroup: string, dedupId: string): MessageOutcome => ({
    status: 'unknown',
    messageGroup,
    partition: 0,
    dedupId,
    error: { code: 'TIMEOUT', message: 't', retriable: true },
  });
  const written = (messageGroup: string, dedupId: string): MessageOutcome => ({
    status: 'written',
    messageGroup,
    partition: 0,
    offset: '1',
    duplicate: false,
    dedupId,
  });
  const failed = (messageGroup: string, dedupId: string): MessageOutcome => ({
    status: 'failed',
    messageGroup,
    partition: 0,
    dedupId,
    error: { code: 'X', message: 'x', retriable: false },
  });
  const send = (...ids: (string | undefined)[]) => ids.map((dedupId) => ({ messageGroup: 'g', value: 'v', ...(dedupId === undefined ? {} : { dedupId }) }));

  it('lets through only sends that begin with the in-doubt ids (or with a beginning of them)', () => {
    const doubts = new InDoubtGroups();
    doubts.record('t', [written('g', 'w'), unknown('g', 'd1'), unknown('g', 'd2'), unknown('h', 'e1')]);
    expect(doubts.get('t', 'g')).toEqual(['d1', 'd2']);
    for (const ok of [send('d1'), send('d1', 'd2'), send('d1', 'd2', 'n1'), send('d1', 'd2', undefined)]) expect(() => doubts.check('t', ok)).not.toThrow();
    for (const bad of [send('d2'), send('n1'), send(undefined), send('d1', 'n1'), send('d2', 'd1')])
      expect(() => doubts.check('t', bad)).toThrow(GroupInDoubtError);
    expect(() => doubts.check('other-topic', send('n1'))).not.toThrow();
  });

  it('written ids leave the doubt, unknown ones join it in order; a refused resend keeps it', () => {
    const doubts = new InDoubtGroups();
    doubts.record('t', [unknown('g', 'd1'), unknown('g', 'd2')]);
    doubts.record('t', [failed('g', 'd1')]);
    expect(doubts.get('t', 'g')).toEqual(['d1', 'd2']);
    doubts.record('t', [written('g', 'd1'), unknown('g', 'd2'), unknown('g', 'n1')]);
    expect(doubts.get('t', 'g')).toEqual(['d2', 'n1']);
    doubts.record('t', [written('g', 'd2'), written('g', 'n1')]);
    expect(doubts.get('t', 'g')).toEqual([]);
    expect(() => doubts.check('t', send('anything'))).not.toThrow();
  });
});
