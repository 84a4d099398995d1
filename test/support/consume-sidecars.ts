import { Admin as PlatformaticAdmin } from '@platformatic/kafka';
import { AssignerProtocol, type Admin } from 'kafkajs';
import { expect, inject, onTestFailed, onTestFinished } from 'vitest';
import type { SubscriptionStatus } from '../../src/protocol/subscriptions.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from './sidecar.ts';

/**
 * Starts sidecar processes of one subscriptions file (so one consumer group), as replicas do, killed when the
 * test ends. A 6 s session (the broker's minimum) makes a killed replica's partitions move quickly; the
 * subscriptions' ack_timeouts must be below the session timeout given.
 */
export function consumeReplicas(path: string, flags: string[] = []): () => Promise<SidecarProcess> {
  const options = testOptions();
  const started: SidecarProcess[] = [];
  onTestFinished(async () => {
    await Promise.all(started.map((s) => s.stop('SIGKILL')));
  });
  // What each replica logged (assignments, blocks, admin calls applied) is what explains a failed scenario.
  onTestFailed(() => started.forEach((s, i) => console.log(`replica ${i + 1} of ${started.length} logged:\n${s.logs.join('\n')}`)));
  return async () => {
    const sidecar = await spawnSidecar(options, {
      flags: ['--subscriptions-file', path, '--consume-session-timeout', '6s', '--consume-commit-interval', '200ms', ...flags],
    });
    started.push(sidecar);
    return sidecar;
  };
}

/** The first subscription's status on `sidecar`. */
export const subscriptionStatus = async (sidecar: { url: string }): Promise<SubscriptionStatus> =>
  ((await (await fetch(`${sidecar.url}/v1/subscriptions`)).json()) as { subscriptions: SubscriptionStatus[] }).subscriptions[0]!;

/** Partitions `sidecar` was last assigned, from its log. */
export const assignedNow = (sidecar: SidecarProcess): number[] =>
  sidecar.logs
    .filter((l) => l.includes('"subscription assigned partitions"'))
    .map((l) => (JSON.parse(l) as { partitions: number[] }).partitions)
    .at(-1) ?? [];

/** POSTs an admin retry or skip of a blocked group; the response. */
export const unblock = (sidecar: { url: string }, subscription: string, action: 'retry' | 'skip', partition: number, group: string | null): Promise<Response> =>
  fetch(`${sidecar.url}/admin/v1/subscriptions/${subscription}/blocked/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ partition, message_group: group }),
  });

/**
 * Removes the member that owns `partition` of `topic` from `consumerGroup` with Kafka's admin call (as
 * kafka-consumer-groups.sh --delete-members does): the coordinator hands its partitions to the other members
 * at once, while the removed replica learns it only at its next heartbeat, its deliveries still running.
 */
export async function removeOwner(admin: Admin, consumerGroup: string, topic: string, partition: number): Promise<void> {
  const [group] = (await admin.describeGroups([consumerGroup])).groups;
  const owner = group?.members.find((m) => (AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? []).includes(partition));
  expect(owner, `a member of ${consumerGroup} owns partition ${partition}`).toBeDefined();
  const kafka = new PlatformaticAdmin({ clientId: 'ordered-sidecar-tests', bootstrapBrokers: inject('kafkaBrokers') });
  try {
    await kafka.removeMembersFromConsumerGroup({ groupId: consumerGroup, members: [{ memberId: owner!.memberId }] });
  } finally {
    await kafka.close();
  }
}
