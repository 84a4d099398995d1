import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';
import type { PasswordSaslMechanism, SidecarOptions } from '../config/options.ts';
import { readSecret } from '../config/read-secret.ts';

/** The sidecar's Kafka TLS and SASL options (checked as a whole at start by the config). */
export type KafkaSecurityOptions = Pick<
  SidecarOptions,
  | 'kafkaTls'
  | 'kafkaTlsCaFile'
  | 'kafkaTlsCertFile'
  | 'kafkaTlsKeyFile'
  | 'kafkaTlsServername'
  | 'kafkaTlsInsecureSkipVerify'
  | 'kafkaSaslMechanism'
  | 'kafkaSaslUsername'
  | 'kafkaSaslPassword'
  | 'kafkaSaslPasswordFile'
  | 'kafkaSaslOauthbearerTokenFile'
>;

/** Engine-neutral: what any Kafka client needs to open a TLS connection and authenticate on it. */
export interface KafkaSecurity {
  /** Node `tls.connect` options, or undefined for plaintext. */
  tls?: ConnectionOptions;
  sasl?:
    | {
        mechanism: PasswordSaslMechanism;
        username: string;
        /** Called at every authentication: a password file is read again, so a rotated secret needs no restart. */
        password: () => string;
      }
    | {
        mechanism: 'oauthbearer';
        /** Called at every authentication: the token file is read again, so a refreshed token needs no restart. */
        token: () => string;
      };
}

export function kafkaSecurity(o: KafkaSecurityOptions): KafkaSecurity {
  const security: KafkaSecurity = {};
  if (o.kafkaTls) {
    security.tls = {
      // Verification stays on unless explicitly turned off; Node's public CAs apply when no CA file is given.
      rejectUnauthorized: !o.kafkaTlsInsecureSkipVerify,
      ...(o.kafkaTlsCaFile === undefined ? {} : { ca: [readFileSync(o.kafkaTlsCaFile)] }),
      ...(o.kafkaTlsCertFile === undefined ? {} : { cert: readFileSync(o.kafkaTlsCertFile) }),
      ...(o.kafkaTlsKeyFile === undefined ? {} : { key: readFileSync(o.kafkaTlsKeyFile) }),
      ...(o.kafkaTlsServername === undefined ? {} : { servername: o.kafkaTlsServername }),
    };
  }
  if (o.kafkaSaslMechanism === 'oauthbearer' && o.kafkaSaslOauthbearerTokenFile !== undefined) {
    const file = o.kafkaSaslOauthbearerTokenFile;
    security.sasl = { mechanism: 'oauthbearer', token: () => readSecret(file).trim() };
  } else if (o.kafkaSaslMechanism && o.kafkaSaslMechanism !== 'oauthbearer' && o.kafkaSaslUsername !== undefined) {
    const { kafkaSaslPassword: fixed, kafkaSaslPasswordFile: file } = o;
    security.sasl = { mechanism: o.kafkaSaslMechanism, username: o.kafkaSaslUsername, password: () => (file === undefined ? (fixed ?? '') : readSecret(file)) };
  }
  return security;
}

/**
 * kafkajs's `ssl` and `sasl`. kafkajs reads `sasl.password` at every authentication of every new
 * connection, so a getter re-reads a password file whenever it reconnects.
 */
export function kafkajsSecurity(security: KafkaSecurity): { ssl?: ConnectionOptions; sasl?: SASLOptions } {
  const { tls, sasl } = security;
  return { ...(tls ? { ssl: tls } : {}), ...(sasl ? { sasl: kafkajsSasl(sasl) } : {}) };
}

function kafkajsSasl(sasl: NonNullable<KafkaSecurity['sasl']>): SASLOptions {
  // kafkajs's OAUTHBEARER ignores the broker's error challenge: a refused token looks like a dropped
  // connection, never like an authentication failure. The config refuses the combination (check-connectivity.ts).
  if (sasl.mechanism === 'oauthbearer') throw new Error('OAUTHBEARER is not available on kafkajs (KAFKA_CLIENT=platformatic, no SUBSCRIPTIONS_FILE)');
  return {
    mechanism: sasl.mechanism,
    username: sasl.username,
    get password() {
      return sasl.password();
    },
  };
}

