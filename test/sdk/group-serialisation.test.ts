import { describe, expect, it } from 'vitest';
import { Client } from '../../src/sdk/index.ts';
import { AbortError, RetriableError } from '../../src/sdk/errors.ts';
import { createTopic } from '../support/kafka.ts';
import { useSidecar } from '../support/fixture.ts';
import { DelayProxy } from './delay-proxy.ts';
import { byGroup, readTopic, recordingLogger } from './records.ts';

const fx = useSidecar();

/**
 * The proxy holds the answer to the first POST for 600 ms. Without the SDK's per-group queue the later
 * calls would go out on other connections at once and be written before the first one's retry-free answer.
 */
describe('per-MessageGroup serialisation inside the SDK', () => {
  it('writes concurrent calls of one group in call order, and lets other groups pass', async () => {
    const topic = await createTopic(fx.admin, 3);
    const proxy = await new DelayProxy({ target: fx.sidecar.url, delayMs: 600 }).start();
    const client = new Client({ url: proxy.url, logger: recordingLogger() });
    const producer = client.orderedProducer();
    await client.capabilities();

    const settled: string[] = [];
    const track = <T>(name: string, p: Promise<T>): Promise<T> => p.finally(() => settled.push(name));
    const calls = [
      track('g1#0', producer.sendSingleOrderedMessage(topic, 'player-1', null, 'g1#0')),
      track('g1#1', producer.sendSingleOrderedMessage(topic, 'player-1', null, 'g1#1')),
      // Touches both groups: waits for player-1's earlier calls; player-2's later call waits for it.
      track(
        'g1g2',
        producer.sendOrderedMessages(topic, [
          { messageGroup: 'player-1', value: 'g1#2' },
          { messageGroup: 'player-2', value: 'g2#0' },
        ]),
      ),
      track('g2#1', producer.sendMessageGroupBatch(topic, 'player-2', [{ value: 'g2#1' }, { value: 'g2#2' }])),
      track('other', producer.sendSingleOrderedMessage(topic, 'player-3', null, 'g3#0')),
      ...Array.from({ length: 7 }, (_, k) => track(`g1#${k + 3}`, producer.sendSingleOrderedMessage(topic, 'player-1', null, `g1#${k + 3}`))),
    ];
    await Promise.all(calls);
    // player-3 shares no group with the delayed call, so it did not wait for it.
    expect(settled.indexOf('other')).toBeLessThan(settled.indexOf('g1#0'));
    expect(settled.indexOf('g1#1')).toBeGreaterThan(settled.indexOf('g1#0'));
    expect(settled.indexOf('g2#1')).toBeGreaterThan(settled.indexOf('g1g2'));

    const groups = byGroup(await readTopic(fx.kafka, fx.admin, topic));
    expect(groups.get('player-1')!.values).toEqual(Array.from({ length: 10 }, (_, i) => `g1#${i}`));
    expect(groups.get('player-2')!.values).toEqual(['g2#0', 'g2#1', 'g2#2']);
    expect(groups.get('player-3')!.values).toEqual(['g3#0']);
    await proxy.close();
  });

  it('rejects a call aborted while it waits for its group’s turn with its own AbortError, whatever the abort’s reason', async () => {
    const topic = await createTopic(fx.admin, 3);
    const proxy = await new DelayProxy({ target: fx.sidecar.url, delayMs: 600 }).start();
    const client = new Client({ url: proxy.url, logger: recordingLogger() });
    const producer = client.orderedProducer();
    await client.capabilities();
    const first = producer.sendSingleOrderedMessage(topic, 'player-1', null, 'first');
    const aborts = new AbortController();
    const waiting = producer.sendSingleOrderedMessage(topic, 'player-1', null, 'never sent', { signal: aborts.signal });
    // Cancelling siblings with the error of another send, as Promise.all users do: that error is not this call's.
    const otherSendsError = new RetriableError({ code: 'TIMEOUT', message: 'another send timed out' });
    aborts.abort(otherSendsError);
    const err = await waiting.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ code: 'ABORTED', retriable: true, cause: otherSendsError });
    await first;
    const groups = byGroup(await readTopic(fx.kafka, fx.admin, topic));
    expect(groups.get('player-1')!.values).toEqual(['first']);
    await client.close();
    await proxy.close();
  });
});
