import type { Admin } from 'kafkajs';
import type { RedisClient } from '../redis/redis-connection.ts';
import { errorMessage } from '../errors/sidecar-error.ts';
import type { SidecarMetrics } from '../metrics/sidecar-metrics.ts';

export interface Readiness {
  /** Kafka answers. Without Redis the sidecar still routes (degraded mode), so Redis does not gate it. */
  ready: boolean;
  degraded: boolean;
  kafka: { ok: boolean; error?: string };
  redis: { ok: boolean; error?: string };
}

const CHECK_TIMEOUT_MS = 2000;
/** Probes from kubelet and load balancers may come often; one check per second is plenty. */
const REUSE_MS = 1000;

const withTimeout = <T>(promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref())]);

/** Whether Kafka and Redis answer, for /readyz and the *_up gauges. */
export class HealthChecker {
  readonly #admin: Admin;
  readonly #redis: RedisClient;
  readonly #metrics: SidecarMetrics;
  readonly #degraded: () => boolean;
  #last: { at: number; result: Promise<Readiness> } | undefined;

  constructor(admin: Admin, redis: RedisClient, metrics: SidecarMetrics, degraded: () => boolean) {
    this.#degraded = degraded;
    this.#admin = admin;
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
    const [kafka, redis] = await Promise.all([probe(() => this.#admin.describeCluster(), 'Kafka'), probe(() => this.#redis.ping(), 'Redis')]);
    this.#metrics.kafkaUp.set(kafka.ok ? 1 : 0);
    this.#metrics.redisUp.set(redis.ok ? 1 : 0);
    return { ready: kafka.ok, degraded: this.#degraded() || !redis.ok, kafka, redis };
  }
}
