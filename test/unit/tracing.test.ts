import { describe, expect, it, vi } from 'vitest';
import { tracingWanted } from '../../src/tracing/start-tracing.ts';
import { NO_TRACE, inSpan, openSpan, outgoingTraceHeaders, traceHeadersOf, tracingOn } from '../../src/tracing/tracing.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const headers =
  (values: Record<string, string>) =>
  (name: string): string | undefined =>
    values[name];

describe('tracingWanted (TRACING and the OTEL_* variables)', () => {
  it.each([
    ['auto', {}, false],
    ['auto', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    ['auto', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    ['auto', { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, false],
    ['auto', { OTEL_TRACES_EXPORTER: 'otlp' }, true],
    ['auto', { OTEL_TRACES_EXPORTER: 'console, otlp' }, true],
    ['auto', { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    ['auto', { OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }, false],
    ['on', {}, true],
    ['off', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
  ] as const)('%s with %j: %s', (mode, env, wanted) => {
    expect(tracingWanted(mode, env)).toBe(wanted);
  });
});

describe('traceHeadersOf (W3C Trace Context as received)', () => {
  it('keeps a valid traceparent and its tracestate', () => {
    expect(traceHeadersOf(headers({ traceparent: TRACEPARENT, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' }))).toEqual({
      traceparent: TRACEPARENT,
      tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    });
    expect(traceHeadersOf(headers({ traceparent: ` ${TRACEPARENT} ` }))).toEqual({ traceparent: TRACEPARENT });
  });

  it.each([
    ['no traceparent', {}],
    ['a tracestate alone', { tracestate: 'rojo=1' }],
    ['garbage', { traceparent: 'not-a-trace' }],
    ['an unknown version', { traceparent: `01${TRACEPARENT.slice(2)}` }],
    ['an all-zero trace id', { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }],
    ['an all-zero span id', { traceparent: `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01` }],
    ['a field too long', { traceparent: `${TRACEPARENT}0` }],
    ['uppercase hex', { traceparent: TRACEPARENT.toUpperCase() }],
  ])('drops %s', (_what, values: Record<string, string>) => {
    expect(traceHeadersOf(headers(values))).toEqual(NO_TRACE);
  });

  it('drops a tracestate past 512 characters or with characters outside printable ASCII, keeping the traceparent', () => {
    expect(traceHeadersOf(headers({ traceparent: TRACEPARENT, tracestate: `a=${'x'.repeat(511)}` }))).toEqual({ traceparent: TRACEPARENT });
    expect(traceHeadersOf(headers({ traceparent: TRACEPARENT, tracestate: 'a=\u00e9' }))).toEqual({ traceparent: TRACEPARENT });
  });
});

describe('tracing off (the SDK never started in this process)', () => {
  it("passes the caller's headers on and runs work without a span", async () => {
    expect(tracingOn()).toBe(false);
    const callers = { traceparent: TRACEPARENT, tracestate: 'rojo=1' };
    expect(outgoingTraceHeaders(callers)).toBe(callers);
    expect(openSpan('route')).toBeUndefined();
    const start = vi.fn(() => ({ parent: callers }));
    const note = vi.fn();
    await expect(inSpan('route', start, async () => 'done', note)).resolves.toBe('done');
    // Nothing of a span is built or noted: its options and the result are looked at only when tracing is on.
    expect(start).not.toHaveBeenCalled();
    expect(note).not.toHaveBeenCalled();
  });
});
