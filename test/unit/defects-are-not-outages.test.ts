import { describe, expect, it } from 'vitest';
import { DedupWindow } from '../../src/dedup/dedup-window.ts';
import type { DedupStore } from '../../src/dedup/dedup-store.ts';
import { SidecarError } from '../../src/errors/sidecar-error.ts';
import { StoreUnreachableError } from '../../src/errors/store-errors.ts';
import { PartitionWriter, type WriterMetrics } from '../../src/writer/partition-writer.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { ProduceService, type ProduceMetrics } from '../../src/produce/produce-service.ts';
import { OrderedMessageRouter } from '../../src/routing/router.ts';
import { FakeRouteStore, fakeRouterMetrics } from '../support/fake-route-store.ts';

/**
 * A programming error in a Redis path (here: a store that throws a TypeError) must surface as a defect
 * (the HTTP layer answers anything but a SidecarError with 500 INTERNAL): nothing written, never "without
 * dedup", and never taken for an outage that would switch routing to degraded mode.
 */

const PARTITIONS = 2;
const bug = () => new TypeError("Cannot read properties of undefined (reading 'partition')");

/** The dedup store in memory; `failure` makes a claim throw a defect or fail as an unreachable Redis would. */
class FakeDedupStore implements DedupStore {
  failure: 'defect' | 'unreachable' | undefined;

  async claim(_topic: string, ids: readonly string[]): ReturnType<DedupStore['claim']> {
    if (this.failure === 'defect') throw bug();
    if (this.failure === 'unreachable') throw new StoreUnreachableError('fake Redis out of reach', { outage: true });
    return { states: ids.map(() => ({ kind: 'claimed' as const })), sliceKey: 'slice' };
  }

  async renew(claims: readonly unknown[]): Promise<number> {
    return claims.length;
  }

  async settle(): Promise<void> {}
}

const counter = () => {
  const c = { value: 0, inc: (_labels?: unknown, n = 1) => void (c.value += n) };
  return c;
};

/** `holdKafka`: sends wait until `release()`; `logLines`: where info and above lines go. */
function setup({ holdKafka = false, logLines }: { holdKafka?: boolean; logLines?: string[] } = {}) {
  const routeStore = new FakeRouteStore();
  const dedupStore = new FakeDedupStore();
  const log = logLines ? createLogger('info', {}, (line) => void logLines.push(line)) : createLogger('error', {}, () => undefined);
  const held: (() => void)[] = [];
  const release = (): void => held.splice(0).forEach((resume) => resume());
  const routerMetrics = fakeRouterMetrics();
  const router = new OrderedMessageRouter(
    routeStore,
    async () => PARTITIONS,
    { routerBuckets: 16, routeCacheSize: 100, groupTtlMs: 3_600_000, touchFlushIntervalMs: 1000 },
    routerMetrics,
    log,
  );
  /** Every batch that reached "Kafka". */
  const sent: string[][] = [];
  let offset = 0n;
  const writerMetrics: WriterMetrics = {
    kafkaWriteDuration: { bind: () => ({ observe: () => undefined }) },
    kafkaBatchMessages: { observe: () => undefined },
    kafkaProduceRequests: { inc: () => undefined },
    messagesProduced: { bind: () => ({ inc: () => undefined }) },
    messagesFailed: counter(),
  };
  const writer = new PartitionWriter(
    {
      leaderOf: () => undefined,
      sendBatches: async (batches) => {
        if (holdKafka) await new Promise<void>((resume) => held.push(resume));
        return batches.map(({ messages }) => {
          sent.push(messages.map((m) => String(m.value)));
          const base = offset;
          offset += BigInt(messages.length);
          return { baseOffset: base };
        });
      },
    },
    { maxBatchMessages: 1000, maxBatchBytes: 1024 * 1024 },
    writerMetrics,
  );
  const metrics = {
    routingDuration: { observe: () => undefined },
    routingFailures: counter(),
    dedupUnavailable: counter(),
    deduplicated: counter(),
  } satisfies ProduceMetrics;
  const produce = new ProduceService({
    maxQueuedBytes: 1024 * 1024,
    router,
    partitionCount: async () => PARTITIONS,
    recheckTopic: () => undefined,
    routeLogTopic: undefined,
    writer,
    keyPartitioner: () => 0,
    metrics,
    limits: { maxGroupBytes: 128, maxDedupIdBytes: 128, maxMessageBytes: 1024 * 1024, maxMessagesPerRequest: 10_000 },
    dedup: new DedupWindow(dedupStore, { leaseMs: 15_000, pollMs: 10, maxWaitMs: 1000 }, log),
    log,
  });
  return { routeStore, dedupStore, router, sent, metrics, produce, writer, release };
}

