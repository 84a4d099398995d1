import { accessSync, constants } from 'node:fs';
import { ConfigError } from './config-error.ts';
import type { SidecarOptions } from './options.ts';

/**
 * Checks the Kafka and Redis connection options as a whole, so a half-configured setup fails at start with
 * one line naming what is missing instead of failing later, at the broker, with a vaguer error. Settles
 * `kafkaTls` / `redisTls`: any TLS option turns TLS on. Names env variables (each has its `--flag`).
 */
export function checkConnectivity(options: SidecarOptions, given: ReadonlySet<keyof SidecarOptions>): SidecarOptions {
  const fail = (why: string): never => {
    throw new ConfigError(why);
  };
  const o = options;

  const kafkaTlsAsked =
    [o.kafkaTlsCaFile, o.kafkaTlsCertFile, o.kafkaTlsKeyFile, o.kafkaTlsServername].some((v) => v !== undefined) || o.kafkaTlsInsecureSkipVerify;
  if (kafkaTlsAsked && given.has('kafkaTls') && !o.kafkaTls) fail('KAFKA_TLS=false contradicts the KAFKA_TLS_* options that are set; remove one or the other');
  if ((o.kafkaTlsCertFile === undefined) !== (o.kafkaTlsKeyFile === undefined)) {
    fail(
      o.kafkaTlsCertFile
        ? 'KAFKA_TLS_CERT_FILE needs KAFKA_TLS_KEY_FILE (mutual TLS takes both)'
        : 'KAFKA_TLS_KEY_FILE needs KAFKA_TLS_CERT_FILE (mutual TLS takes both)',
    );
  }
  if (o.kafkaTlsInsecureSkipVerify && o.kafkaTlsCaFile)
    fail('KAFKA_TLS_INSECURE_SKIP_VERIFY and KAFKA_TLS_CA_FILE contradict each other: a CA is only used to verify');

  const sasl = [o.kafkaSaslUsername, o.kafkaSaslPassword, o.kafkaSaslPasswordFile].some((v) => v !== undefined);
  if (sasl && !o.kafkaSaslMechanism) fail('KAFKA_SASL_USERNAME/PASSWORD are set but KAFKA_SASL_MECHANISM is not (plain, scram-sha-256 or scram-sha-512)');
  const tokenFile = o.kafkaSaslOauthbearerTokenFile !== undefined;
  if (tokenFile && o.kafkaSaslMechanism !== 'oauthbearer')
    fail(`KAFKA_SASL_OAUTHBEARER_TOKEN_FILE is set but KAFKA_SASL_MECHANISM is ${o.kafkaSaslMechanism ?? 'not'} (it must be oauthbearer)`);
  if (o.kafkaSaslMechanism === 'oauthbearer') {
    if (!tokenFile) fail('KAFKA_SASL_MECHANISM=oauthbearer needs KAFKA_SASL_OAUTHBEARER_TOKEN_FILE');
    if (sasl) fail('KAFKA_SASL_MECHANISM=oauthbearer authenticates with the token file alone; remove KAFKA_SASL_USERNAME/PASSWORD/PASSWORD_FILE');
    // kafkajs ignores the broker's refusal of a token and sees only a closed connection, so /readyz could not
    // name the cause (docs/operations.md); the consumer runs on kafkajs whatever KAFKA_CLIENT says.
    if (o.kafkaClient !== 'platformatic')
      fail('KAFKA_SASL_MECHANISM=oauthbearer needs KAFKA_CLIENT=platformatic (kafkajs cannot tell a refused token from a lost connection)');
    if (o.subscriptionsFile !== undefined)
      fail(
        'KAFKA_SASL_MECHANISM=oauthbearer cannot be used with SUBSCRIPTIONS_FILE: consumption runs on kafkajs, which cannot tell a refused token from a lost connection',
      );
  } else if (o.kafkaSaslMechanism) {
    if (!o.kafkaSaslUsername) fail(`KAFKA_SASL_MECHANISM=${o.kafkaSaslMechanism} needs KAFKA_SASL_USERNAME`);
    if (o.kafkaSaslPassword === undefined && o.kafkaSaslPasswordFile === undefined)
      fail(`KAFKA_SASL_MECHANISM=${o.kafkaSaslMechanism} needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE`);
    if (o.kafkaSaslPassword !== undefined && o.kafkaSaslPasswordFile !== undefined) fail('set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both');
  }

  const modes = [given.has('redisUrl') && 'REDIS_URL', o.redisClusterNodes && 'REDIS_CLUSTER_NODES', o.redisSentinels && 'REDIS_SENTINELS'].filter(Boolean);
  if (modes.length > 1) fail(`${modes.join(' and ')} are both set; a sidecar uses one Redis (a URL, a Cluster, or Sentinels)`);
  if ((o.redisSentinels === undefined) !== (o.redisSentinelMaster === undefined))
    fail(o.redisSentinels ? 'REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the name the sentinels watch)' : 'REDIS_SENTINEL_MASTER needs REDIS_SENTINELS');
  const url = new URL(o.redisUrl);
  const nodesMode = o.redisClusterNodes !== undefined || o.redisSentinels !== undefined;
  if (!nodesMode) {
    if (o.redisTls) fail('REDIS_TLS applies to REDIS_CLUSTER_NODES or REDIS_SENTINELS; for one Redis use a rediss:// URL');
    if (o.redisTlsCaFile && url.protocol !== 'rediss:') fail('REDIS_TLS_CA_FILE is set but REDIS_URL is not rediss://');
    if (o.redisUsername !== undefined || o.redisPassword !== undefined)
      fail('REDIS_USERNAME/REDIS_PASSWORD apply to a Cluster or Sentinels; put them in REDIS_URL (redis://user:password@host) or use REDIS_PASSWORD_FILE');
    if (url.password && o.redisPasswordFile) fail('REDIS_URL has a password and REDIS_PASSWORD_FILE is set; keep one');
  }
  if (o.redisPassword !== undefined && o.redisPasswordFile !== undefined) fail('set REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both');
  if (o.apiToken !== undefined && o.apiTokenFile !== undefined) fail('set API_TOKEN or API_TOKEN_FILE, not both');
  if (o.adminToken !== undefined && o.adminTokenFile !== undefined) fail('set ADMIN_TOKEN or ADMIN_TOKEN_FILE, not both');

  for (const [env, file] of [
    ['KAFKA_TLS_CA_FILE', o.kafkaTlsCaFile],
    ['KAFKA_TLS_CERT_FILE', o.kafkaTlsCertFile],
    ['KAFKA_TLS_KEY_FILE', o.kafkaTlsKeyFile],
    ['KAFKA_SASL_PASSWORD_FILE', o.kafkaSaslPasswordFile],
    ['KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', o.kafkaSaslOauthbearerTokenFile],
    ['REDIS_TLS_CA_FILE', o.redisTlsCaFile],
    ['REDIS_PASSWORD_FILE', o.redisPasswordFile],
    ['API_TOKEN_FILE', o.apiTokenFile],
    ['ADMIN_TOKEN_FILE', o.adminTokenFile],
  ] as const) {
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      fail(`${env}=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  return { ...o, kafkaTls: o.kafkaTls || kafkaTlsAsked, redisTls: o.redisTls || (nodesMode && o.redisTlsCaFile !== undefined) };
}
