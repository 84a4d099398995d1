import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppDeps } from '../../src/http/app.ts';
import type { HttpLabels } from '../../src/http/request-chain.ts';
import { createLogger } from '../../src/logging/logger.ts';

/**
 * http_request_duration_seconds is labelled by route template. Routing ignores case, as express does, so the
 * client's spelling of a mount path must not reach the label: each spelling would be a series of its own, kept
 * for the life of the process.
 */
describe('the route label of the HTTP metrics', () => {
  const observed: HttpLabels[] = [];
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const deps = {
      produce: {},
      health: {},
      metrics: {
        inflightRequests: { inc: () => undefined, dec: () => undefined },
        httpDuration: {
          bind: (labels: HttpLabels) => ({ observe: () => observed.push(labels) }),
        },
        registry: { contentType: 'text/plain', metrics: async () => '' },
      },
      log: createLogger('error', {}, () => undefined),
      version: '0.0.0-test',
      kafkaClient: 'kafkajs',
      maxBodyBytes: 1024,
      maxInflightBodyBytes: 1 << 20,
      acceptEncodedBodies: false,
      dedupWindowMs: 60_000,
      isDraining: () => false,
      admin: { service: { maxGroupBytes: 256, topics: async () => ['t'], loads: async () => ({}) }, token: undefined, overview: {} },
      console: false,
    } as unknown as AppDeps;
    server = createServer(createApp(deps));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  /** The label set observed for one GET of `path`. */
  async function labelOf(path: string): Promise<HttpLabels> {
    const before = observed.length;
    const res = await fetch(`${url}${path}`);
    await res.arrayBuffer();
    await expect.poll(() => observed.length).toBe(before + 1);
    return observed.at(-1)!;
  }

  it('is the literal mount path and route template, whatever the case the client wrote', async () => {
    for (const path of ['/admin/v1/topics', '/ADMIN/V1/topics', '/Admin/v1/TOPICS', '/aDmIn/V1/topics']) {
      expect(await labelOf(path), path).toEqual({ method: 'GET', route: '/admin/v1/topics', status: '200' });
    }
    expect((await labelOf('/ADMIN/v1/topics/x/loads')).route).toBe('/admin/v1/topics/:topic/loads');
  });

  it('keeps the template of the app’s own routes, and "unmatched" for the rest', async () => {
    expect((await labelOf('/V1/API-VERSIONS')).route).toBe('/v1/api-versions');
    expect((await labelOf('/HEALTHZ')).route).toBe('/healthz');
    expect(await labelOf('/ADMIN/V1/nothing-here')).toEqual({ method: 'GET', route: 'unmatched', status: '404' });
    expect((await labelOf('/elsewhere')).route).toBe('unmatched');
  });

  it('answers another method on a served path with 405 and Allow, after the guards, and "unmatched"', async () => {
    for (const [method, path, allow] of [
      ['DELETE', '/admin/v1/topics', 'GET, HEAD'],
      ['POST', '/ADMIN/V1/Topics/t/groups/g/', 'GET, DELETE, HEAD'],
      ['GET', '/admin/v1/topics/t/rebuild', 'POST'],
      ['POST', '/v1/api-versions', 'GET, HEAD'],
    ] as const) {
      const before = observed.length;
      const res = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
      const body = (await res.json()) as { error: { code: string } };
      expect([res.status, res.headers.get('allow'), body.error.code], `${method} ${path}`).toEqual([405, allow, 'METHOD_NOT_ALLOWED']);
      await expect.poll(() => observed.length).toBe(before + 1);
      expect(observed.at(-1)).toEqual({ method, route: 'unmatched', status: '405' });
    }
    // OPTIONS too, as on the produce routes (the app's 404 came before express's own OPTIONS answer).
    const options = await fetch(`${url}/v1/api-versions`, { method: 'OPTIONS' });
    expect([options.status, options.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    // A path no route serves is still a 404, whatever the method.
    expect((await fetch(`${url}/admin/v1/topics/t/nothing`, { method: 'DELETE' })).status).toBe(404);
  });
});
