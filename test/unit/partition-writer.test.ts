import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PartitionWriter, type BatchLimits, type BatchSender, type OutgoingRecord, type PartitionWriteResult } from '../../src/kafka/partition-writer.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';

/** One send the fake Kafka received; the test decides when and how it completes. */
interface SentBatch {
  topic: string;
  partition: number;
  values: string[];
  succeed: (baseOffset: string) => void;
  fail: (err: unknown) => void;
}

/** In-memory BatchSender: records every batch and tracks how many are in flight per partition. */
class FakeKafka {
  readonly sent: SentBatch[] = [];
  readonly #inFlight = new Map<string, number>();
  maxInFlightPerPartition = 0;
  maxInFlightTotal = 0;

  readonly send: BatchSender = (topic, partition, messages) =>
    new Promise<bigint>((resolve, reject) => {
      const id = `${topic}/${partition}`;
      const inFlight = (this.#inFlight.get(id) ?? 0) + 1;
      this.#inFlight.set(id, inFlight);
      this.maxInFlightPerPartition = Math.max(this.maxInFlightPerPartition, inFlight);
      this.maxInFlightTotal = Math.max(
        this.maxInFlightTotal,
        [...this.#inFlight.values()].reduce((a, b) => a + b, 0),
      );
      const done = (): void => {
        this.#inFlight.set(id, this.#inFlight.get(id)! - 1);
      };
      this.sent.push({
        topic,
        partition,
        values: messages.map((m) => String(m.value)),
        succeed: (baseOffset) => {
          done();
          resolve(BigInt(baseOffset));
        },
        fail: (err) => {
          done();
          reject(err);
        },
      });
    });

  to(topic: string, partition: number): SentBatch[] {
    return this.sent.filter((b) => b.topic === topic && b.partition === partition);
  }

  last(topic: string, partition: number): SentBatch {
    const batch = this.to(topic, partition).at(-1);
    if (!batch) throw new Error(`nothing sent to ${topic}/${partition}`);
    return batch;
  }
}

/** Lets queued promise callbacks and the writer's drain loop run. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const records = (...values: string[]): OutgoingRecord[] => values.map((value) => ({ message: { key: null, value, headers: {} }, bytes: 10 }));

/** Tracks a promise's outcome without awaiting it. */
function track<T>(promise: Promise<T>): { readonly value: T | undefined; readonly settled: boolean } {
  const state: { value: T | undefined; settled: boolean } = { value: undefined, settled: false };
  void promise.then((value) => {
    state.value = value;
    state.settled = true;
  });
  return state;
}

let kafka: FakeKafka;
let registry: Registry;
let metrics: SidecarMetrics;

const writer = (limits: Partial<BatchLimits> = {}): PartitionWriter =>
  new PartitionWriter(kafka.send, { maxBatchMessages: 1000, maxBatchBytes: 1024 * 1024, ...limits }, metrics);

async function metricValue(name: string, labels: Record<string, string> = {}, metricName = name): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];
  return values
    .filter((v) => (v.metricName ?? name) === metricName && Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((total, v) => total + v.value, 0);
}

beforeEach(() => {
  kafka = new FakeKafka();
  registry = new Registry();
  metrics = new SidecarMetrics(registry, { defaultMetrics: false });
});

describe('PartitionWriter ordering', () => {
  it('keeps at most one batch in flight per partition and coalesces queued writes in arrival order', async () => {
    const w = writer();
    const first = w.write('t', 0, records('a'), 'ordered');
    await tick();
    expect(kafka.sent).toHaveLength(1);

    const second = w.write('t', 0, records('b', 'c'), 'ordered');
    const third = w.write('t', 0, records('d'), 'ordered');
    await tick();
    expect(kafka.sent).toHaveLength(1);

    kafka.last('t', 0).succeed('0');
    await tick();
    expect(kafka.sent).toHaveLength(2);
    expect(kafka.last('t', 0).values).toEqual(['b', 'c', 'd']);

    kafka.last('t', 0).succeed('1');
    expect(await first).toEqual({ offsets: ['0'] });
    expect(await second).toEqual({ offsets: ['1', '2'] });
    expect(await third).toEqual({ offsets: ['3'] });
    expect(kafka.maxInFlightPerPartition).toBe(1);
  });

  it('sends to different partitions (and topics) in parallel', async () => {
    const w = writer();
    const results = [w.write('t', 0, records('a'), 'ordered'), w.write('t', 1, records('b'), 'ordered'), w.write('u', 0, records('c'), 'plain')];
    await tick();
    expect(kafka.sent.map((b) => `${b.topic}/${b.partition}`)).toEqual(['t/0', 't/1', 'u/0']);
    expect(kafka.maxInFlightTotal).toBe(3);
    kafka.sent.forEach((batch, i) => batch.succeed(String(i * 100)));
    expect(await Promise.all(results)).toEqual([{ offsets: ['0'] }, { offsets: ['100'] }, { offsets: ['200'] }]);
  });

  it('assigns offsets sequentially from the batch base offset, beyond 2^53 without loss', async () => {
    const w = writer();
    const blocker = w.write('t', 0, records('x'), 'ordered');
    await tick();
    const a = w.write('t', 0, records('a1', 'a2'), 'ordered');
    const b = w.write('t', 0, records('b1', 'b2', 'b3'), 'ordered');
    kafka.last('t', 0).succeed('5');
    await tick();
    kafka.last('t', 0).succeed('9007199254740993');
    expect(await blocker).toEqual({ offsets: ['5'] });
    expect(await a).toEqual({ offsets: ['9007199254740993', '9007199254740994'] });
    expect(await b).toEqual({ offsets: ['9007199254740995', '9007199254740996', '9007199254740997'] });
  });

  it('resolves an empty write at once without sending', async () => {
    expect(await writer().write('t', 0, [], 'ordered')).toEqual({ offsets: [] });
    expect(kafka.sent).toHaveLength(0);
  });
});

describe('PartitionWriter batch limits', () => {
  it('splits a write over maxBatchMessages into chunks sent one after another', async () => {
    const w = writer({ maxBatchMessages: 2 });
    const result = w.write('t', 0, records('a', 'b', 'c', 'd', 'e'), 'ordered');
    for (const base of ['10', '12', '14']) {
      await tick();
      kafka.last('t', 0).succeed(base);
    }
    expect(kafka.sent.map((b) => b.values)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(await result).toEqual({ offsets: ['10', '11', '12', '13', '14'] });
    expect(kafka.maxInFlightPerPartition).toBe(1);
  });

  it('splits a write over maxBatchBytes', async () => {
    const w = writer({ maxBatchBytes: 1024 });
    const big = ['a', 'b', 'c'].map((value) => ({ message: { key: null, value, headers: {} }, bytes: 400 }));
    const result = w.write('t', 0, big, 'ordered');
    await tick();
    expect(kafka.last('t', 0).values).toEqual(['a', 'b']);
    kafka.last('t', 0).succeed('0');
    await tick();
    expect(kafka.last('t', 0).values).toEqual(['c']);
    kafka.last('t', 0).succeed('2');
    expect(await result).toEqual({ offsets: ['0', '1', '2'] });
  });

  it('sends a single record larger than maxBatchBytes on its own (Kafka decides)', async () => {
    const w = writer({ maxBatchBytes: 1024 });
    const result = w.write('t', 0, [{ message: { key: null, value: 'huge', headers: {} }, bytes: 5000 }], 'ordered');
    await tick();
    expect(kafka.last('t', 0).values).toEqual(['huge']);
    kafka.last('t', 0).succeed('0');
    expect(await result).toEqual({ offsets: ['0'] });
  });

  it('does not coalesce queued writes beyond the batch limits', async () => {
    const w = writer({ maxBatchMessages: 3 });
    void w.write('t', 0, records('x'), 'ordered');
    await tick();
    void w.write('t', 0, records('a', 'b'), 'ordered');
    void w.write('t', 0, records('c', 'd'), 'ordered');
    kafka.last('t', 0).succeed('0');
    await tick();
    expect(kafka.last('t', 0).values).toEqual(['a', 'b']);
  });

  it('reports the acknowledged prefix and an error when a later chunk fails', async () => {
    const w = writer({ maxBatchMessages: 2 });
    const result = w.write('t', 0, records('a', 'b', 'c', 'd', 'e'), 'ordered');
    await tick();
    kafka.last('t', 0).succeed('0');
    await tick();
    kafka.last('t', 0).fail(new Error('broker went away'));
    const { offsets, error } = await result;
    expect(offsets).toEqual(['0', '1']);
    expect(error?.code).toBe('KAFKA_WRITE_FAILED');
    expect(error?.retriable).toBe(true);
    await tick();
    expect(kafka.sent).toHaveLength(2); // the third chunk is never sent
  });
});

describe('PartitionWriter failures', () => {
  it('fails every write queued behind a failed batch on that partition, without sending them', async () => {
    const w = writer();
    const a = w.write('t', 0, records('a'), 'ordered');
    const other = w.write('t', 1, records('z'), 'ordered');
    await tick();
    const b = w.write('t', 0, records('b'), 'ordered');
    const c = w.write('t', 0, records('c1', 'c2'), 'ordered');

    kafka.last('t', 0).fail(new Error('timeout'));
    const failed: PartitionWriteResult[] = await Promise.all([a, b, c]);
    for (const result of failed) {
      expect(result.offsets).toEqual([]);
      expect(result.error?.code).toBe('KAFKA_WRITE_FAILED');
    }
    expect(kafka.to('t', 0)).toHaveLength(1);

    // The other partition is unaffected.
    kafka.last('t', 1).succeed('42');
    expect(await other).toEqual({ offsets: ['42'] });
  });

  it('sends new writes normally after a failure', async () => {
    const w = writer();
    const a = w.write('t', 0, records('a'), 'ordered');
    await tick();
    kafka.last('t', 0).fail(new Error('timeout'));
    expect((await a).error).toBeDefined();

    const b = w.write('t', 0, records('b'), 'ordered');
    await tick();
    expect(kafka.last('t', 0).values).toEqual(['b']);
    kafka.last('t', 0).succeed('7');
    expect(await b).toEqual({ offsets: ['7'] });
  });

  it('maps a broker rejection of the records to non-retriable KAFKA_REJECTED', async () => {
    const w = writer();
    const a = w.write('t', 0, records('a'), 'ordered');
    await tick();
    kafka.last('t', 0).fail(Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' }));
    const { error } = await a;
    expect(error?.code).toBe('KAFKA_REJECTED');
    expect(error?.retriable).toBe(false);
  });

  it('fails writes queued behind a rejected batch as retriable: they were never attempted', async () => {
    const w = writer();
    const big = w.write('t', 0, records('too-big'), 'ordered');
    await tick();
    const innocent = w.write('t', 0, records('small'), 'ordered');
    kafka.last('t', 0).fail(Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' }));
    expect((await big).error).toMatchObject({ code: 'KAFKA_REJECTED', retriable: false });
    expect((await innocent).error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect((await innocent).error?.message).toContain('not attempted');
  });

  it('fails, unsent and retriable, writes that waited in the queue longer than maxQueueWaitMs', async () => {
    // The writer measures queue time with performance.now: a fake one moves past the limit without waiting.
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const w = writer({ maxQueueWaitMs: 20 });
      const a = w.write('t', 0, records('a'), 'ordered');
      await tick();
      const b = w.write('t', 0, records('b'), 'ordered');
      const c = w.write('t', 0, records('c'), 'ordered');
      vi.advanceTimersByTime(21);
      kafka.last('t', 0).succeed('0');
      expect(await a).toEqual({ offsets: ['0'] });
      for (const late of [await b, await c]) {
        expect(late.error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
        expect(late.error?.message).toContain('not attempted');
      }
      expect(kafka.to('t', 0)).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('never rejects, even when the sender throws synchronously', async () => {
    const w = new PartitionWriter(
      () => {
        throw new Error('producer is closed');
      },
      { maxBatchMessages: 10, maxBatchBytes: 1024 },
      metrics,
    );
    const { offsets, error } = await w.write('t', 0, records('a'), 'plain');
    expect(offsets).toEqual([]);
    expect(error?.message).toContain('producer is closed');
  });
});

describe('PartitionWriter.idle', () => {
  it('resolves at once when nothing is queued', async () => {
    await expect(writer().idle()).resolves.toBeUndefined();
  });

  it('resolves only when every partition queue is drained', async () => {
    const w = writer();
    void w.write('t', 0, records('a'), 'ordered');
    void w.write('t', 1, records('b'), 'ordered');
    await tick();
    void w.write('t', 0, records('c'), 'ordered');
    const idle = track(w.idle());

    kafka.last('t', 0).succeed('0');
    await tick();
    expect(idle.settled).toBe(false); // t/0 still has "c" in flight, t/1 has "b"

    kafka.last('t', 0).succeed('1');
    await tick();
    expect(idle.settled).toBe(false); // t/1 still in flight

    kafka.last('t', 1).fail(new Error('x'));
    await tick();
    expect(idle.settled).toBe(true);
  });
});

describe('PartitionWriter metrics', () => {
  it('counts produced messages by topic and mode, and batch sizes', async () => {
    const w = writer();
    const a = w.write('t', 0, records('a', 'b', 'c'), 'ordered');
    const b = w.write('t', 1, records('d'), 'plain');
    await tick();
    kafka.last('t', 0).succeed('0');
    kafka.last('t', 1).succeed('0');
    await Promise.all([a, b]);
    expect(await metricValue('ordered_sidecar_messages_produced_total', { topic: 't', mode: 'ordered' })).toBe(3);
    expect(await metricValue('ordered_sidecar_messages_produced_total', { topic: 't', mode: 'plain' })).toBe(1);
    expect(await metricValue('ordered_sidecar_kafka_batch_messages', {}, 'ordered_sidecar_kafka_batch_messages_count')).toBe(2);
    expect(await metricValue('ordered_sidecar_kafka_batch_messages', {}, 'ordered_sidecar_kafka_batch_messages_sum')).toBe(4);
    expect(await metricValue('ordered_sidecar_kafka_write_duration_seconds', { topic: 't' }, 'ordered_sidecar_kafka_write_duration_seconds_count')).toBe(2);
  });

  it('counts failed messages by reason, including those failed behind the batch', async () => {
    const w = writer();
    const a = w.write('t', 0, records('a'), 'ordered');
    await tick();
    const b = w.write('t', 0, records('b', 'c'), 'ordered');
    kafka.last('t', 0).fail(new Error('timeout'));
    await Promise.all([a, b]);
    expect(await metricValue('ordered_sidecar_messages_failed_total', { topic: 't', reason: 'KAFKA_WRITE_FAILED' })).toBe(3);
    expect(await metricValue('ordered_sidecar_messages_produced_total')).toBe(0);
  });
});

describe('PartitionWriter memory accounting', () => {
  it('counts bytes from acceptance until each chunk is acknowledged or failed', async () => {
    const w = writer();
    const ok = w.write('t', 0, records('a', 'b'), 'ordered');
    const queued = w.write('t', 0, records('c'), 'ordered');
    const other = w.write('t', 1, records('d'), 'ordered');
    expect(w.queuedBytes).toBe(40);
    await tick();
    kafka.last('t', 0).succeed('0');
    await ok;
    await tick();
    expect(w.queuedBytes).toBe(20);
    kafka.last('t', 0).fail(new Error('broker gone'));
    await queued;
    expect(w.queuedBytes).toBe(10);
    kafka.last('t', 1).succeed('5');
    await other;
    expect(w.queuedBytes).toBe(0);
  });
});
