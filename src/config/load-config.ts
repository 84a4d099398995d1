import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, DEGRADED_ROUTING_MODES, KAFKA_CLIENTS, SASL_MECHANISMS, type SidecarOptions } from './options.ts';
import { parseDuration } from './parse-duration.ts';
import { parseSize } from './parse-size.ts';
import { LOG_LEVELS, withoutUrlPassword } from '../logging/logger.ts';
import { ConfigError } from './config-error.ts';
import { checkConnectivity } from './check-connectivity.ts';

export { ConfigError };

type Kind = 'string' | 'list' | 'int' | 'size' | 'duration' | 'url' | 'level' | 'degraded-routing' | 'kafka-client' | 'bool' | 'file' | 'mechanism';

export interface Setting {
  key: keyof SidecarOptions;
  env: string;
  kind: Kind;
  min?: number;
  max?: number;
}

/** One row per option: its env variable, and the flag `--kebab-case` of its env name (the README's table is checked against it). */
export const SETTINGS: readonly Setting[] = [
  { key: 'kafkaBrokers', env: 'KAFKA_BROKERS', kind: 'list' },
  { key: 'kafkaClientId', env: 'KAFKA_CLIENT_ID', kind: 'string' },
  { key: 'kafkaClient', env: 'KAFKA_CLIENT', kind: 'kafka-client' },
  { key: 'redisUrl', env: 'REDIS_URL', kind: 'url' },
  { key: 'redisPrefix', env: 'REDIS_PREFIX', kind: 'string' },
  { key: 'port', env: 'PORT', kind: 'int', min: 0, max: 65535 },
  { key: 'host', env: 'HOST', kind: 'string' },
  { key: 'groupTtlMs', env: 'GROUP_TTL', kind: 'duration', min: 60_000 },
  { key: 'cleanupIntervalMs', env: 'CLEANUP_INTERVAL', kind: 'duration', min: 1000 },
  { key: 'routerBuckets', env: 'ROUTER_BUCKETS', kind: 'int', min: 1, max: 1 << 20 },
  { key: 'routeCacheSize', env: 'ROUTE_CACHE_SIZE', kind: 'int', min: 0 },
  { key: 'touchFlushIntervalMs', env: 'TOUCH_FLUSH_INTERVAL', kind: 'duration', min: 10, max: 60_000 },
  { key: 'metadataRefreshMs', env: 'METADATA_REFRESH', kind: 'duration', min: 100 },
  { key: 'maxGroupBytes', env: 'MAX_GROUP_BYTES', kind: 'size', min: 1, max: 4096 },
  { key: 'maxDedupIdBytes', env: 'MAX_DEDUP_ID_BYTES', kind: 'size', min: 1, max: 4096 },
  { key: 'dedupWindowMs', env: 'DEDUP_WINDOW', kind: 'duration', min: 1000 },
  { key: 'dedupLeaseMs', env: 'DEDUP_LEASE', kind: 'duration', min: 1000 },
  { key: 'maxMessageBytes', env: 'MAX_MESSAGE_BYTES', kind: 'size', min: 1 },
  { key: 'maxBodyBytes', env: 'MAX_BODY_BYTES', kind: 'size', min: 1 },
  { key: 'maxInflightBodyBytes', env: 'MAX_INFLIGHT_BODY_BYTES', kind: 'size', min: 1 },
  { key: 'maxMessagesPerRequest', env: 'MAX_MESSAGES_PER_REQUEST', kind: 'int', min: 1 },
  { key: 'maxBatchMessages', env: 'MAX_BATCH_MESSAGES', kind: 'int', min: 1 },
  { key: 'maxBatchBytes', env: 'MAX_BATCH_BYTES', kind: 'size', min: 1024 },
  { key: 'maxQueuedBytes', env: 'MAX_QUEUED_BYTES', kind: 'size', min: 1024 * 1024 },
  { key: 'kafkaWriteTimeoutMs', env: 'KAFKA_WRITE_TIMEOUT', kind: 'duration', min: 5000 },
  { key: 'shutdownGraceMs', env: 'SHUTDOWN_GRACE', kind: 'duration', min: 0 },
  { key: 'adminToken', env: 'ADMIN_TOKEN', kind: 'string' },
  // Redis stamps last access in whole minutes, so a shorter minimum would only look finer than it is.
  { key: 'moveMinIdleMs', env: 'ADMIN_MOVE_MIN_IDLE', kind: 'duration', min: 60_000 },
  { key: 'logLevel', env: 'LOG_LEVEL', kind: 'level' },
  { key: 'degradedRouting', env: 'DEGRADED_ROUTING', kind: 'degraded-routing' },
  { key: 'redisCommandTimeoutMs', env: 'REDIS_COMMAND_TIMEOUT', kind: 'duration', min: 100, max: 60_000 },
  { key: 'redisReplicaAcks', env: 'REDIS_REPLICA_ACKS', kind: 'int', min: 0 },
  // WAIT with a timeout of 0 blocks for ever.
  { key: 'redisReplicaAckTimeoutMs', env: 'REDIS_REPLICA_ACK_TIMEOUT', kind: 'duration', min: 1, max: 60_000 },
  { key: 'subscriptionsFile', env: 'SUBSCRIPTIONS_FILE', kind: 'string' },
  { key: 'consumeBufferMessages', env: 'CONSUME_BUFFER_MESSAGES', kind: 'int', min: 1 },
  { key: 'consumeCommitIntervalMs', env: 'CONSUME_COMMIT_INTERVAL', kind: 'duration', min: 100 },
  // Kafka brokers refuse sessions outside group.min/max.session.timeout.ms (6 s and 30 min by default).
  { key: 'consumeSessionTimeoutMs', env: 'CONSUME_SESSION_TIMEOUT', kind: 'duration', min: 6000, max: 1_800_000 },
  { key: 'kafkaTls', env: 'KAFKA_TLS', kind: 'bool' },
  { key: 'kafkaTlsCaFile', env: 'KAFKA_TLS_CA_FILE', kind: 'file' },
  { key: 'kafkaTlsCertFile', env: 'KAFKA_TLS_CERT_FILE', kind: 'file' },
  { key: 'kafkaTlsKeyFile', env: 'KAFKA_TLS_KEY_FILE', kind: 'file' },
  { key: 'kafkaTlsServername', env: 'KAFKA_TLS_SERVERNAME', kind: 'string' },
  { key: 'kafkaTlsInsecureSkipVerify', env: 'KAFKA_TLS_INSECURE_SKIP_VERIFY', kind: 'bool' },
  { key: 'kafkaSaslMechanism', env: 'KAFKA_SASL_MECHANISM', kind: 'mechanism' },
  { key: 'kafkaSaslUsername', env: 'KAFKA_SASL_USERNAME', kind: 'string' },
  { key: 'kafkaSaslPassword', env: 'KAFKA_SASL_PASSWORD', kind: 'string' },
  { key: 'kafkaSaslPasswordFile', env: 'KAFKA_SASL_PASSWORD_FILE', kind: 'file' },
  { key: 'kafkaSaslOauthbearerTokenFile', env: 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', kind: 'file' },
  { key: 'redisTls', env: 'REDIS_TLS', kind: 'bool' },
  { key: 'redisTlsCaFile', env: 'REDIS_TLS_CA_FILE', kind: 'file' },
  { key: 'redisUsername', env: 'REDIS_USERNAME', kind: 'string' },
  { key: 'redisPassword', env: 'REDIS_PASSWORD', kind: 'string' },
  { key: 'redisPasswordFile', env: 'REDIS_PASSWORD_FILE', kind: 'file' },
  { key: 'redisClusterNodes', env: 'REDIS_CLUSTER_NODES', kind: 'list' },
  { key: 'redisSentinels', env: 'REDIS_SENTINELS', kind: 'list' },
  { key: 'redisSentinelMaster', env: 'REDIS_SENTINEL_MASTER', kind: 'string' },
  { key: 'apiToken', env: 'API_TOKEN', kind: 'string' },
];

/** Values never echoed back in an error message. */
const SECRET_ENVS = new Set(['KAFKA_SASL_PASSWORD', 'REDIS_PASSWORD', 'API_TOKEN', 'ADMIN_TOKEN']);

export const flagName = (env: string): string => `--${env.toLowerCase().replaceAll('_', '-')}`;

function parseValue(setting: Setting, raw: string, source: string): SidecarOptions[keyof SidecarOptions] {
  // A URL is echoed without its password (REDIS_URL may carry one), so the start error on stderr holds no secret.
  const shown = setting.kind === 'url' ? withoutUrlPassword(raw) : raw;
  const fail = (why: string): never => {
    throw new ConfigError(`invalid ${source}${SECRET_ENVS.has(setting.env) ? '' : `=${JSON.stringify(shown)}`}: ${why}`);
  };
  const inRange = (n: number): number => {
    if (setting.min !== undefined && n < setting.min) fail(`must be at least ${setting.min}`);
    if (setting.max !== undefined && n > setting.max) fail(`must be at most ${setting.max}`);
    return n;
  };
  switch (setting.kind) {
    case 'string':
      return raw.trim() === '' ? fail('must not be empty') : raw.trim();
    case 'list': {
      const items = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (items.length === 0) fail('must list at least one host:port');
      for (const item of items) {
        const match = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):(\d{1,5})$/.exec(item);
        if (!match || Number(match[1]) > 65535) fail(`"${item}" is not host:port`);
      }
      return items;
    }
    case 'int':
      return /^\d+$/.test(raw.trim()) ? inRange(Number(raw)) : fail('must be a whole number');
    case 'size': {
      const bytes = parseSize(raw);
      return bytes === undefined ? fail('must be a size in bytes such as 1048576, 900KiB, 16MiB') : inRange(bytes);
    }
    case 'duration': {
      const ms = parseDuration(raw);
      return ms === undefined ? fail('must be a duration such as 500ms, 30s, 30m, 24h') : inRange(ms);
    }
    case 'url': {
      let url: URL | undefined;
      try {
        url = new URL(raw);
      } catch {
        fail('must be a URL such as redis://127.0.0.1:6379');
      }
      if (url && url.protocol !== 'redis:' && url.protocol !== 'rediss:') fail('must start with redis:// or rediss://');
      return raw;
    }
    case 'level':
      return (LOG_LEVELS as readonly string[]).includes(raw) ? (raw as SidecarOptions['logLevel']) : fail(`must be one of ${LOG_LEVELS.join(', ')}`);
    case 'degraded-routing':
      return (DEGRADED_ROUTING_MODES as readonly string[]).includes(raw)
        ? (raw as SidecarOptions['degradedRouting'])
        : fail(`must be one of ${DEGRADED_ROUTING_MODES.join(', ')}`);
    case 'kafka-client':
      return (KAFKA_CLIENTS as readonly string[]).includes(raw) ? (raw as SidecarOptions['kafkaClient']) : fail(`must be one of ${KAFKA_CLIENTS.join(', ')}`);
    case 'bool': {
      const value = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(value)) return true;
      return ['false', '0', 'no', 'off'].includes(value) ? false : fail('must be true or false');
    }
    // Read at start (and a password or token file again at every authentication); checked by checkConnectivity.
    case 'file':
      return raw.trim() === '' ? fail('must name a file') : raw.trim();
    case 'mechanism': {
      const value = raw.trim().toLowerCase();
      return (SASL_MECHANISMS as readonly string[]).includes(value)
        ? (value as SidecarOptions['kafkaSaslMechanism'])
        : fail(`must be one of ${SASL_MECHANISMS.join(', ')}`);
    }
  }
}

