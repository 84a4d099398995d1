import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { GroupActiveError } from '../../src/consume/group-offsets-admin.ts';
import { PlatformaticGroupAdmin } from '../../src/kafka/consumer/platformatic-group-admin.ts';
import { waitFor } from '../support/delivery-endpoint.ts';
import { useKafkaAdmin, createTopic, testConnection, testKafka } from '../support/kafka.ts';

const { admin: adminClient } = useKafkaAdmin();

describe('the group-offsets adapter against real Kafka', () => {
  it('commits offsets for a group without members, and Kafka itself refuses them (GroupActiveError, nothing written) while one exists', async () => {
    const topic = await createTopic(adminClient, 2);
    const groupId = `cg-${randomUUID().slice(0, 8)}`;
    const offsets = new PlatformaticGroupAdmin(testConnection('group-offsets-test'));
    onTestFinished(() => offsets.close());

    expect(await offsets.groupMembers(groupId)).toBe(0);
    await offsets.setCommitted(
      groupId,
      topic,
      new Map([
        [0, 0n],
        [1, 0n],
      ]),
    );
    expect(await offsets.committed(groupId, topic)).toEqual(
      new Map([
        [0, 0n],
        [1, 0n],
      ]),
    );

    const member = testKafka().consumer({ groupId });
    await member.connect();
    onTestFinished(() => member.disconnect());
    await member.subscribe({ topic });
    let joined = false;
    member.on(member.events.GROUP_JOIN, () => (joined = true));
    await member.run({ autoCommit: false, eachMessage: async () => undefined });
    await waitFor(
      () => 'the member joined',
      () => joined,
    );
    expect(await offsets.groupMembers(groupId)).toBe(1);
    // The adapter's own check is skipped here: the broker's refusal is what makes a reset safe against a racing start.
    await expect(
      offsets.setCommitted(
        groupId,
        topic,
        new Map([
          [0, 0n],
          [1, 0n],
        ]),
      ),
    ).rejects.toBeInstanceOf(GroupActiveError);
    expect(await offsets.committed(groupId, topic)).toEqual(
      new Map([
        [0, 0n],
        [1, 0n],
      ]),
    );
  });
});
