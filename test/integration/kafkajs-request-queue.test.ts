import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const FIX = fileURLToPath(new URL('../../src/kafka/kafkajs-request-queue.ts', import.meta.url));
const IDLE_MS = 500;

/**
 * A process of its own per case (Node prints a TimeoutNegativeWarning once per process): a kafkajs admin asks
 * the broker one thing, then sits idle; the child counts the timers created while it is idle, and the warnings.
 */
const child = (withFix: boolean): string => `
${withFix ? `import { stopKafkajsIdleChecks } from ${JSON.stringify(FIX)}; stopKafkajsIdleChecks();` : ''}
import { createHook } from 'node:async_hooks';
import { Kafka, logLevel } from 'kafkajs';
const warnings = [];
process.on('warning', (w) => warnings.push(w.name));
const admin = new Kafka({ clientId: 'request-queue-check', brokers: process.argv[1].split(','), logLevel: logLevel.NOTHING }).admin();
await admin.connect();
const answered = Array.isArray(await admin.listTopics());
let timers = 0;
const hook = createHook({ init: (_id, type) => { if (type === 'Timeout') timers++; } }).enable();
await new Promise((resolve) => setTimeout(resolve, ${IDLE_MS}));
hook.disable();
await admin.disconnect();
process.stdout.write(JSON.stringify({ answered, idleTimers: timers - 1, warnings }));
`;

const runChild = async (withFix: boolean): Promise<{ answered: boolean; idleTimers: number; warnings: string[] }> => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', child(withFix), inject('kafkaBrokers').join(',')], { timeout: 30_000 });
  return JSON.parse(stdout) as { answered: boolean; idleTimers: number; warnings: string[] };
};

describe("kafkajs's request queue", () => {
  it('with the fix, an idle connection sets no timers and prints no TimeoutNegativeWarning', async () => {
    expect(await runChild(true)).toEqual({ answered: true, idleTimers: 0, warnings: [] });
  });

  it('without it, kafkajs 2.2.4 re-checks its empty queue every millisecond (the day it stops, the fix can go)', async () => {
    const unfixed = await runChild(false);
    expect(unfixed).toMatchObject({ answered: true, warnings: ['TimeoutNegativeWarning'] });
    // A 1 ms timer chain over 500 ms: hundreds on a quiet machine, and well over 50 on a busy one.
    expect(unfixed.idleTimers).toBeGreaterThan(50);
  });
});
