import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSidecar } from '../../../src/sidecar.ts';
import { useKafkaAdmin, createTopic } from '../../support/kafka.ts';
import { postJson } from '../../support/http.ts';
import { startTestSidecar } from '../../support/sidecar.ts';

const stack = (...args: string[]) => promisify(execFile)('bash', ['scripts/stack.sh', ...args], { timeout: 120_000 });

const { admin } = useKafkaAdmin();
let sidecar: RunningSidecar;

beforeAll(async () => {
  sidecar = await startTestSidecar();
});

afterAll(async () => {
  await sidecar?.close();
});

describe('a partition without a leader', () => {
  it('fails only that partition’s messages, as retriable partition_errors', async () => {
    // Replication 1: the partitions led by the killed broker have no other replica to take over.
    const topic = await createTopic(admin, 6, 1);
    const groups = Array.from({ length: 30 }, (_, i) => `account-${i}`);
    const first = await postJson(`${sidecar.url}/v1/ordered-produce`, { topic, messages: groups.map((g) => ({ message_group: g, value: 'opened' })) });
    expect(first.status).toBe(200);

    const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
    const orphaned = new Set(meta!.partitions.filter((p) => p.leader === 3).map((p) => p.partitionId));
    expect(orphaned.size, 'broker 3 leads some partitions').toBeGreaterThan(0);

    await stack('kill-broker', '3');
    try {
      const during = await postJson(`${sidecar.url}/v1/ordered-produce`, { topic, messages: groups.map((g) => ({ message_group: g, value: 'deposit' })) });
      expect(during.status).toBe(207);
      expect(new Set(during.body.partition_errors.map((e) => e.partition))).toEqual(orphaned);
      for (const error of during.body.partition_errors) expect(error.retriable).toBe(true);
      during.body.results.forEach((result, i) => {
        const partition = (first.body.results[i] as { partition: number }).partition;
        if (orphaned.has(partition)) expect(result).toMatchObject({ partition, error: expect.any(String) });
        else expect(result).toMatchObject({ partition, offset: expect.any(String) });
      });
    } finally {
      await stack('start-broker', '3');
    }
  });
});
