import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, type OrderedMessage } from '../../src/sdk/index.ts';
import { HttpClient } from '../../src/sdk/http.ts';
import { recordingLogger } from '../sdk/records.ts';

/**
 * What the client takes from its caller: options and token checked at construction, and messages taken as
 * they are at the call. A local HTTP server plays the sidecar (as in sdk-retry-rules.test.ts): it answers
 * api-versions and writes every message, and records what it was sent.
 */
interface Sent {
  messages: { message_group: string; value: string; headers?: Record<string, string> }[];
}

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function writingSidecar(): Promise<{ url: string; sent: Sent[]; requests: IncomingMessage[] }> {
  const sent: Sent[] = [];
  const requests: IncomingMessage[] = [];
  server = createServer(async (req, res) => {
    requests.push(req);
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET') {
      res.end(JSON.stringify({ api_version: 1, request_types: [{ name: 'OrderedProduce', type: 22, path: '/v1/ordered-produce' }] }));
      return;
    }
    let text = '';
    for await (const chunk of req) text += chunk;
    const request = JSON.parse(text) as Sent;
    sent.push(request);
    const results = request.messages.map((_, i) => ({ partition: 0, offset: String(i) }));
    res.end(
      JSON.stringify({
        topic: 't',
        partition_responses: [],
        partition_errors: [],
        total_messages: results.length,
        successful_messages: results.length,
        results,
      }),
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, sent, requests };
}

describe('the token', () => {
  it('is refused at construction when an HTTP header cannot carry it, without showing it', () => {
    for (const token of ['secret\u200b', 'sec ret', 'secret\n', '\u00a0secret', 'sécret\u2028']) {
      let thrown: unknown;
      try {
        new Client({ token, logger: recordingLogger() });
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(token)).toBeInstanceOf(TypeError);
      expect((thrown as Error).message).toMatch(/^ordered-sidecar client: token /);
      expect((thrown as Error).message).not.toContain(token);
      expect((thrown as Error).message).not.toMatch(/cret/);
    }
    expect(() => new Client({ token: '', logger: recordingLogger() })).toThrow(TypeError);
    // Latin-1 is what Node puts in a header as it is.
    expect(() => new Client({ token: 'a.b-c_d~e+f/g=é', logger: recordingLogger() })).not.toThrow();
  });

  it('a request Node refuses to build fails at once, not retried, and sends nothing', async () => {
    const { url, requests } = await writingSidecar();
    const http = new HttpClient('secret\u200b');
    try {
      const answer = await http.requestJson(`${url}/v1/api-versions`, { method: 'GET' }, 5_000);
      expect(answer).toMatchObject({ ok: false, failure: { code: 'INVALID_REQUEST', retriable: false } });
      expect(answer.ok ? '' : answer.failure.message).toContain('ERR_INVALID_CHAR');
      expect(requests).toHaveLength(0);
    } finally {
      http.close();
    }
  });
});

describe('ms options', () => {
  it('requestTimeoutMs is a whole number of ms from 1 to 2^31-1, as AbortSignal.timeout takes', () => {
    for (const requestTimeoutMs of [1.5, 0, 2 ** 31, Infinity, Number.NaN])
      expect(() => new Client({ requestTimeoutMs, logger: recordingLogger() }), String(requestTimeoutMs)).toThrow(
        /ordered-sidecar client: requestTimeoutMs must be/,
      );
    for (const requestTimeoutMs of [1, 2 ** 31 - 1])
      expect(new Client({ requestTimeoutMs, logger: recordingLogger() }).options.requestTimeoutMs).toBe(requestTimeoutMs);
  });

  it('no other ms option may pass Node’s longest timer (a longer one fires after 1 ms)', () => {
    const tooLong = 2 ** 31;
    const cases = [
      { probeMaxElapsedMs: tooLong },
      { retry: { maxElapsedMs: tooLong } },
      { retry: { initialBackoffMs: tooLong } },
      { retry: { maxBackoffMs: tooLong } },
    ];
    for (const options of cases) expect(() => new Client({ ...options, logger: recordingLogger() }), JSON.stringify(options)).toThrow(TypeError);
    expect(() => new Client({ retry: { maxAttempts: Infinity, maxBackoffMs: 2 ** 31 - 1 }, logger: recordingLogger() })).not.toThrow();
  });
});

describe('messages', () => {
  it('are taken as they are at the call: changing one afterwards does not change what is sent', async () => {
    const { url, sent } = await writingSidecar();
    const producer = new Client({ url, logger: recordingLogger() }).orderedProducer();
    const message: OrderedMessage = { messageGroup: 'g', value: 'original', headers: { h: 'original' } };
    const sending = producer.sendOrderedMessages('t', [message]);
    message.value = 'changed';
    message.messageGroup = 'other';
    message.headers!.h = 'changed';
    const single = { h: 'original' };
    const sendingSingle = producer.sendSingleOrderedMessage('t', 'g', null, 'one', { headers: single });
    single.h = 'changed';
    await expect(sending).resolves.toMatchObject({ successfulMessages: 1 });
    await expect(sendingSingle).resolves.toMatchObject({ successfulMessages: 1 });
    expect(sent.map((s) => s.messages[0])).toMatchObject([
      { message_group: 'g', value: 'original', headers: { h: 'original' } },
      { message_group: 'g', value: 'one', headers: { h: 'original' } },
    ]);
  });
});
