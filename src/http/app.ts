import type { IncomingMessage } from 'node:http';
import express, { type ErrorRequestHandler, type Request } from 'express';
import { createAdminRouter, type AdminRouterDeps } from './admin-routes.ts';
import { requireBearerToken, type BearerToken } from './bearer-token.ts';
import { apiRebindingGuard } from './same-origin-guard.ts';
import { requireJson } from './json-body.ts';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { ProduceService } from '../produce/produce-service.ts';
import { apiVersions } from './api-versions.ts';
import type { ConsumeService } from '../consume/consume-service.ts';
import { openApiDocument } from './openapi.ts';
import { inflightBodyGate } from './inflight-bodies.ts';
import { addConsoleRoutes } from './console.ts';
import type { HealthChecker } from './health.ts';
import { countRequests, drainGate, requestId, type HttpMetrics } from './request-chain.ts';
import { errorResponder, type ErrorResponder } from './error-response.ts';
import { produceListener, type ProduceListener, type ProduceRoute } from './produce-routes.ts';
import { produceJsonBody } from './produce-body.ts';
import { refuseOtherMethods } from './other-methods.ts';

/** What the HTTP layer records and exposes (SidecarMetrics fits it). */
export interface AppMetrics extends HttpMetrics {
  registry: { contentType: string; metrics(): Promise<string> };
}

export interface AppDeps {
  produce: ProduceService;
  health: HealthChecker;
  metrics: AppMetrics;
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
  /** HOST is a loopback address: without apiToken, /v1 then serves loopback names only (DNS rebinding). */
  loopbackBind: boolean;
  /** /metrics is served by the ops listener (OPS_PORT, createOpsApp) instead of here. */
  metricsApart?: boolean;
  /** Serve the operations console at /console (CONSOLE). */
  console: boolean;
}

/** What the ops listener (OPS_PORT) needs: the health and metrics part of AppDeps. */
export type OpsAppDeps = Pick<AppDeps, 'health' | 'metrics' | 'log' | 'maxBodyBytes' | 'isDraining' | 'consume'>;

/** Answered even while draining: the process is alive, and its last numbers count. */
const ALWAYS_ANSWERED = new Set(['/healthz', '/metrics']);

/** Where the admin router is mounted. */
const ADMIN_BASE = '/admin/v1';

/** The literal path a router was mounted at, kept on the request (req.baseUrl is the client's spelling of it). */
const MOUNT_PATH = Symbol('mount path');
type Mounted = Request & { [MOUNT_PATH]?: string };
const mountedAt =
  (path: string): express.RequestHandler =>
  (req, _res, next) => {
    (req as Mounted)[MOUNT_PATH] = path;
    next();
  };

/**
 * The route template express matched, or 'unmatched'. Routing ignores case (/ADMIN/V1/overview is served), so a
 * mounted router's routes are labelled with the literal mount path, not req.baseUrl: a label per spelling would
 * be a new histogram series each, kept for the life of the process.
 */
export const expressRoute = (req: Request): string => {
  if (!req.route) return 'unmatched';
  // baseUrl is '' again once a request left the router for the app's own routes.
  const base = req.baseUrl === '' ? '' : ((req as Mounted)[MOUNT_PATH] ?? req.baseUrl);
  return `${base}${req.route.path}`;
};

/** What every request goes through first, on every listener and route: its id, the drain gate, its metrics. */
const firstSteps = <Req extends IncomingMessage>({ metrics, isDraining }: OpsAppDeps, routeOf: (req: Req) => string) =>
  [requestId, drainGate(isDraining, ALWAYS_ANSWERED), countRequests(metrics, routeOf)] as const;

/** An express app with the drain gate and the request accounting every listener has. */
function baseApp(deps: OpsAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(...firstSteps(deps, expressRoute));
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

/** The 405 for another method on a served path, the 404 for other routes and the error handler (`respond`), last on every listener. */
function addErrorHandling(app: express.Express, respond: ErrorResponder): void {
  app.use(refuseOtherMethods(app.router));
  app.use((req, _res, next) => {
    next(new SidecarError('NOT_FOUND', `no route for ${req.method} ${req.path}`));
  });

  const onError: ErrorRequestHandler = (raw, req, res, _next) => respond(raw, req, res);
  app.use(onError);
}

/** The ops listener (OPS_PORT): /healthz, /readyz and /metrics only, apart from /v1 and /admin/v1. */
export function createOpsApp(deps: OpsAppDeps): express.Express {
  const app = baseApp(deps);
  addOpsRoutes(app, deps, true);
  addErrorHandling(app, errorResponder(deps.log, deps.maxBodyBytes));
  return app;
}

/**
 * The main listener: the produce routes (produce-routes.ts, without express), and the express app for the rest.
 * Both run the same steps: firstSteps, the API bearer token, the error responder.
 */
export function createApp(deps: AppDeps): ProduceListener<express.Express> {
  const { produce, log } = deps;
  const app = baseApp(deps);
  const bearer = requireBearerToken(deps.apiToken, { name: 'API', realm: 'ordered-sidecar', env: 'API_TOKEN' });
  const apiGuards = deps.loopbackBind ? [apiRebindingGuard(deps.apiToken), bearer] : [bearer];

  app.use('/v1', ...apiGuards);
  app.get('/v1/api-versions', (_req, res) => {
    res.json(apiVersions(deps.version, deps.dedupWindowMs, deps.kafkaClient));
  });
  // Read now, so a damaged installation stops the start; held only once asked for (250 KiB of heap parsed).
  openApiDocument(deps.version);
  let openapi: Record<string, unknown> | undefined;
  app.get('/v1/openapi.json', (_req, res) => {
    res.json((openapi ??= openApiDocument(deps.version)));
  });
  // With an ops listener, /metrics is served there only; /healthz and /readyz stay here for the application.
  addOpsRoutes(app, deps, !deps.metricsApart);
  app.get('/v1/subscriptions', (_req, res) => {
    res.json({ subscriptions: deps.consume?.status() ?? [] });
  });

  app.use(ADMIN_BASE, mountedAt(ADMIN_BASE), createAdminRouter(deps.admin));
  if (deps.console) addConsoleRoutes(app, { token: deps.admin.token });

  const respond = errorResponder(log, deps.maxBodyBytes);
  addErrorHandling(app, respond);
  return produceListener(
    {
      produce,
      before: (route: ProduceRoute) => [...firstSteps(deps, () => route), ...apiGuards],
      body: [requireJson, inflightBodyGate(deps.maxInflightBodyBytes, deps.maxBodyBytes, deps.acceptEncodedBodies, log), produceJsonBody(deps.maxBodyBytes)],
      onError: respond,
    },
    app,
  );
}
