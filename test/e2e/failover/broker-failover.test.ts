import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import type { RunningSidecar } from '../../../src/sidecar.ts';
import { connectAdmin, consumeAll, createTopic, testKafka } from '../../support/kafka.ts';
import { postJson } from '../../support/http.ts';
import { startTestSidecar } from '../../support/sidecar.ts';

const run = promisify(execFile);
const stack = (...args: string[]) => run('bash', ['scripts/stack.sh', ...args], { timeout: 120_000 });

const GROUPS = 24;
const ROUNDS = 60;

let kafka: Kafka;
let admin: Admin;
let sidecar: RunningSidecar;

beforeAll(async () => {
  expect(inject('kafkaBrokers').length, 'the failover suite needs `stack.sh up --kafka-nodes 3`').toBeGreaterThanOrEqual(3);
  kafka = testKafka();
  admin = await connectAdmin(kafka);
  sidecar = await startTestSidecar();
});

afterAll(async () => {
  await sidecar?.close();
  await admin?.disconnect();
});

/** Sends one round for some groups, retrying until Kafka has all of it; dedup_ids make retries exactly-once. */
async function sendRound(topic: string, round: number, groups: string[]): Promise<number> {
  const body = { topic, messages: groups.map((g) => ({ message_group: g, value: `${g}#${round}`, dedup_id: `${g}#${round}` })) };
  for (let attempt = 1; attempt <= 60; attempt++) {
    const { status } = await postJson(`${sidecar.url}/v1/ordered-produce`, body).catch(() => ({ status: 0 }));
    if (status === 200) return attempt;
    await sleep(500);
  }
  throw new Error(`round ${round} not written after 60 attempts`);
}

describe('a Kafka broker crash under load', () => {
  it('loses nothing, duplicates nothing and keeps every group in order and in one partition', async () => {
    const topic = await createTopic(admin, 6, 3);
    const groups = Array.from({ length: GROUPS }, (_, g) => `player-${g}`);
    const clients = [groups.slice(0, GROUPS / 2), groups.slice(GROUPS / 2)];
    let retried = 0;
    const stream = Promise.all(
      clients.map(async (mine) => {
        for (let round = 0; round < ROUNDS; round++) {
          retried += (await sendRound(topic, round, mine)) - 1;
          await sleep(50);
        }
      }),
    );
    await sleep(1500);
    await stack('kill-broker', '2');
    await sleep(12_000);
    await stack('start-broker', '2');
    await stream;

    const records = await consumeAll(kafka, admin, topic, 120_000);
    expect(records).toHaveLength(GROUPS * ROUNDS);
    for (const group of groups) {
      const mine = records.filter((r) => r.headers['message-group'] === group);
      expect(new Set(mine.map((r) => r.partition)).size, group).toBe(1);
      const values = mine.sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset))).map((r) => r.value);
      expect(values, group).toEqual(Array.from({ length: ROUNDS }, (_, round) => `${group}#${round}`));
    }
    console.log(`failover: ${records.length} records verified; ${retried} request retries during the crash`);
  });
});
