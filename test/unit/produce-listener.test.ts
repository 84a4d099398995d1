import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorResponder } from '../../src/http/error-response.ts';
import { requireJson } from '../../src/http/json-body.ts';
import { produceListener } from '../../src/http/produce-routes.ts';
import { countRequests, requestId, type HttpLabels } from '../../src/http/request-chain.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { written } from '../support/produce-responses.ts';

/** A produce service that answers from the body it was given: what the listener passed it is what comes back. */
const produce = {
  ordered: async (body: unknown) => written(`ordered:${JSON.stringify(body)}`, 1),
  plain: async (body: unknown) => {
    if (typeof body === 'object' && body !== null && 'boom' in body) throw new Error('defect');
    return written(`plain:${JSON.stringify(body)}`, 2);
  },
};

const observed: { labels: HttpLabels; seconds: number }[] = [];
const metrics = {
  inflightRequests: { inc: () => undefined, dec: () => undefined },
  httpDuration: { bind: (labels: HttpLabels) => ({ observe: (seconds: number) => void observed.push({ labels, seconds }) }) },
};

const listener = produceListener(
  {
    produce,
    before: (route) => [requestId, countRequests(metrics, () => route)],
    body: [requireJson, express.json({ limit: 100, strict: false })],
    onError: errorResponder(
      createLogger('error', {}, () => undefined),
      100,
    ),
  },
  (_req, res) => {
    res.statusCode = 418;
    res.end('fallback');
  },
);

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The error body's `error`, as src/errors/sidecar-error.ts writes it. */
const errorOf = async (res: Response): Promise<{ code: string; message: string }> => ((await res.json()) as { error: { code: string; message: string } }).error;

const post = (path: string, body: string, contentType = 'application/json') =>
  fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': contentType } });

describe('the produce listener', () => {
  it('serves both produce routes as express matched them (any case, a trailing slash, a query) and answers as res.json did', async () => {
    const plain = await post('/v1/produce', '{"a":1}');
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(plain.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const text = await plain.text();
    expect(plain.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(JSON.parse(text)).toMatchObject({ topic: 'plain:{"a":1}', successful_messages: 2 });

    const ordered = await post('/V1/Ordered-Produce/?x=1', '{"b":"é"}');
    expect(await ordered.json()).toMatchObject({ topic: 'ordered:{"b":"é"}' });
    expect(observed.map((o) => o.labels)).toEqual([
      { method: 'POST', route: '/v1/produce', status: '200' },
      { method: 'POST', route: '/v1/ordered-produce', status: '200' },
    ]);
  });

  it('answers another method on a produce path with 405 and Allow: POST, after the first steps', async () => {
    observed.length = 0;
    const get = await fetch(`${url}/v1/produce`);
    expect([get.status, get.headers.get('allow'), (await errorOf(get)).code]).toEqual([405, 'POST', 'METHOD_NOT_ALLOWED']);
    expect(get.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(observed.map((o) => o.labels)).toEqual([{ method: 'GET', route: '/v1/produce', status: '405' }]);
  });

  it('passes every other request to the fallback', async () => {
    expect((await fetch(`${url}/v1/other`)).status).toBe(418);
    expect((await post('/v1/produce/x', '{}')).status).toBe(418);
    expect((await post('/v1/producer', '{}')).status).toBe(418);
  });

  it('answers the errors of its steps, of the body parser and of the service as the express app does', async () => {
    const notJson = await post('/v1/produce', '{}', 'text/plain');
    expect(notJson.status).toBe(415);
    expect((await errorOf(notJson)).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const malformed = await post('/v1/produce', '{"a":');
    expect(malformed.status).toBe(400);
    expect((await errorOf(malformed)).message).toMatch(/^body: malformed JSON/);
    const large = await post('/v1/produce', JSON.stringify({ a: 'x'.repeat(200) }));
    expect(large.status).toBe(413);
    expect((await errorOf(large)).message).toBe('body: over the limit of 100 bytes');
    const defect = await post('/v1/produce', '{"boom":1}');
    expect(defect.status).toBe(500);
    expect((await errorOf(defect)).code).toBe('INTERNAL');
  });
});
