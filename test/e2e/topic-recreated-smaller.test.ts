import { describe, expect, it, vi } from 'vitest';
import { createTopic, createTopicWithLeaders, recordCount } from '../support/kafka.ts';
import { postJson, type ErrorBody } from '../support/http.ts';
import { useSidecar } from '../support/fixture.ts';

// A partition count older than 200 ms is read again (behind the request that finds it so), so the sidecar sees the
// recreated topic's within the test.
const fx = useSidecar({ metadataRefreshMs: 200 });

describe('a topic deleted and recreated with fewer partitions', () => {
  it('refuses a request whose cached route names a partition the topic lost: 409, nothing of it written', async () => {
    const topic = await createTopic(fx.admin, 3);
    const url = `${fx.sidecar.url}/v1/ordered-produce`;
    const groups = ['g0', 'g1', 'g2'];
    const first = await postJson(url, { topic, messages: groups.map((g) => ({ message_group: g, value: 'before' })) });
    expect(first.status).toBe(200);
    // Three new groups on three empty partitions: least loaded puts each on its own.
    const partitionOf = new Map(first.body.results.map((r, i) => [groups[i]!, r.partition]));
    const gone = groups.find((g) => partitionOf.get(g) === 2)!;
    const kept = groups.find((g) => partitionOf.get(g) === 0)!;

    await fx.admin.deleteTopics({ topics: [topic] });
    // Kafka refuses the name while the deletion is still under way.
    await vi.waitUntil(
      () =>
        createTopicWithLeaders(fx.admin, { topic, numPartitions: 1, replicationFactor: 1 }).then(
          () => true,
          () => false,
        ),
      { timeout: 30_000, interval: 250 },
    );
    // Until the sidecar has read the new count, plain produce to partition 1 is tried (and fails: it does not
    // exist); once it has, it is refused up front, naming the partitions there are.
    await vi.waitUntil(
      async () => {
        const plain = await postJson<ErrorBody>(`${fx.sidecar.url}/v1/produce`, { topic, messages: [{ partition: 1, value: 'probe' }] });
        return plain.status === 400 && plain.body.error.message.includes('partitions 0..0');
      },
      { timeout: 60_000, interval: 100 },
    );

    // The routes of both groups are in this replica's cache: `kept`'s partition exists, `gone`'s does not.
    const refused = await postJson<ErrorBody>(url, {
      topic,
      messages: [
        { message_group: kept, value: 'after' },
        { message_group: gone, value: 'after' },
      ],
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'CONFLICT', retriable: false });
    expect(refused.body.error.message).toContain(`"${gone}" is mapped to partition 2`);
    expect(await recordCount(fx.admin, topic)).toBe(0);

    // Asked of Redis now (the cached route was dropped): the mapping still names partition 2, so the same answer.
    const again = await postJson<ErrorBody>(url, { topic, messages: [{ message_group: gone, value: 'after' }] });
    expect(again.status).toBe(409);
    // A group whose partition is still there is written.
    expect((await postJson(url, { topic, messages: [{ message_group: kept, value: 'after' }] })).status).toBe(200);
    expect(await recordCount(fx.admin, topic)).toBe(1);

    // The loads count the partition the topic has, and say how many groups are mapped past it (each needs a release).
    const loads = await fetch(`${fx.sidecar.url}/admin/v1/topics/${topic}/loads`);
    expect(await loads.json()).toMatchObject({ topic, total: 1, beyond_topic: 2, partitions: [{ partition: 0, groups: 1 }] });
  });
});
