import { request } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { createTopic } from '../support/kafka.ts';
import { postJson, type ErrorBody } from '../support/http.ts';
import { useSidecar } from '../support/fixture.ts';

const LIMIT = 1_000_000;
const fx = useSidecar({ maxInflightBodyBytes: LIMIT });

const body = (topic: string, bytes: number) =>
  JSON.stringify({ topic, messages: Array.from({ length: 6 }, (_, i) => ({ message_group: `g${i}`, value: 'x'.repeat(Math.floor(bytes / 6) - 60) })) });

describe('MAX_INFLIGHT_BODY_BYTES', () => {
  it('refuses a body that would take the bytes in flight past the limit, before reading it, and lets it in once they drop', async () => {
    const topic = await createTopic(fx.admin, 2);
    const url = `${fx.sidecar.url}/v1/ordered-produce`;
    const held = Buffer.from(body(topic, 600_000));

    // A request whose body is still arriving: it holds its declared 600 KB.
    const first = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': held.length } });
    const firstAnswer = new Promise<number>((resolve, reject) => {
      first.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      first.on('error', reject);
    });
    first.write(held.subarray(0, 1000));
    await vi.waitUntil(async () => (await fx.sidecar.metrics.inflightRequests.get()).values[0]?.value === 1, { timeout: 10_000, interval: 10 });

    const refused = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(topic, 600_000) });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const error = ((await refused.json()) as ErrorBody).error;
    expect(error).toMatchObject({ code: 'OVERLOADED', retriable: true });
    expect(error.message).toContain('MAX_INFLIGHT_BODY_BYTES');

    // A small one still fits beside the held one.
    expect((await postJson(url, body(topic, 1000))).status).toBe(200);

    first.end(held.subarray(1000));
    expect(await firstAnswer).toBe(200);
    // The held bytes are released with its response: the refused request now passes.
    expect((await postJson(url, body(topic, 600_000))).status).toBe(200);
  });
});
