import { SidecarError, storeUnavailable } from '../errors/sidecar-error.ts';
import type { PartitionWriter } from '../writer/partition-writer.ts';
import type { KeyPartitioner } from './key-partitioner.ts';
import type { OrderedMessageRouter, RoutedRequest } from '../routing/router.ts';
import type { Acquired, DedupWindow } from '../dedup/dedup-window.ts';
import { LogSpell } from '../logging/log-spell.ts';
import type { Logger } from '../logging/logger.ts';
import { StoreBusyError, StoreRefusedError, StoreUnreachableError } from '../errors/store-errors.ts';
import { RoutingRefusal } from '../routing/routing-refusal.ts';
import type { Outcome } from '../dedup/dedup-store.ts';
import type { MessageResult, ProduceResponse } from '../protocol/produce.ts';
import type { OutgoingRecord, ProduceMode } from '../writer/partition-writer.ts';
import type { PlainRecord } from './produce-types.ts';
import { NO_TRACE, inSpan, type SpanNotes, type TraceHeaders } from '../tracing/tracing.ts';

/** A record that may carry a deduplication id (ordered produce's `dedup_id`). */
type DedupRecord = OutgoingRecord & { dedupId: string | undefined };
import { parseOrderedRequest, parsePlainRequest, type RequestLimits } from './validate-request.ts';
import { writePartitions } from './write-partitions.ts';

/** The instruments the produce operations record (prom-client's Histogram and Counter fit them). */
export interface ProduceMetrics {
  routingDuration: { observe(seconds: number): void };
  routingFailures: { inc(labels: { reason: 'outage' | 'replica_acks' | 'redis' | 'busy' }): void };
  dedupUnavailable: { inc(labels: { topic: string }, value?: number): void };
  deduplicated: { inc(labels: { topic: string }, value?: number): void };
}

export interface ProduceDeps {
  /** Above this many bytes waiting for Kafka, new requests are refused rather than queued without bound. */
  maxQueuedBytes: number;
  router: OrderedMessageRouter;
  /** `fresh` reads Kafka's metadata now rather than the cached count (a topic may have grown since). */
  partitionCount: (topic: string, how?: { fresh?: boolean }) => Promise<number>;
  /** Has the topic's count read again in the background (a write to it failed: it may be gone). */
  recheckTopic: (topic: string) => void;
  /** The sidecar's own route log topic (ROUTE_LOG_TOPIC), which clients may not write: its records are routes. */
  routeLogTopic: string | undefined;
  writer: PartitionWriter;
  keyPartitioner: KeyPartitioner;
  metrics: ProduceMetrics;
  limits: RequestLimits;
  dedup: DedupWindow;
  log: Logger;
}

/** Where a request's routes came from, on its `route` span. */
function noteRouteSources({ sources: { cache, script, hash } }: RoutedRequest, span: SpanNotes): void {
  // `cache` or `script` when every group came one way (the usual request), `mixed` otherwise.
  const source = script + hash === 0 ? 'cache' : cache + hash === 0 ? 'script' : cache + script === 0 ? 'hash' : 'mixed';
  span.set({ 'ordered_sidecar.route.source': source, 'ordered_sidecar.route.cache_hits': cache, 'ordered_sidecar.route.script_calls': script });
}

/** How many of a request's dedup_ids were new, on its `dedup claim` span. */
function noteClaims(claims: Map<string, Acquired>, span: SpanNotes): void {
  let claimed = 0;
  for (const claim of claims.values()) if (claim === 'claimed') claimed++;
  span.set({ 'ordered_sidecar.dedup.claimed': claimed, 'ordered_sidecar.dedup.duplicates': claims.size - claimed });
}

/** The two produce operations, independent of HTTP: validate everything, route, then write. */
export class ProduceService {
  readonly #deps: ProduceDeps;
  /** Requests refused since the queue for Kafka went over MAX_QUEUED_BYTES. */
  readonly #refusals: LogSpell;

