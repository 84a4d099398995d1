import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from '../../src/config/options.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { useKafkaAdmin, createTopic, recordCount } from '../support/kafka.ts';
import { postJson, type ErrorBody } from '../support/http.ts';
import { startTestSidecar } from '../support/sidecar.ts';

const { admin } = useKafkaAdmin();
let sidecar: RunningSidecar;
let topic: string;

beforeAll(async () => {
  topic = await createTopic(admin, 3);
  sidecar = await startTestSidecar({ maxMessageBytes: 1000, maxBodyBytes: 64 * 1024, maxMessagesPerRequest: 50 });
});

afterAll(async () => {
  await sidecar?.close();
});

const ok = (extra: Record<string, unknown> = {}) => ({ message_group: 'g', value: 'v', ...extra });

/**
 * Sends raw bytes to the sidecar and resolves with everything it answered once it closes the connection.
 * `end: false` keeps our side open (a body still to come), so only the sidecar can end it.
 */
const rawRequest = (bytes: Buffer, { end = true } = {}): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(new URL(sidecar.url).port), '127.0.0.1')
      .setEncoding('utf8')
      .on('data', (chunk: string) => (text += chunk))
      .on('close', () => resolve(text))
      .on('error', reject);
    if (end) socket.end(bytes);
    else socket.write(bytes);
  });

