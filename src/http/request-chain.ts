import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SidecarError } from '../errors/sidecar-error.ts';
import { inRequest } from '../logging/request-context.ts';

/**
 * A middleware on node's own request and response. Express runs it as it is, and so does the produce
 * listener (produce-routes.ts), which serves the produce routes without express: one implementation of
 * each rule for both.
 */
export type Next = (err?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/**
 * Runs `chain` in order; an error (passed to next, or thrown) goes to `onError` and ends it, as in express.
 * `next` is a bound method rather than a closure: the bundle (esbuild's keepNames) wraps every named closure
 * in a defineProperty call, a cost per request here.
 */
export function runChain(chain: readonly Middleware[], req: IncomingMessage, res: ServerResponse, onError: (err: unknown) => void): void {
  new ChainRun(chain, req, res, onError).next();
}

class ChainRun {
  readonly #chain: readonly Middleware[];
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #onError: (err: unknown) => void;
  #index = 0;
  readonly next: Next;

  constructor(chain: readonly Middleware[], req: IncomingMessage, res: ServerResponse, onError: (err: unknown) => void) {
    this.#chain = chain;
    this.#req = req;
    this.#res = res;
    this.#onError = onError;
    this.next = this.#step.bind(this);
  }

  #step(err?: unknown): void {
    if (err !== undefined) {
      this.#onError(err);
      return;
    }
    const middleware = this.#chain[this.#index++];
    if (middleware === undefined) return;
    try {
      middleware(this.#req, this.#res, this.next);
    } catch (thrown) {
      this.#onError(thrown);
    }
  }
}

/** The path of the request without its query, as express's `req.path` reads it (absolute-form URLs included). */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  if (!url.startsWith('/')) return URL.parse(url)?.pathname ?? url;
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** A request header as one string, as express's `req.get` returns it (node joins repeated ones). */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** What express's `res.status(status).json(body)` sends, without express. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** A caller's X-Request-Id is kept when it is 1-128 visible ASCII characters (it goes into logs and headers). */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** X-Request-Id: the caller's, or a new one; returned, and on every log line written for the request. */
export const requestId: Middleware = (req, res, next) => {
  const given = headerOf(req, 'x-request-id');
  const id = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('X-Request-Id', id);
  inRequest(id, next);
};

/** While draining, a 503 that closes the connection, except on the paths in `alwaysAnswered`. */
export const drainGate =
  (isDraining: () => boolean, alwaysAnswered: ReadonlySet<string>): Middleware =>
  (req, res, next) => {
    if (isDraining() && !alwaysAnswered.has(pathOf(req))) {
      res.setHeader('Connection', 'close');
      const err = new SidecarError('SHUTTING_DOWN', 'the sidecar is shutting down; retry on another connection');
      sendJson(res, err.status, err.toJSON());
      return;
    }
    next();
  };

export interface HttpLabels {
  method: string;
  route: string;
  status: string;
}

/** What the HTTP layer records (SidecarMetrics fits it). */
export interface HttpMetrics {
  inflightRequests: { inc(): void; dec(): void };
  /** The duration histogram's series of a label set (the same few sets repeat: they are kept, not rebuilt). */
  httpDuration: { bind(labels: HttpLabels): { observe(seconds: number): void } };
}

/**
 * Counts the request in flight and observes its duration under its route template (`routeOf`, read when the
 * response closes: templates, not raw URLs, keep label cardinality bounded).
 */
export function countRequests<Req extends IncomingMessage>(
  metrics: HttpMetrics,
  routeOf: (req: Req) => string,
): (req: Req, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    metrics.inflightRequests.inc();
    const start = performance.now();
    res.on('close', () => {
      metrics.inflightRequests.dec();
      const labels = { method: req.method ?? '', route: routeOf(req), status: String(res.statusCode) };
      metrics.httpDuration.bind(labels).observe((performance.now() - start) / 1000);
    });
    next();
  };
}
