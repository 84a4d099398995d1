import type { LogLevel } from '../logging/logger.ts';

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
/** The mechanisms that authenticate with a username and a password (OAUTHBEARER takes a token). */
export type PasswordSaslMechanism = Exclude<SaslMechanism, 'oauthbearer'>;

/** Everything the sidecar can be told, with its default. Env names and flags are derived in `load-config.ts`. */
export interface SidecarOptions {
  /** Kafka bootstrap servers. @defaultValue ['127.0.0.1:9092'] */
  kafkaBrokers: string[];
  /** Kafka client id, shown in broker logs and quotas. @defaultValue 'ordered-sidecar' */
  kafkaClientId: string;
  /**
   * The Kafka client library the sidecar writes with: `platformatic` (@platformatic/kafka) or `kafkajs`.
   * Both give the same ordering guarantees (docs/engines.md). @defaultValue 'platformatic'
   */
  kafkaClient: KafkaClientName;
  /**
   * Codec of the record batches the sidecar writes: `none`, `gzip`, `snappy`, `lz4` or `zstd`, on either engine
   * (docs/benchmarks.md has the measurement behind the default). @defaultValue 'none'
   */
  kafkaCompression: KafkaCompression;
  /** Redis holding the MessageGroup mappings shared by all replicas. @defaultValue 'redis://127.0.0.1:6379' */
  redisUrl: string;
  /** Prefix of every Redis key, so several sidecar fleets can share one Redis. @defaultValue 'os' */
  redisPrefix: string;
  /** HTTP port. @defaultValue 8080 */
  port: number;
  /** HTTP bind address; loopback because the application shares the pod network. @defaultValue '127.0.0.1' */
  host: string;
  /**
   * A second port serving only /metrics, /healthz and /readyz, so the API and admin can stay on loopback while
   * Prometheus and the kubelet reach this one; /metrics then leaves the main port. @defaultValue unset (one port)
   */
  opsPort?: number;
  /** Bind address of `opsPort`; all interfaces, as the kubelet and Prometheus connect to the pod IP. @defaultValue '0.0.0.0' */
  opsHost: string;
  /** A mapping not used for this long is removed by cleanup. @defaultValue 24 h */
  groupTtlMs: number;
  /** How often one replica runs the TTL cleanup. @defaultValue 30 min */
  cleanupIntervalMs: number;
  /** Buckets (small Redis hashes) per topic holding mappings; fixed when a topic is first used. @defaultValue 4096 */
  routerBuckets: number;
  /** Local routing cache size, in MessageGroups. @defaultValue 100000 */
  routeCacheSize: number;
  /** How often batched last-access times are written to Redis. @defaultValue 1000 ms */
  touchFlushIntervalMs: number;
  /** How often a topic's partition count is re-read from Kafka. @defaultValue 30 s */
  metadataRefreshMs: number;
  /** How often the partition loads shown on /metrics are read from Redis and Kafka, in the background. @defaultValue 15 s */
  loadsRefreshMs: number;
  /** Deadline of one loads refresh; topics not read by then keep their last figures. @defaultValue 10 s */
  loadsRefreshTimeoutMs: number;
  /** Longest accepted MessageGroup, in UTF-8 bytes. @defaultValue 128 */
  maxGroupBytes: number;
  /** Longest accepted dedup_id, in UTF-8 bytes. @defaultValue 128 */
  maxDedupIdBytes: number;
  /** How long a dedup_id is remembered; a repeat within it is not written again (SQS FIFO uses 5 min). @defaultValue 5 min */
  dedupWindowMs: number;
  /** How long a dedup claim survives its sidecar's last renewal (renewed every third of it). @defaultValue 15 s */
  dedupLeaseMs: number;
  /** Largest accepted message (key + value + headers), in bytes. @defaultValue 1 MiB */
  maxMessageBytes: number;
  /** Largest accepted request body, in bytes. @defaultValue 16 MiB */
  maxBodyBytes: number;
  /**
   * Bytes of produce request bodies in flight (declared by content-length, checked before reading) above which
   * new produce requests get 503 OVERLOADED; bounds memory under many concurrent requests. @defaultValue 64 MiB
   */
  maxInflightBodyBytes: number;
  /**
   * Read produce bodies sent compressed (content-encoding gzip, deflate, br), each counted at `maxBodyBytes`
   * against `maxInflightBodyBytes` (what it may inflate to); when false they get 415. @defaultValue false
   */
  acceptEncodedBodies: boolean;
  /** Most messages in one request. @defaultValue 10000 */
  maxMessagesPerRequest: number;
  /** Most messages one Kafka produce request carries for one partition. @defaultValue 1000 */
  maxBatchMessages: number;
  /** Most bytes one Kafka produce request carries for one partition. @defaultValue 900 KiB */
  maxBatchBytes: number;
  /** Bytes waiting for Kafka above which new produce requests get 503 OVERLOADED (bounds memory). @defaultValue 256 MiB */
  maxQueuedBytes: number;
  /** Deadline for one Kafka write, kafkajs retries included. @defaultValue 30 s */
  kafkaWriteTimeoutMs: number;
  /**
   * How long a Kafka produce request waits for more partitions and writes to join it once a broker is free (Kafka's
   * linger.ms); a partition with a full batch goes at once. docs/benchmarks.md has the measurement behind the
   * default. @defaultValue 0
   */
  kafkaLingerMs: number;
  /** How long shutdown waits for in-flight requests before closing anyway. @defaultValue 25 s */
  shutdownGraceMs: number;
  /**
   * How long a client may take to send a whole request, headers and body; past it the request gets 408 and its
   * connection is closed, so a stalled upload does not hold its body's MAX_INFLIGHT_BODY_BYTES reservation (Node's
   * own default is 5 min). Has no effect on a request once it is read. @defaultValue 30 s
   */
  requestReadTimeoutMs: number;
  /** Bearer token for /admin/v1/*; unset leaves them open (guarded only by the bind address). @defaultValue unset */
  adminToken?: string;
  /** File holding the bearer token for /admin/v1/*, instead of `adminToken`; read again when it changes, as `apiTokenFile`. @defaultValue unset */
  adminTokenFile?: string;
  /**
   * Serve the operations console (a static page in the browser) at /console; it calls /admin/v1 with ADMIN_TOKEN,
   * entered in the page. @defaultValue true
   */
  console: boolean;
  /** Idle time an admin move or release requires (at least 1 min: Redis stamps whole minutes). @defaultValue 2 min */
  moveMinIdleMs: number;
  /**
   * How MessageGroup names (they may be customer ids) appear on /metrics, in the hot-group gauge: `plain`, `hash`
   * (first 16 hex digits of their SHA-256, the same on every replica) or `off` (an empty label). @defaultValue 'plain'
   */
  metricsGroupNames: MetricsGroupNames;
  /** Log level. @defaultValue 'info' */
  logLevel: LogLevel;
  /**
   * Traces (W3C Trace Context, OpenTelemetry spans over OTLP/HTTP): `auto` traces when the standard OTEL_*
   * variables ask for it (an OTLP endpoint, or OTEL_TRACES_EXPORTER=otlp), `on` always, `off` never. Off, the SDK
   * is not loaded and a caller's traceparent is passed on unchanged (docs/operations.md, "Tracing"). @defaultValue 'auto'
   */
  tracing: TracingMode;
  /**
   * What a replica does, while Redis is out of reach, with a MessageGroup whose route it cannot prove (not
   * cached, or cached too long ago). 'reject': 503 ROUTING_UNAVAILABLE, nothing written (order before
   * availability). 'hash': route it to its consistent-hash partition, which can split a group that another
   * replica routes elsewhere (see docs/operations.md). @defaultValue 'reject'
   */
  degradedRouting: DegradedRouting;
  /** How long one Redis command may take before it counts as unanswered (an outage after three in a row). @defaultValue 2 s */
  redisCommandTimeoutMs: number;
  /**
   * Redis replicas that must acknowledge a MessageGroup's mapping (WAIT) before anything is produced on it, so a
   * failover promotes a replica that holds it (Sentinel and Cluster pick the most up-to-date one) instead of
   * one that would map the group elsewhere. 0 turns the wait off.
   * @defaultValue 1 with `redisClusterNodes` or `redisSentinels` (a failover needs a replica), else 0; see `replicaAcksOf`
   */
  redisReplicaAcks?: number;
  /** How long a new route waits for those acknowledgements; fewer in time refuse the request (503, retriable). @defaultValue 500 ms */
  redisReplicaAckTimeoutMs: number;
  /**
   * Write every new MessageGroup mapping (and admin moves, releases, expiries) to a compacted Kafka topic before
   * anything is produced on it, so a topic's routes can be rebuilt when Redis loses its data. Off saves a Kafka
   * write per new group, for a Redis that keeps its data; a loss then refuses new groups until an operator
   * decides (docs/operations.md, "When Redis loses its data"). @defaultValue true
   */
  routeLog: boolean;
  /** The route log's topic, created at start when missing (compacted; docs/operations.md, "The route log"). @defaultValue 'ordered-sidecar-routes' */
  routeLogTopic: string;
  /** Replication factor the route log is created with. @defaultValue unset (the brokers' default.replication.factor) */
  routeLogReplicationFactor?: number;
  /**
   * Longest a rebuild reads a topic's routes back from the route log (a leaderless log partition, a slow
   * broker): past it the rebuild fails with 503 ROUTE_LOG_UNAVAILABLE (retriable) and the next request tries
   * again. @defaultValue 15 s
   */
  routeLogReadTimeoutMs: number;
  /** JSON file of subscriptions: topics delivered to the application's HTTP endpoint (docs/consumption.md). @defaultValue unset (no consumption) */
  subscriptionsFile?: string;
  /**
   * Records tracked per consumed partition: fetched and not yet passed by its commit, done ones behind an
   * unfinished one (a blocked head) included. Past it, fetching that partition pauses until it drains. @defaultValue 10000
   */
  consumeBufferMessages: number;
  /** How often consumed offsets are committed (also on rebalance and shutdown). @defaultValue 5 s */
  consumeCommitIntervalMs: number;
  /**
   * A consuming replica silent this long is taken out of its consumer groups (after a crash, say). Every
   * subscription's ack_timeout must be below it. @defaultValue 45 s
   */
  consumeSessionTimeoutMs: number;