/** Bodies a hostile or careless client might send, with the status, error code and field we expect. */
const cases: { name: string; body: () => unknown; status: number; code: string; field?: string }[] = [
  { name: 'malformed JSON', body: () => '{"topic": "x", "messages": [', status: 400, code: 'INVALID_REQUEST', field: 'body' },
  { name: 'JSON that is not an object', body: () => '[1,2]', status: 400, code: 'INVALID_REQUEST', field: 'body' },
  { name: 'missing topic', body: () => ({ messages: [ok()] }), status: 400, code: 'INVALID_REQUEST', field: 'topic' },
  { name: 'empty topic', body: () => ({ topic: '', messages: [ok()] }), status: 400, code: 'INVALID_REQUEST', field: 'topic' },
  { name: 'topic of the wrong type', body: () => ({ topic: 7, messages: [ok()] }), status: 400, code: 'INVALID_REQUEST', field: 'topic' },
  { name: 'topic with illegal characters', body: () => ({ topic: 'a/b', messages: [ok()] }), status: 400, code: 'INVALID_REQUEST', field: 'topic' },
  { name: 'the topic ".."', body: () => ({ topic: '..', messages: [ok()] }), status: 400, code: 'INVALID_REQUEST', field: 'topic' },
  { name: 'a Kafka internal topic', body: () => ({ topic: '__consumer_offsets', messages: [ok()] }), status: 400, code: 'INVALID_REQUEST', field: 'topic' },
  { name: 'unknown top-level field', body: () => ({ topic, messages: [ok()], partition: 1 }), status: 400, code: 'INVALID_REQUEST', field: 'body.partition' },
  { name: 'messages missing', body: () => ({ topic }), status: 400, code: 'INVALID_REQUEST', field: 'messages' },
  { name: 'messages not an array', body: () => ({ topic, messages: {} }), status: 400, code: 'INVALID_REQUEST', field: 'messages' },
  { name: 'empty messages', body: () => ({ topic, messages: [] }), status: 400, code: 'INVALID_REQUEST', field: 'messages' },
  {
    name: 'too many messages',
    body: () => ({ topic, messages: Array.from({ length: 51 }, () => ok()) }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    field: 'messages',
  },
  { name: 'a message that is not an object', body: () => ({ topic, messages: [ok(), 'hello'] }), status: 400, code: 'INVALID_REQUEST', field: 'messages[1]' },
  {
    name: 'missing message_group',
    body: () => ({ topic, messages: [ok(), { value: 'v' }] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[1].message_group',
  },
  {
    name: 'empty message_group',
    body: () => ({ topic, messages: [ok({ message_group: '' })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].message_group',
  },
  {
    name: 'message_group of the wrong type',
    body: () => ({ topic, messages: [ok({ message_group: 12 })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].message_group',
  },
  {
    name: 'message_group over 128 bytes',
    body: () => ({ topic, messages: [ok({ message_group: 'é'.repeat(65) })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].message_group',
  },
  {
    name: 'a partition field (the sidecar routes)',
    body: () => ({ topic, messages: [ok({ partition: 0 })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].partition',
  },
  { name: 'missing value', body: () => ({ topic, messages: [{ message_group: 'g' }] }), status: 400, code: 'INVALID_REQUEST', field: 'messages[0].value' },
  {
    name: 'value of the wrong type',
    body: () => ({ topic, messages: [ok({ value: { a: 1 } })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].value',
  },
  { name: 'key of the wrong type', body: () => ({ topic, messages: [ok({ key: 5 })] }), status: 400, code: 'INVALID_REQUEST', field: 'messages[0].key' },
  {
    name: 'invalid base64 value',
    body: () => ({ topic, messages: [ok({ value: 'not base64!', value_encoding: 'base64' })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].value',
  },
  {
    name: 'unknown encoding',
    body: () => ({ topic, messages: [ok({ value_encoding: 'hex' })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].value_encoding',
  },
  {
    name: 'headers not an object',
    body: () => ({ topic, messages: [ok({ headers: ['a'] })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].headers',
  },
  {
    name: 'a header value that is not a string',
    body: () => ({ topic, messages: [ok({ headers: { a: 1 } })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].headers.a',
  },
  {
    name: 'the reserved message-group header',
    body: () => ({ topic, messages: [ok({ headers: { 'Message-Group': 'other' } })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].headers.Message-Group',
  },
  {
    // Both encode to "a\uFFFD" in UTF-8: they passed the in-request repeat check and then collided in Redis.
    name: 'dedup_ids that differ only in a lone surrogate',
    body: () => ({ topic, messages: [ok({ dedup_id: 'a\ud800' }), ok({ dedup_id: 'a\udc00' })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].dedup_id',
  },
  {
    name: 'a message_group with a lone surrogate',
    body: () => ({ topic, messages: [ok(), ok({ message_group: 'g\udfff' })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[1].message_group',
  },
  {
    name: 'a header name with a lone surrogate',
    body: () => ({ topic, messages: [ok({ headers: { 'h\ud83d': 'v' } })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].headers',
  },
  // Written as UTF-8 they would be U+FFFD in Kafka: not what was sent.
  {
    name: 'a value with a lone surrogate',
    body: () => ({ topic, messages: [ok(), ok({ value: 'v\ud800' })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[1].value',
  },
  {
    name: 'a key with a lone surrogate',
    body: () => ({ topic, messages: [ok({ key: 'k\udc00' })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].key',
  },
  {
    name: 'a header value with a lone surrogate',
    body: () => ({ topic, messages: [ok({ headers: { h: 'x\udc00' } })] }),
    status: 400,
    code: 'INVALID_REQUEST',
    field: 'messages[0].headers.h',
  },
  {
    name: 'a message over the size limit',
    body: () => ({ topic, messages: [ok(), ok({ value: 'x'.repeat(1001) })] }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    field: 'messages[1]',
  },
  {
    name: 'a body over the size limit',
    body: () => ({ topic, messages: Array.from({ length: 50 }, () => ok({ value: 'y'.repeat(1400) })) }),
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    field: 'body',
  },
  { name: 'an unknown topic', body: () => ({ topic: 'no-such-topic-anywhere', messages: [ok()] }), status: 404, code: 'UNKNOWN_TOPIC', field: 'topic' },
];

describe('ordered produce rejects bad input with a reason and writes nothing', () => {
  it.each(cases)('$name -> $status $code', async ({ body, status, code, field }) => {
    const before = await recordCount(admin, topic);
    const result = await postJson<ErrorBody>(`${sidecar.url}/v1/ordered-produce`, body());
    expect(result.status).toBe(status);
    expect(result.body.error.code).toBe(code);
    expect(result.body.error.retriable).toBe(false);
    if (field) expect(result.body.error.field).toBe(field);
    expect(result.body.error.message.length).toBeGreaterThan(5);
    expect(await recordCount(admin, topic)).toBe(before);
  });

  it('rejects a body that is not JSON by content type (415)', async () => {
    const response = await fetch(`${sidecar.url}/v1/ordered-produce`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(response.status).toBe(415);
    expect(((await response.json()) as ErrorBody).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('rejects a request without a body (400 naming the body, even with Content-Type: application/json)', async () => {
    const before = await recordCount(admin, topic);
    // What `curl -X POST -H 'content-type: application/json'` sends: neither Content-Length nor Transfer-Encoding
    // (fetch and node's client would add a Content-Length of 0, which is a body, an empty one).
    const raw = await rawRequest(
      Buffer.from('POST /v1/ordered-produce HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n'),
    );
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect((JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as ErrorBody).error).toMatchObject({ code: 'INVALID_REQUEST', field: 'body', retriable: false });
    expect(await recordCount(admin, topic)).toBe(before);
  });

  it.each([
    ['with its length declared', (bytes: Buffer) => `Content-Length: ${bytes.length}\r\n\r\n${bytes.toString('latin1')}`],
    ['chunked', (bytes: Buffer) => `Transfer-Encoding: chunked\r\n\r\n${bytes.length.toString(16)}\r\n${bytes.toString('latin1')}\r\n0\r\n\r\n`],
  ])('rejects a body that is not valid UTF-8, sent %s (400: decoded, two groups differing there would be one)', async (_, framing) => {
    const before = await recordCount(admin, topic);
    const bytes = Buffer.concat([Buffer.from(`{"topic":"${topic}","messages":[{"message_group":"inv`), Buffer.from([0xff]), Buffer.from('","value":"v"}]}')]);
    const head = 'POST /v1/ordered-produce HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n';
    const raw = await rawRequest(Buffer.from(head + framing(bytes), 'latin1'));
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect((JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as ErrorBody).error).toMatchObject({ code: 'INVALID_REQUEST', field: 'body', retriable: false });
    expect(await recordCount(admin, topic)).toBe(before);
  });

  it('refuses a body declared over MAX_BODY_BYTES at once, without waiting for it, and closes the connection', async () => {
    // Only the head is sent: body-parser would wait for all 10 MB before answering.
    const raw = await rawRequest(
      Buffer.from('POST /v1/ordered-produce HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"topic"'),
      { end: false },
    );
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
    expect(raw.toLowerCase()).toContain('connection: close');
    expect((JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as ErrorBody).error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body' });
  });

  it("refuses to write into the sidecar's own route log (400 naming the topic), on both produce routes", async () => {
    const routeLog = DEFAULT_OPTIONS.routeLogTopic;
    const before = await recordCount(admin, routeLog);
    for (const [path, message] of [
      ['/v1/ordered-produce', { message_group: 'g', value: 'not a route' }],
      ['/v1/produce', { partition: 0, key: 'not a route', value: 'x' }],
    ] as const) {
      const result = await postJson<ErrorBody>(`${sidecar.url}${path}`, { topic: routeLog, messages: [message] });
      expect(result.status).toBe(400);
      expect(result.body.error).toMatchObject({ code: 'INVALID_REQUEST', field: 'topic', retriable: false });
    }
    expect(await recordCount(admin, routeLog)).toBe(before);
  });

  it('answers unknown routes with 404 JSON', async () => {
    const response = await fetch(`${sidecar.url}/v1/nothing-here`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as ErrorBody).error.code).toBe('NOT_FOUND');
  });

  it('answers another method than POST on the produce routes with 405 and Allow: POST', async () => {
    for (const [method, path] of [
      ['GET', '/v1/ordered-produce'],
      ['PUT', '/v1/produce'],
      ['DELETE', '/v1/Ordered-Produce/'],
    ] as const) {
      const response = await fetch(`${sidecar.url}${path}`, { method });
      expect([response.status, response.headers.get('allow')]).toEqual([405, 'POST']);
      expect(((await response.json()) as ErrorBody).error).toMatchObject({ code: 'METHOD_NOT_ALLOWED', retriable: false });
    }
  });

  it('still accepts a good request after all that', async () => {
    const result = await postJson(`${sidecar.url}/v1/ordered-produce`, { topic, messages: [ok()] });
    expect(result.status).toBe(200);
    expect(result.body.successful_messages).toBe(1);
  });
});

describe('plain produce validation', () => {
  it('takes a partition the topic gained a moment ago (the cached count is read again before refusing)', async () => {
    const growing = await createTopic(admin, 2);
    expect((await postJson(`${sidecar.url}/v1/produce`, { topic: growing, messages: [{ partition: 1, value: 'v' }] })).status).toBe(200);
    await admin.createPartitions({ topicPartitions: [{ topic: growing, count: 4 }] });
    await expect.poll(async () => (await admin.fetchTopicMetadata({ topics: [growing] })).topics[0]!.partitions.filter((p) => p.leader >= 0).length).toBe(4);
    const result = await postJson(`${sidecar.url}/v1/produce`, { topic: growing, messages: [{ partition: 3, value: 'v' }] });
    expect(result.status).toBe(200);
    expect(await recordCount(admin, growing)).toBe(2);
  });

  it('rejects a partition outside the topic', async () => {
    const result = await postJson<ErrorBody>(`${sidecar.url}/v1/produce`, { topic, messages: [{ partition: 3, value: 'v' }] });
    expect(result.status).toBe(400);
    expect(result.body.error.field).toBe('messages[0].partition');
  });

  it('rejects message_group (plain produce is unchanged Kafka semantics)', async () => {
    const result = await postJson<ErrorBody>(`${sidecar.url}/v1/produce`, { topic, messages: [{ message_group: 'g', value: 'v' }] });
    expect(result.status).toBe(400);
    expect(result.body.error.field).toBe('messages[0].message_group');
  });
});
