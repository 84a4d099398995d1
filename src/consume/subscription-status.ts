import { withoutUrlPassword } from '../logging/logger.ts';
import type { DeliveryAuthView, RunnerState, SubscriptionStatus } from '../protocol/subscriptions.ts';
import type { GroupDispatcher } from './group-dispatcher.ts';
import type { Subscription } from './subscriptions.ts';

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
