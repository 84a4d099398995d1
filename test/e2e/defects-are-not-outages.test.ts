import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Admin } from 'kafkajs';
import { DedupWindow } from '../../src/dedup/dedup-window.ts';
import { RouterStore } from '../../src/redis/router-store.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { connectAdmin, createTopic, recordCount, testKafka } from '../support/kafka.ts';
import { postJson, type ErrorBody } from '../support/http.ts';
import { startTestSidecar, waitUntilReady } from '../support/sidecar.ts';

let admin: Admin;
let sidecar: RunningSidecar;

beforeAll(async () => {
  admin = await connectAdmin(testKafka());
  sidecar = await startTestSidecar();
  await waitUntilReady(sidecar.url);
});
afterAll(async () => {
  await sidecar?.close();
  await admin?.disconnect();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const bug = () => new TypeError("Cannot read properties of undefined (reading 'partition')");

describe('a programming error in the Redis paths', () => {
  it('in the dedup check is a 500 and writes nothing (never "without dedup")', async () => {
    const topic = await createTopic(admin, 2);
    vi.spyOn(DedupWindow.prototype, 'acquire').mockRejectedValue(bug());
    const { status, body } = await postJson<ErrorBody>(`${sidecar.url}/v1/ordered-produce`, {
      topic,
      messages: [{ message_group: 'g', value: 'v', dedup_id: 'd-1' }],
    });
    expect(status).toBe(500);
    expect(body.error).toMatchObject({ code: 'INTERNAL', retriable: false });
    expect(await recordCount(admin, topic)).toBe(0);
    expect(sidecar.router.degraded).toBe(false);
  });

  it('in routing is a 500, writes nothing, and does not turn degraded mode on', async () => {
    const topic = await createTopic(admin, 2);
    vi.spyOn(RouterStore.prototype, 'route').mockRejectedValue(bug());
    const { status, body } = await postJson<ErrorBody>(`${sidecar.url}/v1/ordered-produce`, { topic, messages: [{ message_group: 'fresh', value: 'v' }] });
    expect(status).toBe(500);
    expect(body.error.code).toBe('INTERNAL');
    expect(await recordCount(admin, topic)).toBe(0);
    expect(sidecar.router.degraded).toBe(false);
  });
});
