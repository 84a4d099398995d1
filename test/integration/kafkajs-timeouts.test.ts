import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);

/**
 * Node prints a TimeoutNegativeWarning once per process, so a process of its own shows whether kafkajs
 * still passes a negative delay to setTimeout (tulios/kafkajs#1751; clamped by scripts/patch-kafkajs.mjs).
 */
const CHILD = `
import { Kafka, logLevel } from 'kafkajs';
const warnings = [];
process.on('warning', (w) => warnings.push(w.name));
const admin = new Kafka({ clientId: 'timeout-check', brokers: process.argv[1].split(','), logLevel: logLevel.NOTHING }).admin();
await admin.connect();
const topics = await admin.listTopics();
await admin.disconnect();
// Warnings are emitted on the next tick after the setTimeout call that caused them.
await new Promise((resolve) => setImmediate(resolve));
process.stdout.write(JSON.stringify({ answered: Array.isArray(topics), warnings }));
`;

describe('kafkajs timers', () => {
  it('pass no negative delay to setTimeout: a process talking to Kafka gets no TimeoutNegativeWarning', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD, inject('kafkaBrokers').join(',')], { timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ answered: true, warnings: [] });
  });
});
