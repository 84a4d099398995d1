import { createRequire } from 'node:module';
import type { Counter, Registry } from 'prom-client';
import { probeCapabilities, type SidecarCapabilities } from './capabilities.ts';
import { resolveClientOptions, type ClientOptions, type ResolvedClientOptions } from './client-options.ts';
import { ClientClosedError, toClientError } from './errors.ts';
import { registerInternals, type Route } from './client-internals.ts';
import { GroupSequencer } from './group-sequencer.ts';
import { endpointUrl, HttpClient } from './http.ts';
import { InDoubtGroups } from './in-doubt.ts';
import type { KafkaFallback } from './kafka-fallback.ts';
import { OrderedProducer } from './ordered-producer.ts';

const FALLBACK_METRIC = 'ordered_sidecar_client_fallback_total';

/**
 * prom-client and kafkajs are optional peer dependencies: loaded only by the clients that use them (a
 * metrics registry, the fallback), so an application without them installs and imports the SDK unchanged.
 */
const requireOptional = createRequire(import.meta.url);

/** A missing optional peer is a setup mistake: said at construction, with the command that fixes it. */
function requirePeer(name: 'kafkajs' | 'prom-client', forWhat: string): void {
  try {
    requireOptional.resolve(name);
  } catch {
    throw new TypeError(`ordered-sidecar client: ${forWhat} needs the ${name} package, an optional peer dependency: npm install ${name}`);
  }
}

function fallbackCounter(options: ResolvedClientOptions): Counter<'reason'> | undefined {
  const registry = options.metricsRegistry;
  if (!registry) return undefined;
  requirePeer('prom-client', 'metricsRegistry');
  // prom-client is CommonJS: required here, synchronously, so the metric exists as soon as the client does.
  const { Counter } = requireOptional('prom-client') as typeof import('prom-client');
  // Several clients may share one registry; the metric is registered once. Anything else of that name (not a
  // Counter) makes the registration below throw, instead of being counted on as one.
  const registered = registry.getSingleMetric(FALLBACK_METRIC);
  if (registered instanceof Counter) return registered;
  return new Counter({
    name: FALLBACK_METRIC,
    help: 'Times an ordered-sidecar client switched to producing directly to Kafka, by reason.',
    labelNames: ['reason'],
    // A MetricsRegistry is prom-client's Registry, named by the methods the client's types can spell without it.
    registers: [registry as Registry],
  });
}

/**
 * A connection to one ordered-sidecar: configuration, its own keep-alive connection pool, the
 * per-MessageGroup send order and doubt, and the once-per-client choice between sidecar and fallback.
 */
export class Client {
  readonly options: Readonly<ResolvedClientOptions>;
  readonly #http: HttpClient;
  readonly #sequencer = new GroupSequencer();
  readonly #fallbackCounter: Counter<'reason'> | undefined;
  /** Stops the first-use check's retries when the client closes. */
  readonly #closing = new AbortController();
  readonly #running = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;
  #route: Promise<Route> | undefined;
  #fallback: KafkaFallback | undefined;
  #producer: OrderedProducer | undefined;
  #warnedDedupUnavailable = false;

  constructor(options: ClientOptions = {}) {
    this.options = resolveClientOptions(options);
    if (this.options.fallback) requirePeer('kafkajs', 'fallback');
    this.#http = new HttpClient(options.token);
    this.#fallbackCounter = fallbackCounter(this.options);
    registerInternals(this, {
      options: this.options,
      http: this.#http,
      sequencer: this.#sequencer,
      doubts: new InDoubtGroups(),
      route: () => this.#resolveRoute(),
      run: (send) => this.#run(send),
      dedupUnavailable: (topic) => this.#warnDedupUnavailable(topic),
    });
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

  /**
   * Stops taking sends (later ones reject with ClientClosedError), waits for the sends already made to
   * settle (retries included; abort them through their signals to hurry), then disconnects the fallback
   * producer and ends the client's connections, so nothing of it keeps the process alive. A first-use check
   * still running is stopped: the sends waiting for it have sent nothing and reject with ClientClosedError.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new ClientClosedError());
      await Promise.allSettled([...this.#running]);
      await this.#route?.catch(() => undefined);
      await this.#fallback?.close();
      this.#http.close();
    })();
    return this.#closed;
  }

  #run<T>(send: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClientClosedError());
    const running = send();
    this.#running.add(running);
    const forget = (): void => void this.#running.delete(running);
    running.then(forget, forget);
    return running;
  }

  #warnDedupUnavailable(topic: string): void {
    if (this.#warnedDedupUnavailable) return;
    this.#warnedDedupUnavailable = true;
    // Once per client: the sidecar counts every such message in its own metric; this is the client's heads-up.
    this.options.logger.warn(
      'ordered-sidecar client: the sidecar wrote messages without its dedup check (its Redis was unreachable); a resend of those may write them twice (see result.dedupUnavailable)',
      { url: this.options.url, topic },
    );
  }

  /** One shared check for all concurrent first sends; a failure is not remembered, so a later send asks again. */
  #resolveRoute(): Promise<Route> {
    if (this.#closed && !this.#route) return Promise.reject(new ClientClosedError());
    this.#route ??= this.#decideRoute().catch((err: unknown) => {
      this.#route = undefined;
      throw err;
    });
    return this.#route;
  }

  async #decideRoute(): Promise<Route> {
    const { url, logger } = this.options;
    const probe = await probeCapabilities(this.#http, this.options, this.#closing.signal);
    if ('code' in probe) {
      if (this.#closing.signal.aborted) throw new ClientClosedError();
      // The same sidecar may answer later; only an opt-in fallback turns "unreachable" into direct writes.
      if (probe.retriable && this.options.fallback) return await this.#fallBack('unreachable', probe.message);
      throw toClientError({ ...probe, message: `cannot read the sidecar's capabilities at ${url}: ${probe.message}` });
    }
    if (probe.orderedProducePath === undefined) {
      if (this.options.fallback)
        return await this.#fallBack('unsupported', `sidecar ${probe.sidecarVersion ?? '(unknown version)'} does not offer OrderedProduce (request type 22)`);
      throw toClientError({
        code: 'UNSUPPORTED',
        message: `the sidecar at ${url} does not offer OrderedProduce (request type 22) and no fallback is configured`,
        retriable: false,
      });
    }
    if (probe.dedupWindowMs === undefined) {
      logger.warn('ordered-sidecar client: the sidecar does not deduplicate (no features.dedup); a retry after a timeout may write a message twice', {
        url,
        sidecarVersion: probe.sidecarVersion,
      });
    }
    return { via: 'sidecar', endpoint: endpointUrl(url, probe.orderedProducePath), capabilities: probe };
  }

  async #fallBack(reason: 'unsupported' | 'unreachable', why: string): Promise<Route> {
    // Loads kafkajs: only a client that falls back pays for it.
    const { KafkaFallback } = await import('./kafka-fallback.ts');
    this.#fallback = new KafkaFallback(this.options.fallback!.kafka, this.options.logger);
    // Said once per client: the decision is made once, because switching back and forth would split groups.
    this.options.logger.warn(
      `ordered-sidecar client: ${why}; producing directly to Kafka (key = MessageGroup, no load balancing) for the life of this client`,
      { reason, url: this.options.url },
    );
    this.#fallbackCounter?.inc({ reason });
    return { via: 'kafka', fallback: this.#fallback };
  }
}
