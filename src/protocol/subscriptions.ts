/** The status of ordered consumption (GET /v1/subscriptions), shared by the sidecar that sends it and the console that shows it. */

/** A group whose head is waiting for an admin call. */
export interface BlockedGroup {
  partition: number;
  group: string | null;
  offsets: string[];
  attempt: number;
  error: string | undefined;
}

export type RunnerState = 'starting' | 'waiting-for-topic' | 'running' | 'stopping' | 'stopped';

export interface PartitionStatus {
  partition: number;
  committed_offset: string | null;
  end_offset: string | null;
  lag: string | null;
  buffered: number;
  /** Offsets held from the commit point on, done ones behind an unfinished one included. */
  tracked: number;
  in_flight_groups: Array<string | null>;
  paused: boolean;
}

/** One subscription in `GET /v1/subscriptions` (and the admin overview). */
export interface SubscriptionStatus {
  name: string;
  topic: string;
  consumer_group: string;
  /** Without its password, if it has one. */
  endpoint: string;
  /** Which delivery authentication is configured; never the secrets nor the files' paths. */
  delivery_auth: DeliveryAuthView;
  ready: boolean;
  state: RunnerState;
  error?: string;
  partitions: PartitionStatus[];
  in_flight_groups: number;
  blocked_groups: BlockedGroup[];
  counts: { delivered: number; retried: number; dead_lettered: number; skipped: number };
}

export interface DeliveryAuthView {
  bearer_token: boolean;
  signature: boolean;
  endpoint_ca: boolean;
}
