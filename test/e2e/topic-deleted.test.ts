import { describe, expect, it, vi } from 'vitest';
import { createTopic } from '../support/kafka.ts';
import { postJson, type ErrorBody } from '../support/http.ts';
import { useSidecar } from '../support/fixture.ts';

// A count read is trusted for 10 minutes here, so only a write's failure can make the sidecar read it again within
// the test; writes give up after 5 s instead of 30.
const fx = useSidecar({ metadataRefreshMs: 600_000, kafkaWriteTimeoutMs: 5000 });

describe('a topic deleted while the sidecar holds its partition count', () => {
  it('is refused with 404 UNKNOWN_TOPIC once a write to it has failed, on both produce routes, not only after METADATA_REFRESH', async () => {
    const topic = await createTopic(fx.admin, 2);
    const ordered = (value: string) => postJson<ErrorBody>(`${fx.sidecar.url}/v1/ordered-produce`, { topic, messages: [{ message_group: 'g', value }] });
    expect((await ordered('before')).status).toBe(200);

    await fx.admin.deleteTopics({ topics: [topic] });
    // The writes meanwhile fail retriably: Kafka calls a topic it does not have "unknown", which may pass.
    await vi.waitUntil(async () => (await ordered('after')).status === 404, { timeout: 45_000, interval: 200 });
    const refused = await ordered('after');
    expect(refused.body.error).toMatchObject({ code: 'UNKNOWN_TOPIC', retriable: false });
    const plain = await postJson<ErrorBody>(`${fx.sidecar.url}/v1/produce`, { topic, messages: [{ partition: 0, value: 'after' }] });
    expect([plain.status, plain.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC']);
  }, 60_000);
});