type PlatformaticSasl =
  | { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: () => string }
  | { mechanism: 'OAUTHBEARER'; token: () => string; authBytesValidator: typeof rejectOauthbearerErrorChallenge };

/**
 * @platformatic/kafka's `tls` and `sasl`. Its credentials may be functions, called at every authentication
 * (and at the re-authentication it schedules when the broker limits the session), so a password or token
 * file is read again whenever it reconnects.
 *
 * SNI: the library sends a server name only when told to (`tlsServerName`: a fixed name, or `true` for each
 * broker's host), where kafkajs and Kafka's own clients send the host they connect to. Brokers behind SNI
 * routing (managed clusters, ingresses) need it. `true` is given when the bootstrap brokers are named by host
 * name; brokers given as IP addresses get none (a server name cannot be an IP address, RFC 6066).
 */
export function platformaticSecurity({ security, brokers }: { security: KafkaSecurity; brokers: readonly string[] }): {
  tls?: ConnectionOptions;
  tlsServerName?: string | boolean;
  sasl?: PlatformaticSasl;
} {
  const { tls, sasl } = security;
  const serverName = tls?.servername ?? (brokers.every((b) => isIP(hostOf(b)) === 0) ? true : undefined);
  return {
    ...(tls ? { tls, ...(serverName === undefined ? {} : { tlsServerName: serverName }) } : {}),
    ...(sasl ? { sasl: platformaticSasl(sasl) } : {}),
  };
}

/** The host of a `host:port` broker address (an IPv6 address in brackets comes out without them). */
const hostOf = (broker: string): string => broker.slice(0, broker.lastIndexOf(':')).replace(/^\[|\]$/g, '');

function platformaticSasl(sasl: NonNullable<KafkaSecurity['sasl']>): PlatformaticSasl {
  if (sasl.mechanism === 'oauthbearer') return { mechanism: 'OAUTHBEARER', token: sasl.token, authBytesValidator: rejectOauthbearerErrorChallenge };
  return { mechanism: PLATFORMATIC_MECHANISMS[sasl.mechanism], username: sasl.username, password: sasl.password };
}

const PLATFORMATIC_MECHANISMS = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const satisfies Record<
  PasswordSaslMechanism,
  string
>;

/**
 * A broker that rejects an OAUTHBEARER token does not fail the SaslAuthenticate request: it answers with an
 * error challenge, a JSON such as `{"status":"invalid_token"}` (RFC 7628, section 3.2.2), and success is an
 * empty answer. @platformatic/kafka takes any answer as success unless told otherwise here, so without this
 * a rejected token would only surface at the next request, as ILLEGAL_SASL_STATE. (Its own
 * `jwtValidateAuthenticationBytes` calls back twice on a rejection.)
 */
export function rejectOauthbearerErrorChallenge(authBytes: Buffer, callback: (error: Error | null, authBytes: Buffer) => void): void {
  if (authBytes.length === 0) callback(null, authBytes);
  else callback(new OauthbearerTokenRejectedError(authBytes.toString('utf8')), authBytes);
}

/** The broker's error challenge to our OAUTHBEARER token: a refused login, whichever client wraps it. */
export class OauthbearerTokenRejectedError extends Error {
  override readonly name = 'OauthbearerTokenRejectedError';
  constructor(challenge: string) {
    super(`the broker rejected the OAUTHBEARER token: ${challenge}`);
  }
}

/** Logged at every start: choices that weaken security must never go unnoticed. */
export function warnWeakKafkaSecurity(o: KafkaSecurityOptions, log: Logger): void {
  if (o.kafkaTls && o.kafkaTlsInsecureSkipVerify) {
    log.warn('KAFKA_TLS_INSECURE_SKIP_VERIFY is on: broker certificates are NOT verified, anyone on the path can impersonate Kafka');
  }
  if ((o.kafkaSaslMechanism === 'plain' || o.kafkaSaslMechanism === 'oauthbearer') && !o.kafkaTls) {
    const secret = o.kafkaSaslMechanism === 'plain' ? 'the password' : 'the token';
    log.warn(`KAFKA_SASL_MECHANISM=${o.kafkaSaslMechanism} without TLS sends ${secret} in clear; set KAFKA_TLS or KAFKA_TLS_CA_FILE`);
  }
}
