import { describeError, type FailureInfo } from './errors.ts';
import { isWireError } from './wire.ts';

export type HttpOutcome = { ok: true; status: number; body: unknown } | { ok: false; failure: FailureInfo };

/** The innermost cause's code (ECONNREFUSED, UND_ERR_SOCKET, ...), which says more than fetch's "fetch failed". */
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

/** Statuses worth repeating when the body does not say: gateway trouble, overload, timeouts of a proxy. */
const retriableStatus = (status: number): boolean => status === 408 || status === 429 || (status >= 500 && status !== 501);

/**
 * One HTTP exchange with a JSON answer, under a deadline that covers reading the body too. Never throws:
 * the retry loop decides what a failure means. Node's global fetch keeps connections alive and pools them.
 */
export async function requestJson(url: string, init: { method: 'GET' | 'POST'; body?: string }, timeoutMs: number, signal?: AbortSignal): Promise<HttpOutcome> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  let status: number;
  let text: string;
  try {
    const response = await fetch(url, {
      method: init.method,
      headers: init.body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: init.body }),
      signal: combined,
    });
    status = response.status;
    text = await response.text();
  } catch (err) {
    if (signal?.aborted) return { ok: false, failure: { code: 'ABORTED', message: 'aborted by the caller', retriable: false, cause: signal.reason } };
    if (deadline.aborted) return { ok: false, failure: { code: 'TIMEOUT', message: `${init.method} ${url}: no complete answer within ${timeoutMs} ms`, retriable: true, cause: err } };
    const code = causeCode(err);
    return { ok: false, failure: { code: 'NETWORK', message: `${init.method} ${url}: ${code ?? describeError(err)}`, retriable: true, cause: err } };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, failure: { code: 'INVALID_RESPONSE', message: `${init.method} ${url}: HTTP ${status} with a body that is not JSON: ${text.slice(0, 200)}`, retriable: retriableStatus(status), status } };
  }
  if (status >= 200 && status < 300) return { ok: true, status, body };
  if (isWireError(body)) {
    const { code, message, field, retriable } = body.error;
    // The sidecar says per code whether a repeat may pass (409 DUPLICATE_IN_FLIGHT is retriable, 500 is not).
    return { ok: false, failure: { code, message: `sidecar answered ${status} ${code}: ${message}`, reason: message, field, status, retriable: retriable ?? retriableStatus(status) } };
  }
  // 503 and 422 of a produce carry a full produce response: the caller maps it message by message.
  return { ok: true, status, body };
}
