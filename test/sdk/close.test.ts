import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { Client, ClientClosedError } from '../../src/sdk/index.ts';
import { createTopic } from '../support/kafka.ts';
import { useSidecar } from '../support/fixture.ts';
import { freePort } from '../support/ports.ts';
import { DelayProxy } from './delay-proxy.ts';
import { recordingLogger } from './records.ts';

const fx = useSidecar();
const run = promisify(execFile);

/** Runs close-child.ts; resolves what it printed and how long the process lived. */
async function child(args: string[]): Promise<{ via: string; written: number; alive: string[]; sockets: number; ms: number }> {
  const started = Date.now();
  const { stdout } = await run(process.execPath, ['test/sdk/close-child.ts', ...args], { timeout: 30_000 });
  return { ...(JSON.parse(stdout) as { via: string; written: number; alive: string[]; sockets: number }), ms: Date.now() - started };
}

describe('Client.close()', () => {
  it('waits for the sends already made, then refuses new ones with ClientClosedError', async () => {
    const topic = await createTopic(fx.admin, 1);
    const proxy = await new DelayProxy({ target: fx.sidecar.url, delayMs: 500 }).start();
    const client = new Client({ url: proxy.url, logger: recordingLogger() });
    const producer = client.orderedProducer();
    await client.capabilities();

    const pending = producer.sendSingleOrderedMessage(topic, 'g', null, 'before close');
    let pendingSettled = false;
    void pending.finally(() => (pendingSettled = true));
    const closing = client.close();
    const after = await producer.sendSingleOrderedMessage(topic, 'g', null, 'after close').catch((e: unknown) => e);
    expect(after).toBeInstanceOf(ClientClosedError);
    expect(after).toMatchObject({ code: 'CLOSED', retriable: false });

    await closing;
    expect(pendingSettled).toBe(true);
    await expect(pending).resolves.toMatchObject({ successfulMessages: 1 });
    await expect(client.close()).resolves.toBeUndefined();
    await expect(client.mode()).resolves.toBe('sidecar');
    expect(proxy.posts).toBe(1);
    await proxy.close();
  });

  it('a client closed before its first send never asks the sidecar', async () => {
    const client = new Client({ url: fx.sidecar.url });
    await client.close();
    await expect(client.orderedProducer().sendSingleOrderedMessage('t', 'g', null, 'x')).rejects.toBeInstanceOf(ClientClosedError);
    await expect(client.capabilities()).rejects.toBeInstanceOf(ClientClosedError);
  });

  it('leaves no socket or timer behind: the process ends at once (sidecar path)', async () => {
    const topic = await createTopic(fx.admin, 1);
    const report = await child([fx.sidecar.url, topic]);
    expect(report).toMatchObject({ via: 'sidecar', written: 1, alive: [], sockets: 0 });
    expect(report.ms).toBeLessThan(10_000);
  });

  it('leaves no socket or timer behind: the process ends at once (Kafka fallback)', async () => {
    const topic = await createTopic(fx.admin, 1);
    const report = await child([`http://127.0.0.1:${await freePort()}`, topic, inject('kafkaBrokers').join(',')]);
    expect(report).toMatchObject({ via: 'kafka', written: 1, alive: [], sockets: 0 });
  });
});
