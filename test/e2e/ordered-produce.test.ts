import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_HEADER } from '../../src/protocol/group-header.ts';
import type { ProduceResponse } from '../../src/protocol/produce.ts';
import { useKafkaAdmin, consumeAll, createTopic, type ConsumedRecord } from '../support/kafka.ts';
import { postJson } from '../support/http.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';

const PARTITIONS = 6;
const GROUPS = 60;
const MESSAGES_PER_GROUP = 40;
const CLIENTS = 6;
const PER_REQUEST = 4;

const { kafka, admin } = useKafkaAdmin();
let sidecars: SidecarProcess[];

beforeAll(async () => {
  const options = testOptions();
  sidecars = await Promise.all([0, 1, 2].map(() => spawnSidecar(options)));
});

afterAll(async () => {
  const codes = await Promise.all((sidecars ?? []).map((s) => s.stop()));
  // A clean SIGTERM shutdown is part of the contract.
  expect(codes).toEqual(sidecars ? [0, 0, 0] : []);
});

/**
 * One application client: it owns some groups and sends each group's messages in order, several groups per
 * request, rotating over the three sidecars so every group is routed by more than one replica.
 */
async function runClient(
  client: number,
  topic: string,
): Promise<{ sent: Map<string, string[]>; responses: { request: { group: string; value: string }[]; response: ProduceResponse }[] }> {
  const groups = Array.from({ length: GROUPS }, (_, g) => `user-${g}`).filter((_, g) => g % CLIENTS === client);
  const sent = new Map(groups.map((g) => [g, [] as string[]]));
  const responses = [];
  let request = 0;
  for (let seq = 0; seq < MESSAGES_PER_GROUP; seq += PER_REQUEST) {
    const messages = groups.flatMap((group) =>
      Array.from({ length: PER_REQUEST }, (_, k) => ({ message_group: group, key: `k-${group}`, value: `${group}#${seq + k}` })),
    );
    const sidecar = sidecars[(client + request++) % sidecars.length]!;
    const { status, body } = await postJson(`${sidecar.url}/v1/ordered-produce`, { topic, messages });
    expect(status, JSON.stringify(body)).toBe(200);
    for (const m of messages) sent.get(m.message_group)!.push(m.value);
    responses.push({ request: messages.map((m) => ({ group: m.message_group, value: m.value })), response: body });
  }
  return { sent, responses };
}

describe('ordered produce through three sidecars sharing one Redis', () => {
  it('puts every group in one partition, in send order, none lost or duplicated, balanced', async () => {
    const topic = await createTopic(admin, PARTITIONS);
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, c) => runClient(c, topic)));

    const records: ConsumedRecord[] = await consumeAll(kafka, admin, topic);
    expect(records).toHaveLength(GROUPS * MESSAGES_PER_GROUP);

    const byGroup = new Map<string, ConsumedRecord[]>();
    for (const record of records) {
      const group = record.headers[GROUP_HEADER]!;
      expect(record.value!.startsWith(`${group}#`)).toBe(true);
      expect(record.key).toBe(`k-${group}`);
      byGroup.set(group, [...(byGroup.get(group) ?? []), record]);
    }
    expect(byGroup.size).toBe(GROUPS);

    const groupsPerPartition = new Array<number>(PARTITIONS).fill(0);
    for (const { sent } of clients) {
      for (const [group, values] of sent) {
        const stored = byGroup.get(group)!;
        const partitions = new Set(stored.map((r) => r.partition));
        expect(partitions.size, `${group} partitions`).toBe(1);
        groupsPerPartition[stored[0]!.partition]!++;
        const inOffsetOrder = [...stored].sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset))).map((r) => r.value);
        expect(inOffsetOrder, `${group} order`).toEqual(values);
      }
    }
    expect(Math.max(...groupsPerPartition) - Math.min(...groupsPerPartition)).toBeLessThanOrEqual(1);

    // Every per-message result names the partition and offset where the record really is.
    const located = new Map(records.map((r) => [`${r.partition}/${r.offset}`, r.value]));
    for (const { responses } of clients) {
      for (const { request, response } of responses) {
        expect(response.total_messages).toBe(request.length);
        expect(response.successful_messages).toBe(request.length);
        expect(response.partition_errors).toEqual([]);
        response.results.forEach((result, i) => {
          expect('offset' in result).toBe(true);
          if ('offset' in result) expect(located.get(`${result.partition}/${result.offset}`)).toBe(request[i]!.value);
        });
        const counted = response.partition_responses.reduce((n, p) => n + p.message_count, 0);
        expect(counted).toBe(request.length);
      }
    }
  });
});
