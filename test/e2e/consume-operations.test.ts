import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { subscriptionsCommand } from '../../src/cli/subscriptions-command.ts';
import type { SidecarOptions } from '../../src/config/options.ts';
import type { ReplayResult } from '../../src/consume/dlq-replay.ts';
import type { ResetResult } from '../../src/consume/offset-reset.ts';
import { deliveryEndpoint, waitFor } from '../support/delivery-endpoint.ts';
import { postJson, type ErrorBody } from '../support/http.ts';
import { useKafkaAdmin, createTopic, recordCount } from '../support/kafka.ts';
import { committedInKafka as committedInKafkaOf, consumingSidecar, produceGroups, seqs } from '../support/subscriptions.ts';

const { kafka, admin: adminClient } = useKafkaAdmin();

async function sidecarWith(entry: Record<string, unknown> & { topic: string; endpoint: string }, options: Partial<SidecarOptions> = {}) {
  const consuming = await consumingSidecar(entry, options);
  const { sidecar, name } = consuming;
  const admin = <T>(path: string, body?: unknown) => postJson<T>(`${sidecar.url}/admin/v1/subscriptions/${name}/${path}`, body);
  const cli = async (...argv: string[]) => {
    let out = '';
    const command = argv[0] === 'dlq' ? 'dlq' : 'subscriptions';
    const code = await subscriptionsCommand([...argv.slice(1), '--url', sidecar.url], {}, { out: (t) => (out += t), err: (t) => (out += t) }, command);
    return { code, out };
  };
  return { ...consuming, admin, cli };
}

const committedInKafka = (consumerGroup: string, topic: string) => committedInKafkaOf(adminClient, consumerGroup, topic);

const REPLAY_HEADER = 'dead-letter-replay-of';

/** Resolves once the clock has moved past `ms`, so a time taken now separates what came before from what comes after. */
const pastMs = (ms: number) =>
  waitFor(
    () => `the clock past ${ms}`,
    () => Date.now() > ms,
  );

