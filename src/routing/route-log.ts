/**
 * The router's port to the durable route log: every mapping the fleet produces on, kept outside Redis so a
 * topic's state can be rebuilt when Redis loses it (state-loss.ts). `src/kafka/kafka-route-log.ts` implements
 * it with a compacted Kafka topic keyed by topic and group. A failure of the log is a KafkaUnavailable-like
 * condition for the caller: the new group is refused (retriable), nothing of it is cached or produced.
 */

/** One change of a mapping: the group now maps to `partition`, or (null) it was released. */
export interface RouteLogEntry {
  topic: string;
  group: string;
  partition: number | null;
  /** The topic's bucket count, so a rebuild keeps each group in its bucket. */
  buckets: number;
}

export interface LoggedRoutes {
  /** Group -> partition, the latest entry of each group that was not released. */
  routes: Map<string, number>;
  /** The topic's bucket count as the latest entry gave it (undefined when the log has none of the topic). */
  buckets: number | undefined;
}

export interface RouteLog {
  /** Resolves once every entry is durable in the log (acknowledged by all in-sync replicas); rejects otherwise. */
  append(entries: readonly RouteLogEntry[]): Promise<void>;
  /** Every live mapping of `topic` the log holds, read up to its end as of the call. */
  read(topic: string): Promise<LoggedRoutes>;
}
