import { createRequire } from 'node:module';

type OpenTelemetryApi = typeof import('@opentelemetry/api');

const requireOptional = createRequire(import.meta.url);
/** Loaded at the first request; null when the application has no @opentelemetry/api (an optional peer). */
let api: OpenTelemetryApi | null | undefined;

/**
 * The application's active trace context as headers (W3C `traceparent`, `tracestate`, as its registered
 * propagator writes them), so the sidecar's spans join the application's trace. Empty without
 * @opentelemetry/api, or when the application registered no propagator.
 */
export function activeTraceHeaders(): Record<string, string> {
  if (api === undefined) {
    try {
      // The API keeps its registrations on globalThis, so this copy sees the application's.
      api = requireOptional('@opentelemetry/api') as OpenTelemetryApi;
    } catch {
      api = null;
    }
  }
  const carrier: Record<string, string> = {};
  api?.propagation.inject(api.context.active(), carrier);
  return carrier;
}
