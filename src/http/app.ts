import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { createAdminRouter, type AdminRouterDeps } from './admin-routes.ts';
import { requireBearerToken, type BearerToken } from './bearer-token.ts';
import { requireJson } from './json-body.ts';
import { SidecarError, storeUnavailable } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import { inRequest } from '../logging/request-context.ts';
import type { ProduceService } from '../produce/produce-service.ts';
import type { ProduceResponse } from '../protocol/produce.ts';
import { apiVersions } from './api-versions.ts';
import type { ConsumeService } from '../consume/consume-service.ts';
import { openApiDocument } from './openapi.ts';
import { inflightBodyGate } from './inflight-bodies.ts';
import { addConsoleRoutes } from './console.ts';
import type { HealthChecker } from './health.ts';
import { openSpan, traceHeadersOf, type TraceHeaders } from '../tracing/tracing.ts';

/** What the HTTP layer records and exposes (SidecarMetrics fits it). */
export interface HttpMetrics {
  inflightRequests: { inc(): void; dec(): void };
  httpDuration: { startTimer(): (labels: { method: string; route: string; status: string }) => number };
  registry: { contentType: string; metrics(): Promise<string> };
}

export interface AppDeps {
  produce: ProduceService;
  health: HealthChecker;
  metrics: HttpMetrics;
  log: Logger;
  version: string;
  /** The Kafka engine in use, named by /v1/api-versions. */
  kafkaClient: string;
  maxBodyBytes: number;
  /** Bytes of produce bodies read or being read at once, above which new ones get 503 OVERLOADED. */
  maxInflightBodyBytes: number;
  /** Compressed produce bodies are read (counted at MAX_BODY_BYTES) rather than refused with 415. */
  acceptEncodedBodies: boolean;
  dedupWindowMs: number;
  /** True once shutdown began: new requests (but /healthz and /metrics) get 503 and the connection is closed. */
  isDraining: () => boolean;
  admin: AdminRouterDeps;
  /** Ordered consumption, when a subscriptions file is configured. */
  consume?: ConsumeService | undefined;
  /** Bearer token /v1/* requires; undefined leaves /v1 open. /healthz, /readyz and /metrics are always open. */
  apiToken?: BearerToken | undefined;
  /** /metrics is served by the ops listener (OPS_PORT, createOpsApp) instead of here. */
  metricsApart?: boolean;
  /** Serve the operations console at /console (CONSOLE). */
  console: boolean;
}

/** What the ops listener (OPS_PORT) needs: the health and metrics part of AppDeps. */
export type OpsAppDeps = Pick<AppDeps, 'health' | 'metrics' | 'log' | 'maxBodyBytes' | 'isDraining' | 'consume'>;

/** 200 when everything was written, 207 when some partitions failed, the error's status when nothing was. */
export function produceStatus(response: ProduceResponse): number {
  if (response.partition_errors.length === 0) return 200;
  if (response.successful_messages > 0) return 207;
  const retriable = response.partition_errors.every((e) => e.retriable);
  return retriable ? 503 : 422;
}

/** body-parser's own errors, translated to the sidecar's vocabulary. */
function bodyParserError(err: { type?: string; status?: number; message?: string }, limit: number): SidecarError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new SidecarError('INVALID_REQUEST', `body: malformed JSON (${err.message})`, { field: 'body' });
    case 'entity.too.large':
      return new SidecarError('PAYLOAD_TOO_LARGE', `body: over the limit of ${limit} bytes`, { field: 'body' });
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new SidecarError('UNSUPPORTED_MEDIA_TYPE', `body: ${err.message}`, { field: 'body' });
    case 'request.aborted':
      return new SidecarError('INVALID_REQUEST', 'body: the client aborted the request', { field: 'body' });
    default:
      // Other client errors express raises itself (a malformed %-escape in a path, say) keep their 4xx.
      return err.status !== undefined && err.status >= 400 && err.status < 500
        ? new SidecarError('INVALID_REQUEST', `request: ${err.message ?? 'malformed'}`)
        : undefined;
  }
}

/** A caller's X-Request-Id is kept when it is 1-128 visible ASCII characters (it goes into logs and headers). */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The span of one produce request: it continues the caller's traceparent, covers reading the body, and ends
 * with the response. Tracing off, nothing but the check.
 */
