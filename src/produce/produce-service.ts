import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { SidecarError, errorMessage } from '../errors/sidecar-error.ts';
import type { PartitionWriter } from '../kafka/partition-writer.ts';
import type { SidecarMetrics } from '../metrics/sidecar-metrics.ts';
import type { OrderedMessageRouter } from '../routing/router.ts';
import type { ProduceResponse } from './produce-types.ts';
import { parseOrderedRequest, parsePlainRequest, type RequestLimits } from './validate-request.ts';
import { writePartitions } from './write-partitions.ts';

export interface ProduceDeps {
  router: OrderedMessageRouter;
  partitionCount: (topic: string) => Promise<number>;
  writer: PartitionWriter;
  metrics: SidecarMetrics;
  limits: RequestLimits;
}

/** The two produce operations, independent of HTTP: validate everything, route, then write. */
export class ProduceService {
  readonly #deps: ProduceDeps;
  /** Kafka's own default partitioner (murmur2, as the Java client), so plain produce behaves as Kafka users expect. */
  readonly #kafkaPartitioner = Partitioners.DefaultPartitioner();

  constructor(deps: ProduceDeps) {
    this.#deps = deps;
  }

  /** Ordered produce (request type 22): the sidecar picks each MessageGroup's partition. */
  async ordered(body: unknown): Promise<ProduceResponse> {
    const { router, partitionCount, writer, metrics, limits } = this.#deps;
    const { topic, records } = parseOrderedRequest(body, limits);
    await partitionCount(topic);
    const stopTimer = metrics.routingDuration.startTimer();
    let routes: Map<string, number>;
    try {
      routes = await router.routeAll(topic, records.map((r) => r.group));
    } catch (err) {
      if (err instanceof SidecarError) throw err;
      metrics.routingFailures.inc({ reason: 'redis' });
      throw new SidecarError('ROUTING_UNAVAILABLE', `cannot route MessageGroups: the mapping store is unreachable (${errorMessage(err)})`, { cause: err });
    } finally {
      stopTimer();
    }
    return writePartitions(writer, topic, records, records.map((r) => routes.get(r.group)!), 'ordered');
  }

  /** Plain produce, unchanged Kafka semantics: explicit partition, else the key's hash, else spread. */
  async plain(body: unknown): Promise<ProduceResponse> {
    const { partitionCount, writer, limits } = this.#deps;
    const { topic, records } = parsePlainRequest(body, limits);
    const count = await partitionCount(topic);
    const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 }));
    const partitions = records.map((record, i) => {
      if (record.partition === undefined) {
        return this.#kafkaPartitioner({ topic, partitionMetadata, message: record.message } as PartitionerArgs);
      }
      if (record.partition >= count) {
        throw new SidecarError('INVALID_REQUEST', `messages[${i}].partition: topic "${topic}" has partitions 0..${count - 1}`, { field: `messages[${i}].partition` });
      }
      return record.partition;
    });
    return writePartitions(writer, topic, records, partitions, 'plain');
  }
}