  // --- production connectivity (docs/operations.md, "Connecting to a secured Kafka and Redis") ---
  /** TLS to Kafka; turned on by any other KAFKA_TLS_* option. @defaultValue false */
  kafkaTls: boolean;
  /** PEM CA bundle the brokers' certificates are verified against; unset uses Node's public CAs. @defaultValue unset */
  kafkaTlsCaFile?: string;
  /** PEM client certificate for mutual TLS (needs `kafkaTlsKeyFile`). @defaultValue unset */
  kafkaTlsCertFile?: string;
  /** PEM private key of `kafkaTlsCertFile`. @defaultValue unset */
  kafkaTlsKeyFile?: string;
  /** Server name (SNI) sent to and verified against the brokers' certificates, when it differs from the host. @defaultValue unset */
  kafkaTlsServername?: string;
  /** Accept any broker certificate. Never for production; logs a warning at every start. @defaultValue false */
  kafkaTlsInsecureSkipVerify: boolean;
  /** SASL mechanism; needs a username and a password (or password file), or for `oauthbearer` a token file. @defaultValue unset (no SASL) */
  kafkaSaslMechanism?: SaslMechanism;
  /** SASL username. @defaultValue unset */
  kafkaSaslUsername?: string;
  /** SASL password; prefer `kafkaSaslPasswordFile`. @defaultValue unset */
  kafkaSaslPassword?: string;
  /** File holding the SASL password (a mounted secret), re-read at every authentication so a rotation needs no restart. @defaultValue unset */
  kafkaSaslPasswordFile?: string;
  /**
   * File holding the OAUTHBEARER token (a JWT), written and refreshed by someone else (a workload-identity agent,
   * a Kubernetes projected token); re-read at every authentication so a refreshed token needs no restart. @defaultValue unset
   */
  kafkaSaslOauthbearerTokenFile?: string;
  /** PEM CA bundle for a rediss:// Redis (or TLS to Cluster/Sentinel nodes). @defaultValue unset */
  redisTlsCaFile?: string;
  /** TLS to Redis Cluster or Sentinel nodes (a standalone Redis says so with rediss://). @defaultValue false */
  redisTls: boolean;
  /** Redis ACL user for Cluster/Sentinel (a standalone Redis takes it from the URL). @defaultValue unset */
  redisUsername?: string;
  /** Redis password for Cluster/Sentinel; prefer `redisPasswordFile`. @defaultValue unset */
  redisPassword?: string;
  /** File holding the Redis password (a mounted secret), re-read at every reconnect. @defaultValue unset */
  redisPasswordFile?: string;
  /** Seed nodes of a Redis Cluster (host:port); selects the Cluster client instead of REDIS_URL. @defaultValue unset */
  redisClusterNodes?: string[];
  /** Sentinels (host:port) watching the Redis to use; needs `redisSentinelMaster`. @defaultValue unset */
  redisSentinels?: string[];
  /** Name of the master the sentinels watch. @defaultValue unset */
  redisSentinelMaster?: string;
  /** Bearer token for /v1/*; unset leaves them open (guarded only by the bind address). @defaultValue unset */
  apiToken?: string;
  /**
   * File holding the bearer token for /v1/* (a mounted secret), instead of `apiToken`; read again when it changes,
   * so a rotated token applies within a second without a restart and the old one stops working. @defaultValue unset
   */
  apiTokenFile?: string;
}

