import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { createTopic } from '../support/kafka.ts';
import { postJson } from '../support/http.ts';
import { useSidecar } from '../support/fixture.ts';
import { OPENAPI_FILE, contractReport, contractViolation, documentedRoutes, servedRoutes } from '../support/openapi-contract.ts';
import { VERSION } from '../../src/version.ts';

const API = 'api-token-for-openapi';
const ADMIN = 'admin-token-for-openapi';
const fx = useSidecar({ apiToken: API, adminToken: ADMIN, metadataRefreshMs: 200 });
const api = { authorization: `Bearer ${API}` };
const admin = { authorization: `Bearer ${ADMIN}` };

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is served at GET /v1/openapi.json, behind API_TOKEN, with the running version', async () => {
    expect((await fetch(`${fx.sidecar.url}/v1/openapi.json`)).status).toBe(401);
    const served = (await (await fetch(`${fx.sidecar.url}/v1/openapi.json`, { headers: api })).json()) as {
      openapi: string;
      info: { version: string };
      paths: object;
    };
    const file = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as { paths: object };
    expect(served.openapi).toBe('3.1.0');
    expect(served.info.version).toBe(VERSION);
    expect(served.paths).toEqual(file.paths);
  });

  it('describes what every route answers (each response here is checked against it)', async () => {
    const topic = await createTopic(fx.admin, 2);
    const url = fx.sidecar.url;
    const before = contractReport().checked;
    const ordered = await postJson(
      `${url}/v1/ordered-produce`,
      {
        topic,
        messages: [
          { message_group: 'g1', value: 'a', dedup_id: 'd1' },
          { message_group: 'g2', value: null, key: 'k' },
        ],
      },
      api,
    );
    expect(ordered.status).toBe(200);
    expect((await postJson(`${url}/v1/ordered-produce`, { topic, messages: [{ message_group: 'g1', value: 'a', dedup_id: 'd1' }] }, api)).status).toBe(200);
    expect((await postJson(`${url}/v1/produce`, { topic, messages: [{ value: 'x', partition: 1 }] }, api)).status).toBe(200);
    expect((await postJson(`${url}/v1/ordered-produce`, { topic, messages: [] }, api)).status).toBe(400);
    expect((await postJson(`${url}/v1/ordered-produce`, { topic: 'no-such-topic-x', messages: [{ message_group: 'g', value: 'v' }] }, api)).status).toBe(404);
    expect((await postJson(`${url}/v1/ordered-produce`, 'not json', api)).status).toBe(400);
    expect((await fetch(`${url}/v1/ordered-produce`, { method: 'POST', headers: { ...api, 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
    expect((await postJson(`${url}/v1/produce`, { topic, messages: [{ value: 'x' }] })).status).toBe(401);
    expect((await fetch(`${url}/v1/api-versions`, { headers: api })).status).toBe(200);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${url}${path}`)).status).toBe(200);

    expect((await fetch(`${url}/admin/v1/topics`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${url}/admin/v1/topics`)).status).toBe(401);
    expect((await fetch(`${url}/admin/v1/topics/${topic}/loads`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${url}/admin/v1/topics/${topic}/groups?limit=1`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${url}/admin/v1/topics/${topic}/groups?limit=0`, { headers: admin })).status).toBe(400);
    expect((await fetch(`${url}/admin/v1/topics/${topic}/groups/g1`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${url}/admin/v1/topics/${topic}/groups/nobody`, { headers: admin })).status).toBe(404);
    expect((await fetch(`${url}/admin/v1/topics/${topic}/groups/g1`, { method: 'DELETE', headers: admin })).status).toBe(409);
    expect((await postJson(`${url}/admin/v1/topics/${topic}/groups/g1/move`, { partition: 7 }, admin)).status).toBe(409);
    expect((await fetch(`${url}/admin/v1/topics/${topic}/groups?prefix=g&limit=5`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${url}/admin/v1/overview`, { headers: admin })).status).toBe(200);
    expect((await fetch(`${url}/admin/v1/overview`)).status).toBe(401);
    expect((await fetch(`${url}/console`, { redirect: 'manual' })).status).toBe(301);

    const report = contractReport();
    expect(report.checked - before).toBe(25);
    expect(report.violations).toEqual([]);
  });

  it('is what the check holds responses to: a response that drifts from it is reported', () => {
    const good = JSON.stringify({ error: { code: 'INVALID_REQUEST', message: 'm', retriable: false } });
    expect(contractViolation('POST', '/v1/ordered-produce', 400, 'application/json; charset=utf-8', good)).toBeUndefined();
    expect(
      contractViolation(
        'POST',
        '/v1/ordered-produce',
        400,
        'application/json',
        JSON.stringify({ error: { code: 'NEW_CODE', message: 'm', retriable: false } }),
      ),
    ).toContain('must be equal to one of the allowed values');
    expect(contractViolation('POST', '/v1/ordered-produce', 418, 'application/json', good)).toContain('status 418 not in the document');
    expect(contractViolation('GET', '/admin/v1/topics', 200, 'application/json', JSON.stringify({ topics: ['a'], extra: 1 }))).toContain(
      'must NOT have additional properties',
    );
    expect(
      contractViolation(
        'GET',
        '/admin/v1/topics/t/groups/g',
        200,
        'application/json',
        JSON.stringify({ topic: 't', group: 'g', partition: 0, last_access: 'yesterday' }),
      ),
    ).toContain('must match format "date-time"');
    // A path the document does not list passes only as a catch-all error answer.
    const notFound = JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no route', retriable: false } });
    expect(contractViolation('GET', '/v1/nowhere', 404, 'application/json', notFound)).toBeUndefined();
    expect(contractViolation('GET', '/v1/nowhere', 200, 'application/json', JSON.stringify({ ok: true }))).toContain('path not in the document');
    expect(contractViolation('GET', '/v1/nowhere', 500, 'application/json', notFound)).toContain('path not in the document');
    // A response given by reference (the drain's 503) is checked against what it refers to.
    const draining = JSON.stringify({ error: { code: 'SHUTTING_DOWN', message: 'm', retriable: true } });
    expect(contractViolation('GET', '/v1/api-versions', 503, 'application/json', draining)).toBeUndefined();
    expect(contractViolation('GET', '/v1/api-versions', 503, 'application/json', JSON.stringify({ error: 'x' }))).toContain('must be object');
  });

  it('lists exactly the routes the sidecar serves (the produce routes, and those of Express)', () => {
    const app = fx.sidecar.server
      .listeners('request')
      .find((listener): listener is typeof listener & { routes: string[]; fallback: { router: unknown } } => 'routes' in listener && 'fallback' in listener);
    expect(app).toBeDefined();
    const served = servedRoutes(app!);
    expect(served).toContain('POST /v1/ordered-produce');
    expect(served).toContain('POST /admin/v1/topics/{topic}/groups/{group}/move');
    expect(new Set(served)).toEqual(new Set(documentedRoutes()));
  });
});
