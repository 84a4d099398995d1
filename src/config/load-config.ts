import { parseArgs } from 'node:util';
import {
  DEFAULT_OPTIONS,
  DEGRADED_ROUTING_MODES,
  KAFKA_CLIENTS,
  KAFKA_COMPRESSIONS,
  METRICS_GROUP_NAMES,
  SASL_MECHANISMS,
  TRACING_MODES,
  type SidecarOptions,
} from './options.ts';
import { parseDuration } from './parse-duration.ts';
import { parseSize } from './parse-size.ts';
import { LOG_LEVELS, withoutUrlPassword } from '../logging/logger.ts';
import { ConfigError } from './config-error.ts';
import { checkConnectivity } from './check-connectivity.ts';
import { bearerTokenProblem } from './secret-file.ts';
import { MAX_TIMER_MS } from '../retry/retry.ts';

export { ConfigError };

type Fail = (why: string) => never;
/** Turns one env or flag value into its option's type, or fails saying why (the caller names the source). */
type Parse<T> = (raw: string, fail: Fail) => T;

/** How one option is given: its env variable (the flag is `--kebab-case` of it) and how its text is read. */
export interface Setting<K extends keyof SidecarOptions> {
  env: string;
  /** One line for `serve --help` (the default comes from DEFAULT_OPTIONS). */
  help: string;
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

/** A duration a timer waits (an interval, a deadline): refused above `max`, by default Node's longest timer. */
const timerDuration =
  (min: number, max = MAX_TIMER_MS): Parse<number> =>
  (raw, fail) => {
    const ms = duration(min)(raw, fail);
    return ms <= max ? ms : fail(`must be at most ${max} ms (about ${Math.floor(max / 8_640_000) / 10} days): a longer timer would fire at once`);
  };

/** API_TOKEN / ADMIN_TOKEN: trimmed text a request can send as one word, as their files must be (secret-file.ts). */
const bearerToken: Parse<string> = (raw, fail) => {
  const token = text(raw, fail);
  const problem = bearerTokenProblem(token);
  return problem === undefined ? token : fail(`cannot be a bearer token: ${problem}`);
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

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];
const BOOLEAN_WORDS: ReadonlySet<string> = new Set([...TRUE_WORDS, ...FALSE_WORDS]);

const bool: Parse<boolean> = (raw, fail) => {
  const value = raw.trim().toLowerCase();
  if (TRUE_WORDS.includes(value)) return true;
  return FALSE_WORDS.includes(value) ? false : fail('must be true or false');
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
  kafkaBrokers: { env: 'KAFKA_BROKERS', help: 'Kafka bootstrap servers, comma-separated host:port', parse: hostPorts },
  kafkaClientId: { env: 'KAFKA_CLIENT_ID', help: 'client id shown in broker logs and quotas', parse: text },
  kafkaClient: { env: 'KAFKA_CLIENT', help: 'Kafka client library: platformatic (@platformatic/kafka) or kafkajs', parse: oneOf(KAFKA_CLIENTS) },
  kafkaCompression: {
    env: 'KAFKA_COMPRESSION',
    help: 'codec of the record batches written: none, gzip, snappy, lz4 or zstd',
    parse: oneOf(KAFKA_COMPRESSIONS),
  },
  redisUrl: { env: 'REDIS_URL', help: 'Redis holding the MessageGroup mappings, shared by all replicas', parse: redisUrl, shown: withoutUrlPassword },
  redisPrefix: { env: 'REDIS_PREFIX', help: 'prefix of every Redis key, to share one Redis between fleets', parse: text },
  port: { env: 'PORT', help: 'HTTP port', parse: int(0, 65535) },
  host: { env: 'HOST', help: 'HTTP bind address (loopback: the application shares the pod network)', parse: text },
  opsPort: { env: 'OPS_PORT', help: 'second port serving only /metrics, /healthz and /readyz (unset: one port)', parse: int(0, 65535) },
  opsHost: { env: 'OPS_HOST', help: 'bind address of OPS_PORT (all interfaces: the kubelet and Prometheus use the pod IP)', parse: text },
  groupTtlMs: { env: 'GROUP_TTL', help: 'idle MessageGroup mappings are removed after this', parse: duration(60_000) },
  cleanupIntervalMs: { env: 'CLEANUP_INTERVAL', help: 'how often one replica runs that cleanup', parse: timerDuration(1000) },
  routerBuckets: { env: 'ROUTER_BUCKETS', help: "Redis hashes per topic holding mappings; fixed at a topic's first use", parse: int(1, 1 << 20) },
  routeCacheSize: { env: 'ROUTE_CACHE_SIZE', help: 'local route cache entries (MessageGroups)', parse: int(0) },
  touchFlushIntervalMs: { env: 'TOUCH_FLUSH_INTERVAL', help: 'how often batched last-access times are written to Redis', parse: duration(10, 60_000) },
  metadataRefreshMs: { env: 'METADATA_REFRESH', help: "how often a topic's partition count is re-read from Kafka", parse: duration(100) },
  loadsRefreshMs: { env: 'LOADS_REFRESH_INTERVAL', help: 'how often the partition loads on /metrics are read, in the background', parse: timerDuration(100) },
  loadsRefreshTimeoutMs: {
    env: 'LOADS_REFRESH_TIMEOUT',
    help: 'deadline of one loads refresh; topics not read keep their last figures',
    parse: timerDuration(100),
  },
  maxGroupBytes: { env: 'MAX_GROUP_BYTES', help: 'longest message_group, in UTF-8 bytes', parse: size(1, 4096) },
  maxDedupIdBytes: { env: 'MAX_DEDUP_ID_BYTES', help: 'longest dedup_id, in UTF-8 bytes', parse: size(1, 4096) },
  dedupWindowMs: { env: 'DEDUP_WINDOW', help: 'how long a dedup_id is remembered', parse: duration(1000) },
  dedupLeaseMs: { env: 'DEDUP_LEASE', help: "how long a dead sidecar's dedup claims block retries of its messages", parse: timerDuration(1000) },
  maxMessageBytes: { env: 'MAX_MESSAGE_BYTES', help: 'largest message (key + value + headers)', parse: size(1) },
  maxBodyBytes: { env: 'MAX_BODY_BYTES', help: 'largest request body', parse: size(1) },
  maxInflightBodyBytes: { env: 'MAX_INFLIGHT_BODY_BYTES', help: 'produce bodies in flight above which new requests get 503 OVERLOADED', parse: size(1) },
  acceptEncodedBodies: { env: 'ACCEPT_ENCODED_BODIES', help: 'read produce bodies sent gzip/deflate/br-encoded (else 415)', parse: bool },
  maxMessagesPerRequest: { env: 'MAX_MESSAGES_PER_REQUEST', help: 'most messages in one request', parse: int(1) },
  maxBatchMessages: { env: 'MAX_BATCH_MESSAGES', help: 'most messages one Kafka produce request carries for one partition', parse: int(1) },
  maxBatchBytes: { env: 'MAX_BATCH_BYTES', help: 'most bytes one Kafka produce request carries for one partition', parse: size(1024) },
  maxQueuedBytes: { env: 'MAX_QUEUED_BYTES', help: 'bytes waiting for Kafka above which new requests get 503 OVERLOADED', parse: size(1024 * 1024) },
  // A dedup retry waits up to twice it (src/sidecar.ts), on one timer.
  kafkaWriteTimeoutMs: {
    env: 'KAFKA_WRITE_TIMEOUT',
    help: "deadline of one batch write, the client's retries included",
    parse: timerDuration(5000, Math.floor(MAX_TIMER_MS / 2)),
  },
  kafkaLingerMs: {
    env: 'KAFKA_LINGER',
    help: 'how long a Kafka produce request waits for more partitions and writes to join it (linger.ms)',
    parse: timerDuration(0, 1000),
  },
  shutdownGraceMs: { env: 'SHUTDOWN_GRACE', help: 'how long shutdown waits for in-flight requests', parse: timerDuration(0) },
  requestReadTimeoutMs: {
    env: 'REQUEST_READ_TIMEOUT',
    help: 'how long a client may take to send a whole request (headers and body) before it gets 408',
    parse: timerDuration(1000),
  },
  adminToken: { env: 'ADMIN_TOKEN', help: 'bearer token for /admin/v1/* (unset: open, guarded by the bind address only)', parse: bearerToken },
  console: { env: 'CONSOLE', help: 'serve the operations console at /console (it calls /admin/v1 with ADMIN_TOKEN)', parse: bool },
  adminTokenFile: { env: 'ADMIN_TOKEN_FILE', help: 'file holding the admin token, instead of ADMIN_TOKEN; re-read when it changes', parse: file },
  // Redis stamps last access in whole minutes, so a shorter minimum would only look finer than it is.
  moveMinIdleMs: { env: 'ADMIN_MOVE_MIN_IDLE', help: 'idle time a group needs before an admin release or move', parse: duration(60_000) },
  metricsGroupNames: {
    env: 'METRICS_GROUP_NAMES',
    help: 'MessageGroup names on /metrics: plain, hash (SHA-256 prefix) or off',
    parse: oneOf(METRICS_GROUP_NAMES),
  },
  logLevel: { env: 'LOG_LEVEL', help: 'debug, info, warn or error', parse: oneOf(LOG_LEVELS) },
  tracing: { env: 'TRACING', help: 'OpenTelemetry traces: auto (by the OTEL_* variables), on or off', parse: oneOf(TRACING_MODES) },
  degradedRouting: {
    env: 'DEGRADED_ROUTING',
    help: 'Redis outage: reject unproven groups (503) or route them by hash (may split groups)',
    parse: oneOf(DEGRADED_ROUTING_MODES),
  },
  redisCommandTimeoutMs: {
    env: 'REDIS_COMMAND_TIMEOUT',
    help: 'a Redis command unanswered this long fails; three in a row count as an outage',
    parse: duration(100, 60_000),
  },
  redisReplicaAcks: {
    env: 'REDIS_REPLICA_ACKS',
    help: 'replicas that must acknowledge a new route (WAIT); unset: 1 with Cluster/Sentinels, else 0',
    parse: int(0),
  },
  // WAIT with a timeout of 0 blocks for ever.
  redisReplicaAckTimeoutMs: {
    env: 'REDIS_REPLICA_ACK_TIMEOUT',
    help: 'fewer acknowledgements than that in time: 503 ROUTING_UNAVAILABLE',
    parse: duration(1, 60_000),
  },
  routeLog: { env: 'ROUTE_LOG', help: "record each new route in a compacted Kafka topic, to rebuild Redis's routes from it", parse: bool },
  routeLogTopic: { env: 'ROUTE_LOG_TOPIC', help: 'the route log topic, created at start when missing', parse: text },
  routeLogReplicationFactor: {
    env: 'ROUTE_LOG_REPLICATION_FACTOR',
    help: "replication factor the route log is created with (unset: the brokers' default)",
    parse: int(1, 32),
  },
  // Below the rebuild lock's lease (state-loss.ts), so a stuck read ends before another replica may take over.
  routeLogReadTimeoutMs: {
    env: 'ROUTE_LOG_READ_TIMEOUT',
    help: 'longest a rebuild reads the route log; past it: 503 ROUTE_LOG_UNAVAILABLE',
    parse: duration(100, 45_000),
  },
  subscriptionsFile: { env: 'SUBSCRIPTIONS_FILE', help: 'JSON file of subscriptions to consume and push to the application', parse: text },
  consumeBufferMessages: { env: 'CONSUME_BUFFER_MESSAGES', help: 'messages buffered per consumed partition before fetching pauses', parse: int(1) },
  consumeCommitIntervalMs: { env: 'CONSUME_COMMIT_INTERVAL', help: 'how often consumed offsets are committed', parse: timerDuration(100) },
  // Kafka brokers refuse sessions outside group.min/max.session.timeout.ms (6 s and 30 min by default).
  consumeSessionTimeoutMs: { env: 'CONSUME_SESSION_TIMEOUT', help: 'how soon a silent replica leaves its consumer groups', parse: duration(6000, 1_800_000) },
  kafkaTls: { env: 'KAFKA_TLS', help: 'TLS to Kafka (turned on by any other KAFKA_TLS_* option)', parse: bool },
  kafkaTlsCaFile: { env: 'KAFKA_TLS_CA_FILE', help: "CA bundle for the brokers' certificates (else Node's public CAs)", parse: file },
  kafkaTlsCertFile: { env: 'KAFKA_TLS_CERT_FILE', help: 'client certificate for mutual TLS (with KAFKA_TLS_KEY_FILE)', parse: file },
  kafkaTlsKeyFile: { env: 'KAFKA_TLS_KEY_FILE', help: 'client key for mutual TLS (with KAFKA_TLS_CERT_FILE)', parse: file },
  kafkaTlsServername: { env: 'KAFKA_TLS_SERVERNAME', help: 'TLS server name (SNI) to ask the brokers for', parse: text },
  kafkaTlsInsecureSkipVerify: { env: 'KAFKA_TLS_INSECURE_SKIP_VERIFY', help: 'accept any broker certificate (warns at every start)', parse: bool },
  kafkaSaslMechanism: {
    env: 'KAFKA_SASL_MECHANISM',
    help: 'plain, scram-sha-256, scram-sha-512 or oauthbearer',
    parse: oneOf(SASL_MECHANISMS, (raw) => raw.trim().toLowerCase()),
  },
  kafkaSaslUsername: { env: 'KAFKA_SASL_USERNAME', help: 'SASL username', parse: text },
  kafkaSaslPassword: { env: 'KAFKA_SASL_PASSWORD', help: 'SASL password (prefer KAFKA_SASL_PASSWORD_FILE)', parse: text },
  kafkaSaslPasswordFile: { env: 'KAFKA_SASL_PASSWORD_FILE', help: 'file holding the SASL password, re-read at every authentication', parse: file },
  kafkaSaslOauthbearerTokenFile: {
    env: 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
    help: 'oauthbearer: file holding the token, re-read at every authentication',
    parse: file,
  },
  redisTls: { env: 'REDIS_TLS', help: 'TLS to Cluster/Sentinel nodes (a standalone Redis says rediss://)', parse: bool },
  redisTlsCaFile: { env: 'REDIS_TLS_CA_FILE', help: "CA bundle for Redis's certificate", parse: file },
  redisUsername: { env: 'REDIS_USERNAME', help: 'ACL user for Cluster/Sentinel nodes', parse: text },
  redisPassword: { env: 'REDIS_PASSWORD', help: 'password for Cluster/Sentinel nodes (prefer REDIS_PASSWORD_FILE)', parse: text },
  redisPasswordFile: { env: 'REDIS_PASSWORD_FILE', help: 'file holding the Redis password, re-read at every reconnect', parse: file },
  redisClusterNodes: { env: 'REDIS_CLUSTER_NODES', help: 'host:port,... of a Redis Cluster, instead of REDIS_URL', parse: hostPorts },
  redisSentinels: { env: 'REDIS_SENTINELS', help: 'host:port,... of Redis Sentinels, instead of REDIS_URL', parse: hostPorts },
  redisSentinelMaster: { env: 'REDIS_SENTINEL_MASTER', help: 'the Sentinel master name (with REDIS_SENTINELS)', parse: text },
  apiToken: { env: 'API_TOKEN', help: "bearer token for /v1/* (the SDK's token option)", parse: bearerToken },
  apiTokenFile: { env: 'API_TOKEN_FILE', help: 'file holding the API token, instead of API_TOKEN; re-read when it changes', parse: file },
};

/** Values never echoed back in an error message, nor printed by `config check`. */
export const SECRET_ENVS: ReadonlySet<string> = new Set(['KAFKA_SASL_PASSWORD', 'REDIS_PASSWORD', 'API_TOKEN', 'ADMIN_TOKEN']);

const isOptionKey = (key: string): key is keyof SidecarOptions => Object.hasOwn(SETTINGS, key);
export const OPTION_KEYS = Object.keys(SETTINGS).filter(isOptionKey);

export const flagName = (env: string): string => `--${env.toLowerCase().replaceAll('_', '-')}`;

/** A switch (a true/false option) may be a bare flag: `--kafka-tls` means `--kafka-tls true`. */
export const isSwitch = (key: keyof SidecarOptions): boolean => SETTINGS[key].parse === bool;

/** The options, and where each given one came from (its env variable or its flag); the rest are defaults. */
export interface LoadedConfig {
  options: SidecarOptions;
  sources: ReadonlyMap<keyof SidecarOptions, string>;
}

/**
 * Options from defaults, then environment, then `--flag value` / `--flag=value` arguments (flags win, the last of a
 * repeated flag wins). Unknown flags and stray words are errors: a typo must not silently run with a default.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): SidecarOptions {
  return loadConfigWithSources(argv, env).options;
}

export function loadConfigWithSources(argv: readonly string[], env: NodeJS.ProcessEnv): LoadedConfig {
  const parsed: Partial<SidecarOptions> = {};
  // Which options were given rather than defaulted (a default REDIS_URL must not conflict with a Cluster), and how.
  const sources = new Map<keyof SidecarOptions, string>();
  const take = <K extends keyof SidecarOptions>(key: K, raw: string, source: string): void => {
    const setting: Setting<K> = SETTINGS[key];
    parsed[key] = setting.parse(raw, (why) => {
      const shown = setting.shown?.(raw) ?? raw;
      throw new ConfigError(`invalid ${source}${SECRET_ENVS.has(setting.env) ? '' : `=${JSON.stringify(shown)}`}: ${why}`);
    });
    sources.set(key, source);
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
    options: Object.fromEntries([...byFlag].map(([flag, key]) => [flag.slice(2), { type: isSwitch(key) ? ('boolean' as const) : ('string' as const) }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  // A bare switch followed by a true/false word (`--kafka-tls false`) takes it as its value, as before switches existed.
  let bareSwitch: { key: keyof SidecarOptions; flag: string } | undefined;
  for (const token of tokens) {
    const previous = bareSwitch;
    bareSwitch = undefined;
    if (token.kind === 'positional') {
      if (previous && BOOLEAN_WORDS.has(token.value.trim().toLowerCase())) take(previous.key, token.value, previous.flag);
      else unknown(token.value);
    }
    if (token.kind === 'option-terminator') unknown('--');
    if (token.kind !== 'option') continue;
    const key = byFlag.get(token.rawName) ?? unknown(token.rawName);
    if (token.value === undefined && !isSwitch(key)) throw new ConfigError(`option ${token.rawName} needs a value`);
    if (token.value === undefined) bareSwitch = { key, flag: token.rawName };
    take(key, token.value ?? 'true', token.rawName);
  }
  return { options: checkConnectivity({ ...DEFAULT_OPTIONS, ...parsed }, new Set(sources.keys())), sources };
}