  constructor(deps: ProduceDeps) {
    this.#deps = deps;
    this.#refusals = new LogSpell(
      deps.log,
      'refusing produce requests: the bytes waiting for Kafka reach MAX_QUEUED_BYTES',
      'accepting produce requests again: the bytes waiting for Kafka are below MAX_QUEUED_BYTES',
      'refusedRequests',
    );
  }

  /**
   * Ordered produce (request type 22): the sidecar picks each MessageGroup's partition. `trace`: the caller's
   * W3C Trace Context, put on every record (the sidecar's own span's instead when tracing is on). `gone`: aborted
   * when the client went away; a retry waiting for an earlier attempt of its dedup_ids then stops waiting
   * (DedupWindow.acquire). Nothing else looks at it: a write handed to Kafka always runs to its end.
   */
  async ordered(body: unknown, trace: TraceHeaders = NO_TRACE, gone?: AbortSignal): Promise<ProduceResponse> {
    const { router, metrics, limits } = this.#deps;
    const { topic, records } = parseOrderedRequest(body, limits);
    this.#refuseRouteLog(topic);
    this.#refuseWhenOverloaded();
    // A clock read, not prom-client's startTimer (process.hrtime and two closures per request).
    const routingStarted = performance.now();
    let routes: Map<string, number>;
    try {
      const routed = await inSpan(
        'route',
        () => ({ attributes: { 'messaging.destination.name': topic } }),
        () =>
          router.routeRequest(
            topic,
            records.map((r) => r.group),
          ),
        noteRouteSources,
      );
      routes = routed.partitions;
    } catch (err) {
      if (err instanceof RoutingRefusal) metrics.routingFailures.inc({ reason: err.reason });
      if (err instanceof SidecarError) throw err;
      // Anything but a store failure is a defect: a 500 with its stack, nothing written.
      const unavailable = storeUnavailable(err, 'cannot route MessageGroups');
      if (!unavailable) throw err;
      metrics.routingFailures.inc({ reason: err instanceof StoreBusyError ? 'busy' : 'redis' });
      throw unavailable;
    } finally {
      metrics.routingDuration.observe((performance.now() - routingStarted) / 1000);
    }
    const partitionOf = records.map((r) => routes.get(r.group)!);
    if (records.every((r) => r.dedupId === undefined)) return this.#write(topic, records, partitionOf, 'ordered', trace);
    return this.#writeOnce(topic, records, partitionOf, 'ordered', trace, gone);
  }

  /**
   * Writes only the messages whose dedup_id is not already in Kafka, then records where each landed (or
   * releases the id when its write failed). Duplicates report the original partition and offset.
   */
  async #writeOnce(
    topic: string,
    records: readonly DedupRecord[],
    partitionOf: number[],
    mode: ProduceMode,
    trace: TraceHeaders,
    gone?: AbortSignal,
  ): Promise<ProduceResponse> {
    const { metrics, dedup } = this.#deps;
    const ids = records.flatMap((r) => (r.dedupId === undefined ? [] : [r.dedupId]));
    let acquired;
    try {
      acquired = await inSpan(
        'dedup claim',
        () => ({ attributes: { 'messaging.destination.name': topic, 'ordered_sidecar.dedup.ids': ids.length } }),
        () => dedup.acquire(topic, ids, gone),
        noteClaims,
      );
    } catch (err) {
      // Redis answers, so the check must happen: a retry will find it serving again.
      if (err instanceof StoreRefusedError || err instanceof StoreBusyError) throw storeUnavailable(err, 'cannot check dedup_ids');
      // Only Redis out of reach writes without the check; anything else (a defect included) writes nothing.
      // acquire answers DUPLICATE_IN_FLIGHT instead once it saw an id pending: a write then would repeat it.
      if (!(err instanceof StoreUnreachableError)) throw err;
      // Losing messages is worse than a possible duplicate; the response and a metric say so.
      metrics.dedupUnavailable.inc({ topic }, ids.length);
      const response = await this.#write(topic, records, partitionOf, mode, trace);
      return { ...response, dedup_unavailable: true };
    }
    const toWrite = records.flatMap((r, i) => (r.dedupId === undefined || acquired.get(r.dedupId) === 'claimed' ? [i] : []));
    const written = await this.#write(
      topic,
      toWrite.map((i) => records[i]!),
      toWrite.map((i) => partitionOf[i]!),
      mode,
      trace,
    );

    const outcomes = toWrite.flatMap((i, n): Outcome[] => {
      const id = records[i]!.dedupId;
      if (id === undefined) return [];
      const result = written.results[n]!;
      return 'offset' in result ? [{ id, partition: result.partition, offset: result.offset }] : [{ id, released: true as const }];
    });
    let dedupUnrecorded = false;
    await dedup.settle(topic, outcomes).catch((err: unknown) => {
      // The messages are in Kafka, so this request succeeded; only a retry of it could now repeat them.
      dedupUnrecorded = true;
      this.#deps.log.error('written, but the dedup outcome could not be recorded', { topic, messages: outcomes.length, err });
    });

    const results = records.map((r): MessageResult | undefined => {
      const earlier = r.dedupId === undefined ? 'claimed' : acquired.get(r.dedupId)!;
      return earlier === 'claimed' ? undefined : { ...earlier, duplicate: true as const };
    });
    toWrite.forEach((i, n) => (results[i] = written.results[n]!));
    const duplicates = records.length - toWrite.length;
    if (duplicates > 0) metrics.deduplicated.inc({ topic }, duplicates);
    return {
      ...written,
      total_messages: records.length,
      successful_messages: written.successful_messages + duplicates,
      duplicate_messages: duplicates,
      ...(dedupUnrecorded ? { dedup_unavailable: true as const } : {}),
      results: results as MessageResult[],
    };
  }

  /**
   * writePartitions, and when a partition failed retriably, the topic's count read again in the background: a
   * topic deleted since its count was read fails every write retriably (Kafka's unknown topic may pass) until the
   * count is read again (METADATA_REFRESH); once that read finds the topic gone, the next request gets 404 at once.
   */
  async #write(
    topic: string,
    records: readonly OutgoingRecord[],
    partitionOf: readonly number[],
    mode: ProduceMode,
    trace: TraceHeaders,
  ): Promise<ProduceResponse> {
    const response = await writePartitions(this.#deps.writer, topic, records, partitionOf, mode, trace);
    if (response.partition_errors.some((e) => e.retriable)) this.#deps.recheckTopic(topic);
    return response;
  }

  #refuseWhenOverloaded(): void {
    const { writer, maxQueuedBytes } = this.#deps;
    const queued = writer.queuedBytes;
    if (queued > maxQueuedBytes) {
      this.#refusals.add({ queued, maxQueuedBytes });
      throw new SidecarError('OVERLOADED', `the sidecar holds ${queued} bytes waiting for Kafka (limit ${maxQueuedBytes}, MAX_QUEUED_BYTES); retry shortly`, {
        retryAfterSeconds: 1,
        summarized: true,
      });
    }
    this.#refusals.end();
  }

  #refuseRouteLog(topic: string): void {
    if (topic !== this.#deps.routeLogTopic) return;
    throw new SidecarError('INVALID_REQUEST', `topic: "${topic}" is the sidecar's route log (ROUTE_LOG_TOPIC); only the sidecar writes its records`, {
      field: 'topic',
    });
  }

  /** Plain produce, unchanged Kafka semantics: explicit partition, else the key's hash, else spread. `trace` as for ordered. */
  async plain(body: unknown, trace: TraceHeaders = NO_TRACE): Promise<ProduceResponse> {
    const { topic, records } = parsePlainRequest(body, this.#deps.limits);
    this.#refuseRouteLog(topic);
    const partitions = await this.#plainPartitions(topic, records);
    return this.#write(topic, records, partitions, 'plain', trace);
  }

  /**
   * Plain produce of records that each carry a deduplication id (`dedupIds[i]` for `body.messages[i]`), in the
   * ordered path's window: the sidecar's own re-production of records without a MessageGroup (a dead-letter
   * replay) must be as idempotent as that of grouped ones. Not on the HTTP API: plain produce keeps Kafka's semantics.
   */
  async plainOnce(body: unknown, dedupIds: readonly string[]): Promise<ProduceResponse> {
    const { topic, records } = parsePlainRequest(body, this.#deps.limits);
    this.#refuseRouteLog(topic);
    if (dedupIds.length !== records.length) throw new Error(`plainOnce: ${dedupIds.length} dedup ids for ${records.length} messages`);
    const partitions = await this.#plainPartitions(topic, records);
    return this.#writeOnce(
      topic,
      records.map((r, i) => ({ ...r, dedupId: dedupIds[i] })),
      partitions,
      'plain',
      NO_TRACE,
    );
  }

  async #plainPartitions(topic: string, records: readonly PlainRecord[]): Promise<number[]> {
    const { partitionCount, keyPartitioner } = this.#deps;
    this.#refuseWhenOverloaded();
    let count = await partitionCount(topic);
    // The cached count is refreshed in the background: a partition past it may be one the topic just gained.
    if (records.some((r) => r.partition !== undefined && r.partition >= count)) count = await partitionCount(topic, { fresh: true });
    return records.map((record, i) => {
      if (record.partition === undefined) {
        return keyPartitioner(topic, count, record.message);
      }
      if (record.partition >= count) {
        throw new SidecarError('INVALID_REQUEST', `messages[${i}].partition: topic "${topic}" has partitions 0..${count - 1}`, {
          field: `messages[${i}].partition`,
        });
      }
      return record.partition;
    });
  }
}
