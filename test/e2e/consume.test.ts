import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { deliveryEndpoint, expectDeliveredInOrder, waitFor } from '../support/delivery-endpoint.ts';
import type { ErrorBody } from '../support/http.ts';
import { useKafkaAdmin, consumeAll, createTopic } from '../support/kafka.ts';
import { spawnSidecar, testOptions } from '../support/sidecar.ts';
import { subscriptionsCommand } from '../../src/cli/subscriptions-command.ts';
import { committedInKafka as committedInKafkaOf, consumingSidecar, produceGroups, seqOf, seqs, subscriptionsFile } from '../support/subscriptions.ts';

const { kafka, admin: adminClient } = useKafkaAdmin();

const committedInKafka = (consumerGroup: string, topic: string) => committedInKafkaOf(adminClient, consumerGroup, topic);

const groupsNamed = (n: number, prefix = 'g') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('ordered consumption', () => {
  it('delivers every message in per-group order with no overlap, many groups at once inside one partition, despite random latency and failures', async () => {
    const topic = await createTopic(adminClient, 2);
    const endpoint = await deliveryEndpoint({ latencyMs: [0, 15], answer: () => (Math.random() < 0.2 ? 500 : 200) });
    onTestFinished(() => endpoint.close());
    const groups = groupsNamed(24);
    await produceGroups(kafka, topic, groups, 25, (g) => Number(g.slice(1)) % 2);
    const { status, consumerGroup } = await consumingSidecar({
      topic,
      endpoint: endpoint.url,
      max_attempts: 1000,
      retry_backoff: '5ms',
      retry_backoff_max: '20ms',
    });

    await waitFor(
      () => `acked ${[...endpoint.acked().values()].flat().length} of 600`,
      () => [...endpoint.acked().values()].flat().length >= 600,
    );
    expect(endpoint.overlaps).toEqual([]);
    for (const group of groups) expect(endpoint.acked().get(group)!.map(seqOf).map(String)).toEqual(seqs(25));
    expect(endpoint.maxPerPartition).toBeGreaterThan(1);
    expect(endpoint.received.some((r) => r.status === 500)).toBe(true);
    expect(endpoint.received.some((r) => r.status === 200 && r.body.attempt > 1)).toBe(true);

    // Everything acknowledged is committed: lag drops to zero on both partitions.
    await waitFor(
      () => 'lag 0 on both partitions',
      async () => {
        const s = await status();
        return s.partitions.length === 2 && s.partitions.every((p) => p.lag === '0' && p.committed_offset === '300');
      },
    );
    // The status shows what is committable; Kafka's own record catches up within CONSUME_COMMIT_INTERVAL.
    await waitFor(
      () => 'offsets 300 committed in Kafka',
      async () => JSON.stringify(await committedInKafka(consumerGroup, topic)) === JSON.stringify({ 0: '300', 1: '300' }),
    );
    const s = await status();
    expect(s).toMatchObject({ ready: true, state: 'running', in_flight_groups: 0, blocked_groups: [] });
    expect(s.counts.delivered).toBe(600);
    expect(s.counts.retried).toBeGreaterThan(0);
  });

  it('batches up to batch_max_messages consecutive messages of one group', async () => {
    const topic = await createTopic(adminClient, 1);
    const endpoint = await deliveryEndpoint({ latencyMs: [1, 5] });
    onTestFinished(() => endpoint.close());
    const groups = groupsNamed(3);
    await produceGroups(kafka, topic, groups, 40, () => 0);
    await consumingSidecar({ topic, endpoint: endpoint.url, batch_max_messages: 7 });
    await waitFor(
      () => 'all 120 acked',
      () => [...endpoint.acked().values()].flat().length >= 120,
    );
    for (const r of endpoint.received) {
      expect(r.body.messages.length).toBeLessThanOrEqual(7);
      expect(r.body.messages.every((m) => m.value!.startsWith(`${r.body.message_group}:`))).toBe(true);
    }
    expect(endpoint.received.some((r) => r.body.messages.length > 1)).toBe(true);
    for (const group of groups) expect(endpoint.acked().get(group)!.map(seqOf).map(String)).toEqual(seqs(40));
  });

  it('a group waiting out a long retry lets its batch go: other partitions of the same broker go on, and the retry is fetched again when due', async () => {
    // Both partitions are led by the one broker of the test stack: kafkajs fetches them in one request, and its
    // next fetch from that broker waits for every batch of the last one.
    const topic = await createTopic(adminClient, 2);
    let slowFailed = false;
    const endpoint = await deliveryEndpoint({
      answer: (b) => {
        if (b.message_group !== 'slow' || slowFailed) return 200;
        slowFailed = true;
        return 503;
      },
    });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, ['slow'], 3, () => 0);
    // The first retry waits 10-20 s (half the backoff, plus up to the other half): far longer than delivering
    // the other partition's messages takes, even on a busy machine.
    const { consumerGroup } = await consumingSidecar({ topic, endpoint: endpoint.url, retry_backoff: '20s' });
    await waitFor(
      () => 'slow failed once',
      () => endpoint.received.some((r) => r.body.message_group === 'slow'),
    );
    await produceGroups(kafka, topic, ['other'], 3, () => 1);
    await waitFor(
      () => `other acked: ${endpoint.acked().get('other')?.join(',')}`,
      () => endpoint.acked().get('other')?.length === 3,
    );
    expect(
      endpoint.arrived.filter((b) => b.message_group === 'slow'),
      'slow still waits for its retry',
    ).toHaveLength(1);
    // Nothing new arrives on partition 0: the retry is delivered by fetching it again from its commit point.
    await waitFor(
      () => `slow acked: ${endpoint.acked().get('slow')?.join(',')}`,
      () => endpoint.acked().get('slow')?.length === 3,
    );
    expectDeliveredInOrder(
      endpoint,
      new Map([
        ['slow', ['slow:0', 'slow:1', 'slow:2']],
        ['other', ['other:0', 'other:1', 'other:2']],
      ]),
    );
    await waitFor(
      () => 'both partitions committed to their end',
      async () => JSON.stringify(await committedInKafka(consumerGroup, topic)) === JSON.stringify({ 0: '3', 1: '3' }),
    );
  });

  it('dead-letters a group after max_attempts, in order with the original coordinates, and the group goes on', async () => {
    const topic = await createTopic(adminClient, 1);
    const dlq = await createTopic(adminClient, 2);
    const endpoint = await deliveryEndpoint({ answer: (b) => (b.message_group === 'bad' && b.messages.some((m) => seqOf(m.value!) < 3) ? 503 : 200) });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, ['bad', 'good'], 6, () => 0);
    const { status } = await consumingSidecar({
      topic,
      endpoint: endpoint.url,
      max_attempts: 2,
      retry_backoff: '5ms',
      on_exhausted: 'dead-letter',
      dead_letter_topic: dlq,
    });

    await waitFor(
      () => 'bad 3..5 and all of good acked',
      () => endpoint.acked().get('bad')?.length === 3 && endpoint.acked().get('good')?.length === 6,
    );
    expect(endpoint.acked().get('bad')).toEqual(['bad:3', 'bad:4', 'bad:5']);
    const dead = await consumeAll(kafka, adminClient, dlq);
    expect(dead.map((r) => r.value)).toEqual(['bad:0', 'bad:1', 'bad:2']);
    expect(new Set(dead.map((r) => r.partition)).size).toBe(1);
    expect(dead[0]!.headers).toMatchObject({
      'message-group': 'bad',
      'dead-letter-original-topic': topic,
      'dead-letter-original-partition': '0',
      'dead-letter-error': 'HTTP 503',
      'dead-letter-attempts': '2',
    });
    expect(dead.map((r) => r.headers['dead-letter-original-offset'])).toEqual(['0', '2', '4']);
    await waitFor(
      () => 'dead-lettered count',
      async () => (await status()).counts.dead_lettered === 3,
    );
  });

  it('blocks a group whose dead-letter write is refused for good (a group over MAX_GROUP_BYTES) instead of retrying forever', async () => {
    const topic = await createTopic(adminClient, 1);
    const dlq = await createTopic(adminClient, 1);
    const endpoint = await deliveryEndpoint({ answer: () => 500 });
    onTestFinished(() => endpoint.close());
    const longGroup = 'x'.repeat(200);
    await produceGroups(kafka, topic, [longGroup], 1, () => 0);
    const { status } = await consumingSidecar({ topic, endpoint: endpoint.url, max_attempts: 1, on_exhausted: 'dead-letter', dead_letter_topic: dlq });
    await waitFor(
      () => 'blocked',
      async () => (await status()).blocked_groups.length === 1,
    );
    expect((await status()).blocked_groups[0]).toMatchObject({
      group: longGroup,
      error: expect.stringContaining('dead-letter write rejected: INVALID_REQUEST'),
    });
  });

  it('blocks an exhausted group while the others go on; admin retry and skip move it on', async () => {
    const topic = await createTopic(adminClient, 1);
    let failing = new Set(['bad:0', 'bad:1']);
    const endpoint = await deliveryEndpoint({ answer: (b) => (b.messages.some((m) => failing.has(m.value!)) ? 500 : 200) });
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, ['bad', 'good'], 4, () => 0);
    const { sidecar, status, name, consumerGroup } = await consumingSidecar({ topic, endpoint: endpoint.url, max_attempts: 2, retry_backoff: '5ms' });
    const call = (action: string, body: unknown) =>
      fetch(`${sidecar.url}/admin/v1/subscriptions/${name}/blocked/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    await waitFor(
      () => 'bad blocked, good done',
      async () => (await status()).blocked_groups.length === 1 && endpoint.acked().get('good')?.length === 4,
    );
    expect((await status()).blocked_groups).toEqual([{ partition: 0, group: 'bad', offsets: ['0'], attempt: 2, error: 'HTTP 500' }]);
    expect(endpoint.acked().get('bad')).toBeUndefined();
    expect((await status()).partitions[0]!.committed_offset).toBe('0');
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ordered_sidecar_consume_blocked_groups\\{subscription="${name}"\\} 1`));
    expect(metrics).toMatch(
      new RegExp(`ordered_sidecar_consume_hot_group_backlog_messages\\{subscription="${name}",rank="1",partition="0",message_group="bad"\\} 4`),
    );

    failing = new Set(['bad:1']);
    expect((await call('retry', { partition: 0, message_group: 'bad' })).status).toBe(200);
    await waitFor(
      () => 'bad:0 delivered, bad:1 blocked',
      async () => (await status()).blocked_groups[0]?.offsets[0] === '2',
    );
    expect(endpoint.acked().get('bad')).toEqual(['bad:0']);

    // The CLI, as an operator would use it.
    const cli = async (...argv: string[]) => {
      let out = '';
      const code = await subscriptionsCommand([...argv, '--url', sidecar.url], {}, { out: (t) => (out += t), err: (t) => (out += t) });
      return { code, out };
    };
    expect(await cli('blocked', name)).toEqual({ code: 0, out: 'partition 0 group "bad" offsets 2 attempt 2: HTTP 500\n' });
    // A skip confirmed for the head shown before the retry (offset 0) must not drop the head now blocked (2).
    const stale = await call('skip', { partition: 0, message_group: 'bad', offset: '0' });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as ErrorBody).error).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('is offsets 2, not the head at offset'),
    });
    expect(await cli('skip', name, '0', 'bad', '--offset', '0')).toMatchObject({ code: 1, out: expect.stringContaining('409 CONFLICT') });
    expect((await call('skip', { partition: 0, message_group: 'bad', offset: 2 })).status).toBe(400);
    expect((await status()).blocked_groups).toEqual([{ partition: 0, group: 'bad', offsets: ['2'], attempt: 2, error: 'HTTP 500' }]);
    expect((await status()).counts.skipped).toBe(0);
    expect(await cli('skip', name, '0', 'bad', '--offset', '2')).toEqual({ code: 0, out: 'skipped partition 0 group "bad" offsets 2 attempt 2: HTTP 500\n' });
    await waitFor(
      () => 'bad done',
      () => endpoint.acked().get('bad')?.length === 3,
    );
    expect(endpoint.acked().get('bad')).toEqual(['bad:0', 'bad:2', 'bad:3']);
    await waitFor(
      () => 'all committed',
      async () => (await status()).partitions[0]!.committed_offset === '8',
    );
    await waitFor(
      () => 'offset 8 committed in Kafka',
      async () => (await committedInKafka(consumerGroup, topic))[0] === '8',
    );
    expect((await call('skip', { partition: 0, message_group: 'bad' })).status).toBe(409);
    expect(await cli('retry', name, '0', 'bad')).toMatchObject({ code: 1, out: expect.stringContaining('409 CONFLICT') });
    expect((await call('skip', { partition: 0, message_group: 'bad', extra: 1 })).status).toBe(400);
    expect((await fetch(`${sidecar.url}/admin/v1/subscriptions/nope/blocked`)).status).toBe(404);
  });

  it('keeps a subscription to a missing topic not ready, without crashing', async () => {
    const endpoint = await deliveryEndpoint();
    onTestFinished(() => endpoint.close());
    const topic = `missing-${randomUUID().slice(0, 8)}`;
    const { sidecar, status } = await consumingSidecar({ topic, endpoint: endpoint.url });
    await waitFor(
      () => 'waiting-for-topic',
      async () => (await status()).state === 'waiting-for-topic',
    );
    expect((await status()).ready).toBe(false);
    const readyz = await fetch(`${sidecar.url}/readyz`);
    const ready = (await readyz.json()) as { subscriptions: Array<{ ready: boolean; error: string }> };
    expect(ready.subscriptions[0]).toMatchObject({ ready: false, error: expect.stringContaining('does not exist') });
    expect(readyz.status).toBe(200); // the produce path is still in service

    // Once the topic exists, the subscription starts by itself.
    await adminClient.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await produceGroups(kafka, topic, ['late'], 2, () => 0);
    await waitFor(
      () => 'late messages delivered',
      () => endpoint.acked().get('late')?.length === 2,
      30_000,
    );
    expect((await status()).ready).toBe(true);
  });

  it('shows an endpoint with basic-auth credentials without its password', async () => {
    const topic = await createTopic(adminClient, 1);
    const endpoint = await deliveryEndpoint();
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, ['auth'], 1, () => 0);
    const withCredentials = endpoint.url.replace('http://', 'http://app:s3cr3t-pw@');
    const { sidecar, status } = await consumingSidecar({ topic, endpoint: withCredentials });
    await waitFor(
      () => 'the message delivered',
      () => endpoint.acked().get('auth')?.length === 1,
    );
    expect((await status()).endpoint).toBe(endpoint.url.replace('http://', 'http://app:***@'));
    expect(await (await fetch(`${sidecar.url}/v1/subscriptions`)).text()).not.toContain('s3cr3t-pw');
  });

  it('refuses to start on a bad subscriptions file, with one line naming the field', async () => {
    const { path } = subscriptionsFile({ topic: 'orders', endpoint: 'http://127.0.0.1:1/', max_attempts: 0 });
    await expect(spawnSidecar(testOptions(), { flags: ['--subscriptions-file', path] })).rejects.toThrow(
      new RegExp(`exited with 2:\nordered-sidecar: subscriptions file ${path}: subscriptions\\[0\\]\\.max_attempts: must be a whole number from 1 to 1000000$`),
    );
  });
});
