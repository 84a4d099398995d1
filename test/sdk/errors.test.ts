import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { AbortError, Client, NonRetriableError, RetriableError, SidecarClientError } from '../../src/sdk/index.ts';
import type { RunningSidecar } from '../../src/sidecar.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { startTestSidecar } from '../support/sidecar.ts';
import { DelayProxy } from './delay-proxy.ts';
import { recordingLogger } from './records.ts';

const { admin } = useKafkaAdmin();
let sidecar: RunningSidecar;
let proxy: DelayProxy;

beforeAll(async () => {
  sidecar = await startTestSidecar();
});

afterAll(async () => {
  await sidecar.close();
});

/** Closes `client` (and `via`, the proxy it goes through) when the test ends, passed or failed. */
function closedAtEnd(client: Client, via?: DelayProxy): Client {
  onTestFinished(async () => {
    await client.close();
    await via?.close();
  });
  return client;
}

/** A client going through a counting proxy (no delay), so a test can tell how many POSTs were made. */
async function countingClient(retry = { maxAttempts: 5, initialBackoffMs: 10, maxBackoffMs: 50 }): Promise<Client> {
  proxy = await new DelayProxy({ target: sidecar.url, delayMs: 0, delayPosts: 0 }).start();
  return closedAtEnd(new Client({ url: proxy.url, retry, logger: recordingLogger() }), proxy);
}

