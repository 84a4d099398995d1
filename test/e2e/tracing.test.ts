import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Client } from '../../src/sdk/index.ts';
import { deliveryEndpoint, waitFor } from '../support/delivery-endpoint.ts';
import { postJson } from '../support/http.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { webhookViolation } from '../support/openapi-contract.ts';
import { otlpReceiver, traceTree, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { spawnSidecar, testOptions, waitUntilReady, type SidecarProcess } from '../support/sidecar.ts';
import { consumingSidecar, subscriptionsFile } from '../support/subscriptions.ts';

const { admin: adminClient } = useKafkaAdmin();

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

/** The trace id and parent span id of a traceparent header, failing the test on anything else. */
function parsed(traceparent: unknown): { traceId: string; parentId: string } {
  const match = TRACEPARENT.exec(String(traceparent));
  if (!match) throw new Error(`not a sampled W3C traceparent: ${String(traceparent)}`);
  return { traceId: match[1]!, parentId: match[2]! };
}

let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
let endpoint: Awaited<ReturnType<typeof deliveryEndpoint>>;
let sidecar: SidecarProcess;
let topic: string;

beforeAll(async () => {
  receiver = await otlpReceiver();
  endpoint = await deliveryEndpoint();
  topic = await createTopic(adminClient, 2);
  const subscriptions = subscriptionsFile({ topic, endpoint: endpoint.url });
  // Tracing is on through the standard variables alone (TRACING=auto); a short batch delay keeps the test quick.
  sidecar = await spawnSidecar(testOptions(), {
    flags: ['--subscriptions-file', subscriptions.path, '--consume-commit-interval', '200ms'],
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'sidecar-under-test' },
  });
  await waitUntilReady(sidecar.url);
});

afterAll(async () => {
  await sidecar?.stop();
  await endpoint?.close();
  await receiver?.close();
});

/** The delivery of the message whose value is `value`, once the endpoint acknowledged it. */
async function deliveryOf(value: string) {
  await waitFor(
    () => `a delivery of ${value}`,
    () => endpoint.received.some((r) => r.body.messages.some((m) => m.value === value)),
  );
  const received = endpoint.received.find((r) => r.body.messages.some((m) => m.value === value))!;
  return { ...received, message: received.body.messages.find((m) => m.value === value)! };
}

/** The spans of `traceId`, once its delivery span has been exported. */
async function spansOf(traceId: string): Promise<ReceivedSpan[]> {
  await waitFor(
    () => `the delivery span of trace ${traceId}; got ${receiver.trace(traceId).map((s) => s.name)}`,
    () => receiver.trace(traceId).some((s) => s.name === `deliver ${topic}`),
    30_000,
  );
  const spans = receiver.trace(traceId);
  if (process.env.PRINT_TRACE) console.log(traceTree(spans));
  return spans;
}

const one = (spans: ReceivedSpan[], name: string): ReceivedSpan => {
  const found = spans.filter((s) => s.name === name);
  expect(found, `one span named ${name} among ${spans.map((s) => s.name).join(', ')}`).toHaveLength(1);
  return found[0]!;
};

