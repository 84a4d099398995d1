import { parseArgs } from 'node:util';
import {
  DEFAULT_OPTIONS,
  DEGRADED_ROUTING_MODES,
  KAFKA_CLIENTS,
  KAFKA_COMPRESSIONS,
  METRICS_GROUP_NAMES,
  SASL_MECHANISMS,
  type SidecarOptions,
} from './options.ts';
import { parseDuration } from './parse-duration.ts';
import { parseSize } from './parse-size.ts';
import { LOG_LEVELS, withoutUrlPassword } from '../logging/logger.ts';
import { ConfigError } from './config-error.ts';
import { checkConnectivity } from './check-connectivity.ts';

export { ConfigError };

type Fail = (why: string) => never;
/** Turns one env or flag value into its option's type, or fails saying why (the caller names the source). */
type Parse<T> = (raw: string, fail: Fail) => T;

/** How one option is given: its env variable (the flag is `--kebab-case` of it) and how its text is read. */
export interface Setting<K extends keyof SidecarOptions> {
  env: string;
  parse: Parse<NonNullable<SidecarOptions[K]>>;
  /** The value as a start error may echo it (REDIS_URL may carry a password). @defaultValue the value itself */
  shown?: (raw: string) => string;
}

const inRange = (n: number, fail: Fail, min?: number, max?: number): number => {
  if (min !== undefined && n < min) fail(`must be at least ${min}`);
  if (max !== undefined && n > max) fail(`must be at most ${max}`);
  return n;
};

const text: Parse<string> = (raw, fail) => (raw.trim() === '' ? fail('must not be empty') : raw.trim());

// Read at start (and a password or token file again at every authentication); checked by checkConnectivity.
const file: Parse<string> = (raw, fail) => (raw.trim() === '' ? fail('must name a file') : raw.trim());

const hostPorts: Parse<string[]> = (raw, fail) => {
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
};

const int =
  (min?: number, max?: number): Parse<number> =>
  (raw, fail) =>
    /^\d+$/.test(raw.trim()) ? inRange(Number(raw), fail, min, max) : fail('must be a whole number');

/** Bytes, written as digits or with a binary unit (900KiB, 16MiB). */
const size =
  (min?: number, max?: number): Parse<number> =>
  (raw, fail) => {
    const bytes = parseSize(raw);
    return bytes === undefined ? fail('must be a size in bytes such as 1048576, 900KiB, 16MiB') : inRange(bytes, fail, min, max);
  };

const duration =
  (min?: number, max?: number): Parse<number> =>
  (raw, fail) => {
    const ms = parseDuration(raw);
    return ms === undefined ? fail('must be a duration such as 500ms, 30s, 30m, 24h') : inRange(ms, fail, min, max);
  };

const redisUrl: Parse<string> = (raw, fail) => {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    fail('must be a URL such as redis://127.0.0.1:6379');
  }
  if (url && url.protocol !== 'redis:' && url.protocol !== 'rediss:') fail('must start with redis:// or rediss://');
  return raw;
};

const bool: Parse<boolean> = (raw, fail) => {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  return ['false', '0', 'no', 'off'].includes(value) ? false : fail('must be true or false');
};

const isOneOf = <T extends string>(values: readonly T[], value: string): value is T => values.some((v) => v === value);

/** One of `values`, after `normalize` (exact by default). */
const oneOf =
  <T extends string>(values: readonly T[], normalize: (raw: string) => string = (raw) => raw): Parse<T> =>
  (raw, fail) => {
    const value = normalize(raw);
    return isOneOf(values, value) ? value : fail(`must be one of ${values.join(', ')}`);
  };

/**
 * One entry per option, in help order. Typed per key, so an option without an entry, or read by a parser of
 * another type, does not compile: what loadConfig builds from them is a SidecarOptions without a cast.
 */