describe('dead-letter replay', () => {
  it('produces dead letters again in their order per group, through the router, with their origin headers; --group, --from/--to; a second replay writes nothing twice', async () => {
    const topic = await createTopic(adminClient, 2);
    const dlq = await createTopic(adminClient, 3);
    // Originals fail for good; replays (marked by their header) are acknowledged.
    const endpoint = await deliveryEndpoint({ answer: (b) => (b.messages.every((m) => m.headers[REPLAY_HEADER] !== undefined) ? 200 : 503) });
    onTestFinished(() => endpoint.close());
    const { admin, cli, name } = await sidecarWith({
      topic,
      endpoint: endpoint.url,
      max_attempts: 1,
      on_exhausted: 'dead-letter',
      dead_letter_topic: dlq,
    });
    const deadLetters = async (n: number) =>
      waitFor(
        () => `${n} dead letters`,
        async () => (await recordCount(adminClient, dlq)) >= n,
      );

    // Two phases of dead letters, separated by a time: bad0 and bad1 (plus one record without a group), then bad2 and bad3.
    await produceGroups(kafka, topic, ['bad0', 'bad1'], 5, (g) => Number(g.slice(3)) % 2);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ partition: 1, value: 'none:0' }] });
    await producer.disconnect();
    await deadLetters(11);
    // Those were written by now; anything produced once the clock passed it is dead-lettered at `mid` or later.
    const now = Date.now();
    await pastMs(now);
    const mid = new Date(now + 1).toISOString();
    await produceGroups(kafka, topic, ['bad2', 'bad3'], 5, (g) => Number(g.slice(3)) % 2);
    await deadLetters(21);
    const topicBefore = await recordCount(adminClient, topic);
    expect(topicBefore).toBe(21);

    // One group, through the CLI.
    const one = await cli('dlq', 'replay', name, '--group', 'bad0', '--json');
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out)).toMatchObject({ subscription: name, dead_letter_topic: dlq, topic, read: 21, replayed: 5, duplicates: 0 });
    await waitFor(
      () => `bad0 replayed: ${JSON.stringify(endpoint.acked().get('bad0'))}`,
      () => endpoint.acked().get('bad0')?.length === 5,
    );
    expect(endpoint.acked().get('bad1')).toBeUndefined();

    // Everything dead-lettered before `mid`: bad0 again (deduplicated), bad1 and the record without a group.
    const before = await admin<ReplayResult>('dlq/replay', { to: mid });
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ replayed: 11, duplicates: 5 });
    // From `mid` on: bad2 and bad3 only.
    const after = await admin<ReplayResult>('dlq/replay', { from: mid });
    expect(after.body).toMatchObject({ replayed: 10, duplicates: 0 });
    // All of it again: nothing new is written.
    const again = await admin<ReplayResult>('dlq/replay', {});
    expect(again.body).toMatchObject({ read: 21, replayed: 21, duplicates: 21 });
    expect(await recordCount(adminClient, topic)).toBe(topicBefore + 21);

    await waitFor(
      () => `all replays acknowledged: ${JSON.stringify([...endpoint.acked()])}`,
      () => ['bad0', 'bad1', 'bad2', 'bad3'].every((g) => endpoint.acked().get(g)?.length === 5) && endpoint.acked().get(null)?.length === 1,
    );
    for (const g of ['bad0', 'bad1', 'bad2', 'bad3']) expect(endpoint.acked().get(g)).toEqual(seqs(5).map((s) => `${g}:${s}`));
    expect(endpoint.acked().get(null)).toEqual(['none:0']);
    expect(endpoint.overlaps).toEqual([]);

    // Origin headers kept, the replay marker added; the group's replays all came from one partition (the router's).
    const replays = endpoint.received.filter((r) => r.status === 200);
    const bad2 = replays.filter((r) => r.body.message_group === 'bad2');
    expect(new Set(bad2.map((r) => r.body.partition)).size).toBe(1);
    expect(bad2[0]!.body.messages[0]!.headers).toMatchObject({
      'message-group': 'bad2',
      'dead-letter-original-topic': topic,
      'dead-letter-original-partition': '0',
      'dead-letter-subscription': name,
      'dead-letter-error': 'HTTP 503',
      [REPLAY_HEADER]: expect.stringMatching(new RegExp(`^${dlq}/\\d/\\d+$`)),
    });
    // The record without a group went back to its original partition.
    expect(replays.find((r) => r.body.message_group === null)!.body.partition).toBe(1);
  });

  it('keeps each produce call within MAX_MESSAGES_PER_REQUEST: a long run of one group is replayed whole, in order, in several calls', async () => {
    const topic = await createTopic(adminClient, 1);
    const dlq = await createTopic(adminClient, 1);
    const endpoint = await deliveryEndpoint({ answer: (b) => (b.messages.every((m) => m.headers[REPLAY_HEADER] !== undefined) ? 200 : 503) });
    onTestFinished(() => endpoint.close());
    const { admin } = await sidecarWith(
      { topic, endpoint: endpoint.url, max_attempts: 1, on_exhausted: 'dead-letter', dead_letter_topic: dlq },
      { maxMessagesPerRequest: 2 },
    );
    // 7 dead letters of g, then 3 without a group, then 2 more of g: runs of 7, 3 and 2, each over or at the limit of 2.
    await produceGroups(kafka, topic, ['g'], 7, () => 0);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: seqs(3).map((s) => ({ partition: 0, value: `none:${s}` })) });
    await producer.send({ topic, messages: ['7', '8'].map((s) => ({ partition: 0, value: `g:${s}`, headers: { 'message-group': 'g' } })) });
    await producer.disconnect();
    await waitFor(
      () => '12 dead letters',
      async () => (await recordCount(adminClient, dlq)) >= 12,
    );

    const replay = await admin<ReplayResult>('dlq/replay', {});
    expect({ status: replay.status, body: replay.body }).toMatchObject({ status: 200, body: { read: 12, replayed: 12, duplicates: 0 } });
    await waitFor(
      () => `all replays acknowledged: ${JSON.stringify([...endpoint.acked()])}`,
      () => endpoint.acked().get('g')?.length === 9 && endpoint.acked().get(null)?.length === 3,
    );
    expect(endpoint.acked().get('g')).toEqual(seqs(9).map((s) => `g:${s}`));
    expect(endpoint.acked().get(null)).toEqual(seqs(3).map((s) => `none:${s}`));
    expect(await recordCount(adminClient, topic)).toBe(12 + 12);
    // Once more: every call is deduplicated, nothing is written twice.
    const again = await admin<ReplayResult>('dlq/replay', {});
    expect(again.body).toMatchObject({ read: 12, replayed: 12, duplicates: 12 });
    expect(await recordCount(adminClient, topic)).toBe(12 + 12);
  });

  it('refuses bad input with 4xx and writes nothing', async () => {
    const topic = await createTopic(adminClient, 1);
    const dlq = await createTopic(adminClient, 1);
    const endpoint = await deliveryEndpoint({ answer: () => 503 });
    onTestFinished(() => endpoint.close());
    const { admin, cli, sidecar, name } = await sidecarWith({
      topic,
      endpoint: endpoint.url,
      max_attempts: 1,
      on_exhausted: 'dead-letter',
      dead_letter_topic: dlq,
    });
    await produceGroups(kafka, topic, ['g'], 2, () => 0);
    await waitFor(
      () => '2 dead letters',
      async () => (await recordCount(adminClient, dlq)) === 2,
    );

    const refused = async (path: string, body: unknown, status: number, code: string) => {
      const r = await admin<ErrorBody>(path, body);
      expect({ path, status: r.status, code: r.body.error.code }).toEqual({ path, status, code });
    };
    await refused('dlq/replay', { from: '2026-12-04T21:00:00Z', to: '2026-12-04T20:00:00Z' }, 400, 'INVALID_REQUEST');
    await refused('dlq/replay', { from: 'yesterday' }, 400, 'INVALID_REQUEST');
    await refused('dlq/replay', { message_group: '' }, 400, 'INVALID_REQUEST');
    await refused('dlq/replay', { group: 'g' }, 400, 'INVALID_REQUEST');
    await refused('dlq/replay', [], 400, 'INVALID_REQUEST');
    await refused('reset', {}, 400, 'INVALID_REQUEST');
    await refused('reset', { to: 'soon' }, 400, 'INVALID_REQUEST');
    await refused('reset', { to: '2026-12-04' }, 400, 'INVALID_REQUEST');
    const unknown = await postJson<ErrorBody>(`${sidecar.url}/admin/v1/subscriptions/nope-${randomUUID()}/dlq/replay`, {});
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NOT_FOUND']);
    expect(await cli('dlq', 'replay', name, '--from', '2026-12-04T21:00:00Z', '--to', '2026-12-04T20:00:00Z')).toEqual({
      code: 1,
      out: 'ordered-sidecar dlq: 400 INVALID_REQUEST: to: must be later than from\n',
    });
    expect((await cli('subscriptions', 'reset', name)).code).toBe(2);
    expect(await recordCount(adminClient, topic)).toBe(2);

    // A subscription without a dead-letter topic has nothing to replay.
    const blockTopic = await createTopic(adminClient, 1);
    const blocking = await sidecarWith({ topic: blockTopic, endpoint: endpoint.url });
    const none = await blocking.admin<ErrorBody>('dlq/replay', {});
    expect([none.status, none.body.error.code]).toEqual([409, 'CONFLICT']);
  });
});

