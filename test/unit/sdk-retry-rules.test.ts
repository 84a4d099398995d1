import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, DEFAULT_CLIENT_OPTIONS, NonRetriableError, RetriableError, type SidecarClientError } from '../../src/sdk/index.ts';
import { recordingLogger } from '../sdk/records.ts';

/**
 * The retry rules at the protocol level. A real sidecar cannot be made to fail one partition and not
 * another on demand, so a scripted HTTP server plays the sidecar here: it answers api-versions like the
 * real one (dedup included) and each POST with the next scripted answer, and records what it was sent.
 * Everything Kafka-facing is covered against the real sidecar in the other files.
 */
interface Sent {
  topic: string;
  messages: { message_group: string; value: string; dedup_id?: string }[];
}
/** `raw` sends `body` (a string) as it is, as a proxy's HTML page would be; `headers` are added to the answer. */
type Answer = { status: number; body: unknown; raw?: true; headers?: Record<string, string> };

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** `probe`, when given, answers GET api-versions instead of the real one's body; `times` are when each POST arrived. */
async function scriptedSidecar(answers: ((sent: Sent) => Answer)[], probe?: Answer): Promise<{ url: string; sent: Sent[]; times: number[]; probes: number[] }> {
  const sent: Sent[] = [];
  const times: number[] = [];
  const probes: number[] = [];
  const body = async (req: IncomingMessage): Promise<string> => {
    let text = '';
    for await (const chunk of req) text += chunk;
    return text;
  };
  server = createServer(async (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET') {
      probes.push(Date.now());
      if (probe) {
        res.writeHead(probe.status, probe.headers ?? {});
        res.end(JSON.stringify(probe.body));
        return;
      }
      res.end(
        JSON.stringify({
          api_version: 1,
          request_types: [{ name: 'OrderedProduce', type: 22, path: '/v1/ordered-produce' }],
          features: { dedup: { window_ms: 300_000 } },
        }),
      );
      return;
    }
    times.push(Date.now());
    const request = JSON.parse(await body(req)) as Sent;
    sent.push(request);
    const answer = answers[sent.length - 1]!(request);
    res.statusCode = answer.status;
    if (answer.raw) res.setHeader('content-type', 'text/html');
    for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
    res.end(answer.raw ? String(answer.body) : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, sent, times, probes };
}

/** A produce response: `outcome[i]` is an offset (written) or a partition error code (failed). */
function produceAnswer(sent: Sent, outcome: ({ p: number; offset: number } | { p: number; code: string; retriable: boolean })[]): Answer {
  const errors = new Map<number, { partition: number; code: string; error: string; retriable: boolean; message_count: number }>();
  const results = outcome.map((o) => {
    if ('offset' in o) return { partition: o.p, offset: String(o.offset) };
    const e = errors.get(o.p) ?? { partition: o.p, code: o.code, error: `${o.code} on ${o.p}`, retriable: o.retriable, message_count: 0 };
    e.message_count++;
    errors.set(o.p, e);
    return { partition: o.p, error: e.error };
  });
  const successful = results.filter((r) => 'offset' in r).length;
  const status = errors.size === 0 ? 200 : successful > 0 ? 207 : [...errors.values()].every((e) => e.retriable) ? 503 : 422;
  return {
    status,
    body: {
      topic: sent.topic,
      partition_responses: [],
      partition_errors: [...errors.values()],
      total_messages: outcome.length,
      successful_messages: successful,
      results,
    },
  };
}

const client = (url: string, maxAttempts = 4): Client =>
  new Client({ url, retry: { maxAttempts, initialBackoffMs: 1, maxBackoffMs: 5 }, logger: recordingLogger() });

describe('what is retried, and how', () => {
  it('a 207 retries only the failed partitions’ messages, in order, with the same dedup ids', async () => {
    const { url, sent } = await scriptedSidecar([
      (s) =>
        produceAnswer(s, [
          { p: 0, offset: 10 },
          { p: 1, code: 'KAFKA_WRITE_FAILED', retriable: true },
          { p: 0, offset: 11 },
          { p: 1, code: 'KAFKA_WRITE_FAILED', retriable: true },
        ]),
      (s) =>
        produceAnswer(s, [
          { p: 1, offset: 5 },
          { p: 1, offset: 6 },
        ]),
    ]);
    const result = await client(url)
      .orderedProducer()
      .sendOrderedMessages('t', [
        { messageGroup: 'a', value: 'a1' },
        { messageGroup: 'b', value: 'b1' },
        { messageGroup: 'a', value: 'a2' },
        { messageGroup: 'b', value: 'b2', dedupId: 'mine' },
      ]);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.messages.map((m) => m.value)).toEqual(['b1', 'b2']);
    expect(sent[1]!.messages.map((m) => m.dedup_id)).toEqual([sent[0]!.messages[1]!.dedup_id, 'mine']);
    expect(new Set(sent[0]!.messages.map((m) => m.dedup_id)).size).toBe(4);
    expect(result).toMatchObject({ attempts: 2, successfulMessages: 4, failedMessages: 0 });
    expect(result.messages.map((m) => (m.status === 'written' ? `${m.partition}/${m.offset}` : 'failed'))).toEqual(['0/10', '1/5', '0/11', '1/6']);
    expect(result.partitions).toEqual([
      { partition: 0, firstOffset: '10', lastOffset: '11', messageCount: 2 },
      { partition: 1, firstOffset: '5', lastOffset: '6', messageCount: 2 },
    ]);
  });

  it('a non-retriable partition error is final; its group’s later messages are not sent; the rest is retried', async () => {
    const { url, sent } = await scriptedSidecar([
      // Group a is split over two partitions (as after a re-route): a1 refused for good, a2 retriable.
      (s) =>
        produceAnswer(s, [
          { p: 0, code: 'KAFKA_REJECTED', retriable: false },
          { p: 1, code: 'KAFKA_WRITE_FAILED', retriable: true },
          { p: 1, code: 'KAFKA_WRITE_FAILED', retriable: true },
        ]),
      (s) => produceAnswer(s, [{ p: 1, offset: 3 }]),
    ]);
    const err = (await client(url)
      .orderedProducer()
      .sendOrderedMessages('t', [
        { messageGroup: 'a', value: 'a1' },
        { messageGroup: 'a', value: 'a2' },
        { messageGroup: 'c', value: 'c1' },
      ])
      .catch((e: unknown) => e)) as SidecarClientError;
    expect(err).toBeInstanceOf(NonRetriableError);
    expect(err).toMatchObject({ code: 'KAFKA_REJECTED', status: 422 });
    expect(sent[1]!.messages.map((m) => m.value)).toEqual(['c1']);
    expect(err.result!.messages.map((m) => (m.status === 'written' ? 'written' : `${m.status} ${m.error.code}`))).toEqual([
      'failed KAFKA_REJECTED',
      'unknown PRECEDING_MESSAGE_FAILED',
      'written',
    ]);
    // a2's first attempt failed retriably: it may be in Kafka, and it was not sent again.
    expect(err.result).toMatchObject({ attempts: 2, successfulMessages: 1, failedMessages: 1, unknownMessages: 1 });
    expect(err.result!.partitionErrors).toMatchObject([
      { partition: 0, code: 'KAFKA_REJECTED', error: 'KAFKA_REJECTED on 0', retriable: false, messageCount: 1 },
      { partition: 1, code: 'PRECEDING_MESSAGE_FAILED', retriable: false, messageCount: 1 },
    ]);
    expect(err.reason).toBe('KAFKA_REJECTED on 0');
  });

  it('a final failure decides the error class even when a retriable one came first', async () => {
    const { url, sent } = await scriptedSidecar([
      (s) =>
        produceAnswer(s, [
          { p: 1, code: 'KAFKA_WRITE_FAILED', retriable: true },
          { p: 0, code: 'KAFKA_REJECTED', retriable: false },
        ]),
      (s) => produceAnswer(s, [{ p: 1, offset: 4 }]),
    ]);
    const err = (await client(url)
      .orderedProducer()
      .sendOrderedMessages('t', [
        { messageGroup: 'b', value: 'b1' },
        { messageGroup: 'a', value: 'a1' },
      ])
      .catch((e: unknown) => e)) as SidecarClientError;
    expect(err).toBeInstanceOf(NonRetriableError);
    expect(err.code).toBe('KAFKA_REJECTED');
    expect(sent[1]!.messages.map((m) => m.value)).toEqual(['b1']);
    expect(err.result).toMatchObject({ successfulMessages: 1, failedMessages: 1 });
  });

  it('retriable error bodies (503 SHUTTING_DOWN, DUPLICATE_IN_FLIGHT, OVERLOADED) are retried; non-retriable ones are not', async () => {
    const error = (status: number, code: string, retriable: boolean) => (): Answer => ({ status, body: { error: { code, message: code, retriable } } });
    const { url, sent } = await scriptedSidecar([
      error(503, 'SHUTTING_DOWN', true),
      error(503, 'DUPLICATE_IN_FLIGHT', true),
      error(503, 'OVERLOADED', true),
      (s) => produceAnswer(s, [{ p: 0, offset: 1 }]),
    ]);
    await expect(client(url).orderedProducer().sendSingleOrderedMessage('t', 'g', null, 'x')).resolves.toMatchObject({ attempts: 4 });
    expect(new Set(sent.map((s) => s.messages[0]!.dedup_id)).size).toBe(1);

    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const second = await scriptedSidecar([error(500, 'INTERNAL', false)]);
    const err = await client(second.url)
      .orderedProducer()
      .sendSingleOrderedMessage('t', 'g', null, 'x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetriableError);
    expect(second.sent).toHaveLength(1);
  });

  it('retries run out: RetriableError with the last reason and what was written', async () => {
    const failing = (s: Sent): Answer =>
      produceAnswer(
        s,
        s.messages.map((m) => (m.value === 'ok' ? { p: 0, offset: 7 } : { p: 1, code: 'KAFKA_WRITE_FAILED', retriable: true })),
      );
    const { url, sent } = await scriptedSidecar([failing, failing, failing]);
    const err = (await client(url, 3)
      .orderedProducer()
      .sendOrderedMessages('t', [
        { messageGroup: 'a', value: 'ok' },
        { messageGroup: 'b', value: 'no' },
      ])
      .catch((e: unknown) => e)) as SidecarClientError;
    expect(err).toBeInstanceOf(RetriableError);
    expect(err).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true, status: 503 });
    expect(err.message).toMatch(/1 of 2 messages not confirmed written \(1 in doubt: resend with the same dedupId\) after 3 attempt/);
    expect(err.reason).toBe('KAFKA_WRITE_FAILED on 1');
    expect(sent.map((s) => s.messages.length)).toEqual([2, 1, 1]);
    expect(err.result).toMatchObject({ successfulMessages: 1, failedMessages: 0, unknownMessages: 1, partitionErrors: [{ partition: 1, retriable: true }] });
    expect(err.result!.messages[1]).toMatchObject({ status: 'unknown', partition: 1, error: { code: 'KAFKA_WRITE_FAILED', retriable: true } });
  });

  it('an answer that is not the sidecar’s (a proxy’s page): 502/503/504 are retried, other statuses are final with their status', async () => {
    const page = (status: number) => (): Answer => ({ status, body: `<html>${status}</html>`, raw: true });
    const { url, sent } = await scriptedSidecar([page(502), page(504), page(503), (s) => produceAnswer(s, [{ p: 0, offset: 3 }])]);
    await expect(client(url).orderedProducer().sendSingleOrderedMessage('t', 'g', null, 'x')).resolves.toMatchObject({ attempts: 4, successfulMessages: 1 });
    expect(new Set(sent.map((s) => s.messages[0]!.dedup_id)).size).toBe(1);

    for (const status of [404, 400, 500]) {
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      const other = await scriptedSidecar([page(status), page(status)]);
      const err = (await client(other.url)
        .orderedProducer()
        .sendSingleOrderedMessage('t', 'g', null, 'x')
        .catch((e: unknown) => e)) as SidecarClientError;
      expect(err, String(status)).toBeInstanceOf(NonRetriableError);
      expect(err).toMatchObject({ code: 'HTTP_ERROR', status, retriable: false });
      expect(err.message).toContain(`HTTP ${status}`);
      // Refused on the only attempt: not written, not in doubt.
      expect(err.result).toMatchObject({ failedMessages: 1, unknownMessages: 0 });
      expect(other.sent).toHaveLength(1);
    }
  });

  it('retries are bounded by time (retry.maxElapsedMs), not by a handful of attempts', async () => {
    expect(DEFAULT_CLIENT_OPTIONS.retry).toMatchObject({ maxElapsedMs: 30_000, maxAttempts: Infinity });
    const busy = (): Answer => ({ status: 503, body: { error: { code: 'OVERLOADED', message: 'busy', retriable: true } } });
    const { url, sent } = await scriptedSidecar(Array.from({ length: 200 }, () => busy));
    const started = Date.now();
    const producer = new Client({ url, retry: { maxElapsedMs: 600, initialBackoffMs: 10, maxBackoffMs: 40 }, logger: recordingLogger() }).orderedProducer();
    const err = (await producer.sendSingleOrderedMessage('t', 'g', null, 'x', { dedupId: 'busy-1' }).catch((e: unknown) => e)) as SidecarClientError;
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(RetriableError);
    expect(err).toMatchObject({ code: 'OVERLOADED', reason: 'busy', status: 503 });
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(2_000);
    expect(sent.length).toBeGreaterThan(10);
    expect(err.result).toMatchObject({ attempts: sent.length, unknownMessages: 1 });
    // Retries used up on a retriable error: the message's fate is not known, so its group is in doubt.
    expect(producer.inDoubt('t', 'g')).toEqual(['busy-1']);
  });

  it('a Retry-After is the floor of the backoff; without one the usual short backoff applies', async () => {
    const overloaded = (headers?: Record<string, string>) => (): Answer => ({
      status: 503,
      body: { error: { code: 'OVERLOADED', message: 'busy', retriable: true } },
      ...(headers && { headers }),
    });
    const first = await scriptedSidecar([overloaded({ 'retry-after': '1' }), (s) => produceAnswer(s, [{ p: 0, offset: 1 }])]);
    await expect(client(first.url).orderedProducer().sendSingleOrderedMessage('t', 'g', null, 'x')).resolves.toMatchObject({ attempts: 2 });
    expect(first.times[1]! - first.times[0]!).toBeGreaterThanOrEqual(900);

    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const second = await scriptedSidecar([overloaded(), (s) => produceAnswer(s, [{ p: 0, offset: 1 }])]);
    await expect(client(second.url).orderedProducer().sendSingleOrderedMessage('t', 'g', null, 'x')).resolves.toMatchObject({ attempts: 2 });
    expect(second.times[1]! - second.times[0]!).toBeLessThan(500);
  });

  it('a Retry-After past the time budget ends the retries at once, for a send and for the first-use check', async () => {
    const busy = (): Answer => ({ status: 503, body: { error: { code: 'OVERLOADED', message: 'busy', retriable: true } }, headers: { 'retry-after': '5' } });
    const options = { retry: { maxElapsedMs: 2_000, initialBackoffMs: 1, maxBackoffMs: 5 }, probeMaxElapsedMs: 2_000, logger: recordingLogger() };
    const { url, sent } = await scriptedSidecar(Array.from({ length: 100 }, () => busy));
    const started = Date.now();
    const err = await new Client({ url, ...options })
      .orderedProducer()
      .sendSingleOrderedMessage('t', 'g', null, 'x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriableError);
    expect(err).toMatchObject({ code: 'OVERLOADED', result: { attempts: 1, unknownMessages: 1 } });
    expect(sent).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1_000);

    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const probing = await scriptedSidecar([], busy());
    const probeErr = await new Client({ url: probing.url, ...options })
      .orderedProducer()
      .sendSingleOrderedMessage('t', 'g', null, 'x')
      .catch((e: unknown) => e);
    expect(probeErr).toBeInstanceOf(RetriableError);
    expect(probeErr).toMatchObject({ code: 'OVERLOADED' });
    expect(probing.probes).toHaveLength(1);
  });

  it('a request Node refuses to build is not retried: nothing was sent, and the same request would fail again', async () => {
    // Node refuses an ftp: URL while it builds the request, as it refuses a header value it cannot carry.
    const started = Date.now();
    const err = await new Client({ url: 'ftp://127.0.0.1:9', probeMaxElapsedMs: 2_000, logger: recordingLogger() })
      .orderedProducer()
      .sendSingleOrderedMessage('t', 'g', null, 'x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetriableError);
    expect(err).toMatchObject({ code: 'INVALID_REQUEST', retriable: false });
    expect((err as Error).message).toContain('ERR_INVALID_PROTOCOL');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('dedup_unavailable in an answer shows in the result and is logged once per client', async () => {
    const degraded = (s: Sent): Answer => {
      const answer = produceAnswer(s, [{ p: 0, offset: 1 }]);
      return { ...answer, body: { ...(answer.body as object), dedup_unavailable: true } };
    };
    const { url } = await scriptedSidecar([degraded, degraded, (s) => produceAnswer(s, [{ p: 0, offset: 3 }])]);
    const logger = recordingLogger();
    const producer = new Client({ url, logger }).orderedProducer();
    await expect(producer.sendSingleOrderedMessage('t', 'g', null, 'a')).resolves.toMatchObject({ dedupUnavailable: true });
    await expect(producer.sendSingleOrderedMessage('t', 'g', null, 'b')).resolves.toMatchObject({ dedupUnavailable: true });
    await expect(producer.sendSingleOrderedMessage('t', 'g', null, 'c')).resolves.toMatchObject({ dedupUnavailable: false });
    expect(logger.lines.filter((l) => l.includes('without its dedup check'))).toHaveLength(1);
  });
});
