import { connect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { useKafkaAdmin, createTopic, recordCount } from '../support/kafka.ts';
import { postJson } from '../support/http.ts';
import { startTestSidecar, testOptions, spawnSidecar } from '../support/sidecar.ts';
import { eventually } from '../support/eventually.ts';

const { admin } = useKafkaAdmin();

const bigRequest = (topic: string, n: number) => ({
  topic,
  messages: Array.from({ length: n }, (_, i) => ({ message_group: `g-${i % 50}`, value: 'x'.repeat(1000) })),
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests, then refuses new connections', async () => {
    const topic = await createTopic(admin, 4);
    // A grace period longer than the test's timeout: close() must finish by draining, keep-alive
    // connections included (fetch keeps them), not by running out the clock.
    const sidecar = await startTestSidecar({ shutdownGraceMs: 300_000 });
    const inflight = postJson(`${sidecar.url}/v1/ordered-produce`, bigRequest(topic, 5000));
    await eventually('the request to be in flight', async () => (await sidecar.metrics.inflightRequests.get()).values[0]?.value === 1, 30_000, 5);
    const closed = sidecar.close();

    const { status, body } = await inflight;
    expect(status).toBe(200);
    expect(body.successful_messages).toBe(5000);
    await closed;
    await expect(fetch(`${sidecar.url}/healthz`)).rejects.toThrow();
    expect(await recordCount(admin, topic)).toBe(5000);
  });

  it('keeps answering /healthz and /metrics while draining, and 503 SHUTTING_DOWN elsewhere', async () => {
    const topic = await createTopic(admin, 2);
    const sidecar = await startTestSidecar({ shutdownGraceMs: 300_000 });
    // The topic's metadata loaded and the Kafka clients connected first: this test is about the drain, not a
    // first use (which test/integration/kafka-engines.test.ts covers while the engine still connects).
    const warmUp = { topic, messages: [{ message_group: 'warm-up', value: 'v' }] };
    await vi.waitUntil(async () => (await postJson(`${sidecar.url}/v1/ordered-produce`, warmUp)).status === 200, { timeout: 15_000, interval: 100 });
    const socket = connect(Number(new URL(sidecar.url).port), '127.0.0.1');
    let answers = '';
    socket.on('data', (chunk: Buffer) => (answers += chunk.toString('latin1')));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    // A produce request whose body is still arriving keeps one connection busy through the drain; requests
    // pipelined behind it on that connection arrive after the drain began.
    const body = JSON.stringify({ topic, messages: [{ message_group: 'g', value: 'v' }] });
    socket.write(
      `POST /v1/ordered-produce HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    await eventually('the request to be in flight', async () => (await sidecar.metrics.inflightRequests.get()).values[0]?.value === 1, 30_000, 5);
    const closed = sidecar.close();
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    socket.write(`${body.slice(5)}${get('/healthz')}${get('/metrics')}${get('/v1/api-versions')}`);
    await ended;
    await closed;
    // Bodies end without a newline, so a status line may follow one on the same line.
    const statuses = [...answers.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
    expect(statuses).toEqual(['200', '200', '200', '503']);
    expect(answers).toContain('"code":"SHUTTING_DOWN"');
  });

  it('exits 0 on SIGTERM after draining (the process as deployed)', async () => {
    const topic = await createTopic(admin, 4);
    const options = testOptions();
    const child = await spawnSidecar(options);
    // The start-up line names the engine, so an operator can tell which client wrote what.
    expect(JSON.parse(child.logs.find((l) => l.includes('"ordered-sidecar listening"'))!)).toMatchObject({ kafkaClient: options.kafkaClient });
    const inflight = postJson(`${child.url}/v1/ordered-produce`, bigRequest(topic, 3000));
    // SIGTERM only once the child serves the request: the scrape counts itself, so 2 means one more.
    const inflightGauge = async () => Number(/^ordered_sidecar_inflight_requests (\d+)$/m.exec(await (await fetch(`${child.url}/metrics`)).text())?.[1]);
    await vi.waitUntil(async () => (await inflightGauge()) === 2, { timeout: 15_000, interval: 5 });
    const code = await child.stop('SIGTERM');
    const { status, body } = await inflight;
    expect(status).toBe(200);
    expect(body.successful_messages).toBe(3000);
    expect(code).toBe(0);
    expect(child.logs.some((l) => l.includes('shut down cleanly'))).toBe(true);
  });

  it('a second SIGTERM during the drain leaves it to finish (Node would otherwise end the process at once)', async () => {
    const topic = await createTopic(admin, 4);
    const child = await spawnSidecar(testOptions());
    const inflight = postJson(`${child.url}/v1/ordered-produce`, bigRequest(topic, 3000));
    const inflightGauge = async () => Number(/^ordered_sidecar_inflight_requests (\d+)$/m.exec(await (await fetch(`${child.url}/metrics`)).text())?.[1]);
    await vi.waitUntil(async () => (await inflightGauge()) === 2, { timeout: 15_000, interval: 5 });
    child.child.kill('SIGTERM');
    await vi.waitUntil(() => child.logs.some((l) => l.includes('shutting down: draining')), { timeout: 10_000, interval: 5 });
    const code = await child.stop('SIGTERM');
    const { status, body } = await inflight;
    expect(status).toBe(200);
    expect(body.successful_messages).toBe(3000);
    expect(code).toBe(0);
    expect(child.logs.some((l) => l.includes('signal received while shutting down'))).toBe(true);
    expect(child.logs.some((l) => l.includes('shut down cleanly'))).toBe(true);
  });
});
