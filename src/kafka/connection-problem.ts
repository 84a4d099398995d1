// kafkajs spreads its error classes into module.exports, which Node cannot see as named ESM exports.
import type { Logger } from '../logging/logger.ts';
import { OauthbearerTokenRejectedError } from './kafka-security.ts';

/**
 * Why Kafka refuses us, when that is something an operator must fix (credentials, certificates) rather
 * than wait out. Clients retry such failures forever and log every attempt; this keeps the cause for
 * /readyz and lets the caller log each distinct failure once, not once per retry.
 */
export type KafkaFailureCause =
  | 'authentication failed'
  | 'TLS verification failed'
  | 'TLS handshake failed'
  // Found by asking the listener itself (listener-probe.ts): the clients only say they cannot connect.
  | 'TLS to a plaintext listener'
  | 'plaintext to a TLS listener';

/** When one failure names several causes, the first listed wins: a refused login says the most. */
const PRECEDENCE: KafkaFailureCause[] = ['authentication failed', 'TLS verification failed', 'TLS handshake failed'];

/** Kafka's error names (kafkajs `type`, @platformatic/kafka `apiId`) for a refused SASL login. */
const SASL_REFUSALS = new Set(['SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE']);

/**
 * Node's `code`s for a broker certificate we do not trust (https://nodejs.org/api/tls.html#x509-certificate-error-codes,
 * and the host-name check), and OpenSSL's for the broker's alert that it does not trust ours.
 */
const TLS_VERIFICATION_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
  'ERR_SSL_CERTIFICATE_VERIFY_FAILED',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
]);

/** Any other OpenSSL failure (`ERR_SSL_*`, e.g. WRONG_VERSION_NUMBER) or EPROTO: the two ends do not speak the same TLS. */
const isTlsHandshakeCode = (code: string): boolean => code === 'EPROTO' || code.startsWith('ERR_SSL_');

/** The cause a client's error names anywhere in its chain, if it is one of those an operator must fix. */
export function kafkaFailureCause(error: unknown): KafkaFailureCause | undefined {
  const named = new Set<KafkaFailureCause | undefined>(errorChain(error).map(causeOf));
  return PRECEDENCE.find((cause) => named.has(cause));
}

/**
 * The clients' error classes are told apart by the names and codes they set (kafkajs's `name`, @platformatic/kafka's
 * `code`), not by `instanceof`: this module is loaded whichever engine runs, and importing both libraries for
 * their classes would load the one not in use.
 */
function causeOf(error: Error): KafkaFailureCause | undefined {
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const kafkaName =
    'type' in error && typeof error.type === 'string' ? error.type : 'apiId' in error && typeof error.apiId === 'string' ? error.apiId : undefined;
  if (
    error.name === 'KafkaJSSASLAuthenticationError' ||
    code === 'PLT_KFK_AUTHENTICATION' ||
    error instanceof OauthbearerTokenRejectedError ||
    ((error.name === 'KafkaJSProtocolError' || code === 'PLT_KFK_PROTOCOL') && kafkaName !== undefined && SASL_REFUSALS.has(kafkaName))
  )
    return 'authentication failed';
  // Node's TLS errors carry `code`; kafkajs copies it onto its KafkaJSConnectionError.
  if (code === undefined) return undefined;
  if (TLS_VERIFICATION_CODES.has(code)) return 'TLS verification failed';
  return isTlsHandshakeCode(code) ? 'TLS handshake failed' : undefined;
}

/**
 * An error and those it wraps: kafkajs in `originalError` (and `cause`), @platformatic/kafka in nested
 * AggregateErrors (`errors`, one per broker or attempt) and `cause`s.
 */
function errorChain(root: unknown): Error[] {
  const seen: Error[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (!(value instanceof Error) || depth > 8 || seen.includes(value)) return;
    seen.push(value);
    visit(value.cause, depth + 1);
    if ('originalError' in value) visit(value.originalError, depth + 1);
    if (value instanceof AggregateError) for (const inner of value.errors) visit(inner, depth + 1);
  };
  visit(root, 0);
  return seen;
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
 * Records `failure` when it is a refusal an operator must fix, logging the first of each cause; true when it
 * was one (the caller then stays quiet about it).
 */
export function reportRefusal(problem: KafkaConnectionProblem, failure: unknown, log: Logger, fields: Record<string, unknown> = {}): boolean {
  const cause = kafkaFailureCause(failure);
  if (!cause) return false;
  logRefusal(problem, { cause, detail: failure instanceof Error ? failure.message : String(failure) }, log, fields);
  return true;
}

/** Records a refusal whose cause is already known, logging it the first time that cause is seen. */
export function logRefusal(problem: KafkaConnectionProblem, refusal: KafkaProblem, log: Logger, fields: Record<string, unknown> = {}): void {
  if (problem.report(refusal))
    log.error(`Kafka ${refusal.cause}; the sidecar stays up and not ready until it succeeds (repeats are not logged)`, { ...refusal, ...fields });
}
