import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sidecar: SidecarProcess;
beforeAll(async () => {
  sidecar = await spawnSidecar(testOptions(), { flags: ['--log-level', 'debug'] });
});
afterAll(async () => {
  await sidecar?.stop();
});

const linesOf = (requestId: string): string[] => sidecar.logs.filter((line) => line.includes(`"requestId":"${requestId}"`));

describe('X-Request-Id', () => {
  it('is made when the caller sends none, and returned', async () => {
    const response = await fetch(`${sidecar.url}/v1/api-versions`);
    expect(response.headers.get('x-request-id')).toMatch(UUID);
    const other = await fetch(`${sidecar.url}/healthz`);
    expect(other.headers.get('x-request-id')).toMatch(UUID);
    expect(other.headers.get('x-request-id')).not.toBe(response.headers.get('x-request-id'));
  });

  it("keeps the caller's, returns it, and puts it on the request's log lines, after the body was read", async () => {
    const requestId = `req-${Date.now()}`;
    const response = await fetch(`${sidecar.url}/v1/ordered-produce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ topic: 'no-such-topic-for-request-ids', messages: [{ message_group: 'g', value: 'v' }] }),
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe(requestId);
    await vi.waitUntil(() => linesOf(requestId).length > 0, { timeout: 10_000, interval: 50 });
    expect(linesOf(requestId).join('\n')).toContain('request rejected');
    // Lines of other requests do not carry it.
    expect(sidecar.logs.filter((line) => line.includes('listening')).join('\n')).not.toContain('requestId');
  });

  it('keeps it for a body that arrives in parts, read from later socket events', async () => {
    const requestId = `slow-${Date.now()}`;
    const body = Buffer.from(JSON.stringify({ topic: 'no-such-topic-for-request-ids', messages: [{ message_group: 'g', value: 'v' }] }));
    const req = request(`${sidecar.url}/v1/ordered-produce`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-request-id': requestId },
    });
    const status = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    req.write(body.subarray(0, 10));
    // The first part has reached the sidecar (its request is in flight) before the rest is sent.
    await vi.waitUntil(async () => (await fetch(`${sidecar.url}/metrics`).then((r) => r.text())).includes('ordered_sidecar_inflight_requests 2'), {
      timeout: 10_000,
      interval: 20,
    });
    req.end(body.subarray(10));
    expect(await status).toBe(404);
    await vi.waitUntil(() => linesOf(requestId).some((line) => line.includes('request rejected')), { timeout: 10_000, interval: 50 });
  });

  it('replaces an id that is too long or not printable ASCII', async () => {
    for (const given of ['x'.repeat(129), 'has space', 'tab\there']) {
      const response = await fetch(`${sidecar.url}/v1/api-versions`, { headers: { 'x-request-id': given } });
      expect(response.headers.get('x-request-id'), given).toMatch(UUID);
    }
  });
});
