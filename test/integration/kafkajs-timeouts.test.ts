import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';

const run = promisify(execFile);
const FIX = fileURLToPath(new URL('../../src/kafka/kafkajs-timer-warning.ts', import.meta.url));

/**
 * Node prints a TimeoutNegativeWarning once per process (the first negative delay only), so each case runs in a
 * process of its own: kafkajs's negative delay (tulios/kafkajs#1751) with and without the sidecar's filter,
 * and another module's negative delay with the filter installed.
 */
const child = (withFix: boolean, delayFrom: 'kafkajs' | 'other code'): string => `
${withFix ? `import { dropKafkajsNegativeTimeoutWarning } from ${JSON.stringify(FIX)}; dropKafkajsNegativeTimeoutWarning();` : ''}
import { Kafka, logLevel } from 'kafkajs';
const warnings = [];
process.on('warning', (w) => warnings.push(w.name));
let answered = false;
if (${JSON.stringify(delayFrom)} === 'kafkajs') {
  const admin = new Kafka({ clientId: 'timeout-check', brokers: process.argv[1].split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  answered = Array.isArray(await admin.listTopics());
  await admin.disconnect();
} else {
  setTimeout(() => undefined, -5);
}
// Warnings are emitted on the next tick after the setTimeout call that caused them.
await new Promise((resolve) => setImmediate(resolve));
process.stdout.write(JSON.stringify({ answered, warnings }));
`;

const runChild = async (withFix: boolean, delayFrom: 'kafkajs' | 'other code'): Promise<unknown> => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', child(withFix, delayFrom), inject('kafkaBrokers').join(',')], {
    timeout: 30_000,
  });
  return JSON.parse(stdout);
};

describe('kafkajs timers', () => {
  it("kafkajs's negative delay prints no TimeoutNegativeWarning with the sidecar's filter", async () => {
    expect(await runChild(true, 'kafkajs')).toEqual({ answered: true, warnings: [] });
  });

  it("another module's negative delay still warns with the filter installed", async () => {
    expect(await runChild(true, 'other code')).toEqual({ answered: false, warnings: ['TimeoutNegativeWarning'] });
  });

  it('without the filter kafkajs 2.2.4 prints it (the day it stops, the filter can go)', async () => {
    expect(await runChild(false, 'kafkajs')).toEqual({ answered: true, warnings: ['TimeoutNegativeWarning'] });
  });
});
