/** The few instruments the routing core counts with; prom-client's Counter and Gauge fit them. */
export interface Count {
  inc(value?: number): void;
}

export interface TopicCount {
  inc(labels: { topic: string }, value?: number): void;
}

export interface Level {
  set(value: number): void;
}

export interface RouterMetrics {
  cacheHits: Count;
  cacheMisses: Count;
  groupsCreated: TopicCount;
  degradedMode: Level;
  degradedRoutes: Count;
  degradedConflicts: Count;
  hashRoutedMessages: Count;
  /** Route writes fewer Redis replicas acknowledged in time than REDIS_REPLICA_ACKS asks (their requests get 503). */
  replicaAckTimeouts: Count;
  /** Topics whose routing state this replica found lost in Redis. */
  stateLosses: TopicCount;
  /** Mappings restored into Redis from the route log. */
  routesRestored: TopicCount;
}
