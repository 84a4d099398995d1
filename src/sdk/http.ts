import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { FailureInfo } from './errors.ts';
import { errorMessage } from '../protocol/error-message.ts';
import { parseRetryAfter } from '../retry/retry.ts';
import { isProduceResponse, isWireError } from './wire.ts';
import { activeTraceHeaders } from './trace-context.ts';

/** `retryAfterMs`: the answer's `Retry-After`, the floor of the wait before a retry, when it had one. */
export type HttpOutcome = { ok: true; status: number; body: unknown; retryAfterMs?: number | undefined } | { ok: false; failure: FailureInfo };

/**
 * Thrown before anything went on the wire (a header value Node refuses, a URL it cannot request): the same
 * request would fail the same way, so it is final, and no message of it can have been written.
 */
class NotSentError extends Error {
  constructor(cause: unknown) {
    super(`the request could not be made: ${causeCode(cause) ?? 'error'}: ${errorMessage(cause)}`, { cause });
  }
}

/** The innermost cause's code (ECONNREFUSED, ECONNRESET, ...), which says more than a generic message. */
function causeCode(err: unknown): string | undefined {
  let current: unknown = err;
  let code: string | undefined;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const own = (current as Error & { code?: unknown }).code;
    if (typeof own === 'string') code = own;
    current = current.cause;
  }
  return code;
}

/** A gateway between client and sidecar that could not reach it, or timed out: worth repeating. */
const gatewayTrouble = (status: number): boolean => status === 502 || status === 503 || status === 504;

/**
 * `path` under the sidecar's base URL, keeping a base path (`http://gw/sidecar` + `v1/x` is
 * `http://gw/sidecar/v1/x`): a leading slash would make `new URL` drop it.
 */
export function endpointUrl(base: string, path: string): string {
  const root = new URL(base);
  if (!root.pathname.endsWith('/')) root.pathname += '/';
  return new URL(path.replace(/^\/+/, ''), root).toString();
}

/**
 * The client's own keep-alive connection pool (one per Client, so `close()` can end its sockets) and one
 * JSON exchange at a time over it. Idle pooled sockets are unref'd by Node and never hold the process.
 */
export class HttpClient {
  readonly #http = new HttpAgent({ keepAlive: true });
  readonly #https = new HttpsAgent({ keepAlive: true });
  readonly #authorization: string | undefined;

  /** `token`: the sidecar's API_TOKEN, sent as a bearer token with every request (checked by resolveClientOptions). */
  constructor(token?: string) {
    this.#authorization = token === undefined ? undefined : `Bearer ${token}`;
  }

  /**
   * One HTTP exchange with a JSON answer, under a deadline that covers reading the body too. Never throws:
   * the retry loop decides what a failure means.
   */
  async requestJson(url: string, init: { method: 'GET' | 'POST'; body?: string }, timeoutMs: number, signal?: AbortSignal): Promise<HttpOutcome> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let status: number;
    let text: string;
    let retryAfter: string | undefined;
    try {
      ({ status, text, retryAfter } = await this.#exchange(url, init, combined));
    } catch (err) {
      if (err instanceof NotSentError)
        return { ok: false, failure: { code: 'INVALID_REQUEST', message: `${init.method} ${url}: ${err.message}`, retriable: false, cause: err.cause } };
      // Retriable: a request cut off may have been acted on, so the same dedup ids must be sent again.
      if (signal?.aborted) return { ok: false, failure: { code: 'ABORTED', message: 'aborted by the caller', retriable: true, cause: signal.reason } };
      if (deadline.aborted)
        return {
          ok: false,
          failure: { code: 'TIMEOUT', message: `${init.method} ${url}: no complete answer within ${timeoutMs} ms`, retriable: true, cause: err },
        };
      return {
        ok: false,
        failure: { code: 'NETWORK', message: `${init.method} ${url}: ${causeCode(err) ?? errorMessage(err)}`, retriable: true, cause: err },
      };
    }
    const retryAfterMs = parseRetryAfter(retryAfter, Date.now());
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const ok = status >= 200 && status < 300;
    if (ok && body === undefined)
      return {
        ok: false,
        failure: {
          code: 'INVALID_RESPONSE',
          message: `${init.method} ${url}: HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`,
          retriable: false,
          status,
        },
      };
    if (ok) return { ok: true, status, body };
    if (isWireError(body)) {
      const { code, message, field, retriable } = body.error;
      // The sidecar says per code whether a repeat may pass (503 DUPLICATE_IN_FLIGHT is retriable, 500 is not).
      return {
        ok: false,
        failure: {
          code,
          message: `sidecar answered ${status} ${code}: ${message}`,
          reason: message,
          field,
          status,
          retriable: retriable ?? gatewayTrouble(status),
          retryAfterMs,
        },
      };
    }
    // 207, 503 and 422 of a produce carry a full produce response: the caller maps it message by message.
    if (isProduceResponse(body)) return { ok: true, status, body, retryAfterMs };
    // Not the sidecar speaking (a proxy, a load balancer): only its "could not reach / timed out" is retried.
    return {
      ok: false,
      failure: {
        code: 'HTTP_ERROR',
        message: `${init.method} ${url}: HTTP ${status}: ${text.slice(0, 200)}`,
        retriable: gatewayTrouble(status),
        status,
        retryAfterMs,
      },
    };
  }

  /** Ends the pooled connections; requests still running are cut off. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  #exchange(
    target: string,
    init: { method: 'GET' | 'POST'; body?: string },
    signal: AbortSignal,
  ): Promise<{ status: number; text: string; retryAfter: string | undefined }> {
    return new Promise((resolve, reject) => {
      // Node checks the URL and every header while it builds the request, and throws: nothing is sent then.
      try {
        const url = new URL(target);
        const secure = url.protocol === 'https:';
        const body = init.body === undefined ? undefined : Buffer.from(init.body);
        const headers: Record<string, string | number> = { ...activeTraceHeaders(), accept: 'application/json' };
        if (this.#authorization) headers.authorization = this.#authorization;
        if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': body.length });
        const request = (secure ? httpsRequest : httpRequest)(
          url,
          { method: init.method, headers, agent: secure ? this.#https : this.#http, signal },
          (response) => {
            const chunks: Buffer[] = [];
            const header = response.headers['retry-after'];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), retryAfter: header }));
            response.on('error', reject);
            // After 'end' this is a no-op; before it, the connection went away mid-answer.
            response.on('close', () => reject(Object.assign(new Error('the connection closed before the answer was complete'), { code: 'ECONNRESET' })));
          },
        );
        request.on('error', reject);
        request.end(body);
      } catch (err) {
        reject(new NotSentError(err));
      }
    });
  }
}