/**
 * Options from defaults, then environment, then `--flag value` / `--flag=value` arguments (flags win, the last of a
 * repeated flag wins). Unknown flags and stray words are errors: a typo must not silently run with a default.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): SidecarOptions {
  const options: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  const byFlag = new Map(SETTINGS.map((s) => [flagName(s.env), s]));
  // Which options were given rather than defaulted: a default REDIS_URL must not conflict with a Cluster.
  const given = new Set<keyof SidecarOptions>();
  for (const setting of SETTINGS) {
    const raw = env[setting.env];
    if (raw !== undefined && raw !== '') {
      options[setting.key] = parseValue(setting, raw, setting.env);
      given.add(setting.key);
    }
  }
  const unknown = (word: string): never => {
    throw new ConfigError(`unknown option ${word} (known: ${[...byFlag.keys()].join(' ')})`);
  };
  // Not strict: parseArgs's own errors would not name the flag in our one-line format, so its tokens are checked here.
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries([...byFlag.keys()].map((flag) => [flag.slice(2), { type: 'string' as const }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind === 'positional') unknown(token.value);
    if (token.kind === 'option-terminator') unknown('--');
    if (token.kind !== 'option') continue;
    const setting = byFlag.get(token.rawName) ?? unknown(token.rawName);
    if (token.value === undefined) throw new ConfigError(`option ${token.rawName} needs a value`);
    options[setting.key] = parseValue(setting, token.value, token.rawName);
    given.add(setting.key);
  }
  return checkConnectivity(options as unknown as SidecarOptions, given);
}

export const CONFIG_HELP = SETTINGS.map((s) => `  ${flagName(s.env).padEnd(28)} env ${s.env}`).join('\n');
