import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
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

describe('compressed produce bodies', () => {
  const zipped = (text: string): Buffer => gzipSync(Buffer.from(text));

  it('are refused with 415 by default, nothing read', async () => {
    const topic = await createTopic(fx.admin, 1);
    const response = await fetch(`${fx.sidecar.url}/v1/ordered-produce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: zipped(body(topic, 1000)),
    });
    expect(response.status).toBe(415);
    const error = ((await response.json()) as ErrorBody).error;
    expect(error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body' });
    expect(error.message).toContain('ACCEPT_ENCODED_BODIES');
  });
});

describe('compressed produce bodies with ACCEPT_ENCODED_BODIES=true', () => {
  const accepting = useSidecar({ maxInflightBodyBytes: LIMIT, acceptEncodedBodies: true });

  it('are read, and count at what they may inflate to, not at their compressed length', async () => {
    const topic = await createTopic(accepting.admin, 2);
    const url = `${accepting.sidecar.url}/v1/ordered-produce`;
    const send = (text: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(Buffer.from(text)) });
    // 600 KB of JSON that compresses to a few KB.
    const inflating = body(topic, 600_000);
    expect(gzipSync(Buffer.from(inflating)).length).toBeLessThan(10_000);
    expect((await send(inflating)).status).toBe(200);

    // While a 600 KB body is arriving, the compressed one would inflate past the limit: refused unread.
    const held = Buffer.from(body(topic, 600_000));
    const first = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': held.length } });
    const firstAnswer = new Promise<number>((resolve, reject) => {
      first.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      first.on('error', reject);
    });
    first.write(held.subarray(0, 1000));
    await vi.waitUntil(async () => (await accepting.sidecar.metrics.inflightRequests.get()).values[0]?.value === 1, { timeout: 10_000, interval: 10 });
    const refused = await send(inflating);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as ErrorBody).error.code).toBe('OVERLOADED');
    first.end(held.subarray(1000));
    expect(await firstAnswer).toBe(200);
  });
});
