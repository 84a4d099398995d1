import type { Sampler } from '@opentelemetry/sdk-trace';
import type { TracingMode } from '../config/options.ts';
import type { Logger } from '../logging/logger.ts';
import { tracingStarted } from './tracing.ts';

type Env = Record<string, string | undefined>;

export interface Tracing {
  /** Exports the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

/**
 * Whether to trace: TRACING=on or off decides; `auto` traces when OTEL_TRACES_EXPORTER names `otlp`, or when
 * an OTLP endpoint is set and neither OTEL_TRACES_EXPORTER=none nor OTEL_SDK_DISABLED=true says otherwise.
 */
export function tracingWanted(mode: TracingMode, env: Env): boolean {
  if (mode !== 'auto') return mode === 'on';
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = env.OTEL_TRACES_EXPORTER?.split(',').map((e) => e.trim().toLowerCase());
  if (exporters !== undefined && exporters.some(Boolean)) return exporters.includes('otlp');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Registers the OpenTelemetry SDK when tracing is wanted: W3C Trace Context, spans batched to an OTLP/HTTP
 * (JSON) exporter that reads OTEL_EXPORTER_OTLP_* itself. The SDK 3 reads no other variable, so the sampler
 * (OTEL_TRACES_SAMPLER, _ARG), the batching (OTEL_BSP_*) and the resource (OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES) are read here. Imported only then: tracing off loads none of it.
 */
export async function startTracing(mode: TracingMode, env: Env, version: string, log: Logger): Promise<Tracing | undefined> {
  if (!tracingWanted(mode, env)) return undefined;
  const [api, sdk, { OTLPTraceExporter }, resources, core, { AsyncLocalStorageContextManager }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('@opentelemetry/context-async-hooks'),
  ]);
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocol !== undefined && protocol !== 'http/json')
    log.warn('OTEL_EXPORTER_OTLP_PROTOCOL is not http/json: spans are sent as OTLP/HTTP JSON all the same', { protocol });
  const batching: Partial<Record<(typeof BATCHING)[number][0], number>> = {};
  for (const [option, name] of BATCHING) {
    const value = core.getNumberFromEnv(name);
    if (value !== undefined) batching[option] = value;
  }
  const processor = new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batching });
  const resource = resources
    .resourceFromAttributes({ 'service.name': 'ordered-sidecar', 'service.version': version })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.TracerProvider({ resource, sampler: sampler(sdk, env, log), spanProcessors: [processor] });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);
  tracingStarted(api);
  log.info('tracing on: spans go to the OTLP/HTTP endpoint of the OTEL_EXPORTER_OTLP_* variables', {
    endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318',
  });
  return {
    // A collector out of reach must not hold the exit for the exporter's own timeout (10 s and more).
    shutdown: () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the last spans were not exported within ${SHUTDOWN_EXPORT_MS} ms`)), SHUTDOWN_EXPORT_MS);
        provider
          .shutdown()
          .then(resolve, reject)
          .finally(() => clearTimeout(timer));
      }),
  };
}

/** How long shutdown waits for the spans still buffered to be exported. */
const SHUTDOWN_EXPORT_MS = 5000;

/** The batch span processor's settings and their OTEL_BSP_* variables. */
const BATCHING = [
  ['scheduledDelayMillis', 'OTEL_BSP_SCHEDULE_DELAY'],
  ['exportTimeoutMillis', 'OTEL_BSP_EXPORT_TIMEOUT'],
  ['maxQueueSize', 'OTEL_BSP_MAX_QUEUE_SIZE'],
  ['maxExportBatchSize', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'],
] as const;

type Sdk = typeof import('@opentelemetry/sdk-trace');

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG as the specification names them; parent-based always-on by default. */
function sampler(sdk: Sdk, env: Env, log: Logger): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_always_on';
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  const root = (which: string): Sampler | undefined =>
    which === 'always_on'
      ? new sdk.AlwaysOnSampler()
      : which === 'always_off'
        ? new sdk.AlwaysOffSampler()
        : which === 'traceidratio'
          ? new sdk.TraceIdRatioBasedSampler(ratio)
          : undefined;
  const chosen = name.startsWith('parentbased_') ? root(name.slice('parentbased_'.length)) : root(name);
  if (!chosen) {
    log.warn('OTEL_TRACES_SAMPLER not known here: parentbased_always_on is used', { sampler: name });
    return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
  }
  return name.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root: chosen }) : chosen;
}