describe('tracing (W3C Trace Context, OpenTelemetry over OTLP/HTTP)', () => {
  it("continues the caller's trace: request → route → dedup claim → Kafka write → delivery, and hands it to the application", async () => {
    const traceId = hex(16);
    const callerSpan = hex(8);
    const response = await postJson(
      `${sidecar.url}/v1/ordered-produce`,
      { topic, messages: [{ message_group: `order-${hex(4)}`, value: 'traced-1', dedup_id: hex(8) }] },
      { traceparent: `00-${traceId}-${callerSpan}-01`, tracestate: 'vendor=abc' },
    );
    expect(response.status).toBe(200);

    const delivered = await deliveryOf('traced-1');
    const spans = await spansOf(traceId);
    expect(receiver.problems).toEqual([]);
    expect(spans.every((s) => s.service === 'sidecar-under-test')).toBe(true);

    const request = one(spans, 'POST /v1/ordered-produce');
    expect(request).toMatchObject({
      parentSpanId: callerSpan,
      kind: 'server',
      attributes: { 'http.route': '/v1/ordered-produce', 'http.response.status_code': 200 },
    });
    const route = one(spans, 'route');
    expect(route).toMatchObject({
      parentSpanId: request.spanId,
      attributes: { 'ordered_sidecar.route.source': 'script', 'messaging.destination.name': topic },
    });
    const claim = one(spans, 'dedup claim');
    expect(claim).toMatchObject({ parentSpanId: request.spanId, attributes: { 'ordered_sidecar.dedup.ids': 1, 'ordered_sidecar.dedup.claimed': 1 } });
    const write = one(spans, `send ${topic}`);
    expect(write).toMatchObject({
      parentSpanId: request.spanId,
      kind: 'producer',
      attributes: { 'messaging.destination.partition.id': String(delivered.body.partition), 'messaging.batch.message_count': 1 },
    });
    const delivery = one(spans, `deliver ${topic}`);
    expect(delivery).toMatchObject({ parentSpanId: write.spanId, kind: 'consumer', attributes: { 'ordered_sidecar.delivery.attempt': 1 } });

    // The Kafka record carries the write's context (and the caller's tracestate) ...
    expect(delivered.message.headers).toMatchObject({ traceparent: `00-${traceId}-${write.spanId}-01`, tracestate: 'vendor=abc' });
    // ... and the delivery request the delivery span's, so the application's span joins the trace.
    expect(parsed(delivered.headers.traceparent)).toEqual({ traceId, parentId: delivery.spanId });
    expect(delivered.headers.tracestate).toBe('vendor=abc');
    // The document's delivery webhook describes these headers.
    expect(webhookViolation('delivery', delivered.headers, JSON.stringify(delivered.body))).toBeUndefined();
  });

  it('starts a trace when the caller sends none, and says when a route came from the cache', async () => {
    const group = `order-${hex(4)}`;
    const first = await postJson(`${sidecar.url}/v1/ordered-produce`, { topic, messages: [{ message_group: group, value: 'untraced-1' }] });
    expect(first.status).toBe(200);
    const firstDelivery = await deliveryOf('untraced-1');
    const { traceId, parentId } = parsed(firstDelivery.message.headers.traceparent);
    const spans = await spansOf(traceId);
    const request = one(spans, 'POST /v1/ordered-produce');
    expect(request.parentSpanId).toBeUndefined();
    expect(one(spans, `send ${topic}`).spanId).toBe(parentId);
    expect(parsed(firstDelivery.headers.traceparent)).toEqual({ traceId, parentId: one(spans, `deliver ${topic}`).spanId });

    // The same group again: routed from this sidecar's cache, without the route script.
    await postJson(`${sidecar.url}/v1/ordered-produce`, { topic, messages: [{ message_group: group, value: 'untraced-2' }] });
    const again = await spansOf(parsed((await deliveryOf('untraced-2')).message.headers.traceparent).traceId);
    expect(one(again, 'route').attributes).toMatchObject({ 'ordered_sidecar.route.source': 'cache', 'ordered_sidecar.route.cache_hits': 1 });
  });

  it("carries a traceparent of plain produce into its records too, but not over a message's own", async () => {
    const traceId = hex(16);
    const own = `00-${hex(16)}-${hex(8)}-01`;
    const response = await postJson(
      `${sidecar.url}/v1/produce`,
      {
        topic,
        messages: [
          { partition: 1, value: 'plain-1' },
          { partition: 1, value: 'plain-own', headers: { traceparent: own } },
        ],
      },
      { traceparent: `00-${traceId}-${hex(8)}-01` },
    );
    expect(response.status).toBe(200);
    const delivered = await deliveryOf('plain-1');
    const spans = await spansOf(traceId);
    const write = one(spans, `send ${topic}`);
    expect(write.parentSpanId).toBe(one(spans, 'POST /v1/produce').spanId);
    expect(write.attributes['messaging.batch.message_count']).toBe(2);
    expect(delivered.message.headers.traceparent).toBe(`00-${traceId}-${write.spanId}-01`);
    expect((await deliveryOf('plain-own')).message.headers.traceparent).toBe(own);
  });

  it("the SDK passes the application's active trace context on to the sidecar", async () => {
    // The application's own OpenTelemetry setup: a context manager and the W3C propagator (no SDK needed).
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    onTestFinished(() => {
      context.disable();
      propagation.disable();
    });
    const traceId = hex(16);
    const appSpan = hex(8);
    const client = new Client({ url: sidecar.url });
    onTestFinished(() => client.close());
    const active = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: appSpan, traceFlags: 1 });
    const result = await context.with(active, () => client.orderedProducer().sendSingleOrderedMessage(topic, `order-${hex(4)}`, null, 'from-sdk'));
    expect(result.successfulMessages).toBe(1);
    const spans = await spansOf(traceId);
    expect(one(spans, 'POST /v1/ordered-produce').parentSpanId).toBe(appSpan);
    expect(parsed((await deliveryOf('from-sdk')).message.headers.traceparent).traceId).toBe(traceId);
  });
});

