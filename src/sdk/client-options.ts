/*
 * kafkajs and prom-client are optional peers: the option types below are written without them, so that an
 * application's type check passes when it installed neither. The objects are handed to them as they are.
 */

import { MAX_TIMER_MS } from '../retry/retry.ts';

/** How failed sends are repeated. Only retriable failures are retried, and only the messages that failed. */
export interface RetryPolicy {
  /**
   * No retry starts (backoff included) later than this after a send's first attempt; the attempt then running
   * may take up to `requestTimeoutMs` more. Time, not a count, because what retries wait out (a sidecar
   * restart, a Kafka leader election) takes seconds whatever the backoff. The client also never retries
   * past the sidecar's dedup window (`DEDUP_WINDOW_EXCEEDED`). @defaultValue 30000 ms
   */
  maxElapsedMs: number;
  /** Attempts per send, the first included; 1 turns retries off. @defaultValue Infinity (the time budget decides) */
  maxAttempts: number;
  /** Backoff before the first retry; it doubles on each further retry. @defaultValue 100 ms */
  initialBackoffMs: number;
  /** Cap on one backoff. @defaultValue 5000 ms */
  maxBackoffMs: number;
}

/** Where the SDK reports the few things a user should know about (the fallback, a sidecar without dedup). */
export interface ClientLogger {
  warn(message: string, details?: Record<string, unknown>): void;
}

/**
 * The kafkajs configuration (kafkajs's `KafkaConfig`) of the fallback producer; `brokers` is required. The
 * common settings are named here; any other kafkajs setting may be given too (`satisfies KafkaConfig` in the
 * application checks them against kafkajs's own type).
 */
export interface FallbackKafkaConfig {
  brokers: string[] | (() => string[] | Promise<string[]>);
  clientId?: string;
  ssl?: boolean | object;
  sasl?: object;
  connectionTimeout?: number;
  authenticationTimeout?: number;
  requestTimeout?: number;
  [setting: string]: unknown;
}

/** Opt-in: produce straight to Kafka when the sidecar cannot do ordered produce (see docs/sdk.md). */
export interface FallbackOptions {
  /** kafkajs configuration of the fallback producer; `brokers` is required. */
  kafka: FallbackKafkaConfig;
}

/**
 * A prom-client `Registry`, by the two methods the client uses (so its type needs no prom-client); pass
 * `new Registry()` or prom-client's default `register`.
 */
export interface MetricsRegistry {
  getSingleMetric(name: string): unknown;
  registerMetric(metric: never): void;
}

export interface ClientOptions {
  /** Base URL of the sidecar. @defaultValue 'http://127.0.0.1:8080' */
  url?: string;
  /**
   * The sidecar's `API_TOKEN`, sent as `Authorization: Bearer <token>` on every /v1 request. Kept inside
   * the client's HTTP layer, not in `options`, so logging a client's options never shows it.
   * @defaultValue undefined (no Authorization header)
   */
  token?: string;
  /**
   * Deadline of one HTTP attempt, reading the response included. Longer than the sidecar's own Kafka write
   * deadline (30 s) so that the sidecar's answer normally arrives before the client gives up.
   * @defaultValue 35000 ms
   */
  requestTimeoutMs?: number;
  /** Retry policy; fields not given keep their defaults. */
  retry?: Partial<RetryPolicy>;
  /**
   * How long the first-use check (GET /v1/api-versions) keeps retrying an unreachable sidecar before it
   * gives up: then, with `fallback`, the client produces directly to Kafka for the rest of its life, so a
   * sidecar restart or a slow start must not trigger that. @defaultValue 15000 ms
   */
  probeMaxElapsedMs?: number;
  /**
   * When set, the client produces directly to Kafka (key = MessageGroup, Kafka's hash partitioner) if the
   * sidecar does not offer ordered produce, or cannot be reached within `probeMaxElapsedMs` when the client
   * first needs it. Per-group order holds only if every producer of a group falls back: one writing it
   * through the sidecar and one directly put it on two partitions.
   * @defaultValue undefined (no fallback: such sends fail)
   */
  fallback?: FallbackOptions;
  /** Receives the SDK's warnings. @defaultValue console */
  logger?: ClientLogger;
  /** Registry for the client's metrics (`ordered_sidecar_client_fallback_total`). @defaultValue undefined (no metrics) */
  metricsRegistry?: MetricsRegistry;
}

