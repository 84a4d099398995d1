import type { IncomingMessage, ServerResponse } from 'node:http';
import { SidecarError } from '../errors/sidecar-error.ts';
import type { ProduceService } from '../produce/produce-service.ts';
import type { ProduceResponse } from '../protocol/produce.ts';
import { openSpan, traceHeadersOf, type TraceHeaders } from '../tracing/tracing.ts';
import type { ErrorResponder } from './error-response.ts';
import { holdBody } from './inflight-bodies.ts';
import { headerOf, pathOf, runChain, sendJson, type Middleware } from './request-chain.ts';

/**
 * 200 when everything was written; when nothing was, 503 if every partition error may pass on a retry and 422
 * if none may. Anything else is 207: a client reading only the status must not take "nothing written, some of
 * it retriable" for a refusal of the whole request.
 */
export function produceStatus(response: ProduceResponse): number {
  const errors = response.partition_errors;
  if (errors.length === 0) return 200;
  if (response.successful_messages === 0) {
    if (errors.every((e) => e.retriable)) return 503;
    if (errors.every((e) => !e.retriable)) return 422;
  }
  return 207;
}

const callersTrace = (req: IncomingMessage): TraceHeaders => traceHeadersOf((name) => headerOf(req, name));

/**
 * The span of one produce request: it continues the caller's traceparent, covers reading the body, and ends
 * with the response. Tracing off, nothing but the check.
 */
const traceRequest =
  (route: string): Middleware =>
  (req, res, next) => {
    const span = openSpan(`POST ${route}`, () => ({
      kind: 'server',
      parent: callersTrace(req),
      attributes: { 'http.request.method': 'POST', 'http.route': route },
    }));
    if (!span) return next();
    res.on('close', () => {
      span.set({ 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.fail(`HTTP ${res.statusCode}`);
      span.end();
    });
    span.run(next);
  };

/** `gone` is aborted when the client goes away before its response is sent. */
type Run = (body: unknown, trace: TraceHeaders, gone: AbortSignal) => Promise<ProduceResponse>;

/** The body body-parser left on the request (none when it read none). */
const bodyOf = (req: IncomingMessage): unknown => ('body' in req ? req.body : undefined);

/**
 * Runs the operation and answers. The body's MAX_INFLIGHT_BODY_BYTES reservation is held until the operation
 * ends, even when the client went away before: the operation still holds the body.
 */
const answer =
  (run: Run): Middleware =>
  (req, res, next) => {
    const done = holdBody(req);
    const gone = new AbortController();
    if (res.destroyed) gone.abort();
    else
      res.once('close', () => {
        if (!res.writableFinished) gone.abort();
      });
    run(bodyOf(req), callersTrace(req), gone.signal)
      .then((response) => sendJson(res, produceStatus(response), response), next)
      .finally(done);
  };

export const PRODUCE_ROUTES = ['/v1/ordered-produce', '/v1/produce'] as const;
export type ProduceRoute = (typeof PRODUCE_ROUTES)[number];

// As express matches a route: any letter case, one trailing slash allowed.
const PRODUCE_PATH = /^\/v1\/(ordered-)?produce\/?$/i;

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

const onlyPost: Middleware = (req, res, next) => {
  res.setHeader('Allow', 'POST');
  next(new SidecarError('METHOD_NOT_ALLOWED', `${req.method ?? 'this method'} ${pathOf(req)}: a produce route takes POST only`));
};

/** The listener, with what it serves itself (`routes`, as `METHOD /path`) and what it passes the rest to. */
export type ProduceListener<Fallback extends Listener> = Listener & { readonly fallback: Fallback; readonly routes: readonly string[] };

export interface ProduceListenerDeps {
  produce: Pick<ProduceService, 'ordered' | 'plain'>;
  /** What runs before the route's own steps on every request (request id, drain gate, metrics, bearer token). */
  before: (route: ProduceRoute) => readonly Middleware[];
  /** Declared JSON, the bodies-in-flight gate, then the JSON parser. */
  body: readonly Middleware[];
  onError: ErrorResponder;
}

/**
 * The produce routes, served without express, in front of `fallback` (the express app, for every other
 * request). The steps are the same middleware express runs elsewhere (request-chain.ts): what this saves is
 * express's own routing, request/response set-up and res.json, about 6 % of the sidecar's CPU at 1,000
 * produce requests/s (README, "The produce routes bypass express").
 */
export function produceListener<Fallback extends Listener>(deps: ProduceListenerDeps, fallback: Fallback): ProduceListener<Fallback> {
  const chainOf = (route: ProduceRoute, run: Run): readonly Middleware[] => [...deps.before(route), traceRequest(route), ...deps.body, answer(run)];
  const ordered = chainOf('/v1/ordered-produce', (body, trace, gone) => deps.produce.ordered(body, trace, gone));
  const plain = chainOf('/v1/produce', (body, trace) => deps.produce.plain(body, trace));
  // Another method on a produce path: the same first steps (a missing token is still a 401), then 405.
  const refuseOrdered = [...deps.before('/v1/ordered-produce'), onlyPost];
  const refusePlain = [...deps.before('/v1/produce'), onlyPost];
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const match = PRODUCE_PATH.exec(pathOf(req));
    if (!match) {
      fallback(req, res);
      return;
    }
    const post = req.method === 'POST';
    const chain = match[1] ? (post ? ordered : refuseOrdered) : post ? plain : refusePlain;
    runChain(chain, req, res, (err) => deps.onError(err, req, res));
  };
  return Object.assign(listener, { fallback, routes: PRODUCE_ROUTES.map((route) => `POST ${route}`) });
}
