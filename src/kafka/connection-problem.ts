import type { Logger } from '../logging/logger.ts';

/**
 * Why Kafka refuses us, when that is something an operator must fix (credentials, certificates) rather
 * than wait out. Clients retry such failures forever and log every attempt; this keeps the cause for
 * /readyz and lets the caller log each distinct failure once, not once per retry.
 */
export type KafkaFailureCause = 'authentication failed' | 'TLS verification failed' | 'TLS handshake failed';

const CAUSES: [KafkaFailureCause, RegExp][] = [
  ['authentication failed', /authentication failed|invalid credentials|SaslAuthenticat|sasl mechanism|UNSUPPORTED_SASL_MECHANISM|ILLEGAL_SASL_STATE/i],
  [
    'TLS verification failed',
    /self[- ]signed certificate|unable to verify|unable to get (local )?issuer|certificate has expired|not yet valid|Hostname\/IP does not match|altnames|ERR_TLS_CERT|CERT_UNTRUSTED|certificate verify failed|unknown ca|bad certificate/i,
  ],
  ['TLS handshake failed', /wrong version number|EPROTO|packet length too long|handshake failure/i],
];

/** The cause a client's error (or log text) names, if it is one of those an operator must fix. */
export function kafkaFailureCause(errorOrText: unknown): KafkaFailureCause | undefined {
  const text = describeChain(errorOrText);
  return CAUSES.find(([, pattern]) => pattern.test(text))?.[0];
}

function describeChain(value: unknown, depth = 0): string {
  if (value === undefined || value === null || depth > 5) return '';
  if (typeof value === 'string') return value;
  if (!(value instanceof Error)) return String(value);
  // kafkajs wraps in `originalError`; @platformatic/kafka nests AggregateErrors (`errors`) and `cause`s.
  const { code, cause, originalError, errors } = value as Error & { code?: unknown; originalError?: unknown; errors?: unknown };
  const nested = Array.isArray(errors) ? errors.map((e: unknown) => describeChain(e, depth + 1)) : [];
  return [
    value.name,
    value.message,
    code === undefined ? '' : String(code),
    describeChain(cause, depth + 1),
    describeChain(originalError, depth + 1),
    ...nested,
  ].join(' ');
}

export interface KafkaProblem {
  cause: KafkaFailureCause;
  /** The client's own words for it, for the one log line and /readyz. */
  detail: string;
}

/** The current connection problem, shared by the client's logger and the readiness check. */
export class KafkaConnectionProblem {
  #current: KafkaProblem | undefined;
  readonly #logged = new Set<KafkaFailureCause>();

  get current(): KafkaProblem | undefined {
    return this.#current;
  }

  /**
   * Records a failure; true the first time its cause is seen since Kafka last answered, so the caller logs
   * each distinct cause once. One failed attempt makes clients log several lines in different words; the
   * cause is what is distinct.
   */
  report(problem: KafkaProblem): boolean {
    if (this.#current?.cause !== problem.cause) this.#current = problem;
    if (this.#logged.has(problem.cause)) return false;
    this.#logged.add(problem.cause);
    return true;
  }

  /** Kafka answered: forgets the problem; true when there was one (so the caller logs the recovery). */
  clear(): boolean {
    const had = this.#current !== undefined;
    this.#current = undefined;
    this.#logged.clear();
    return had;
  }
}

/**
 * Records `failure` (an error, or a client's log text) when it is a refusal an operator must fix, logging the
 * first of each cause; true when it was one (the caller then stays quiet about it).
 */
export function reportRefusal(problem: KafkaConnectionProblem, failure: unknown, log: Logger, fields: Record<string, unknown> = {}): boolean {
  const cause = kafkaFailureCause(failure);
  if (!cause) return false;
  const detail = failure instanceof Error ? failure.message : String(failure);
  if (problem.report({ cause, detail }))
    log.error(`Kafka ${cause}; the sidecar stays up and not ready until it succeeds (repeats are not logged)`, { cause, detail, ...fields });
  return true;
}
