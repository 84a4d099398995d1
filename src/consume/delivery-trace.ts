import { inSpan, outgoingTraceHeaders, traceHeadersOf, type SpanNotes, type TraceHeaders } from '../tracing/tracing.ts';
import type { ConsumedRecord } from './consumer-engine.ts';
import type { Delivery, DeliveryResult } from './delivery.ts';
import type { Subscription } from './subscriptions.ts';

/** The W3C Trace Context a record carries in its headers (put there by the sidecar that produced it). */
const traceOf = (record: ConsumedRecord): TraceHeaders => traceHeadersOf((name) => record.headers[name]?.toString('utf8'));

/**
 * Runs one delivery attempt in a span that continues the trace of its first record (the further records' traces,
 * when they differ, are links), and gives `post` the trace headers for the request: that span's, or the first
 * record's own when tracing is off, so the application's span joins the producer's trace either way.
 */
export function tracedDelivery(
  subscription: Subscription,
  delivery: Delivery,
  post: (trace: TraceHeaders) => Promise<DeliveryResult>,
): Promise<DeliveryResult> {
  const [first, ...rest] = delivery.records;
  const parent = first === undefined ? {} : traceOf(first);
  return inSpan(
    `deliver ${subscription.topic}`,
    () => ({
      kind: 'consumer',
      parent,
      links: distinctFrom(parent, rest.map(traceOf)),
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': subscription.topic,
        'messaging.destination.partition.id': String(delivery.partition),
        'messaging.consumer.group.name': subscription.consumerGroup,
        'messaging.batch.message_count': delivery.records.length,
        'ordered_sidecar.subscription': subscription.name,
        'ordered_sidecar.delivery.attempt': delivery.attempt,
      },
    }),
    // async: a post that throws still fails through the promise.
    async () => post(outgoingTraceHeaders(parent)),
    noteRefusal,
  );
}

const noteRefusal = (result: DeliveryResult, span: SpanNotes): void => {
  if (!result.ok) span.fail(result.error);
};

/** Each trace of `traces` once, leaving out `parent`'s and records without one. */
function distinctFrom(parent: TraceHeaders, traces: TraceHeaders[]): TraceHeaders[] {
  const byTraceparent = new Map<string, TraceHeaders>();
  for (const t of traces) if (t.traceparent !== undefined && t.traceparent !== parent.traceparent) byTraceparent.set(t.traceparent, t);
  return [...byTraceparent.values()];
}
