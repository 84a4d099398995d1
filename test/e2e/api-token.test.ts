import { describe, expect, it } from 'vitest';
import { Client } from '../../src/sdk/client.ts';
import { NonRetriableError } from '../../src/sdk/errors.ts';
import { createTopic, recordCount } from '../support/kafka.ts';
import { postJson, type ErrorBody } from '../support/http.ts';
import { useSidecar } from '../support/fixture.ts';

const TOKEN = 'test-api-token-0123456789';
const fx = useSidecar({ apiToken: TOKEN, adminToken: 'a-different-admin-token' });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const batch = (topic: string) => ({ topic, messages: [{ message_group: 'g', value: 'v' }] });

describe('API_TOKEN', () => {
  it('answers 401 with a JSON error, writing nothing, without or with a wrong token', async () => {
    const topic = await createTopic(fx.admin, 1);
    for (const headers of [{}, bearer('wrong'), bearer(`${TOKEN}x`), { authorization: TOKEN }, bearer('a-different-admin-token')]) {
      const { status, body } = await postJson<ErrorBody>(`${fx.sidecar.url}/v1/ordered-produce`, batch(topic), headers);
      expect(status).toBe(401);
      expect(body.error).toMatchObject({ code: 'UNAUTHORIZED', retriable: false });
      expect(body.error.message).not.toContain(TOKEN);
    }
    const versions = await fetch(`${fx.sidecar.url}/v1/api-versions`);
    expect(versions.status).toBe(401);
    expect(versions.headers.get('www-authenticate')).toBe('Bearer realm="ordered-sidecar"');
    expect(await recordCount(fx.admin, topic)).toBe(0);
  });

  it('accepts the right token on every /v1 route', async () => {
    const topic = await createTopic(fx.admin, 1);
    expect((await postJson(`${fx.sidecar.url}/v1/ordered-produce`, batch(topic), bearer(TOKEN))).status).toBe(200);
    expect((await postJson(`${fx.sidecar.url}/v1/produce`, { topic, messages: [{ value: 'x' }] }, bearer(TOKEN))).status).toBe(200);
    expect((await fetch(`${fx.sidecar.url}/v1/api-versions`, { headers: bearer(TOKEN) })).status).toBe(200);
    expect(await recordCount(fx.admin, topic)).toBe(2);
  });

  it('leaves /healthz, /readyz and /metrics open, and keeps the admin API behind ADMIN_TOKEN only', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${fx.sidecar.url}${path}`)).status).toBe(200);
    expect((await fetch(`${fx.sidecar.url}/admin/v1/topics`, { headers: bearer(TOKEN) })).status).toBe(401);
    expect((await fetch(`${fx.sidecar.url}/admin/v1/topics`, { headers: bearer('a-different-admin-token') })).status).toBe(200);
  });

  it('lets the SDK send with its token option, and fail without retrying when it is wrong', async () => {
    const topic = await createTopic(fx.admin, 2);
    const good = new Client({ url: fx.sidecar.url, token: TOKEN });
    const bad = new Client({ url: fx.sidecar.url, token: 'nope', retry: { maxElapsedMs: 2000 } });
    try {
      await good.orderedProducer().sendMessageGroupBatch(topic, 'user-1', [{ value: 'a' }, { value: 'b' }]);
      const failed = await bad
        .orderedProducer()
        .sendMessageGroupBatch(topic, 'user-2', [{ value: 'c' }])
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(failed).toBeInstanceOf(NonRetriableError);
      expect(String((failed as Error).message)).toContain('UNAUTHORIZED');
      expect(String(failed)).not.toContain('nope');
      expect(await recordCount(fx.admin, topic)).toBe(2);
    } finally {
      await Promise.all([good.close(), bad.close()]);
    }
  });
});
