import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'ordered_sidecar_';
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A topic's groups per partition and their spread, (max - min) / mean. */
export interface TopicLoads {
  loads: number[];
  deviation: number;
}

/** Per-topic loads, read from Redis when Prometheus scrapes (not on the produce path). */
export type LoadsSource = () => Promise<Map<string, TopicLoads>>;

/**
 * Every metric the sidecar exports, on a registry the caller owns (tests build a fresh one each).
 * Names follow Prometheus conventions; docs/operations.md describes each.
 */
export class SidecarMetrics {
  readonly registry: Registry;
  readonly totalMappedGroups: Gauge<'topic'>;
  readonly partitionLoads: Gauge<'topic' | 'partition'>;
  readonly loadDeviation: Gauge<'topic'>;
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly cacheHitRate: Gauge;
  readonly routingDuration: Histogram;
  readonly routingFailures: Counter<'reason'>;
  readonly groupsCreated: Counter<'topic'>;
  readonly cleanupDuration: Histogram;
  readonly cleanupRemoved: Counter<'topic'>;
  readonly cleanupLastSuccess: Gauge;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly inflightRequests: Gauge;
  readonly kafkaWriteDuration: Histogram<'topic'>;
  readonly kafkaBatchMessages: Histogram;
  readonly messagesProduced: Counter<'topic' | 'mode'>;
  readonly messagesFailed: Counter<'topic' | 'reason'>;
  readonly deduplicated: Counter<'topic'>;
  readonly dedupUnavailable: Counter<'topic'>;
  readonly degradedMode: Gauge;
  readonly degradedRoutes: Counter;
  readonly degradedConflicts: Counter;
  readonly hashRoutedMessages: Counter;
  readonly replicaAckTimeouts: Counter;
  readonly stateLosses: Counter<'topic'>;
  readonly routesRestored: Counter<'topic'>;
  readonly redisUp: Gauge;
  readonly kafkaUp: Gauge;
  #refreshLoads: (() => Promise<void>) | undefined;

