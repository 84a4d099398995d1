import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundCounter } from './bound-counter.ts';
import { BoundHistogram, type HistogramChild } from './bound-histogram.ts';

const PREFIX = 'ordered_sidecar_';
/** The reasons of routing_failures_total (src/produce/produce-service.ts). */
const ROUTING_FAILURE_REASONS = ['outage', 'replica_acks', 'redis', 'busy'] as const;
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * How often Node samples the event loop's delay for the `nodejs_eventloop_lag_*` gauges. prom-client's 10 ms
 * timer woke an idle sidecar 100 times a second: 13 ms of CPU a second at idle against 4 with 100 ms (30 s of an
 * idle `serve` each, docs/benchmarks.md). A scrape every 15 s still rests on 150 samples.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * Every metric the sidecar exports, on a registry the caller owns (tests build a fresh one each).
 * Names follow Prometheus conventions; docs/operations.md describes each. The instruments a produce request
 * records (its duration, routing, and per partition batch the write, its size and the messages produced) are
 * bound to their label sets (bound-histogram.ts, bound-counter.ts); the others are prom-client's own.
 */
export class SidecarMetrics {
  readonly registry: Registry;
  readonly totalMappedGroups: Gauge<'topic'>;
  readonly partitionLoads: Gauge<'topic' | 'partition'>;
  readonly loadDeviation: Gauge<'topic'>;
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly cacheHitRate: Gauge;
  readonly routingDuration: HistogramChild;
  readonly routingFailures: Counter<'reason'>;
  readonly groupsCreated: Counter<'topic'>;
  readonly cleanupDuration: Histogram;
  readonly cleanupRemoved: Counter<'topic'>;
  readonly cleanupLastSuccess: Gauge;
  readonly httpDuration: BoundHistogram<'method' | 'route' | 'status'>;
  readonly inflightRequests: Gauge;
  readonly kafkaWriteDuration: BoundHistogram<'topic'>;
  readonly kafkaBatchMessages: HistogramChild;
  readonly kafkaProduceRequests: Counter;
  readonly messagesProduced: BoundCounter<'topic' | 'mode'>;
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
  readonly missingTopics: Gauge;
  readonly skippedMissingTopics: Counter;
  readonly loadsRefreshFailures: Counter;
  readonly loadsRefreshed: Gauge;
  /** Partitions shown per topic, so a topic that shrinks or goes missing leaves no stale series. */
  readonly #partitionsShown = new Map<string, number>();

  constructor(registry: Registry = new Registry(), options: { defaultMetrics?: boolean } = {}) {
    this.registry = registry;
    const registers = [registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // The load gauges are set by a background refresh (src/routing/load-refresher.ts): a scrape reads memory only.
    this.totalMappedGroups = new Gauge({
      name: `${PREFIX}total_mapped_groups`,
      help: 'MessageGroups mapped in Redis, per topic.',
      labelNames: ['topic'],
      registers,
    });
    this.partitionLoads = new Gauge({
      name: `${PREFIX}partition_loads`,
      help: 'MessageGroups mapped to each partition.',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.loadDeviation = new Gauge({
      name: `${PREFIX}partition_load_deviation_ratio`,
      help: '(max - min) / mean of partition loads; 0 when balanced.',
      labelNames: ['topic'],
      registers,
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
    this.routingDuration = BoundHistogram.unlabeled({
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
    // Each reason is exported at 0 from the start, so a replica's first failure is an increase Prometheus sees
    // (a labelled counter has no series until it is first incremented). Per-topic counters start at 0 where
    // the router first registers the topic (src/routing/router.ts).
    for (const reason of ROUTING_FAILURE_REASONS) this.routingFailures.inc({ reason }, 0);
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
    this.httpDuration = new BoundHistogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: 'HTTP request duration.',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inflightRequests = new Gauge({ name: `${PREFIX}inflight_requests`, help: 'HTTP requests being served.', registers });
    this.kafkaWriteDuration = new BoundHistogram({
      name: `${PREFIX}kafka_write_duration_seconds`,
      help: 'Duration of one partition batch write to Kafka.',
      labelNames: ['topic'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.kafkaBatchMessages = BoundHistogram.unlabeled({
      name: `${PREFIX}kafka_batch_messages`,
      help: 'Messages per partition batch written.',
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000],
      registers,
    });
    this.kafkaProduceRequests = new Counter({
      name: `${PREFIX}kafka_produce_requests_total`,
      help: 'Produce requests sent to Kafka: one per broker at a time, each carrying the next batch of every partition it leads.',
      registers,
    });
    this.messagesProduced = new BoundCounter({
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
    this.missingTopics = new Gauge({
      name: `${PREFIX}loads_missing_topics`,
      help: 'Topics mapped in Redis that Kafka does not have (deleted ones, say); cleanup removes their mappings once idle past GROUP_TTL.',
      registers,
    });
    this.skippedMissingTopics = new Counter({
      name: `${PREFIX}loads_missing_topics_found_total`,
      help: 'Times the loads refresh found a topic mapped in Redis missing from Kafka (once per topic, not per refresh).',
      registers,
    });
    this.loadsRefreshFailures = new Counter({
      name: `${PREFIX}loads_refresh_failures_total`,
      help: 'Topics whose partition loads a background refresh could not read, or not within LOADS_REFRESH_TIMEOUT; they keep their last figures.',
      registers,
    });
    this.loadsRefreshed = new Gauge({
      name: `${PREFIX}loads_refreshed_timestamp_seconds`,
      help: 'When the partition loads were last read from Redis and Kafka (unix seconds).',
      registers,
    });
  }

  /** Kafka writes since start, summed over topics and labels (the operations console's overview). */
  async kafkaWrites(): Promise<{ messages_produced: number; messages_failed: number; produce_requests: number }> {
    const sum = async (counter: Pick<Counter<string>, 'get'>): Promise<number> => (await counter.get()).values.reduce((total, v) => total + v.value, 0);
    return {
      messages_produced: await sum(this.messagesProduced),
      messages_failed: await sum(this.messagesFailed),
      produce_requests: await sum(this.kafkaProduceRequests),
    };
  }

  showLoads(topic: string, loads: readonly number[], deviation: number): void {
    this.totalMappedGroups.set(
      { topic },
      loads.reduce((a, b) => a + b, 0),
    );
    loads.forEach((load, partition) => this.partitionLoads.set({ topic, partition: String(partition) }, load));
    this.#removePartitions(topic, loads.length);
    this.loadDeviation.set({ topic }, deviation);
  }

  showMissingTopic(topic: string, mappedGroups: number): void {
    this.totalMappedGroups.set({ topic }, mappedGroups);
    this.#removePartitions(topic, 0);
    this.loadDeviation.remove({ topic });
  }

  forgetTopic(topic: string): void {
    this.totalMappedGroups.remove({ topic });
    this.#removePartitions(topic, 0);
    this.loadDeviation.remove({ topic });
  }

  /** Drops the series of partitions `from` and above of `topic`. */
  #removePartitions(topic: string, from: number): void {
    for (let partition = from; partition < (this.#partitionsShown.get(topic) ?? 0); partition++) {
      this.partitionLoads.remove({ topic, partition: String(partition) });
    }
    if (from === 0) this.#partitionsShown.delete(topic);
    else this.#partitionsShown.set(topic, from);
  }
}