export interface ResolvedClientOptions {
  url: string;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  probeMaxElapsedMs: number;
  fallback: FallbackOptions | undefined;
  logger: ClientLogger;
  metricsRegistry: MetricsRegistry | undefined;
}

export const DEFAULT_CLIENT_OPTIONS = {
  url: 'http://127.0.0.1:8080',
  requestTimeoutMs: 35_000,
  retry: { maxElapsedMs: 30_000, maxAttempts: Infinity, initialBackoffMs: 100, maxBackoffMs: 5_000 },
  probeMaxElapsedMs: 15_000,
} as const;

/** Only `retry.maxAttempts` may be Infinity: every other value feeds a timer, so none may pass MAX_TIMER_MS. */
const positive = (name: string, value: number, min: number, infinite = false): number => {
  if (typeof value !== 'number' || !(Number.isFinite(value) || (infinite && value === Infinity)) || value < min || (!infinite && value > MAX_TIMER_MS))
    throw new TypeError(`ordered-sidecar client: ${name} must be a number from ${min} to ${infinite ? 'Infinity' : MAX_TIMER_MS}, got ${value}`);
  return value;
};

/** AbortSignal.timeout takes whole milliseconds only (it throws on a fraction). */
const wholeMs = (name: string, value: number): number => {
  if (!Number.isInteger(positive(name, value, 1))) throw new TypeError(`ordered-sidecar client: ${name} must be a whole number of ms, got ${value}`);
  return value;
};

/**
 * The token goes into a header value, whose characters Node limits to \t, \x20-\x7e and \x80-\xff (it
 * would refuse a pasted zero-width space at every request); a bearer token has no whitespace either.
 * The token itself is never put in the message: it is a secret.
 */
function checkToken(token: unknown): void {
  if (token === undefined) return;
  if (typeof token !== 'string' || token === '') throw new TypeError('ordered-sidecar client: token must be a non-empty string');
  const bad = /[^\x21-\x7e\x80-\x9f\xa1-\xff]/.exec(token);
  if (bad)
    throw new TypeError(
      `ordered-sidecar client: token has a character an HTTP header cannot carry as a bearer token (U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at index ${bad.index}): whitespace, a control or non-Latin-1 character`,
    );
}

/** Fills in defaults and rejects nonsense early, at construction rather than on the first send. */
export function resolveClientOptions(options: ClientOptions = {}): ResolvedClientOptions {
  const url = options.url ?? DEFAULT_CLIENT_OPTIONS.url;
  try {
    new URL(url);
  } catch {
    throw new TypeError(`ordered-sidecar client: url is not a valid URL: ${url}`);
  }
  checkToken(options.token);
  const retry = { ...DEFAULT_CLIENT_OPTIONS.retry, ...options.retry };
  if (options.fallback !== undefined && !options.fallback.kafka?.brokers) {
    throw new TypeError('ordered-sidecar client: fallback.kafka.brokers is required');
  }
  return {
    url,
    requestTimeoutMs: wholeMs('requestTimeoutMs', options.requestTimeoutMs ?? DEFAULT_CLIENT_OPTIONS.requestTimeoutMs),
    retry: {
      maxElapsedMs: positive('retry.maxElapsedMs', retry.maxElapsedMs, 0),
      maxAttempts: Math.floor(positive('retry.maxAttempts', retry.maxAttempts, 1, true)),
      initialBackoffMs: positive('retry.initialBackoffMs', retry.initialBackoffMs, 0),
      maxBackoffMs: positive('retry.maxBackoffMs', retry.maxBackoffMs, 0),
    },
    probeMaxElapsedMs: positive('probeMaxElapsedMs', options.probeMaxElapsedMs ?? DEFAULT_CLIENT_OPTIONS.probeMaxElapsedMs, 0),
    fallback: options.fallback,
    logger: options.logger ?? console,
    metricsRegistry: options.metricsRegistry,
  };
}
