/** The admin API's answers (GET/POST /admin/...), shared by the sidecar that sends them and the CLI that reads them. */
import type { SubscriptionStatus } from './subscriptions.ts';

export interface GroupView {
  group: string;
  partition: number;
  /** Start of the minute of the last access (Redis stamps whole minutes), ISO 8601. */
  last_access: string;
}

export interface GroupPage {
  groups: GroupView[];
  next_cursor: string | null;
}

export interface MappingView extends GroupView {
  topic: string;
}

export interface LoadsView {
  topic: string;
  partitions: { partition: number; groups: number }[];
  total: number;
  /** Groups mapped to partitions the topic no longer has (deleted and created again smaller); each needs a release. */
  beyond_topic: number;
  max_minus_min: number;
  deviation: number;
}

export interface ChangeView {
  topic: string;
  group: string;
  /** The partition the group was mapped to before the change. */
  previous_partition: number;
  /** The partition it is mapped to now; null after a release (its next message is routed afresh). */
  partition: number | null;
  /** Last access before the change (a change is not a use), ISO 8601, minute resolution. */
  last_access: string;
  released: boolean;
}

/** A topic's route log replayed into Redis (POST /admin/topics/{topic}/rebuild). */
export interface RebuildView {
  topic: string;
  /** Mappings the route log had that Redis did not, now restored. */
  restored: number;
}

/** A topic's mappings written to the route log from Redis (POST /admin/topics/{topic}/backfill). */
export interface BackfillView {
  topic: string;
  /** Mappings Redis had, each now in the route log (ones already there are written again: harmless). */
  logged: number;
}

/** A topic's hold lifted without its route log (POST /admin/topics/{topic}/resume). */
export interface ResumeView {
  topic: string;
  resumed: true;
}

/** A MessageGroup holding many fetched, undelivered records of a subscription on this replica. */
export interface HotGroupView {
  subscription: string;
  partition: number;
  group: string | null;
  backlog: number;
}

/**
 * What the operations console shows at a glance (GET /admin/v1/overview): this replica's version and engine, its
 * Kafka writes since start (the console turns two readings into a rate), and its subscriptions.
 */
export interface OverviewView {
  version: string;
  kafka_client: string;
  kafka_writes: {
    /** Messages Kafka acknowledged. */
    messages_produced: number;
    /** Messages that failed to be written. */
    messages_failed: number;
    /** Produce requests sent to Kafka. */
    produce_requests: number;
  };
  subscriptions: SubscriptionStatus[];
  /** The groups with the largest backlog across this replica's subscriptions, largest first. */
  hot_groups: HotGroupView[];
}

/** The most groups one page of `GET /admin/v1/topics/{topic}/groups` holds (`limit`). */
export const MAX_LIST_LIMIT = 1000;
