import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { useKafkaAdmin, consumeAll, createTopic, recordCount } from '../support/kafka.ts';
import { postJson } from '../support/http.ts';
import { startTestSidecar, testOptions } from '../support/sidecar.ts';

const { kafka, admin } = useKafkaAdmin();
let sidecars: RunningSidecar[];

beforeAll(async () => {
  const shared = testOptions();
  sidecars = await Promise.all([startTestSidecar({ redisPrefix: shared.redisPrefix }), startTestSidecar({ redisPrefix: shared.redisPrefix })]);
});

afterAll(async () => {
  await Promise.all((sidecars ?? []).map((s) => s.close()));
});

const batch = (topic: string, run: string, n: number) => ({
  topic,
  messages: Array.from({ length: n }, (_, i) => ({ message_group: `user-${i % 3}`, value: `${run}-${i}`, dedup_id: `${run}-${i}` })),
});

describe('dedup_id', () => {
  it('writes a retried request once and reports the original offsets', async () => {
    const topic = await createTopic(admin, 3);
    const first = await postJson(`${sidecars[0]!.url}/v1/ordered-produce`, batch(topic, 'a', 9));
    const retry = await postJson(`${sidecars[1]!.url}/v1/ordered-produce`, batch(topic, 'a', 9));
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(first.body.duplicate_messages).toBe(0);
    expect(retry.body.duplicate_messages).toBe(9);
    expect(retry.body.successful_messages).toBe(9);
    retry.body.results.forEach((result, i) => expect(result).toEqual({ ...first.body.results[i], duplicate: true }));
    expect(await recordCount(admin, topic)).toBe(9);
  });

  it('lets concurrent attempts of the same messages, through two sidecars, write them once', async () => {
    const topic = await createTopic(admin, 3);
    const attempts = await Promise.all(Array.from({ length: 6 }, (_, k) => postJson(`${sidecars[k % 2]!.url}/v1/ordered-produce`, batch(topic, 'b', 12))));
    for (const { status } of attempts) expect(status).toBe(200);
    expect(attempts.filter((a) => a.body.duplicate_messages === 0)).toHaveLength(1);
    const offsets = attempts.map((a) => a.body.results.map((r) => ('offset' in r ? `${r.partition}/${r.offset}` : 'error')));
    for (const o of offsets) expect(o).toEqual(offsets[0]);
    const records = await consumeAll(kafka, admin, topic);
    expect(records).toHaveLength(12);
    for (const group of ['user-0', 'user-1', 'user-2']) {
      const values = records
        .filter((r) => r.headers['message-group'] === group)
        .sort((x, y) => Number(x.offset) - Number(y.offset))
        .map((r) => r.value);
      expect(values).toEqual(
        batch(topic, 'b', 12)
          .messages.filter((m) => m.message_group === group)
          .map((m) => m.value),
      );
    }
  });

  it('writes only the new messages of a request that repeats some, after the earlier ones', async () => {
    const topic = await createTopic(admin, 2);
    await postJson(`${sidecars[0]!.url}/v1/ordered-produce`, batch(topic, 'c', 4));
    const next = await postJson(`${sidecars[0]!.url}/v1/ordered-produce`, batch(topic, 'c', 8));
    expect(next.body.duplicate_messages).toBe(4);
    expect(next.body.results.slice(4).every((r) => 'offset' in r && !('duplicate' in r))).toBe(true);
    expect(await recordCount(admin, topic)).toBe(8);
    const text = await (await fetch(`${sidecars[0]!.url}/metrics`)).text();
    expect(text).toMatch(new RegExp(`ordered_sidecar_deduplicated_messages_total\\{topic="${topic}"\\} 4`));
  });

  it('advertises the window', async () => {
    const body = (await (await fetch(`${sidecars[0]!.url}/v1/api-versions`)).json()) as { features: { dedup: { window_ms: number } } };
    expect(body.features.dedup.window_ms).toBe(300_000);
  });
});
