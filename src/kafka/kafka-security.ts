import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import type { Logger } from '../logging/logger.ts';
import type { SaslMechanism, SidecarOptions } from '../config/options.ts';

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
>;

/** Engine-neutral: what any Kafka client needs to open a TLS connection and authenticate on it. */
export interface KafkaSecurity {
  /** Node `tls.connect` options, or undefined for plaintext. */
  tls?: ConnectionOptions;
  sasl?: {
    mechanism: SaslMechanism;
    username: string;
    /** Called at every authentication: a password file is read again, so a rotated secret needs no restart. */
    password: () => string;
  };
}

/** A mounted secret file ends with a newline more often than not; the newline is not part of it. */
const readSecret = (file: string): string => readFileSync(file, 'utf8').replace(/\r?\n$/, '');

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
  if (o.kafkaSaslMechanism && o.kafkaSaslUsername !== undefined) {
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
  return {
    ...(tls ? { ssl: tls } : {}),
    ...(sasl
      ? {
          sasl: {
            mechanism: sasl.mechanism,
            username: sasl.username,
            get password() {
              return sasl.password();
            },
          },
        }
      : {}),
  };
}

/**
 * @platformatic/kafka's `tls` and `sasl`. Its credentials may be functions, called at every authentication,
 * so a password file is read again whenever it reconnects.
 */
export function platformaticSecurity(security: KafkaSecurity): {
  tls?: ConnectionOptions;
  tlsServerName?: string;
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: () => string };
} {
  const { tls, sasl } = security;
  return {
    ...(tls ? { tls, ...(tls.servername === undefined ? {} : { tlsServerName: tls.servername }) } : {}),
    ...(sasl ? { sasl: { mechanism: PLATFORMATIC_MECHANISMS[sasl.mechanism], username: sasl.username, password: sasl.password } } : {}),
  };
}

const PLATFORMATIC_MECHANISMS = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const satisfies Record<
  SaslMechanism,
  string
>;

/** Logged at every start: choices that weaken security must never go unnoticed. */
export function warnWeakKafkaSecurity(o: KafkaSecurityOptions, log: Logger): void {
  if (o.kafkaTls && o.kafkaTlsInsecureSkipVerify) {
    log.warn('KAFKA_TLS_INSECURE_SKIP_VERIFY is on: broker certificates are NOT verified, anyone on the path can impersonate Kafka');
  }
  if (o.kafkaSaslMechanism === 'plain' && !o.kafkaTls) {
    log.warn('KAFKA_SASL_MECHANISM=plain without TLS sends the password in clear; set KAFKA_TLS or KAFKA_TLS_CA_FILE');
  }
}