async function rejection(promise: Promise<unknown>): Promise<SidecarClientError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SidecarClientError);
  return err as SidecarClientError;
}

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('errors are typed, carry the sidecar reason, and 4xx are not retried', () => {
  it('unknown topic: NonRetriableError 404 UNKNOWN_TOPIC after one POST', async () => {
    const producer = (await countingClient()).orderedProducer();
    const err = await rejection(producer.sendSingleOrderedMessage('no-such-topic-sdk', 'user-1', null, 'x'));
    expect(err).toBeInstanceOf(NonRetriableError);
    expect(err).toMatchObject({ code: 'UNKNOWN_TOPIC', status: 404, retriable: false });
    expect(err.reason).toMatch(/topic/i);
    expect(err.result).toMatchObject({ totalMessages: 1, failedMessages: 1, successfulMessages: 0, attempts: 1 });
    expect(proxy.posts).toBe(1);
  });

  it('a field the sidecar rejects: 400 INVALID_REQUEST with the field, one POST', async () => {
    const topic = await createTopic(admin, 1);
    const producer = (await countingClient()).orderedProducer();
    const err = await rejection(
      producer.sendOrderedMessages(topic, [
        { messageGroup: 'ok', value: 'a' },
        { messageGroup: 'g'.repeat(200), value: 'b' },
      ]),
    );
    expect(err).toBeInstanceOf(NonRetriableError);
    expect(err).toMatchObject({ code: 'INVALID_REQUEST', status: 400, field: 'messages[1].message_group' });
    expect(proxy.posts).toBe(1);
  });

  it('a message over the size limit: 413 PAYLOAD_TOO_LARGE, one POST', async () => {
    const topic = await createTopic(admin, 1);
    const producer = (await countingClient()).orderedProducer();
    const err = await rejection(producer.sendSingleOrderedMessage(topic, 'g', null, Buffer.alloc(1024 * 1024 + 1)));
    expect(err).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413, retriable: false });
    expect(proxy.posts).toBe(1);
  });

  it('mistakes the client can see are rejected before any request', async () => {
    const producer = (await countingClient()).orderedProducer();
    const reserved = await rejection(producer.sendSingleOrderedMessage('t', 'g', null, 'x', { headers: { 'Message-Group': 'other' } }));
    expect(reserved).toMatchObject({ code: 'INVALID_REQUEST', field: 'messages[0].headers.Message-Group', status: undefined });
    const empty = await rejection(producer.sendOrderedMessages('t', []));
    expect(empty.field).toBe('messages');
    const twice = await rejection(
      producer.sendMessageGroupBatch('t', 'g', [
        { value: 'a', dedupId: 'd' },
        { value: 'b', dedupId: 'd' },
      ]),
    );
    expect(twice.field).toBe('messages[1].dedupId');
    const notArray = await rejection(producer.sendMessageGroupBatch('t', 'g', 'x' as never));
    expect(notArray).toMatchObject({ code: 'INVALID_REQUEST', field: 'messages' });
    const noGroup = await rejection(producer.sendSingleOrderedMessage('t', '', null, 'x'));
    expect(noGroup.field).toBe('messages[0].messageGroup');
    const dots = await rejection(producer.sendSingleOrderedMessage('t', '..', null, 'x'));
    expect(dots).toMatchObject({ field: 'messages[0].messageGroup', message: expect.stringContaining('cannot be "." or ".."') });
    // Wrong types are the client's INVALID_REQUEST too, never a TypeError from deep inside.
    const number = await rejection(producer.sendSingleOrderedMessage('t', 'g', null, 42 as never));
    expect(number).toMatchObject({ code: 'INVALID_REQUEST', field: 'messages[0].value' });
    const header = await rejection(producer.sendSingleOrderedMessage('t', 'g', null, 'x', { headers: { n: 1 as never } }));
    expect(header).toMatchObject({ code: 'INVALID_REQUEST', field: 'messages[0].headers.n' });
    expect(proxy.requests).toEqual([]);
  });

  it('an unreachable sidecar without fallback: RetriableError NETWORK after the first-use check’s budget', async () => {
    const client = closedAtEnd(
      new Client({ url: `http://127.0.0.1:${await closedPort()}`, probeMaxElapsedMs: 300, retry: { initialBackoffMs: 10, maxBackoffMs: 50 } }),
    );
    const started = Date.now();
    const err = await rejection(client.orderedProducer().sendSingleOrderedMessage('t', 'g', null, 'x'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(err).toBeInstanceOf(RetriableError);
    expect(err).toMatchObject({ code: 'NETWORK', retriable: true, status: undefined });
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('an AbortSignal ends a send that is waiting for the sidecar', async () => {
    const topic = await createTopic(admin, 1);
    proxy = await new DelayProxy({ target: sidecar.url, delayMs: 5_000 }).start();
    const producer = closedAtEnd(new Client({ url: proxy.url }), proxy).orderedProducer();
    await producer.client.capabilities();
    const controller = new AbortController();
    const started = Date.now();
    const sent = rejection(producer.sendSingleOrderedMessage(topic, 'g', null, 'x', { signal: controller.signal }));
    // Abort only once the POST is out (the proxy holds its answer), so the message is truly in doubt.
    await vi.waitUntil(() => proxy.posts === 1, { timeout: 2_000, interval: 10 });
    controller.abort(new Error('user gave up'));
    const err = await sent;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(AbortError);
    // The request was out: the message may be in Kafka, so it is in doubt and may be resent as it is.
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORTED', retriable: true });
    expect((err.cause as Error).message).toBe('user gave up');
    expect(err.result?.messages[0]).toMatchObject({ status: 'unknown', error: { code: 'ABORTED', retriable: true } });
    expect(err.result).toMatchObject({ unknownMessages: 1, failedMessages: 0 });
    expect(producer.inDoubt(topic, 'g')).toEqual([err.result!.messages[0]!.dedupId]);
    expect(proxy.posts).toBe(1);

    const already = await rejection(producer.sendSingleOrderedMessage(topic, 'g', null, 'y', { signal: AbortSignal.abort() }));
    expect(already).toBeInstanceOf(AbortError);
    expect(proxy.posts).toBe(1);
  });

  it('a send that failed does not hold up the next send of its group', async () => {
    const topic = await createTopic(admin, 1);
    const producer = closedAtEnd(new Client({ url: sidecar.url })).orderedProducer();
    const failing = producer.sendSingleOrderedMessage('no-such-topic-sdk', 'g', null, 'x');
    const next = producer.sendSingleOrderedMessage(topic, 'g', null, 'y');
    await expect(failing).rejects.toBeInstanceOf(NonRetriableError);
    await expect(next).resolves.toMatchObject({ successfulMessages: 1 });
  });
});