describe('offset reset', () => {
  it('is refused while the subscription runs (here, or in another member of its group), and after a stop moves the group to earliest, a time or latest, from where a start redelivers', async () => {
    const topic = await createTopic(adminClient, 2);
    const endpoint = await deliveryEndpoint();
    onTestFinished(() => endpoint.close());
    await produceGroups(kafka, topic, ['a', 'b'], 5, (g) => (g === 'a' ? 0 : 1));
    const { admin, cli, status, consumerGroup, name, sidecar } = await sidecarWith({ topic, endpoint: endpoint.url });
    const ackedOf = (g: string) => endpoint.acked().get(g) ?? [];
    await waitFor(
      () => 'first 10 acked and committed',
      async () => ackedOf('a').length + ackedOf('b').length === 10 && JSON.stringify(await committedInKafka(consumerGroup, topic)) === '{"0":"5","1":"5"}',
    );

    await waitFor(
      () => 'lag reported while running',
      async () =>
        (await (await fetch(`${sidecar.url}/metrics`)).text()).includes(`ordered_sidecar_consume_lag_messages{subscription="${name}",partition="0"} 0`),
    );
    const running = await admin<ErrorBody>('reset', { to: 'earliest' });
    expect([running.status, running.body.error.code]).toEqual([409, 'SUBSCRIPTION_RUNNING']);
    expect(await committedInKafka(consumerGroup, topic)).toEqual({ 0: '5', 1: '5' });

    expect(await cli('subscriptions', 'stop', name)).toEqual({ code: 0, out: `${name}: stopped on this sidecar\n` });
    expect((await status()).state).toBe('stopped');
    // Its partitions are another replica's business now: no stale lag from this one.
    const lagLines = async () =>
      (await (await fetch(`${sidecar.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('ordered_sidecar_consume_lag_messages{'));
    expect(await lagLines()).toEqual([]);

    // Another member of the group (another replica, as far as Kafka knows): still refused, nothing changed.
    const other = kafka.consumer({ groupId: consumerGroup });
    await other.connect();
    await other.subscribe({ topic, fromBeginning: false });
    let joined = false;
    other.on(other.events.GROUP_JOIN, () => (joined = true));
    await other.run({ autoCommit: false, eachMessage: async () => undefined });
    await waitFor(
      () => 'the other member joined',
      () => joined,
    );
    const elsewhere = await admin<ErrorBody>('reset', { to: 'earliest' });
    expect([elsewhere.status, elsewhere.body.error.code]).toEqual([409, 'SUBSCRIPTION_RUNNING']);
    expect(elsewhere.body.error.message).toContain('member');
    await other.disconnect();
    expect(await committedInKafka(consumerGroup, topic)).toEqual({ 0: '5', 1: '5' });

    // Earliest: everything again, in order.
    const earliest = await admin<ResetResult>('reset', { to: 'earliest' });
    expect(earliest.status).toBe(200);
    expect(earliest.body.partitions).toEqual([
      { partition: 0, previous_offset: '5', offset: '0' },
      { partition: 1, previous_offset: '5', offset: '0' },
    ]);
    // A time no JS Date holds is refused before anything moves (Kafka would answer it with the log end).
    const tooLate = await admin<ErrorBody>('reset', { to: '9000000000000000' });
    expect([tooLate.status, tooLate.body.error.code, tooLate.body.error.field]).toEqual([400, 'INVALID_REQUEST', 'to']);
    expect(await committedInKafka(consumerGroup, topic)).toEqual({ 0: '0', 1: '0' });
    const mid = Date.now();
    await pastMs(mid);
    await produceGroups(kafka, topic, ['a', 'b'], 2, (g) => (g === 'a' ? 0 : 1));
    const started = await admin<{ state: string }>('start');
    expect(started.status).toBe(200);
    await waitFor(
      () => `redelivered from earliest: ${JSON.stringify([ackedOf('a'), ackedOf('b')])}`,
      () => ackedOf('a').length === 12 && ackedOf('b').length === 12,
    );
    const seven = seqs(5).concat(['0', '1']);
    expect(ackedOf('a')).toEqual([...seqs(5), ...seven].map((s) => `a:${s}`));

    // A time: the records produced after `mid` only (the second "0" and "1" of each group).
    expect((await cli('subscriptions', 'stop', name)).code).toBe(0);
    const byTime = await cli('subscriptions', 'reset', name, '--to', String(mid));
    expect(byTime.out).toBe(
      `consumer group ${consumerGroup} of ${name} moved to ${new Date(mid).toISOString()}:\n  partition 0: 7 -> 5\n  partition 1: 7 -> 5\n`,
    );
    expect(byTime.code).toBe(0);
    expect((await admin('start')).status).toBe(200);
    await waitFor(
      () => `redelivered from the time: ${JSON.stringify(ackedOf('a'))}`,
      () => ackedOf('a').length === 14 && ackedOf('b').length === 14,
    );
    expect(ackedOf('a').slice(12)).toEqual(['a:0', 'a:1']);

    // Latest: nothing old again, only what comes next.
    expect((await admin('stop')).status).toBe(200);
    const latest = await admin<ResetResult>('reset', { to: 'latest' });
    expect(latest.body.partitions.map((p) => p.offset)).toEqual(['7', '7']);
    await produceGroups(kafka, topic, ['a'], 1, () => 0);
    expect((await admin('start')).status).toBe(200);
    await waitFor(
      () => `only the new record: ${JSON.stringify(ackedOf('a'))}`,
      () => ackedOf('a').length === 15,
    );
    expect(ackedOf('a').at(-1)).toBe('a:0');
    expect(ackedOf('b')).toHaveLength(14);
    await waitFor(
      () => 'running again',
      async () => (await status()).state === 'running',
    );
    expect(endpoint.overlaps).toEqual([]);
  });
});
