import type { Redis } from 'ioredis';
import { errorMessage } from '../errors/sidecar-error.ts';
import type { SidecarMetrics } from '../metrics/sidecar-metrics.ts';
import type { KafkaEngine } from '../kafka/kafka-engine.ts';

export interface Readiness {
  /** Kafka answers. Without Redis the sidecar still routes (degraded mode), so Redis does not gate it. */
  ready: boolean;
  degraded: boolean;
  /** `client` names the Kafka engine in use (`KAFKA_CLIENT`). */
  kafka: { ok: boolean; client: string; error?: string };
  redis: { ok: boolean; error?: string };
}

const CHECK_TIMEOUT_MS = 2000;
/** Probes from kubelet and load balancers may come often; one check per second is plenty. */
const REUSE_MS = 1000;

const withTimeout = <T>(promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref())]);

/** Whether Kafka and Redis answer, for /readyz and the *_up gauges. */
export class HealthChecker {
  readonly #kafka: Pick<KafkaEngine, 'name' | 'ping'>;
  readonly #redis: Redis;
  readonly #metrics: SidecarMetrics;
  readonly #degraded: () => boolean;
  #last: { at: number; result: Promise<Readiness> } | undefined;

  constructor(kafka: Pick<KafkaEngine, 'name' | 'ping'>, redis: Redis, metrics: SidecarMetrics, degraded: () => boolean) {
    this.#degraded = degraded;
    this.#kafka = kafka;
    this.#redis = redis;
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
    const [kafka, redis] = await Promise.all([probe(() => this.#kafka.ping(), 'Kafka'), probe(() => this.#redis.ping(), 'Redis')]);
    this.#metrics.kafkaUp.set(kafka.ok ? 1 : 0);
    this.#metrics.redisUp.set(redis.ok ? 1 : 0);
    return { ready: kafka.ok, degraded: this.#degraded() || !redis.ok, kafka: { ...kafka, client: this.#kafka.name }, redis };
  }
}