export const SETTINGS: { [K in keyof Required<SidecarOptions>]: Setting<K> } = {
  kafkaBrokers: { env: 'KAFKA_BROKERS', parse: hostPorts },
  kafkaClientId: { env: 'KAFKA_CLIENT_ID', parse: text },
  kafkaClient: { env: 'KAFKA_CLIENT', parse: oneOf(KAFKA_CLIENTS) },
  kafkaCompression: { env: 'KAFKA_COMPRESSION', parse: oneOf(KAFKA_COMPRESSIONS) },
  redisUrl: { env: 'REDIS_URL', parse: redisUrl, shown: withoutUrlPassword },
  redisPrefix: { env: 'REDIS_PREFIX', parse: text },
  port: { env: 'PORT', parse: int(0, 65535) },
  host: { env: 'HOST', parse: text },
  opsPort: { env: 'OPS_PORT', parse: int(0, 65535) },
  opsHost: { env: 'OPS_HOST', parse: text },
  groupTtlMs: { env: 'GROUP_TTL', parse: duration(60_000) },
  cleanupIntervalMs: { env: 'CLEANUP_INTERVAL', parse: duration(1000) },
  routerBuckets: { env: 'ROUTER_BUCKETS', parse: int(1, 1 << 20) },
  routeCacheSize: { env: 'ROUTE_CACHE_SIZE', parse: int(0) },
  touchFlushIntervalMs: { env: 'TOUCH_FLUSH_INTERVAL', parse: duration(10, 60_000) },
  metadataRefreshMs: { env: 'METADATA_REFRESH', parse: duration(100) },
  loadsRefreshMs: { env: 'LOADS_REFRESH_INTERVAL', parse: duration(100) },
  loadsRefreshTimeoutMs: { env: 'LOADS_REFRESH_TIMEOUT', parse: duration(100) },
  maxGroupBytes: { env: 'MAX_GROUP_BYTES', parse: size(1, 4096) },
  maxDedupIdBytes: { env: 'MAX_DEDUP_ID_BYTES', parse: size(1, 4096) },
  dedupWindowMs: { env: 'DEDUP_WINDOW', parse: duration(1000) },
  dedupLeaseMs: { env: 'DEDUP_LEASE', parse: duration(1000) },
  maxMessageBytes: { env: 'MAX_MESSAGE_BYTES', parse: size(1) },
  maxBodyBytes: { env: 'MAX_BODY_BYTES', parse: size(1) },
  maxInflightBodyBytes: { env: 'MAX_INFLIGHT_BODY_BYTES', parse: size(1) },
  acceptEncodedBodies: { env: 'ACCEPT_ENCODED_BODIES', parse: bool },
  maxMessagesPerRequest: { env: 'MAX_MESSAGES_PER_REQUEST', parse: int(1) },
  maxBatchMessages: { env: 'MAX_BATCH_MESSAGES', parse: int(1) },
  maxBatchBytes: { env: 'MAX_BATCH_BYTES', parse: size(1024) },
  maxQueuedBytes: { env: 'MAX_QUEUED_BYTES', parse: size(1024 * 1024) },
  kafkaWriteTimeoutMs: { env: 'KAFKA_WRITE_TIMEOUT', parse: duration(5000) },
  shutdownGraceMs: { env: 'SHUTDOWN_GRACE', parse: duration(0) },
  adminToken: { env: 'ADMIN_TOKEN', parse: text },
  adminTokenFile: { env: 'ADMIN_TOKEN_FILE', parse: file },
  // Redis stamps last access in whole minutes, so a shorter minimum would only look finer than it is.
  moveMinIdleMs: { env: 'ADMIN_MOVE_MIN_IDLE', parse: duration(60_000) },
  metricsGroupNames: { env: 'METRICS_GROUP_NAMES', parse: oneOf(METRICS_GROUP_NAMES) },
  logLevel: { env: 'LOG_LEVEL', parse: oneOf(LOG_LEVELS) },
  degradedRouting: { env: 'DEGRADED_ROUTING', parse: oneOf(DEGRADED_ROUTING_MODES) },
  redisCommandTimeoutMs: { env: 'REDIS_COMMAND_TIMEOUT', parse: duration(100, 60_000) },
  redisReplicaAcks: { env: 'REDIS_REPLICA_ACKS', parse: int(0) },
  // WAIT with a timeout of 0 blocks for ever.
  redisReplicaAckTimeoutMs: { env: 'REDIS_REPLICA_ACK_TIMEOUT', parse: duration(1, 60_000) },
  routeLog: { env: 'ROUTE_LOG', parse: bool },
  routeLogTopic: { env: 'ROUTE_LOG_TOPIC', parse: text },
  routeLogReplicationFactor: { env: 'ROUTE_LOG_REPLICATION_FACTOR', parse: int(1, 32) },
  subscriptionsFile: { env: 'SUBSCRIPTIONS_FILE', parse: text },
  consumeBufferMessages: { env: 'CONSUME_BUFFER_MESSAGES', parse: int(1) },
  consumeCommitIntervalMs: { env: 'CONSUME_COMMIT_INTERVAL', parse: duration(100) },
  // Kafka brokers refuse sessions outside group.min/max.session.timeout.ms (6 s and 30 min by default).
  consumeSessionTimeoutMs: { env: 'CONSUME_SESSION_TIMEOUT', parse: duration(6000, 1_800_000) },
  kafkaTls: { env: 'KAFKA_TLS', parse: bool },
  kafkaTlsCaFile: { env: 'KAFKA_TLS_CA_FILE', parse: file },
  kafkaTlsCertFile: { env: 'KAFKA_TLS_CERT_FILE', parse: file },
  kafkaTlsKeyFile: { env: 'KAFKA_TLS_KEY_FILE', parse: file },
  kafkaTlsServername: { env: 'KAFKA_TLS_SERVERNAME', parse: text },
  kafkaTlsInsecureSkipVerify: { env: 'KAFKA_TLS_INSECURE_SKIP_VERIFY', parse: bool },
  kafkaSaslMechanism: { env: 'KAFKA_SASL_MECHANISM', parse: oneOf(SASL_MECHANISMS, (raw) => raw.trim().toLowerCase()) },
  kafkaSaslUsername: { env: 'KAFKA_SASL_USERNAME', parse: text },
  kafkaSaslPassword: { env: 'KAFKA_SASL_PASSWORD', parse: text },
  kafkaSaslPasswordFile: { env: 'KAFKA_SASL_PASSWORD_FILE', parse: file },
  kafkaSaslOauthbearerTokenFile: { env: 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', parse: file },
  redisTls: { env: 'REDIS_TLS', parse: bool },
  redisTlsCaFile: { env: 'REDIS_TLS_CA_FILE', parse: file },
  redisUsername: { env: 'REDIS_USERNAME', parse: text },
  redisPassword: { env: 'REDIS_PASSWORD', parse: text },
  redisPasswordFile: { env: 'REDIS_PASSWORD_FILE', parse: file },
  redisClusterNodes: { env: 'REDIS_CLUSTER_NODES', parse: hostPorts },
  redisSentinels: { env: 'REDIS_SENTINELS', parse: hostPorts },
  redisSentinelMaster: { env: 'REDIS_SENTINEL_MASTER', parse: text },
  apiToken: { env: 'API_TOKEN', parse: text },
  apiTokenFile: { env: 'API_TOKEN_FILE', parse: file },
};

/** Values never echoed back in an error message. */
const SECRET_ENVS = new Set(['KAFKA_SASL_PASSWORD', 'REDIS_PASSWORD', 'API_TOKEN', 'ADMIN_TOKEN']);

const isOptionKey = (key: string): key is keyof SidecarOptions => Object.hasOwn(SETTINGS, key);
export const OPTION_KEYS = Object.keys(SETTINGS).filter(isOptionKey);

export const flagName = (env: string): string => `--${env.toLowerCase().replaceAll('_', '-')}`;

/**
 * Options from defaults, then environment, then `--flag value` / `--flag=value` arguments (flags win, the last of a
 * repeated flag wins). Unknown flags and stray words are errors: a typo must not silently run with a default.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): SidecarOptions {
  const parsed: Partial<SidecarOptions> = {};
  // Which options were given rather than defaulted: a default REDIS_URL must not conflict with a Cluster.
  const given = new Set<keyof SidecarOptions>();
  const take = <K extends keyof SidecarOptions>(key: K, raw: string, source: string): void => {
    const setting: Setting<K> = SETTINGS[key];
    parsed[key] = setting.parse(raw, (why) => {
      const shown = setting.shown?.(raw) ?? raw;
      throw new ConfigError(`invalid ${source}${SECRET_ENVS.has(setting.env) ? '' : `=${JSON.stringify(shown)}`}: ${why}`);
    });
    given.add(key);
  };
  for (const key of OPTION_KEYS) {
    const raw = env[SETTINGS[key].env];
    if (raw !== undefined && raw !== '') take(key, raw, SETTINGS[key].env);
  }
  const byFlag = new Map(OPTION_KEYS.map((key) => [flagName(SETTINGS[key].env), key]));
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
    const key = byFlag.get(token.rawName) ?? unknown(token.rawName);
    if (token.value === undefined) throw new ConfigError(`option ${token.rawName} needs a value`);
    take(key, token.value, token.rawName);
  }
  return checkConnectivity({ ...DEFAULT_OPTIONS, ...parsed }, given);
}

export const CONFIG_HELP = OPTION_KEYS.map((key) => `  ${flagName(SETTINGS[key].env).padEnd(28)} env ${SETTINGS[key].env}`).join('\n');
