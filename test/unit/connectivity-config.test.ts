import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'os-config-'));
const file = (name: string): string => {
  const path = join(dir, name);
  writeFileSync(path, 'x');
  return path;
};
const ca = file('ca.pem');
const cert = file('client.pem');
const key = file('client.key');
const secret = file('password');

function configError(env: NodeJS.ProcessEnv, argv: string[] = []): string {
  try {
    loadConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('Kafka TLS and SASL options', () => {
  it('turns TLS on when any TLS option is given, and reads every option from a flag too', () => {
    expect(loadConfig([], { KAFKA_TLS_CA_FILE: ca }).kafkaTls).toBe(true);
    expect(loadConfig(['--kafka-tls-servername', 'broker.internal'], {})).toMatchObject({ kafkaTls: true, kafkaTlsServername: 'broker.internal' });
    expect(loadConfig(['--kafka-tls', 'true'], {}).kafkaTls).toBe(true);
    expect(loadConfig([], {}).kafkaTls).toBe(false);
    const sasl = loadConfig(['--kafka-sasl-mechanism', 'SCRAM-SHA-512', '--kafka-sasl-username', 'app', '--kafka-sasl-password-file', secret], {});
    expect(sasl).toMatchObject({ kafkaSaslMechanism: 'scram-sha-512', kafkaSaslUsername: 'app', kafkaSaslPasswordFile: secret });
  });

  it.each([
    [{ KAFKA_TLS_CERT_FILE: cert }, 'KAFKA_TLS_CERT_FILE needs KAFKA_TLS_KEY_FILE'],
    [{ KAFKA_TLS_KEY_FILE: key }, 'KAFKA_TLS_KEY_FILE needs KAFKA_TLS_CERT_FILE'],
    [{ KAFKA_TLS: 'false', KAFKA_TLS_CA_FILE: ca }, 'KAFKA_TLS=false contradicts'],
    [{ KAFKA_TLS_INSECURE_SKIP_VERIFY: 'true', KAFKA_TLS_CA_FILE: ca }, 'contradict each other'],
    [{ KAFKA_TLS_CA_FILE: join(dir, 'missing.pem') }, 'KAFKA_TLS_CA_FILE='],
    [{ KAFKA_SASL_MECHANISM: 'plain' }, 'needs KAFKA_SASL_USERNAME'],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'app' }, 'needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE'],
    [{ KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD: 'pw' }, 'KAFKA_SASL_MECHANISM is not'],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD: 'pw', KAFKA_SASL_PASSWORD_FILE: secret }, 'not both'],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, 'must be one of plain, scram-sha-256, scram-sha-512'],
  ])('refuses a half-configured setup %j in one line', (env, expected) => {
    expect(configError(env)).toContain(expected);
  });

  it("never echoes a secret in an invalid value", () => {
    const message = configError({ API_TOKEN: "   " });
    expect(message).toBe("invalid API_TOKEN: must not be empty");
  });
});

describe('Redis connection options', () => {
  it('selects a Cluster or Sentinels with their seed lists', () => {
    expect(loadConfig([], { REDIS_CLUSTER_NODES: 'r1:7001,r2:7002' }).redisClusterNodes).toEqual(['r1:7001', 'r2:7002']);
    const sentinel = loadConfig(['--redis-sentinels', 's1:26379', '--redis-sentinel-master', 'mymaster', '--redis-tls-ca-file', ca], {});
    expect(sentinel).toMatchObject({ redisSentinels: ['s1:26379'], redisSentinelMaster: 'mymaster', redisTls: true });
    expect(loadConfig([], { REDIS_URL: 'rediss://app:pw@r:6380', REDIS_TLS_CA_FILE: ca }).redisTlsCaFile).toBe(ca);
  });

  it.each([
    [{ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r1:7001' }, 'REDIS_URL and REDIS_CLUSTER_NODES are both set'],
    [{ REDIS_CLUSTER_NODES: 'r1:7001', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_MASTER: 'm' }, 'are both set'],
    [{ REDIS_SENTINELS: 's:26379' }, 'REDIS_SENTINELS needs REDIS_SENTINEL_MASTER'],
    [{ REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINEL_MASTER needs REDIS_SENTINELS'],
    [{ REDIS_URL: 'redis://r:6379', REDIS_TLS_CA_FILE: ca }, 'REDIS_URL is not rediss://'],
    [{ REDIS_URL: 'redis://:pw@r:6379', REDIS_PASSWORD_FILE: secret }, 'keep one'],
    [{ REDIS_CLUSTER_NODES: 'r1:7001', REDIS_PASSWORD: 'pw', REDIS_PASSWORD_FILE: secret }, 'not both'],
    [{ REDIS_CLUSTER_NODES: 'r1:7001', REDIS_PASSWORD_FILE: join(dir, 'nope') }, 'REDIS_PASSWORD_FILE='],
  ])('refuses %j in one line', (env, expected) => {
    expect(configError(env)).toContain(expected);
  });
});
