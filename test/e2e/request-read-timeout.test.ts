import { connect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createTopic, recordCount } from '../support/kafka.ts';
import { postJson, type ErrorBody } from '../support/http.ts';
import { useSidecar } from '../support/fixture.ts';

// Long enough for the second request to reach the gate while the first still holds its share, on a busy machine.
const READ_TIMEOUT_MS = 5000;
const fx = useSidecar({ requestReadTimeoutMs: READ_TIMEOUT_MS, maxInflightBodyBytes: 1_000_000 });

const body = (topic: string, bytes: number) => JSON.stringify({ topic, messages: [{ message_group: 'g', value: 'x'.repeat(bytes) }] });

describe('REQUEST_READ_TIMEOUT', () => {
  it('answers a stalled upload 408 and closes it, which frees its MAX_INFLIGHT_BODY_BYTES share for other requests', async () => {
    const topic = await createTopic(fx.admin, 1);
    const url = `${fx.sidecar.url}/v1/ordered-produce`;
    const declared = Buffer.byteLength(body(topic, 600_000));

    // The head and a few bytes of a 600 KB body, then nothing: a client stuck mid-upload.
    let answer = '';
    const sentAt = performance.now();
    const stalled = connect(Number(new URL(fx.sidecar.url).port), '127.0.0.1').setEncoding('utf8');
    const closed = new Promise<number>((resolve, reject) => {
      stalled.on('data', (chunk: string) => (answer += chunk));
      stalled.on('close', () => resolve(performance.now() - sentAt));
      stalled.on('error', reject);
    });
    stalled.write(`POST /v1/ordered-produce HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n{"topic"`);

    // While it holds its declared bytes, another 600 KB body does not fit under the limit.
    await vi.waitUntil(async () => (await fx.sidecar.metrics.inflightRequests.get()).values[0]?.value === 1, { timeout: 10_000, interval: 10 });
    const refused = await postJson<ErrorBody>(url, JSON.parse(body(topic, 600_000)) as unknown);
    expect(refused.body.error.code).toBe('OVERLOADED');

    const elapsed = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeGreaterThanOrEqual(READ_TIMEOUT_MS - 50);

    const admitted = await postJson(url, JSON.parse(body(topic, 600_000)) as unknown);
    expect(admitted.status).toBe(200);
    expect(await recordCount(fx.admin, topic)).toBe(1);
  });
});