/** The Kafka client libraries the sidecar can write with (`KAFKA_CLIENT`, src/kafka/create-engine.ts). */
export const KAFKA_CLIENTS = ['platformatic', 'kafkajs'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

/** METRICS_GROUP_NAMES: how src/metrics/consume-metrics.ts shows MessageGroup names. */
export const METRICS_GROUP_NAMES = ['plain', 'hash', 'off'] as const;
export type MetricsGroupNames = (typeof METRICS_GROUP_NAMES)[number];

/** TRACING: src/tracing/start-tracing.ts reads it with the OTEL_* variables. */
export const TRACING_MODES = ['auto', 'on', 'off'] as const;
export type TracingMode = (typeof TRACING_MODES)[number];

/** Kafka's record batch codecs (`KAFKA_COMPRESSION`). */
export const KAFKA_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export const DEGRADED_ROUTING_MODES = ['reject', 'hash'] as const;
export type DegradedRouting = (typeof DEGRADED_ROUTING_MODES)[number];

const MINUTE = 60_000;

/** `redisReplicaAcks`, defaulted by topology: a Cluster or a Sentinel setup fails over to replicas; one Redis URL does not. */
export const replicaAcksOf = (o: Pick<SidecarOptions, 'redisReplicaAcks' | 'redisClusterNodes' | 'redisSentinels'>): number =>
  o.redisReplicaAcks ?? (o.redisClusterNodes !== undefined || o.redisSentinels !== undefined ? 1 : 0);

export const DEFAULT_OPTIONS = {
  kafkaBrokers: ['127.0.0.1:9092'],
  kafkaClientId: 'ordered-sidecar',
  kafkaClient: 'platformatic',
  kafkaCompression: 'none',
  redisUrl: 'redis://127.0.0.1:6379',
  redisPrefix: 'os',
  port: 8080,
  host: '127.0.0.1',
  opsHost: '0.0.0.0',
  groupTtlMs: 24 * 60 * MINUTE,
  cleanupIntervalMs: 30 * MINUTE,
  routerBuckets: 4096,
  routeCacheSize: 100_000,
  touchFlushIntervalMs: 1000,
  metadataRefreshMs: 30_000,
  loadsRefreshMs: 15_000,
  loadsRefreshTimeoutMs: 10_000,
  maxGroupBytes: 128,
  maxDedupIdBytes: 128,
  dedupWindowMs: 5 * MINUTE,
  dedupLeaseMs: 15_000,
  maxMessageBytes: 1024 * 1024,
  maxBodyBytes: 16 * 1024 * 1024,
  maxInflightBodyBytes: 64 * 1024 * 1024,
  acceptEncodedBodies: false,
  maxMessagesPerRequest: 10_000,
  maxBatchMessages: 1000,
  maxBatchBytes: 900 * 1024,
  maxQueuedBytes: 256 * 1024 * 1024,
  kafkaWriteTimeoutMs: 30_000,
  kafkaLingerMs: 0,
  shutdownGraceMs: 25_000,
  requestReadTimeoutMs: 30_000,
  console: true,
  moveMinIdleMs: 2 * MINUTE,
  metricsGroupNames: 'plain',
  logLevel: 'info',
  tracing: 'auto',
  degradedRouting: 'reject',
  redisCommandTimeoutMs: 2000,
  redisReplicaAckTimeoutMs: 500,
  routeLog: true,
  routeLogTopic: 'ordered-sidecar-routes',
  routeLogReadTimeoutMs: 15_000,
  consumeBufferMessages: 10_000,
  consumeCommitIntervalMs: 5000,
  consumeSessionTimeoutMs: 45_000,
  kafkaTls: false,
  kafkaTlsInsecureSkipVerify: false,
  redisTls: false,
} as const satisfies SidecarOptions;