const traceRequest =
  (route: string): RequestHandler =>
  (req, res, next) => {
    const span = openSpan(`POST ${route}`, {
      kind: 'server',
      parent: callersTrace(req),
      attributes: { 'http.request.method': 'POST', 'http.route': route },
    });
    if (!span) return next();
    res.on('close', () => {
      span.set({ 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.fail(`HTTP ${res.statusCode}`);
      span.end();
    });
    span.run(next);
  };

const callersTrace = (req: Request): TraceHeaders => traceHeadersOf((name) => req.get(name));

/** Answered even while draining. */
const ALWAYS_ANSWERED = new Set(['/healthz', '/metrics']);

/** An express app with the drain gate and the request accounting every listener has. */
function baseApp({ metrics, isDraining }: OpsAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // X-Request-Id: the caller's, or a new one; returned, and on every log line written for the request.
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    inRequest(requestId, next);
  });
  app.use((req, res, next) => {
    // Liveness and metrics stay answered while draining: the process is alive, and its last numbers count.
    if (isDraining() && !ALWAYS_ANSWERED.has(req.path)) {
      res.setHeader('Connection', 'close');
      const err = new SidecarError('SHUTTING_DOWN', 'the sidecar is shutting down; retry on another connection');
      res.status(err.status).json(err.toJSON());
      return;
    }
    metrics.inflightRequests.inc();
    const stopTimer = metrics.httpDuration.startTimer();
    res.on('close', () => {
      metrics.inflightRequests.dec();
      // Route templates, not raw URLs, keep label cardinality bounded.
      stopTimer({ method: req.method, route: req.route ? `${req.baseUrl}${req.route.path}` : 'unmatched', status: String(res.statusCode) });
    });
    next();
  });
  return app;
}

/** /healthz and /readyz, and /metrics when `withMetrics`. */
function addOpsRoutes(app: express.Express, { health, metrics, consume }: OpsAppDeps, withMetrics: boolean): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const readiness = await health.check();
    // A subscription not ready (its topic missing) is shown, but does not take the produce path out of service.
    res.status(readiness.ready ? 200 : 503).json(consume ? { ...readiness, subscriptions: consume.readiness() } : readiness);
  });
  if (!withMetrics) return;
  app.get('/metrics', async (_req, res) => {
    // The *_up gauges show the last check; this one runs behind the answer, so a scrape never waits on the network.
    void health.check();
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

/** The 404 for other routes and the error handler, last on every listener. */
function addErrorHandling(app: express.Express, { log, maxBodyBytes }: OpsAppDeps): void {
  app.use((req, _res, next) => {
    next(new SidecarError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });

  const onError: ErrorRequestHandler = (raw, req, res, _next) => {
    const err =
      raw instanceof SidecarError
        ? raw
        : (storeUnavailable(raw, 'Redis unavailable') ??
          bodyParserError(raw as object, maxBodyBytes) ??
          new SidecarError('INTERNAL', 'internal error', { cause: raw }));
    // An internal error is a defect: its stack is what finds it.
    const stack = err.code === 'INTERNAL' && raw instanceof Error ? { stack: raw.stack } : {};
    if (err.status >= 500 && !err.summarized)
      log.error('request failed', { method: req.method, path: req.path, code: err.code, err: err.cause ?? err, ...stack });
    else log.debug('request rejected', { method: req.method, path: req.path, code: err.code, reason: err.message });
    if (res.headersSent) return;
    if (err.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(err.retryAfterSeconds));
    res.status(err.status).json(err.toJSON());
  };
  app.use(onError);
}

/** The ops listener (OPS_PORT): /healthz, /readyz and /metrics only, apart from /v1 and /admin/v1. */
export function createOpsApp(deps: OpsAppDeps): express.Express {
  const app = baseApp(deps);
  addOpsRoutes(app, deps, true);
  addErrorHandling(app, deps);
  return app;
}

export function createApp(deps: AppDeps): express.Express {
  const { produce, log } = deps;
  const app = baseApp(deps);

  const json = express.json({ limit: deps.maxBodyBytes, strict: false });
  const bodyGate = inflightBodyGate(deps.maxInflightBodyBytes, deps.maxBodyBytes, deps.acceptEncodedBodies, log);
  const produceRoute =
    (run: (body: unknown, trace: TraceHeaders) => Promise<ProduceResponse>): RequestHandler =>
    async (req: Request, res: Response) => {
      const response = await run(req.body, callersTrace(req));
      res.status(produceStatus(response)).json(response);
    };

  app.use('/v1', requireBearerToken(deps.apiToken, { name: 'API', realm: 'ordered-sidecar', env: 'API_TOKEN' }));
  app.post(
    '/v1/ordered-produce',
    traceRequest('/v1/ordered-produce'),
    requireJson,
    bodyGate,
    json,
    produceRoute((body, trace) => produce.ordered(body, trace)),
  );
  app.post(
    '/v1/produce',
    traceRequest('/v1/produce'),
    requireJson,
    bodyGate,
    json,
    produceRoute((body, trace) => produce.plain(body, trace)),
  );
  app.get('/v1/api-versions', (_req, res) => {
    res.json(apiVersions(deps.version, deps.dedupWindowMs, deps.kafkaClient));
  });
  const openapi = openApiDocument(deps.version);
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  // With an ops listener, /metrics is served there only; /healthz and /readyz stay here for the application.
  addOpsRoutes(app, deps, !deps.metricsApart);
  app.get('/v1/subscriptions', (_req, res) => {
    res.json({ subscriptions: deps.consume?.status() ?? [] });
  });

  app.use('/admin/v1', createAdminRouter(deps.admin));
  if (deps.console) addConsoleRoutes(app);

  addErrorHandling(app, deps);
  return app;
}