  constructor(registry: Registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
    this.registry = registry;
    const registers = [registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
    // prom-client collects all metrics of a scrape concurrently; the three load gauges share one read.
    let refreshing: Promise<void> | undefined;
    const refreshLoads = (): Promise<void> | undefined => this.#refreshLoads && (refreshing ??= this.#refreshLoads().finally(() => (refreshing = undefined)));

    this.totalMappedGroups = new Gauge({
      name: `${PREFIX}total_mapped_groups`,
      help: 'MessageGroups mapped in Redis, per topic.',
      labelNames: ['topic'],
      registers,
      collect: refreshLoads,
    });
    this.partitionLoads = new Gauge({
      name: `${PREFIX}partition_loads`,
      help: 'MessageGroups mapped to each partition.',
      labelNames: ['topic', 'partition'],
      registers,
      collect: refreshLoads,
    });
    this.loadDeviation = new Gauge({
      name: `${PREFIX}partition_load_deviation_ratio`,
      help: '(max - min) / mean of partition loads; 0 when balanced.',
      labelNames: ['topic'],
      registers,
      collect: refreshLoads,
    });
    this.cacheHits = new Counter({ name: `${PREFIX}routing_cache_hits_total`, help: 'Routes served by the local cache.', registers });
    this.cacheMisses = new Counter({ name: `${PREFIX}routing_cache_misses_total`, help: 'Routes that needed Redis.', registers });
    const hits = this.cacheHits;
    const misses = this.cacheMisses;
    this.cacheHitRate = new Gauge({
      name: `${PREFIX}routing_cache_hit_rate`,
      help: 'Share of routes served by the local cache since start (0..1).',
      registers,
      async collect() {
        const h = (await hits.get()).values[0]?.value ?? 0;
        const m = (await misses.get()).values[0]?.value ?? 0;
        this.set(h + m === 0 ? 0 : h / (h + m));
      },
    });
    this.routingDuration = new Histogram({
      name: `${PREFIX}routing_duration_seconds`,
      help: 'Time to resolve the partitions of one request.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.routingFailures = new Counter({
      name: `${PREFIX}routing_failures_total`,
      help: 'Requests that could not be routed: outage (degraded mode), replica_acks (too few Redis replicas acknowledged the route), redis (Redis failed or timed out), busy (Redis said to retry shortly).',
      labelNames: ['reason'],
      registers,
    });
    this.groupsCreated = new Counter({
      name: `${PREFIX}groups_assigned_total`,
      help: 'New MessageGroup mappings made by this replica.',
      labelNames: ['topic'],
      registers,
    });
    this.cleanupDuration = new Histogram({
      name: `${PREFIX}cleanup_execution_time_seconds`,
      help: 'Duration of TTL cleanup runs.',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    this.cleanupRemoved = new Counter({
      name: `${PREFIX}cleanup_removed_groups_total`,
      help: 'Idle mappings removed by cleanup.',
      labelNames: ['topic'],
      registers,
    });
    this.cleanupLastSuccess = new Gauge({
      name: `${PREFIX}cleanup_last_success_timestamp_seconds`,
      help: 'When any replica last completed cleanup (unix seconds).',
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'HTTP request duration.',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inflightRequests = new Gauge({ name: `${PREFIX}inflight_requests`, help: 'HTTP requests being served.', registers });
    this.kafkaWriteDuration = new Histogram({
      name: `${PREFIX}kafka_write_duration_seconds`,
      help: 'Duration of one partition batch write to Kafka.',
      labelNames: ['topic'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.kafkaBatchMessages = new Histogram({
      name: `${PREFIX}kafka_batch_messages`,
      help: 'Messages per partition batch written.',
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000],
      registers,
    });
    this.messagesProduced = new Counter({
      name: `${PREFIX}messages_produced_total`,
      help: 'Messages acknowledged by Kafka.',
      labelNames: ['topic', 'mode'],
      registers,
    });
    this.messagesFailed = new Counter({
      name: `${PREFIX}messages_failed_total`,
      help: 'Messages that could not be written.',
      labelNames: ['topic', 'reason'],
      registers,
    });
    this.deduplicated = new Counter({
      name: `${PREFIX}deduplicated_messages_total`,
      help: 'Messages not written again because their dedup_id was already written.',
      labelNames: ['topic'],
      registers,
    });
    this.dedupUnavailable = new Counter({
      name: `${PREFIX}dedup_unavailable_messages_total`,
      help: 'Messages with a dedup_id written without the dedup check because Redis was unreachable.',
      labelNames: ['topic'],
      registers,
    });
    this.degradedMode = new Gauge({
      name: `${PREFIX}degraded_mode`,
      help: '1 while routing without Redis (proven cached routes only, or consistent hashing with DEGRADED_ROUTING=hash).',
      registers,
    });
    this.degradedRoutes = new Counter({ name: `${PREFIX}degraded_routes_total`, help: 'Routes decided without Redis.', registers });
    this.degradedConflicts = new Counter({
      name: `${PREFIX}degraded_conflicts_total`,
      help: 'Groups routed without Redis that Redis had mapped elsewhere meanwhile (Redis wins).',
      registers,
    });
    this.hashRoutedMessages = new Counter({
      name: `${PREFIX}hash_routed_messages_total`,
      help: 'Messages routed during a Redis outage without a proven route (DEGRADED_ROUTING=hash): they may split their MessageGroup.',
      registers,
    });
    this.replicaAckTimeouts = new Counter({
      name: `${PREFIX}route_replica_ack_timeouts_total`,
      help: 'Route writes that fewer Redis replicas acknowledged in time than REDIS_REPLICA_ACKS asks; their requests got 503 and nothing was produced.',
      registers,
    });
    this.stateLosses = new Counter({
      name: `${PREFIX}routing_state_losses_total`,
      help: 'Times this replica found that Redis lost the routing state of a topic (new groups refused until it was rebuilt).',
      labelNames: ['topic'],
      registers,
    });
    this.routesRestored = new Counter({
      name: `${PREFIX}routes_restored_total`,
      help: 'MessageGroup mappings this replica restored into Redis from the route log.',
      labelNames: ['topic'],
      registers,
    });
    this.redisUp = new Gauge({ name: `${PREFIX}redis_up`, help: '1 when Redis answered the last check.', registers });
    this.kafkaUp = new Gauge({ name: `${PREFIX}kafka_up`, help: '1 when Kafka answered the last check.', registers });
  }

  /** Makes scrapes report the mapping loads read from `source`; a failing read keeps the last values. */
  trackLoads(source: LoadsSource): void {
    this.#refreshLoads = async () => {
      const byTopic = await source().catch(() => new Map<string, TopicLoads>());
      for (const [topic, { loads, deviation }] of byTopic) {
        this.totalMappedGroups.set(
          { topic },
          loads.reduce((a, b) => a + b, 0),
        );
        loads.forEach((load, partition) => this.partitionLoads.set({ topic, partition: String(partition) }, load));
        this.loadDeviation.set({ topic }, deviation);
      }
    };
  }
}
