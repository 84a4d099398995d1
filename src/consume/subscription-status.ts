import { withoutUrlPassword } from '../logging/logger.ts';
import type { BlockedGroup } from '../protocol/admin.ts';
import type { GroupDispatcher } from './group-dispatcher.ts';
import type { Subscription } from './subscriptions.ts';

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

/** One subscription in `GET /v1/subscriptions`. */
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

/** Whether a subscription authenticates its deliveries, as listings show it (status, `config check`). */
export const deliveryAuthView = (s: Subscription): DeliveryAuthView => ({
  bearer_token: s.authTokenFile !== undefined,
  signature: s.signingSecretFile !== undefined,
  endpoint_ca: s.endpointCaFile !== undefined,
});

/** What the status is read from: the runner's session state and its dispatcher. */
export interface StatusSource {
  subscription: Subscription;
  state: RunnerState;
  ready: boolean;
  error: string | undefined;
  assigned: number[];
  paused: ReadonlySet<number>;
  endOffsets: ReadonlyMap<number, bigint>;
  committed(partition: number): bigint | undefined;
  dispatcher: GroupDispatcher;
  counts: SubscriptionStatus['counts'];
}

/** Where each assigned partition's commit stands: the committable offset, else the last one committed. */
const position = (source: StatusSource, partition: number): bigint | undefined => source.dispatcher.committable(partition) ?? source.committed(partition);

/** Log end offset minus the offset to commit, per assigned partition whose both ends are known. */
export function lagOf(source: StatusSource): Map<number, bigint> {
  const lag = new Map<number, bigint>();
  for (const partition of source.assigned) {
    const end = source.endOffsets.get(partition);
    const at = position(source, partition);
    if (end !== undefined && at !== undefined) lag.set(partition, end > at ? end - at : 0n);
  }
  return lag;
}

export function statusOf(source: StatusSource): SubscriptionStatus {
  const { subscription, dispatcher } = source;
  const lag = lagOf(source);
  return {
    name: subscription.name,
    topic: subscription.topic,
    consumer_group: subscription.consumerGroup,
    // Basic-auth credentials in the endpoint URL are used for delivery, never shown.
    endpoint: withoutUrlPassword(subscription.endpoint),
    delivery_auth: deliveryAuthView(subscription),
    ready: source.ready,
    state: source.state,
    ...(source.error === undefined ? {} : { error: source.error }),
    partitions: source.assigned.map((partition) => ({
      partition,
      committed_offset: position(source, partition)?.toString() ?? null,
      end_offset: source.endOffsets.get(partition)?.toString() ?? null,
      lag: lag.get(partition)?.toString() ?? null,
      buffered: dispatcher.buffered(partition),
      tracked: dispatcher.tracked(partition),
      in_flight_groups: dispatcher.inFlightGroups(partition),
      paused: source.paused.has(partition),
    })),
    in_flight_groups: dispatcher.inFlight,
    blocked_groups: dispatcher.blockedGroups(),
    counts: { ...source.counts },
  };
}
