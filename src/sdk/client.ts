import { Counter } from 'prom-client';
import { backoffMs, pause } from './backoff.ts';
import { parseCapabilities, type SidecarCapabilities } from './capabilities.ts';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './client-options.ts';
import { toClientError, type FailureInfo } from './errors.ts';
import { registerInternals, type Route } from './client-internals.ts';
import { GroupSequencer } from './group-sequencer.ts';
import { requestJson } from './http.ts';
import { KafkaFallback } from './kafka-fallback.ts';
import { OrderedProducer } from './ordered-producer.ts';

const FALLBACK_METRIC = 'ordered_sidecar_client_fallback_total';
const PROBE_TIMEOUT_MS = 5_000;

function fallbackCounter(options: ResolvedClientOptions): Counter<'reason'> | undefined {
  const registry = options.metricsRegistry;
  if (!registry) return undefined;
  // Several clients may share one registry; the metric is registered once.
  return (registry.getSingleMetric(FALLBACK_METRIC) as Counter<'reason'> | undefined) ??
    new Counter({ name: FALLBACK_METRIC, help: 'Times an ordered-sidecar client switched to producing directly to Kafka, by reason.', labelNames: ['reason'], registers: [registry] });
}

/**
 * A connection to one ordered-sidecar: configuration, keep-alive HTTP (Node's fetch pools connections per
 * origin), the per-MessageGroup send order, and the once-per-client choice between sidecar and fallback.
 */
export class Client {
  readonly options: Readonly<ResolvedClientOptions>;
  readonly #sequencer = new GroupSequencer();
  readonly #fallbackCounter: Counter<'reason'> | undefined;
  #route: Promise<Route> | undefined;
  #fallback: KafkaFallback | undefined;
  #producer: OrderedProducer | undefined;

  constructor(options: ClientOptions = {}) {
    this.options = resolveClientOptions(options);
    this.#fallbackCounter = fallbackCounter(this.options);
    registerInternals(this, { options: this.options, sequencer: this.#sequencer, route: () => this.#resolveRoute() });
  }

  /** The client's producer (one per client; `new OrderedProducer(client)` shares the same send order). */
  orderedProducer(): OrderedProducer {
    return (this.#producer ??= new OrderedProducer(this));
  }

  /**
   * What the sidecar offers (GET /v1/api-versions, read once). Rejects when it cannot be asked; resolves
   * undefined when the client has fallen back to Kafka because the sidecar was unreachable.
   */
  async capabilities(): Promise<SidecarCapabilities | undefined> {
    const route = await this.#resolveRoute();
    return route.via === 'sidecar' ? route.capabilities : undefined;
  }

  /** Where sends go: 'sidecar', or 'kafka' after a fallback. Triggers the first-use check. */
  async mode(): Promise<'sidecar' | 'kafka'> {
    return (await this.#resolveRoute()).via;
  }

  /** Disconnects the fallback producer, if any. HTTP connections are pooled process-wide and close when idle. */
  async close(): Promise<void> {
    await this.#fallback?.close();
  }

  /** One shared check for all concurrent first sends; a failure is not remembered, so a later send asks again. */
  #resolveRoute(): Promise<Route> {
    this.#route ??= this.#decideRoute().catch((err: unknown) => {
      this.#route = undefined;
      throw err;
    });
    return this.#route;
  }

  async #decideRoute(): Promise<Route> {
    const { url, logger } = this.options;
    const probe = await this.#probe();
    if ('code' in probe) {
      // The same sidecar may answer later; only an opt-in fallback turns "unreachable" into direct writes.
      if (probe.retriable && this.options.fallback) return this.#fallBack('unreachable', probe.message);
      throw toClientError({ ...probe, message: `cannot read the sidecar's capabilities at ${url}: ${probe.message}` });
    }
    if (probe.orderedProducePath === undefined) {
      if (this.options.fallback) return this.#fallBack('unsupported', `sidecar ${probe.sidecarVersion ?? '(unknown version)'} does not offer OrderedProduce (request type 22)`);
      throw toClientError({ code: 'UNSUPPORTED', message: `the sidecar at ${url} does not offer OrderedProduce (request type 22) and no fallback is configured`, retriable: false });
    }
    if (probe.dedupWindowMs === undefined) {
      logger.warn('ordered-sidecar client: the sidecar does not deduplicate (no features.dedup); a retry after a timeout may write a message twice', { url, sidecarVersion: probe.sidecarVersion });
    }
    return { via: 'sidecar', endpoint: new URL(probe.orderedProducePath, url).toString(), capabilities: probe };
  }

  /** GET /v1/api-versions with the client's retry policy; a 404 means a sidecar from before api-versions. */
  async #probe(): Promise<SidecarCapabilities | FailureInfo> {
    const { url, requestTimeoutMs, retry } = this.options;
    const endpoint = new URL('/v1/api-versions', url).toString();
    // api-versions answers at once when the sidecar is up: a short deadline keeps a black-holed sidecar from
    // delaying the first send (or the fallback) by the full produce deadline per attempt.
    const timeoutMs = Math.min(requestTimeoutMs, PROBE_TIMEOUT_MS);
    for (let attempt = 1; ; attempt++) {
      const answer = await requestJson(endpoint, { method: 'GET' }, timeoutMs);
      if (answer.ok) return answer.status === 200 ? parseCapabilities(answer.body) : { code: 'INVALID_RESPONSE', message: `GET ${endpoint} answered ${answer.status}`, retriable: false, status: answer.status };
      if (answer.failure.status === 404) return { sidecarVersion: undefined, orderedProducePath: undefined, dedupWindowMs: undefined };
      if (!answer.failure.retriable || attempt >= retry.maxAttempts) return answer.failure;
      await pause(backoffMs(retry, attempt));
    }
  }

  #fallBack(reason: 'unsupported' | 'unreachable', why: string): Route {
    this.#fallback = new KafkaFallback(this.options.fallback!.kafka, this.options.logger);
    // Said once per client: the decision is made once, because switching back and forth would split groups.
    this.options.logger.warn(`ordered-sidecar client: ${why}; producing directly to Kafka (key = MessageGroup, no load balancing) for the life of this client`, { reason, url: this.options.url });
    this.#fallbackCounter?.inc({ reason });
    return { via: 'kafka', fallback: this.#fallback, reason };
  }
}
