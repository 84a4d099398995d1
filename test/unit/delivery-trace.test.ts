import * as api from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/consume/consumer-engine.ts';
import { tracedDelivery } from '../../src/consume/delivery-trace.ts';
import { parseSubscriptions } from '../../src/consume/subscriptions.ts';
import { tracingStarted, type TraceHeaders } from '../../src/tracing/tracing.ts';

// Tracing on in this file's process, as start-tracing.ts sets it up, with spans kept in memory.
const exporter = new InMemorySpanExporter();
beforeAll(() => {
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
  tracingStarted(api);
});
afterAll(() => {
  api.trace.disable();
  api.propagation.disable();
  api.context.disable();
});

const [subscription] = parseSubscriptions({
  subscriptions: [{ name: 'orders-app', topic: 'orders', consumer_group: 'cg', endpoint: 'http://127.0.0.1:1/deliver', on_exhausted: 'block' }],
});
const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
const record = (offset: number, traceparent?: string): ConsumedRecord => ({
  offset: BigInt(offset),
  key: null,
  value: Buffer.from(`v${offset}`),
  headers: traceparent === undefined ? {} : { traceparent: Buffer.from(traceparent) },
  timestamp: '0',
});

describe('tracedDelivery (tracing on)', () => {
  it("continues the first record's trace, links the others' once, and sends the delivery span's context", async () => {
    exporter.reset();
    let sent: TraceHeaders | undefined;
    const records = [
      record(1, `00-${TRACE_A}-b7ad6b7169203331-01`),
      record(2, `00-${TRACE_A}-b7ad6b7169203331-01`),
      record(3, `00-${TRACE_B}-00f067aa0ba902b7-01`),
      record(4, `00-${TRACE_B}-00f067aa0ba902b7-01`),
      record(5),
    ];
    const result = await tracedDelivery(subscription!, { partition: 2, group: 'g', attempt: 3, records }, async (headers) => {
      sent = headers;
      return { ok: true };
    });
    expect(result).toEqual({ ok: true });
    const [span] = exporter.getFinishedSpans();
    expect(span).toMatchObject({ name: 'deliver orders', attributes: { 'ordered_sidecar.delivery.attempt': 3, 'messaging.batch.message_count': 5 } });
    expect(span!.spanContext().traceId).toBe(TRACE_A);
    expect(span!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(span!.links.map((l) => l.context.traceId)).toEqual([TRACE_B]);
    expect(sent).toEqual({ traceparent: `00-${TRACE_A}-${span!.spanContext().spanId}-01` });
  });

  it('marks the span failed when the attempt failed, and starts a trace for records without one', async () => {
    exporter.reset();
    let sent: TraceHeaders | undefined;
    await tracedDelivery(subscription!, { partition: 0, group: null, attempt: 1, records: [record(7)] }, async (headers) => {
      sent = headers;
      return { ok: false, error: 'HTTP 500' };
    });
    const [span] = exporter.getFinishedSpans();
    expect(span!.status).toMatchObject({ code: 2, message: 'HTTP 500' });
    expect(span!.parentSpanContext).toBeUndefined();
    expect(sent?.traceparent).toBe(`00-${span!.spanContext().traceId}-${span!.spanContext().spanId}-01`);
  });
});
