import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { produceJsonBody } from '../../src/http/produce-body.ts';
import { runChain, type Middleware } from '../../src/http/request-chain.ts';
import { currentRequestId, inRequest } from '../../src/logging/request-context.ts';

const LIMIT = 200;

/** What a parser left: the body, or the error fields errorResponder reads; and the request id its `next` saw. */
interface Seen {
  body?: unknown;
  error?: { type: unknown; status: unknown; message: string };
  requestId: string | undefined;
}

/** Runs `parser` on each request inside a request-id context and answers with what it left. */
const serverFor = (parser: Middleware): Server =>
  createServer((req: IncomingMessage, res: ServerResponse) => {
    const answer = (seen: Seen): void => void res.end(JSON.stringify(seen));
    inRequest('rid-1', () =>
      runChain([parser, (r, _res, next) => (answer({ body: 'body' in r ? r.body : '(none)', requestId: currentRequestId() }), next())], req, res, (err) => {
        const e = err as { type?: unknown; status?: unknown; message: string };
        answer({ error: { type: e.type, status: e.status, message: e.message }, requestId: currentRequestId() });
      }),
    );
  });

const servers: Record<'ours' | 'bodyParser', Server> = {
  ours: serverFor(produceJsonBody(LIMIT)),
  bodyParser: serverFor(express.json({ limit: LIMIT, strict: false })),
};

beforeAll(async () => {
  for (const s of Object.values(servers)) await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  for (const s of Object.values(servers)) await new Promise<void>((resolve) => s.close(() => resolve()));
});

/** Sends raw bytes (head and body as given) and resolves with the answer's body; undefined when none came. */
function raw(server: Server, head: string, body: Buffer, { thenClose = false } = {}): Promise<string | undefined> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer === '' ? undefined : answer.slice(answer.indexOf('\r\n\r\n') + 4)));
    socket.write(head);
    socket.write(body);
    if (thenClose) socket.end();
  });
}

