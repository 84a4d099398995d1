import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorResponder } from '../../src/http/error-response.ts';
import { inflightBodyGate } from '../../src/http/inflight-bodies.ts';
import { requireJson } from '../../src/http/json-body.ts';
import { produceListener } from '../../src/http/produce-routes.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { ProduceResponse } from '../../src/protocol/produce.ts';
import { written } from '../support/produce-responses.ts';

const LIMIT = 1000;
const quiet = createLogger('error', {}, () => undefined);

/** A request the service holds (a body with `"hold": true`): its signal, and how to let it finish. */
interface Held {
  gone: AbortSignal;
  finish: () => void;
}
const held: Held[] = [];

/** A produce service: answers at once, except a body asking to be held, which it keeps until told (a long dedup wait). */
const produce = {
  ordered: (body: unknown, _trace: unknown, gone: AbortSignal): Promise<ProduceResponse> => {
    if (typeof body !== 'object' || body === null || !('hold' in body)) return Promise.resolve(written('t', 1));
    return new Promise((resolve) => held.push({ gone, finish: () => resolve(written('t', 1)) }));
  },
  plain: () => Promise.resolve(written('t', 1)),
};

const listener = produceListener(
  {
    produce,
    before: () => [],
    body: [requireJson, inflightBodyGate(LIMIT, LIMIT, false, quiet), express.json({ limit: LIMIT })],
    onError: errorResponder(quiet, 100),
  },
  (_req, res) => res.end(),
);

let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/ordered-produce`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
// A test that failed midway leaves no request held for the next.
afterEach(() => {
  for (const h of held.splice(0)) h.finish();
});

/** A JSON body of about `bytes` bytes. */
const body = (bytes: number, hold = false): string => JSON.stringify({ ...(hold ? { hold: true } : {}), pad: 'x'.repeat(bytes - 30) });
const post = (text: string, signal: AbortSignal | null = null) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text, signal });
const codeOf = async (res: Response): Promise<string> => ((await res.json()) as { error: { code: string } }).error.code;

describe('MAX_INFLIGHT_BODY_BYTES with clients that go away', () => {
  it('keeps the reservation of a request whose client left until its handler is done with the body', async () => {
    const client = new AbortController();
    const abandoned = post(body(600, true), client.signal).catch(() => 'aborted');
    await vi.waitUntil(() => held.length === 1, { timeout: 5000, interval: 5 });
    client.abort();
    expect(await abandoned).toBe('aborted');

    // Until its handler returns it still holds the 600 bytes: a second 600 would pass the limit.
    const refused = await post(body(600));
    expect(refused.status).toBe(503);
    expect(await codeOf(refused)).toBe('OVERLOADED');
    // A small one still fits beside it.
    expect((await post(body(300))).status).toBe(200);
    // The service is told the client went away (a dedup wait stops early on it).
    expect(held[0]!.gone.aborted).toBe(true);

    held.shift()!.finish();
    await vi.waitUntil(async () => (await post(body(600))).status === 200, { timeout: 5000, interval: 20 });
  });

  it('does not tell the service of a client that stays until its answer', async () => {
    const answer = post(body(600, true));
    await vi.waitUntil(() => held.length === 1, { timeout: 5000, interval: 5 });
    const { gone, finish } = held.shift()!;
    finish();
    expect((await answer).status).toBe(200);
    expect(gone.aborted).toBe(false);
  });

  it('releases the reservation of a body never read when its connection closes', async () => {
    const text = Buffer.from(body(900));
    const partial = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': text.length } });
    partial.on('error', () => undefined);
    partial.write(text.subarray(0, 100));
    // While its body is arriving it holds 900 bytes.
    await vi.waitUntil(async () => (await post(body(600))).status === 503, { timeout: 5000, interval: 20 });
    partial.destroy();
    await vi.waitUntil(async () => (await post(body(600))).status === 200, { timeout: 5000, interval: 20 });
  });
});
