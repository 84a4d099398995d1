import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import type { SidecarOptions } from '../../src/config/options.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { createTopic, recordCount, useKafkaAdmin } from '../support/kafka.ts';
import { startTestSidecar } from '../support/sidecar.ts';

/**
 * Another website's page in a browser on the sidecar's machine, its own name pointed at 127.0.0.1 (DNS rebinding), is
 * same-origin with a tokenless sidecar on loopback: the produce API must not serve it, as the admin API does not.
 */
const { admin } = useKafkaAdmin();
const sidecars: RunningSidecar[] = [];
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.close()));
});

async function sidecar(overrides: Partial<SidecarOptions> = {}): Promise<RunningSidecar> {
  const s = await startTestSidecar(overrides);
  sidecars.push(s);
  return s;
}

/** A request under `host` (fetch would not let a test set Host), to the sidecar's own address. */
function underHost(
  s: RunningSidecar,
  host: string,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
  body?: object,
): Promise<{ status: number; code?: string | undefined }> {
  const { hostname, port } = new URL(s.url);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        method,
        path,
        headers: {
          ...headers,
          host: host.replace('PORT', port),
          ...(text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }),
        },
      },
      (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (answer += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode!, code: answer.startsWith('{') ? (JSON.parse(answer) as { error?: { code: string } }).error?.code : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const batch = (topic: string) => ({ topic, messages: [{ message_group: 'g', value: 'v' }] });

describe('the produce API and DNS rebinding', () => {
  it('without API_TOKEN on a loopback bind: served under a loopback name only, nothing written otherwise', async () => {
    const s = await sidecar();
    const topic = await createTopic(admin, 1);
    const rebound = { origin: 'http://rebind.attacker.example:PORT' };
    expect(await underHost(s, 'rebind.attacker.example:PORT', 'POST', '/v1/ordered-produce', rebound, batch(topic))).toEqual({
      status: 403,
      code: 'FORBIDDEN',
    });
    expect(await underHost(s, 'rebind.attacker.example:PORT', 'POST', '/v1/produce', rebound, { topic, messages: [{ value: 'x' }] })).toEqual({
      status: 403,
      code: 'FORBIDDEN',
    });
    expect(await underHost(s, 'rebind.attacker.example:PORT', 'GET', '/v1/api-versions')).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await recordCount(admin, topic)).toBe(0);
    for (const host of ['localhost:PORT', '127.0.0.1:PORT'])
      expect((await underHost(s, host, 'POST', '/v1/ordered-produce', {}, batch(topic))).status).toBe(200);
    expect((await underHost(s, 'rebind.attacker.example:PORT', 'GET', '/healthz')).status).toBe(200);
    expect(await recordCount(admin, topic)).toBe(2);
  });

  it('with API_TOKEN, the token decides under any name', async () => {
    const s = await sidecar({ apiToken: 'rebinding-test-token' });
    const topic = await createTopic(admin, 1);
    expect(await underHost(s, 'sidecar.example:PORT', 'POST', '/v1/ordered-produce', {}, batch(topic))).toEqual({ status: 401, code: 'UNAUTHORIZED' });
    const authorized = { authorization: 'Bearer rebinding-test-token' };
    expect((await underHost(s, 'sidecar.example:PORT', 'POST', '/v1/ordered-produce', authorized, batch(topic))).status).toBe(200);
  });

  it('without API_TOKEN on another bind: served under the names callers give it (a compose service, a Service)', async () => {
    const s = await sidecar({ host: '0.0.0.0' });
    const topic = await createTopic(admin, 1);
    expect((await underHost(s, 'ordered-sidecar:PORT', 'POST', '/v1/ordered-produce', {}, batch(topic))).status).toBe(200);
  });
});
