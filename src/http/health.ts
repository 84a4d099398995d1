import { errorMessage } from '../errors/sidecar-error.ts';
import type { Logger } from '../logging/logger.ts';

/** The two gauges a health check sets. */
export interface HealthMetrics {
  kafkaUp: { set(value: number): void };
  redisUp: { set(value: number): void };
}

/**
 * Why Kafka refuses the sidecar, as its client saw it (the Kafka adapter's KafkaConnectionProblem): a probe
 * that only times out while the client retries a refused login cannot tell.
 */
export interface KafkaProblemSource {
  readonly current: { cause: string; detail: string } | undefined;
  /** Forgets the problem once Kafka answers; true when there was one. */
  clear(): boolean;
}

/** One round trip to each dependency; resolves when it answers. */
export interface HealthProbes {
  kafka: () => Promise<unknown>;
  redis: () => Promise<unknown>;
}

export interface Readiness {
  /**
   * Kafka answers, and Redis answers or did once since start. Without Redis the sidecar still routes groups it
   * has proven routes for (degraded mode); one that never reached Redis has none, so it is not ready.
   */
  ready: boolean;
  degraded: boolean;
  /** `client` names the Kafka engine in use (`KAFKA_CLIENT`); `cause` what an operator must fix when Kafka refuses us. */
  kafka: { ok: boolean; client: string; error?: string; cause?: string };
  redis: { ok: boolean; error?: string };
}

const CHECK_TIMEOUT_MS = 2000;
/** Probes from kubelet and load balancers may come often; one check per second is plenty. */
const REUSE_MS = 1000;

const withTimeout = <T>(promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref()),
  ]);

/** Whether Kafka and Redis answer, for /readyz and the *_up gauges. */
export class HealthChecker {
  readonly #probes: HealthProbes;
  readonly #kafkaClient: string;
  readonly #metrics: HealthMetrics;
  readonly #degraded: () => boolean;
  readonly #kafkaProblem: KafkaProblemSource;
  readonly #redisReached: () => boolean;
  readonly #log: Logger;
  #last: { at: number; result: Promise<Readiness> } | undefined;

  /**
   * `kafkaClient` names the engine in use, so /readyz says which one answered; `redisReached` says whether the
   * Redis connection was ever ready since start.
   */
  constructor(
    probes: HealthProbes,
    kafkaClient: string,
    metrics: HealthMetrics,
    state: { degraded: () => boolean; redisReached: () => boolean },
    kafkaProblem: KafkaProblemSource,
    log: Logger,
  ) {
    this.#degraded = state.degraded;
    this.#redisReached = state.redisReached;
    this.#probes = probes;
    this.#kafkaClient = kafkaClient;
    this.#kafkaProblem = kafkaProblem;
    this.#log = log;
    this.#metrics = metrics;
  }

  check(): Promise<Readiness> {
    const now = Date.now();
    if (!this.#last || now - this.#last.at > REUSE_MS) this.#last = { at: now, result: this.#run() };
    return this.#last.result;
  }

  async #run(): Promise<Readiness> {
    const probe = async (run: () => Promise<unknown>, what: string) => {
      try {
        await withTimeout(run(), what);
        return { ok: true };
      } catch (err) {
        return { ok: false, error: errorMessage(err) };
      }
    };
    const [probed, redis] = await Promise.all([probe(this.#probes.kafka, 'Kafka'), probe(this.#probes.redis, 'Redis')]);
    // A client retrying a refused login only times out here; the cause it met is what the operator needs.
    const problem = this.#kafkaProblem.current;
    const kafka = probed.ok || !problem ? probed : { ok: false, error: `${problem.cause}: ${problem.detail}`, cause: problem.cause };
    if (probed.ok && this.#kafkaProblem.clear()) this.#log.info('Kafka connection works again');
    this.#metrics.kafkaUp.set(kafka.ok ? 1 : 0);
    this.#metrics.redisUp.set(redis.ok ? 1 : 0);
    const reached = redis.ok || this.#redisReached();
    const redisState = reached ? redis : { ok: false, error: `never reached since start, so no route can be proven: ${redis.error ?? 'unknown error'}` };
    return { ready: kafka.ok && reached, degraded: this.#degraded() || !redis.ok, kafka: { ...kafka, client: this.#kafkaClient }, redis: redisState };
  }
}
