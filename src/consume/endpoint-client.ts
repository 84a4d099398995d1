import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../logging/logger.ts';
import { authHeaders, type AuthHeaders } from './delivery-auth.ts';
import { readCaBundle } from './endpoint-ca.ts';
import { deliveryBody, type Delivery, type DeliveryResult } from './delivery.ts';
import { parseRetryAfter } from '../retry/retry.ts';
import type { Subscription } from './subscriptions.ts';
import { tracedDelivery } from './delivery-trace.ts';
import type { TraceHeaders } from '../tracing/tracing.ts';

/** Part of an error answer kept for the logs and the dead-letter header; the rest is read and dropped. */
const ERROR_TEXT_BYTES = 200;

/**
 * POSTs deliveries to a subscription's endpoint over keep-alive connections (one per group in flight at
 * most). A 2xx acknowledges; any other status, a connection error or no answer within `ack_timeout` is a
 * failed attempt. Never rejects. Each attempt carries the subscription's bearer token and signature, when it
 * has them (delivery-auth.ts); an https endpoint is verified against `endpoint_ca_file` when it is set.
 */
export class EndpointClient {
  readonly #subscription: Subscription;
  readonly #url: URL;
  readonly #agent: http.Agent;
  readonly #request: typeof http.request;
  readonly #authHeaders: AuthHeaders;

  constructor(subscription: Subscription, log: Logger) {
    this.#subscription = subscription;
    this.#url = new URL(subscription.endpoint);
    this.#authHeaders = authHeaders(subscription, log);
    const secure = this.#url.protocol === 'https:';
    const options = { keepAlive: true, maxSockets: subscription.maxInFlightGroups };
    const ca = subscription.endpointCaFile === undefined ? {} : { ca: readCaBundle(subscription.endpointCaFile) };
    this.#agent = secure ? new https.Agent({ ...options, ...ca }) : new http.Agent(options);
    this.#request = secure ? https.request : http.request;
  }

  deliver(delivery: Delivery): Promise<DeliveryResult> {
    return tracedDelivery(this.#subscription, delivery, (trace) => this.#post(delivery, trace));
  }

  /** One attempt; `trace`: the W3C Trace Context headers the request carries. */
  #post(delivery: Delivery, trace: TraceHeaders): Promise<DeliveryResult> {
    const { name, topic, ackTimeoutMs } = this.#subscription;
    const body = Buffer.from(JSON.stringify(deliveryBody(name, topic, delivery)));
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: DeliveryResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(result);
      };
      let req: http.ClientRequest;
      try {
        req = this.#request(this.#url, {
          method: 'POST',
          agent: this.#agent,
          headers: { 'content-type': 'application/json', 'content-length': body.length, ...trace, ...this.#authHeaders(body) },
        });
      } catch (err) {
        // Node refuses to build the request (a header value it cannot carry): a failed attempt, as the type says.
        resolve({ ok: false, error: describe(err instanceof Error ? err : new Error(String(err))) });
        return;
      }
      /** The answer's status, once its head arrived: the deadline then says the body is what did not end. */
      let answered: number | undefined;
      // One timer per delivery is cheaper than an AbortSignal per request, and bounds the whole exchange: an
      // answer counts once its body ends, so a 2xx whose body never does is no acknowledgement.
      const deadline = setTimeout(() => {
        const what = answered === undefined ? 'no answer' : `HTTP ${answered} answered, but its body did not end`;
        settle({ ok: false, error: `${what} within ack_timeout (${ackTimeoutMs} ms)` });
        req.destroy();
      }, ackTimeoutMs);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        answered = status;
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < ERROR_TEXT_BYTES) chunks.push(chunk);
          kept += chunk.length;
        });
        res.on('end', () => {
          if (status >= 200 && status < 300) return settle({ ok: true });
          const text = Buffer.concat(chunks).subarray(0, ERROR_TEXT_BYTES).toString('utf8').replace(/\s+/g, ' ').trim();
          const header = res.headers['retry-after'];
          const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header, Date.now());
          settle({ ok: false, error: `HTTP ${status}${text ? `: ${text}` : ''}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
        });
        res.on('error', (err) => settle({ ok: false, error: describe(err) }));
      });
      req.on('error', (err) => settle({ ok: false, error: describe(err) }));
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function describe(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code}: ${err.message}` : err.message;
}