describe('a programming error in the Redis paths', () => {
  it('in the dedup check is a defect and writes nothing (never "without dedup")', async () => {
    const { dedupStore, router, sent, metrics, produce } = setup();
    dedupStore.failure = 'defect';
    const err = await produce.ordered({ topic: 't', messages: [{ message_group: 'g', value: 'v', dedup_id: 'd-1' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(SidecarError);
    expect(sent).toEqual([]);
    expect(metrics.dedupUnavailable.value).toBe(0);
    expect(router.degraded).toBe(false);
  });

  it('while Redis out of reach in the dedup check writes without it, and says so (the contrast)', async () => {
    const { dedupStore, sent, metrics, produce } = setup();
    dedupStore.failure = 'unreachable';
    const response = await produce.ordered({ topic: 't', messages: [{ message_group: 'g', value: 'v', dedup_id: 'd-1' }] });
    expect(response).toMatchObject({ successful_messages: 1, dedup_unavailable: true });
    expect(sent).toEqual([['v']]);
    expect(metrics.dedupUnavailable.value).toBe(1);
  });

  it('in routing is a defect, writes nothing, and does not turn degraded mode on', async () => {
    const { routeStore, router, sent, metrics, produce } = setup();
    routeStore.failure = 'defect';
    const err = await produce.ordered({ topic: 't', messages: [{ message_group: 'fresh', value: 'v' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(SidecarError);
    expect(sent).toEqual([]);
    expect(metrics.routingFailures.value).toBe(0);
    expect(router.degraded).toBe(false);
  });
});

/** Awaits `pending`, releasing held Kafka sends each turn of the event loop until it settles. */
async function releasing<T>(pending: Promise<T>, release: () => void): Promise<T> {
  let settled = false;
  const done = pending.finally(() => (settled = true));
  while (!settled) {
    release();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return done;
}

describe('a full queue for Kafka (MAX_QUEUED_BYTES)', () => {
  it('refuses with a retriable 503 OVERLOADED and Retry-After, logged as one spell rather than an error line per request', async () => {
    const logLines: string[] = [];
    const { produce, writer, release, sent } = setup({ holdKafka: true, logLines });
    const big = (n: number) => ({ topic: 't', messages: [{ message_group: 'g', value: `${n}`.padEnd(600_000, 'x') }] });
    // The first batch goes out and hangs; the next two queue behind it, past the 1 MiB limit.
    const admitted = [produce.ordered(big(1)), produce.ordered(big(2)), produce.ordered(big(3))];
    await expect.poll(() => writer.queuedBytes).toBeGreaterThan(1024 * 1024);
    const refusals = await Promise.all([produce.ordered(big(4)), produce.ordered(big(5))].map((p) => p.catch((e: unknown) => e)));
    for (const err of refusals) expect(err).toMatchObject({ code: 'OVERLOADED', status: 503, retriable: true, retryAfterSeconds: 1, summarized: true });
    // Kafka answers: the held sends go one after another until every admitted request (and a new one) is written.
    await releasing(Promise.all(admitted), release);
    await releasing(produce.ordered({ topic: 't', messages: [{ message_group: 'g', value: 'small' }] }), release);
    expect(sent.map((batch) => batch.map((v) => v.slice(0, 5)))).toEqual([['1xxxx'], ['2xxxx'], ['3xxxx'], ['small']]);
    const spell = logLines
      .map((line) => JSON.parse(line) as { level: string; msg: string; refusedRequests?: number })
      .filter((l) => l.msg.includes('MAX_QUEUED_BYTES'));
    expect(spell).toMatchObject([
      { level: 'warn', msg: expect.stringContaining('refusing produce requests') },
      { level: 'info', msg: expect.stringContaining('accepting produce requests again'), refusedRequests: 2 },
    ]);
  });
});
