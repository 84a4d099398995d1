import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, RetriableError, type SidecarClientError } from '../../src/sdk/index.ts';
import { createTopic } from '../support/kafka.ts';
import { useSidecar } from '../support/fixture.ts';
import { byGroup, readTopic, recordingLogger } from './records.ts';

const fx = useSidecar();

/**
 * An HTTP proxy in front of the real sidecar that passes every request on (so the sidecar writes to Kafka) and,
 * for the first `garble` POSTs, replaces the sidecar's 2xx answer: as a proxy or a cut connection might leave it.
 */
async function garblingProxy(garble: number, rewrite: (status: number, body: string) => string): Promise<{ url: string; server: Server }> {
  let posts = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const upstream = await fetch(`${fx.sidecar.url}${req.url}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
      });
      const text = await upstream.text();
      const garbled = req.method === 'POST' && ++posts <= garble;
      res.writeHead(upstream.status, { 'content-type': 'application/json' });
      res.end(garbled ? rewrite(upstream.status, text) : text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxies.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const proxies: Server[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const notJson = (): string => '<html>502 Bad Gateway</html>';
const nullEntry = (_status: number, body: string): string => {
  const parsed = JSON.parse(body) as { results: unknown[] };
  parsed.results[0] = null;
  return JSON.stringify(parsed);
};

const nullOffset = (_status: number, body: string): string => {
  const parsed = JSON.parse(body) as { results: { offset?: unknown }[] };
  parsed.results[0]!.offset = null;
  return JSON.stringify(parsed);
};

describe('a 2xx answer the SDK cannot read', () => {
  it.each([
    ['a body that is not JSON', notJson],
    ['a null entry in results', nullEntry],
    ['an offset that is not a Kafka offset', nullOffset],
  ])('with %s: the messages are resent with the same dedup ids, and written once', async (_what, rewrite) => {
    const topic = await createTopic(fx.admin, 2);
    const proxy = await garblingProxy(1, rewrite);
    const client = new Client({ url: proxy.url, logger: recordingLogger(), retry: { maxAttempts: 3 } });
    try {
      const result = await client.orderedProducer().sendMessageGroupBatch(topic, 'g', [
        { value: 'v1', dedupId: 'd1' },
        { value: 'v2', dedupId: 'd2' },
      ]);
      expect(result.attempts).toBe(2);
      expect(result.messages.map((m) => [m.status, m.dedupId])).toEqual([
        ['written', 'd1'],
        ['written', 'd2'],
      ]);
      // The sidecar had written them the first time: the resend was recognised as duplicates.
      expect(result.messages.every((m) => m.status === 'written' && m.duplicate)).toBe(true);
    } finally {
      await client.close();
    }
    expect(byGroup(await readTopic(fx.kafka, fx.admin, topic)).get('g')?.values).toEqual(['v1', 'v2']);
  });

  it.each([
    ['a body that is not JSON', notJson],
    ['a null entry in results', nullEntry],
    ['an offset that is not a Kafka offset', nullOffset],
  ])('with %s and no retry left: the messages are unknown (in doubt), not failed', async (_what, rewrite) => {
    const topic = await createTopic(fx.admin, 1);
    const proxy = await garblingProxy(1, rewrite);
    const client = new Client({ url: proxy.url, logger: recordingLogger(), retry: { maxAttempts: 1 } });
    try {
      const error = (await client
        .orderedProducer()
        .sendMessageGroupBatch(topic, 'g', [{ value: 'v1', dedupId: 'd1' }])
        .then(
          () => undefined,
          (e: unknown) => e,
        )) as SidecarClientError;
      expect(error).toBeInstanceOf(RetriableError);
      expect(error).toMatchObject({ code: 'INVALID_RESPONSE', result: { unknownMessages: 1, failedMessages: 0 } });
      expect(error.result!.messages[0]).toMatchObject({ status: 'unknown', dedupId: 'd1' });
    } finally {
      await client.close();
    }
  });
});
