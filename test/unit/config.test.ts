import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, flagName, loadConfig } from '../../src/config/load-config.ts';
import { DEFAULT_OPTIONS, replicaAcksOf } from '../../src/config/options.ts';
import { parseDuration } from '../../src/config/parse-duration.ts';
import { parseSize } from '../../src/config/parse-size.ts';
import { tempDir } from '../support/temp-dir.ts';

/** Runs loadConfig expecting a ConfigError; returns its message. */
function configError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`expected a ConfigError for argv=${JSON.stringify(argv)} env=${JSON.stringify(env)}`);
}

describe('parseSize', () => {
  it.each([
    ['1048576', 1_048_576],
    ['128', 128],
    ['0', 0],
    ['512b', 512],
    ['900KiB', 921_600],
    ['16MiB', 16_777_216],
    [' 1 gib ', 1_073_741_824],
  ])('parses %j as %i bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'abc', '-5', '1.5MiB', '16MB', '1e3', 'MiB', '16 MiB MiB', '99999999999GiB'])('rejects %j', (text) => {
    expect(parseSize(text)).toBeUndefined();
  });

  it('takes sizes for every byte option, and names the form in its error', () => {
    expect(loadConfig([], { MAX_BODY_BYTES: '16MiB', MAX_QUEUED_BYTES: '1GiB' })).toMatchObject({ maxBodyBytes: 16_777_216, maxQueuedBytes: 1_073_741_824 });
    expect(loadConfig(['--max-batch-bytes=512KiB', '--max-message-bytes', '2MiB'], {})).toMatchObject({ maxBatchBytes: 524_288, maxMessageBytes: 2_097_152 });
    expect(configError([], { MAX_BODY_BYTES: '16MB' })).toBe('invalid MAX_BODY_BYTES="16MB": must be a size in bytes such as 1048576, 900KiB, 16MiB');
    expect(configError([], { MAX_GROUP_BYTES: '8KiB' })).toBe('invalid MAX_GROUP_BYTES="8KiB": must be at most 4096');
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['30m', 1_800_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['250', 250],
    ['1.5s', 1500],
    [' 2m ', 120_000],
    ['0', 0],
  ])('parses %j as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '-5s', '5w', '1e3', 's', '5 s s', '.5s'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('flagName', () => {
  it('is --kebab-case of the env name', () => {
    expect(flagName('KAFKA_BROKERS')).toBe('--kafka-brokers');
    expect(flagName('PORT')).toBe('--port');
  });
});

describe('loadConfig', () => {
  it('returns the defaults with no env and no flags', () => {
    expect(loadConfig([], {})).toEqual(DEFAULT_OPTIONS);
  });

  it('takes values from the environment', () => {
    const options = loadConfig([], {
      KAFKA_BROKERS: 'k1:9092, k2:9093',
      REDIS_URL: 'rediss://redis.internal:6380/2',
      PORT: '9000',
      GROUP_TTL: '2h',
      TOUCH_FLUSH_INTERVAL: '250ms',
      LOG_LEVEL: 'debug',
      REDIS_PREFIX: '  fleet-a  ',
    });
    expect(options.kafkaBrokers).toEqual(['k1:9092', 'k2:9093']);
    expect(options.redisUrl).toBe('rediss://redis.internal:6380/2');
    expect(options.port).toBe(9000);
    expect(options.groupTtlMs).toBe(7_200_000);
    expect(options.touchFlushIntervalMs).toBe(250);
    expect(options.logLevel).toBe('debug');
    expect(options.redisPrefix).toBe('fleet-a');
    expect(options.host).toBe(DEFAULT_OPTIONS.host);
  });

  it('ignores empty environment variables', () => {
    expect(loadConfig([], { PORT: '', LOG_LEVEL: '' }).port).toBe(DEFAULT_OPTIONS.port);
  });

  it('lets flags override the environment', () => {
    const options = loadConfig(['--port', '7000', '--log-level=warn'], { PORT: '9000', LOG_LEVEL: 'debug' });
    expect(options.port).toBe(7000);
    expect(options.logLevel).toBe('warn');
  });

  it('accepts both --flag=value and --flag value', () => {
    expect(loadConfig(['--group-ttl=30m'], {}).groupTtlMs).toBe(1_800_000);
    expect(loadConfig(['--group-ttl', '30m'], {}).groupTtlMs).toBe(1_800_000);
    // Only the first "=" separates the flag from its value.
    expect(loadConfig(['--redis-url=redis://h:6379/0?name=a=b'], {}).redisUrl).toBe('redis://h:6379/0?name=a=b');
  });

  it('lets the last flag win when repeated', () => {
    expect(loadConfig(['--port=1', '--port=2'], {}).port).toBe(2);
  });

  it('does not mutate the defaults', () => {
    loadConfig(['--port=1'], {});
    expect(loadConfig([], {}).port).toBe(8080);
  });

  it('rejects an unknown flag, naming it', () => {
    expect(configError(['--prot=8080'])).toMatch(/^unknown option --prot /);
    expect(configError(['serve'])).toMatch(/^unknown option serve /);
  });

  it('rejects a flag without a value', () => {
    expect(configError(['--port'])).toBe('option --port needs a value');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT', 'must be a whole number'],
    [{ PORT: '-1' }, 'PORT', 'must be a whole number'],
    [{ PORT: '70000' }, 'PORT', 'must be at most 65535'],
    [{ PORT: '8080.5' }, 'PORT', 'must be a whole number'],
    [{ ROUTER_BUCKETS: '0' }, 'ROUTER_BUCKETS', 'must be at least 1'],
    [{ GROUP_TTL: '30s' }, 'GROUP_TTL', 'must be at least 60000'],
    [{ GROUP_TTL: 'forever' }, 'GROUP_TTL', 'must be a duration'],
    [{ TOUCH_FLUSH_INTERVAL: '2m' }, 'TOUCH_FLUSH_INTERVAL', 'must be at most 60000'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', 'must be one of debug, info, warn, error'],
    [{ KAFKA_CLIENT_ID: '   ' }, 'KAFKA_CLIENT_ID', 'must not be empty'],
    [{ KAFKA_CLIENT: 'librdkafka' }, 'KAFKA_CLIENT', 'must be one of platformatic, kafkajs'],
    [{ MAX_BATCH_BYTES: '1000' }, 'MAX_BATCH_BYTES', 'must be at least 1024'],
    [{ DEGRADED_ROUTING: 'guess' }, 'DEGRADED_ROUTING', 'must be one of reject, hash'],
    [{ REDIS_COMMAND_TIMEOUT: '10ms' }, 'REDIS_COMMAND_TIMEOUT', 'must be at least 100'],
    [{ REDIS_REPLICA_ACKS: '-1' }, 'REDIS_REPLICA_ACKS', 'must be a whole number'],
    [{ REDIS_REPLICA_ACK_TIMEOUT: '0ms' }, 'REDIS_REPLICA_ACK_TIMEOUT', 'must be at least 1'],
  ])('rejects %j with a one-line message naming %s', (env, name, why) => {
    const message = configError([], env);
    expect(message.startsWith(`invalid ${name}=`)).toBe(true);
    expect(message).toContain(why);
  });

  it.each(['CLEANUP_INTERVAL', 'LOADS_REFRESH_INTERVAL', 'LOADS_REFRESH_TIMEOUT', 'DEDUP_LEASE', 'SHUTDOWN_GRACE', 'CONSUME_COMMIT_INTERVAL'])(
    'refuses a %s longer than a Node timer can wait (it would fire after 1 ms)',
    (env) => {
      expect(configError([], { [env]: '30d' })).toBe(
        `invalid ${env}="30d": must be at most 2147483647 ms (about 24.8 days): a longer timer would fire at once`,
      );
      expect(loadConfig([], { [env]: '2147483647ms' })).toBeDefined();
      expect(configError([], { [env]: '2147483648ms' })).toContain('must be at most 2147483647 ms');
    },
  );

  it('refuses a KAFKA_WRITE_TIMEOUT over half the longest timer (a dedup retry waits twice it); GROUP_TTL and DEDUP_WINDOW feed no timer', () => {
    expect(configError([], { KAFKA_WRITE_TIMEOUT: '13d' })).toContain('must be at most 1073741823 ms');
    expect(loadConfig([], { KAFKA_WRITE_TIMEOUT: '1073741823ms' }).kafkaWriteTimeoutMs).toBe(1_073_741_823);
    expect(loadConfig([], { GROUP_TTL: '90d', DEDUP_WINDOW: '30d' })).toMatchObject({ groupTtlMs: 90 * 86_400_000, dedupWindowMs: 30 * 86_400_000 });
  });

  it.each(['ADMIN_TOKEN', 'API_TOKEN'])('refuses a %s no request could send as one word, without echoing it', (env) => {
    for (const token of ['abc def', 'abc\tdef', 'abc\u00a0def', 'abc\ndef']) {
      const message = configError([], { [env]: token });
      expect(message).toMatch(new RegExp(`^invalid ${env}: cannot be a bearer token: the token holds`));
      expect(message).not.toContain('abc');
    }
    expect(loadConfig([], { [env]: '  tok-123  ' })).toMatchObject({ [env === 'API_TOKEN' ? 'apiToken' : 'adminToken']: 'tok-123' });
  });

  it('refuses unprovable routes during an outage unless hashing is asked for', () => {
    expect(loadConfig([], {}).degradedRouting).toBe('reject');
    expect(loadConfig(['--degraded-routing', 'hash'], {}).degradedRouting).toBe('hash');
    expect(loadConfig([], { DEGRADED_ROUTING: 'hash', REDIS_COMMAND_TIMEOUT: '5s' })).toMatchObject({ degradedRouting: 'hash', redisCommandTimeoutMs: 5000 });
  });

  it('asks one replica to acknowledge routes with a Cluster or Sentinels, none with one Redis URL, unless told', () => {
    expect(replicaAcksOf(loadConfig([], {}))).toBe(0);
    expect(replicaAcksOf(loadConfig([], { REDIS_CLUSTER_NODES: 'r1:6379' }))).toBe(1);
    expect(replicaAcksOf(loadConfig([], { REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_MASTER: 'm' }))).toBe(1);
    expect(replicaAcksOf(loadConfig(['--redis-replica-acks', '0'], { REDIS_CLUSTER_NODES: 'r1:6379' }))).toBe(0);
    expect(replicaAcksOf(loadConfig([], { REDIS_REPLICA_ACKS: '2' }))).toBe(2);
    expect(loadConfig([], {}).redisReplicaAckTimeoutMs).toBe(500);
    expect(loadConfig(['--redis-replica-ack-timeout', '1s'], {}).redisReplicaAckTimeoutMs).toBe(1000);
  });

  it('chooses the Kafka engine by KAFKA_CLIENT or --kafka-client', () => {
    expect(loadConfig([], { KAFKA_CLIENT: 'kafkajs' }).kafkaClient).toBe('kafkajs');
    expect(loadConfig(['--kafka-client', 'platformatic'], { KAFKA_CLIENT: 'kafkajs' }).kafkaClient).toBe('platformatic');
  });

  it('names the flag, not the env variable, when a flag is invalid', () => {
    expect(configError(['--port=x'])).toBe('invalid --port="x": must be a whole number');
  });

  it.each([
    ['localhost', '"localhost" is not host:port'],
    ['k1:9092,k2', '"k2" is not host:port'],
    ['k1:port', '"k1:port" is not host:port'],
    ['k1:123456', '"k1:123456" is not host:port'],
    ['k1:99999', '"k1:99999" is not host:port'],
    [' , ', 'must list at least one host:port'],
  ])('rejects KAFKA_BROKERS=%j', (brokers, why) => {
    const message = configError([], { KAFKA_BROKERS: brokers });
    expect(message).toContain('KAFKA_BROKERS');
    expect(message).toContain(why);
  });

  it('accepts bracketed IPv6 brokers', () => {
    expect(loadConfig([], { KAFKA_BROKERS: '[::1]:9092,127.0.0.1:9093' }).kafkaBrokers).toEqual(['[::1]:9092', '127.0.0.1:9093']);
  });

  it('drops empty entries of KAFKA_BROKERS', () => {
    expect(loadConfig([], { KAFKA_BROKERS: 'a:1,,b:2,' }).kafkaBrokers).toEqual(['a:1', 'b:2']);
  });

  it.each([
    ['http://127.0.0.1:6379', 'must start with redis:// or rediss://'],
    ['localhost:6379', 'must start with redis:// or rediss://'],
    ['127.0.0.1:6379', 'must be a URL'],
    ['not a url', 'must be a URL'],
  ])('rejects REDIS_URL=%j', (url, why) => {
    const message = configError([], { REDIS_URL: url });
    expect(message).toContain('REDIS_URL');
    expect(message).toContain(why);
  });

  it.each([
    ['http://app:s3cr3t@127.0.0.1:6379', 'http://app:***@127.0.0.1:6379'],
    ['redis://app:s3cr3t@r:port', 'redis://***@r:port'],
    ['redis://:s3/cr3t@r:6379', 'redis://***@r:6379'],
    ['app:s3cr3t@r:6379', '***@r:6379'],
  ])('echoes an invalid REDIS_URL=%j without its password', (url, shown) => {
    const message = configError([], { REDIS_URL: url });
    expect(message).toContain(`REDIS_URL=${JSON.stringify(shown)}`);
    expect(message).not.toContain('s3');
  });

  it('accepts redis:// and rediss:// URLs', () => {
    expect(loadConfig([], { REDIS_URL: 'redis://:secret@r:6379/1' }).redisUrl).toBe('redis://:secret@r:6379/1');
    expect(loadConfig(['--redis-url', 'rediss://r:6380'], {}).redisUrl).toBe('rediss://r:6380');
  });
});

const dir = tempDir('os-config-');
const file = (name: string): string => {
  const path = join(dir, name);
  writeFileSync(path, 'x');
  return path;
};
const ca = file('ca.pem');
const cert = file('client.pem');
const key = file('client.key');
const secret = file('password');
const token = file('token');

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
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, 'must be one of plain, scram-sha-256, scram-sha-512, oauthbearer'],
  ])('refuses a half-configured setup %j in one line', (env, expected) => {
    expect(configError([], env)).toContain(expected);
  });

  it('takes OAUTHBEARER with a token file, from env or flags', () => {
    // The route log (on by default) reads through the platformatic engine's client, which takes OAUTHBEARER.
    expect(loadConfig([], { KAFKA_SASL_MECHANISM: 'OAUTHBEARER', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: token })).toMatchObject({
      routeLog: true,
      kafkaSaslMechanism: 'oauthbearer',
      kafkaSaslOauthbearerTokenFile: token,
    });
    const flags = loadConfig(['--kafka-sasl-mechanism', 'oauthbearer', '--kafka-sasl-oauthbearer-token-file', token, '--kafka-client', 'platformatic'], {});
    expect(flags).toMatchObject({ kafkaSaslMechanism: 'oauthbearer', kafkaSaslOauthbearerTokenFile: token });
  });

  const oauth = { KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: token };
  it.each([
    [{ KAFKA_SASL_MECHANISM: 'oauthbearer' }, 'KAFKA_SASL_MECHANISM=oauthbearer needs KAFKA_SASL_OAUTHBEARER_TOKEN_FILE'],
    [{ KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: token }, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE is set but KAFKA_SASL_MECHANISM is not (it must be oauthbearer)'],
    [
      { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'app', KAFKA_SASL_PASSWORD_FILE: secret, KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: token },
      'KAFKA_SASL_MECHANISM is scram-sha-512 (it must be oauthbearer)',
    ],
    [{ ...oauth, KAFKA_SASL_USERNAME: 'app' }, 'authenticates with the token file alone'],
    [{ ...oauth, KAFKA_SASL_PASSWORD_FILE: secret }, 'authenticates with the token file alone'],
    [{ ...oauth, KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: join(dir, 'missing-token') }, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE='],
    [{ ...oauth, KAFKA_CLIENT: 'kafkajs' }, 'KAFKA_SASL_MECHANISM=oauthbearer needs KAFKA_CLIENT=platformatic'],
    [{ ...oauth, SUBSCRIPTIONS_FILE: 'subscriptions.json' }, 'cannot be used with SUBSCRIPTIONS_FILE'],
  ])('refuses a half-configured or unsupported OAUTHBEARER setup %j in one line', (env, expected) => {
    expect(configError([], env)).toContain(expected);
  });

  it('never echoes a secret in an invalid value', () => {
    const message = configError([], { API_TOKEN: '   ' });
    expect(message).toBe('invalid API_TOKEN: must not be empty');
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
    expect(configError([], env)).toContain(expected);
  });
});