const request = (headers: Record<string, string>): string =>
  `POST /v1/produce HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

/** Both parsers on the same request: what each left. */
async function both(headers: Record<string, string>, body: Buffer): Promise<{ ours: Seen; bodyParser: Seen }> {
  const head = request(headers);
  const [ours, bodyParser] = await Promise.all([raw(servers.ours, head, body), raw(servers.bodyParser, head, body)]);
  return { ours: JSON.parse(ours!) as Seen, bodyParser: JSON.parse(bodyParser!) as Seen };
}

const json = (headers: Record<string, string> = {}) => ({ 'content-type': 'application/json', ...headers });
const sized = (body: Buffer, headers: Record<string, string> = {}) => ({ ...json(headers), 'content-length': String(body.length) });

describe('produceJsonBody', () => {
  const cases: { name: string; body: Buffer; headers?: (body: Buffer) => Record<string, string>; expected: Partial<Seen> }[] = [
    { name: 'a JSON object', body: Buffer.from('{"topic":"t","messages":[{"value":"é"}]}'), expected: { body: { topic: 't', messages: [{ value: 'é' }] } } },
    { name: 'JSON that is not an object (strict: false)', body: Buffer.from(' [1, "x"] '), expected: { body: [1, 'x'] } },
    { name: 'an empty body', body: Buffer.alloc(0), expected: { body: {} } },
    { name: 'a leading byte order mark', body: Buffer.from('\ufeff{"a":1}'), expected: { body: { a: 1 } } },
    {
      name: 'malformed JSON',
      body: Buffer.from('{"a":'),
      expected: { error: { type: 'entity.parse.failed', status: 400, message: expect.any(String) as string } },
    },
    {
      name: 'charset=utf-8',
      body: Buffer.from('{"a":"é"}'),
      headers: (b) => sized(b, { 'content-type': 'application/json; charset=UTF-8' }),
      expected: { body: { a: 'é' } },
    },
    {
      name: 'another charset (body-parser refuses it)',
      body: Buffer.from('{"a":1}'),
      headers: (b) => sized(b, { 'content-type': 'application/json; charset=latin1' }),
      expected: { error: { type: 'charset.unsupported', status: 415, message: 'unsupported charset "LATIN1"' } },
    },
    {
      name: 'a gzip body (body-parser inflates it)',
      body: gzipSync('{"z":true}'),
      headers: (b) => sized(b, { 'content-encoding': 'gzip' }),
      expected: { body: { z: true } },
    },
    {
      name: 'a chunked body',
      body: Buffer.from('7\r\n{"c":1}\r\n0\r\n\r\n'),
      headers: () => ({ ...json(), 'transfer-encoding': 'chunked' }),
      expected: { body: { c: 1 } },
    },
    {
      name: 'a body over the limit',
      body: Buffer.from(`{"a":"${'x'.repeat(LIMIT)}"}`),
      expected: { error: { type: 'entity.too.large', status: 413, message: 'request entity too large' } },
    },
  ];

  it.each(cases)('leaves what body-parser leaves: $name', async ({ body, headers, expected }) => {
    const { ours, bodyParser } = await both(headers ? headers(body) : sized(body), body);
    expect(bodyParser).toMatchObject({ ...expected, requestId: 'rid-1' });
    expect(ours).toEqual(bodyParser);
  });

  // body-parser decodes such bytes to U+FFFD: two groups differing only there would be one in Redis and Kafka.
  const notUtf8 = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xc3, 0x22, 0x7d]);
  const chunkedNotUtf8 = Buffer.concat([Buffer.from(`${notUtf8.length.toString(16)}\r\n`), notUtf8, Buffer.from('\r\n0\r\n\r\n')]);
  it.each([
    { path: 'its own read (declared length)', headers: sized(notUtf8), body: notUtf8 },
    { path: "body-parser's read (chunked)", headers: { ...json(), 'transfer-encoding': 'chunked' }, body: chunkedNotUtf8 },
    { path: "body-parser's read (gzip)", headers: sized(gzipSync(notUtf8), { 'content-encoding': 'gzip' }), body: gzipSync(notUtf8) },
  ])('refuses a body that is not UTF-8, through $path', async ({ headers, body }) => {
    const seen = JSON.parse((await raw(servers.ours, request(headers), body))!) as Seen;
    expect(seen).toEqual({ error: { type: 'entity.invalid.utf8', status: 400, message: 'not valid UTF-8' }, requestId: 'rid-1' });
  });

  it('keeps none of the body’s bytes once it is parsed, while the request is still being handled', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const chunks: WeakRef<Buffer>[] = [];
    const server = createServer((req, res) => {
      req.on('data', (chunk: Buffer) => chunks.push(new WeakRef(chunk)));
      // The handler still holds the request (as the produce handler does until Kafka answers) when it counts.
      const handler: Middleware = (held) => {
        setImmediate(() => {
          gc();
          res.end(JSON.stringify({ chunks: chunks.length, alive: chunks.filter((c) => c.deref() !== undefined).length, parsed: 'body' in held }));
        });
      };
      runChain([produceJsonBody(1024 * 1024), handler], req, res, () => res.end('{}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const body = Buffer.from(JSON.stringify({ value: 'x'.repeat(300 * 1024) }));
      const answer = JSON.parse((await raw(server, request({ ...json(), 'content-length': String(body.length) }), body)) ?? '{}') as Record<string, unknown>;
      expect(answer.parsed).toBe(true);
      expect(answer.chunks).toBeGreaterThan(1);
      expect(answer.alive).toBe(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('fails an aborted body as body-parser does, in the request context', async () => {
    const body = Buffer.from('{"a":');
    const head = request({ ...json(), 'content-length': '50' });
    const seen: Seen[] = [];
    const record = (parser: Middleware): Server =>
      createServer((req, res) =>
        inRequest('rid-2', () => runChain([parser], req, res, (err) => seen.push({ error: err as NonNullable<Seen['error']>, requestId: currentRequestId() }))),
      );
    for (const [i, parser] of [produceJsonBody(LIMIT), express.json({ limit: LIMIT, strict: false })].entries()) {
      const server = record(parser);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      await raw(server, head, body, { thenClose: true });
      await expect.poll(() => seen.length).toBe(i + 1);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const [ours, bodyParser] = seen.map((s) => ({ type: s.error?.type, status: s.error?.status, message: s.error?.message, requestId: s.requestId }));
    expect(bodyParser).toEqual({ type: 'request.aborted', status: 400, message: 'request aborted', requestId: 'rid-2' });
    expect(ours).toEqual(bodyParser);
  });
});