describe('a collector that never answers', () => {
  it('holds the shutdown for at most 5 s more, and the sidecar says the last spans were lost', async () => {
    // Accepts the connection and never answers: the exporter's own timeout (10 s) would hold the exit.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      silent.closeAllConnections();
      silent.close();
    });
    const stuck = await spawnSidecar(testOptions(), {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, OTEL_BSP_SCHEDULE_DELAY: '600000' },
    });
    onTestFinished(async () => {
      await stuck.stop();
    });
    await waitUntilReady(stuck.url);
    expect((await postJson(`${stuck.url}/v1/ordered-produce`, { topic, messages: [{ message_group: 'g', value: 'buffered-span' }] })).status).toBe(200);
    const started = Date.now();
    expect(await stuck.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(9000);
    expect(stuck.logs.join('\n')).toContain('exporting the last spans failed');
  });
});

describe('tracing off (no OTEL_* variables)', () => {
  it("passes the caller's traceparent and tracestate on unchanged, into the records and the delivery", async () => {
    const offTopic = await createTopic(adminClient, 1);
    const offEndpoint = await deliveryEndpoint();
    onTestFinished(() => offEndpoint.close());
    const { sidecar: untraced } = await consumingSidecar({ topic: offTopic, endpoint: offEndpoint.url });
    const traceparent = `00-${hex(16)}-${hex(8)}-01`;
    const response = await postJson(
      `${untraced.url}/v1/ordered-produce`,
      { topic: offTopic, messages: [{ message_group: 'g', value: 'passed-on' }] },
      { traceparent, tracestate: 'vendor=abc' },
    );
    expect(response.status).toBe(200);
    await waitFor(
      () => 'the delivery',
      () => offEndpoint.received.length > 0,
    );
    const [delivered] = offEndpoint.received;
    expect(delivered!.body.messages[0]!.headers).toMatchObject({ traceparent, tracestate: 'vendor=abc' });
    expect(delivered!.headers).toMatchObject({ traceparent, tracestate: 'vendor=abc' });
    // An invalid traceparent is not passed on (W3C: a participant ignores it).
    await postJson(`${untraced.url}/v1/ordered-produce`, { topic: offTopic, messages: [{ message_group: 'g', value: 'bad' }] }, { traceparent: 'not-a-trace' });
    await waitFor(
      () => 'the second delivery',
      () => offEndpoint.received.length > 1,
    );
    expect(offEndpoint.received[1]!.body.messages[0]!.headers.traceparent).toBeUndefined();
    expect(offEndpoint.received[1]!.headers.traceparent).toBeUndefined();
  });
});
