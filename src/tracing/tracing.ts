import type * as OpenTelemetryApi from '@opentelemetry/api';
import type { Attributes, Context, Link, Span, SpanKind } from '@opentelemetry/api';

/**
 * The sidecar's spans, through @opentelemetry/api only: the SDK is loaded by start-tracing.ts when tracing is
 * on, and the API with it (tracingStarted). Off, every helper here runs its work alone (no span, no context), and
 * W3C Trace Context headers a caller sent travel on unchanged, so a trace still reaches the consumer through a
 * sidecar that does not trace; and none of the API's modules are loaded.
 */

/** W3C Trace Context headers as they travel on HTTP requests and Kafka records. */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

export type SpanAttributes = Attributes;
export type SpanKindName = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

/** What code inside a span may add to it. */
export interface SpanNotes {
  set(attributes: SpanAttributes): void;
  /** Marks the span failed without an exception (a partial write, a refused delivery, a 5xx answer). */
  fail(why: string): void;
}

export interface SpanOptions {
  kind?: SpanKindName;
  attributes?: SpanAttributes;
  /** Trace headers the span continues (a request's, a record's) instead of the active span. */
  parent?: TraceHeaders;
  /** Other traces the span's work belongs to as well (the further records of one delivery). */
  links?: readonly TraceHeaders[];
}

export const NO_TRACE: TraceHeaders = Object.freeze({});

// Version 00 has exactly these fields, in lowercase hex; an all-zero trace or span id is invalid (W3C Trace Context, 3.2).
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
/** The length W3C asks every participant to pass on at least; a longer tracestate is dropped rather than cut. */
const MAX_TRACESTATE = 512;
const PRINTABLE = /^[\x20-\x7e]*$/;

type Api = typeof OpenTelemetryApi;

const KINDS: Record<SpanKindName, keyof typeof SpanKind> = {
  server: 'SERVER',
  client: 'CLIENT',
  producer: 'PRODUCER',
  consumer: 'CONSUMER',
  internal: 'INTERNAL',
};

/** The API start-tracing.ts imported; undefined while tracing is off. */
let api: Api | undefined;

/** True once start-tracing.ts registered the SDK. */
export const tracingOn = (): boolean => api !== undefined;

/** start-tracing.ts: the SDK is registered with `started`, the API it imported; spans are made from now on. */
export function tracingStarted(started: Api): void {
  api = started;
}

/** The valid W3C Trace Context among headers read with `get`; tracestate only beside a valid traceparent. */
export function traceHeadersOf(get: (name: string) => string | undefined): TraceHeaders {
  const traceparent = get('traceparent')?.trim();
  if (traceparent === undefined || !TRACEPARENT.test(traceparent)) return NO_TRACE;
  const tracestate = get('tracestate')?.trim();
  return tracestate && tracestate.length <= MAX_TRACESTATE && PRINTABLE.test(tracestate) ? { traceparent, tracestate } : { traceparent };
}

/**
 * The headers that carry the trace on to a Kafka record or a request: the active span's when tracing is on,
 * else `passed` (the caller's, unchanged).
 */
export function outgoingTraceHeaders(passed: TraceHeaders): TraceHeaders {
  if (!api) return passed;
  const carrier: TraceHeaders = {};
  api.propagation.inject(api.context.active(), carrier);
  return carrier;
}

/** A span opened now and ended by its owner (a request's, which ends when the response is sent). */
export interface OpenSpan extends SpanNotes {
  /** Runs `fn` with this span active, so the spans `fn` starts are its children. */
  run<T>(fn: () => T): T;
  end(): void;
}

/**
 * How a span starts, asked for only when tracing is on: callers run per request, partition or delivery, and
 * with tracing off nothing of a span (not its options, not its attributes) is built.
 */
export type SpanStart = () => SpanOptions;

const NO_OPTIONS: SpanStart = () => ({});

/** Opens a span; undefined when tracing is off. */
export function openSpan(name: string, start: SpanStart = NO_OPTIONS): OpenSpan | undefined {
  const started = api;
  if (!started) return undefined;
  const options = start();
  const { context, propagation, trace } = started;
  const parent = options.parent === undefined ? context.active() : propagation.extract(started.ROOT_CONTEXT, options.parent);
  const span = trace.getTracer('ordered-sidecar').startSpan(
    name,
    {
      kind: started.SpanKind[KINDS[options.kind ?? 'internal']],
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.links?.length ? { links: options.links.flatMap((headers) => linkOf(started, headers)) } : {}),
    },
    parent,
  );
  const active: Context = trace.setSpan(parent, span);
  return { ...notesOf(started, span), run: (fn) => context.with(active, fn), end: () => span.end() };
}

/**
 * Runs `fn` in a span, a child of the active one (or of the options' `parent`), ended when `fn` settles. An
 * exception marks it failed; `note` puts what the result tells on the span (its attributes, a failure such
 * as a partial write). With tracing off `fn` runs alone, `note` is not called, and `fn`'s promise is
 * returned as it is, so `fn` fails through that promise, never by throwing.
 */
export function inSpan<T>(name: string, start: SpanStart, fn: () => Promise<T>, note?: (result: T, span: SpanNotes) => void): Promise<T> {
  const span = openSpan(name, start);
  return span ? runInSpan(span, fn, note) : fn();
}

async function runInSpan<T>(span: OpenSpan, fn: () => Promise<T>, note?: (result: T, span: SpanNotes) => void): Promise<T> {
  try {
    const result = await span.run(fn);
    note?.(result, span);
    return result;
  } catch (err) {
    span.fail(err instanceof Error ? err.message : String(err));
    throw err;
  } finally {
    span.end();
  }
}

function notesOf(started: Api, span: Span): SpanNotes {
  return {
    set: (attributes) => span.setAttributes(attributes),
    fail: (why) => span.setStatus({ code: started.SpanStatusCode.ERROR, message: why }),
  };
}

function linkOf(started: Api, headers: TraceHeaders): Link[] {
  const linked = started.trace.getSpanContext(started.propagation.extract(started.ROOT_CONTEXT, headers));
  return linked ? [{ context: linked }] : [];
}
