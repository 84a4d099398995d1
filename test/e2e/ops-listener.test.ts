import { describe, expect, it } from 'vitest';
import { useSidecar } from '../support/fixture.ts';

const fx = useSidecar({ opsPort: 0, opsHost: '127.0.0.1' });
const status = async (url: string): Promise<number> => (await fetch(url)).status;

describe('OPS_PORT', () => {
  it('serves /metrics, /healthz and /readyz on the ops port', async () => {
    const ops = fx.sidecar.opsUrl!;
    expect(ops).toBeDefined();
    expect(ops).not.toBe(fx.sidecar.url);
    const metrics = await fetch(`${ops}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('ordered_sidecar_http_request_duration_seconds');
    expect(await (await fetch(`${ops}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${ops}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, kafka: { ok: true }, redis: { ok: true } });
  });

  it('serves neither the API nor the admin API there', async () => {
    const ops = fx.sidecar.opsUrl!;
    for (const path of ['/v1/api-versions', '/v1/openapi.json', '/admin/v1/topics']) expect(await status(`${ops}${path}`), path).toBe(404);
    const produce = await fetch(`${ops}/v1/ordered-produce`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(produce.status).toBe(404);
    expect(((await produce.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('takes /metrics off the main port, which keeps the API, the admin API and the health endpoints', async () => {
    const main = fx.sidecar.url;
    expect(await status(`${main}/metrics`)).toBe(404);
    for (const path of ['/v1/api-versions', '/admin/v1/topics', '/healthz', '/readyz']) expect(await status(`${main}${path}`), path).toBe(200);
  });
});
