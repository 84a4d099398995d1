import { SidecarError } from '../errors/sidecar-error.ts';
import { GroupActiveError, type GroupOffsetsAdmin, type OffsetTarget } from './group-offsets-admin.ts';
import { kafkaCall } from './kafka-call.ts';
import type { Subscription } from './subscriptions.ts';

export interface ResetResult {
  subscription: string;
  topic: string;
  consumer_group: string;
  /** `earliest`, `latest`, or the time as an ISO 8601 string. */
  to: string;
  partitions: Array<{ partition: number; previous_offset: string | null; offset: string }>;
}

const running = (subscription: Subscription, why: string) =>
  new SidecarError(
    'SUBSCRIPTION_RUNNING',
    `subscription "${subscription.name}" is running (${why}): stop it on every replica first (ordered-sidecar subscriptions stop ${subscription.name})`,
  );

/** Never throws: a time a Date cannot hold (the body parser refuses it) is shown as its milliseconds. */
export function targetText(target: OffsetTarget): string {
  if (target.kind !== 'timestamp') return target.kind;
  const date = new Date(target.ms);
  return Number.isNaN(date.getTime()) ? String(target.ms) : date.toISOString();
}

/**
 * Moves the subscription's consumer group to `target` on every partition. Refused while any member of the
 * group exists: the check comes first for a clear answer, and Kafka refuses the commit itself if a consumer
 * joined in between, so a running consumer's position is never overwritten. All partitions are written in one
 * commit request, so a refusal leaves every partition as it was.
 */
export async function resetOffsets(subscription: Subscription, admin: GroupOffsetsAdmin, target: OffsetTarget): Promise<ResetResult> {
  const { consumerGroup: group, topic } = subscription;
  const members = await kafkaCall(`describe consumer group ${group}`, () => admin.groupMembers(group));
  if (members > 0) throw running(subscription, `consumer group "${group}" has ${members} member(s)`);
  const [offsets, previous] = await kafkaCall(`read the offsets of ${topic}`, () =>
    Promise.all([admin.offsetsAt(topic, target), admin.committed(group, topic)]),
  );
  if (offsets.size === 0) throw new SidecarError('UNKNOWN_TOPIC', `topic "${topic}" does not exist`);
  // Computed before the commit: nothing after a commit may throw, or the group moves while the answer is an error.
  const to = targetText(target);
  try {
    await kafkaCall(`commit offsets of ${group}`, () => admin.setCommitted(group, topic, offsets));
  } catch (err) {
    if (err instanceof GroupActiveError) throw running(subscription, `a consumer joined group "${group}" during the reset; nothing was changed`);
    throw err;
  }
  return {
    subscription: subscription.name,
    topic,
    consumer_group: group,
    to,
    partitions: [...offsets]
      .sort(([a], [b]) => a - b)
      .map(([partition, offset]) => ({ partition, previous_offset: previous.get(partition)?.toString() ?? null, offset: offset.toString() })),
  };
}
