import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { SidecarError } from '../../src/errors/sidecar-error.ts';
import { SidecarMetrics } from '../../src/metrics/sidecar-metrics.ts';
import { PartitionWriter, type BatchLimits, type OutgoingRecord, type PartitionWriteResult } from '../../src/writer/partition-writer.ts';
import type { BatchOutcome, BatchSendPort, PartitionBatch } from '../../src/writer/send-port.ts';
import { fakeClock } from '../support/fake-clock.ts';

/** One partition's batch that the fake Kafka received; the test decides when and how it completes. */
interface SentBatch {
  topic: string;
  partition: number;
  values: string[];
  /** Index of the request that carried it. */
  request: number;
  succeed: (baseOffset: string) => void;
  /** A plain Error stands for an unknown outcome (the engine's mapping); a SidecarError is passed as is. */
  fail: (err: Error) => void;
}

/** In-memory BatchSendPort: records every request and tracks in-flight batches per partition and requests per broker. */
class FakeKafka implements BatchSendPort {
  readonly sent: SentBatch[] = [];
  /** Partitions per request, as `topic/partition`. */
  readonly requests: string[][] = [];
  /** `topic/partition` -> broker; unlisted partitions have no known leader (a request of their own). */
  readonly leaders = new Map<string, number>();
  readonly #inFlight = new Map<string, number>();
  readonly #brokerRequests = new Map<number, number>();
  maxInFlightPerPartition = 0;
  maxInFlightTotal = 0;
  maxRequestsPerBroker = 0;

  leaderOf(topic: string, partition: number): number | undefined {
    return this.leaders.get(`${topic}/${partition}`);
  }

  sendBatches(batches: readonly PartitionBatch[]): Promise<BatchOutcome[]> {
    const request = this.requests.length;
    this.requests.push(batches.map((b) => `${b.topic}/${b.partition}`));
    const broker = this.leaderOf(batches[0]!.topic, batches[0]!.partition);
    if (broker !== undefined) {
      const open = (this.#brokerRequests.get(broker) ?? 0) + 1;
      this.#brokerRequests.set(broker, open);
      this.maxRequestsPerBroker = Math.max(this.maxRequestsPerBroker, open);
    }
    return new Promise<BatchOutcome[]>((resolve) => {
      const outcomes: (BatchOutcome | undefined)[] = batches.map(() => undefined);
      const settle = (i: number, outcome: BatchOutcome, id: string): void => {
        this.#inFlight.set(id, this.#inFlight.get(id)! - 1);
        outcomes[i] = outcome;
        if (outcomes.every((o) => o !== undefined)) {
          if (broker !== undefined) this.#brokerRequests.set(broker, this.#brokerRequests.get(broker)! - 1);
          resolve(outcomes as BatchOutcome[]);
        }
      };
      batches.forEach(({ topic, partition, messages }, i) => {
        const id = `${topic}/${partition}`;
        const inFlight = (this.#inFlight.get(id) ?? 0) + 1;
        this.#inFlight.set(id, inFlight);
        this.maxInFlightPerPartition = Math.max(this.maxInFlightPerPartition, inFlight);
        this.maxInFlightTotal = Math.max(
          this.maxInFlightTotal,
          [...this.#inFlight.values()].reduce((a, b) => a + b, 0),
        );
        this.sent.push({
          topic,
          partition,
          request,
          values: messages.map((m) => String(m.value)),
          succeed: (baseOffset) => settle(i, { baseOffset: BigInt(baseOffset) }, id),
          fail: (err) => settle(i, { error: err instanceof SidecarError ? err : new SidecarError('KAFKA_WRITE_FAILED', err.message, { cause: err }) }, id),
        });
      });
    });
  }

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

/** The writer's queue-wait deadline reads it. */
let clock = fakeClock();

const writer = (limits: Partial<BatchLimits> = {}): PartitionWriter =>
  new PartitionWriter(kafka, { maxBatchMessages: 1000, maxBatchBytes: 1024 * 1024, ...limits }, metrics, clock.now);

async function metricValue(name: string, labels: Record<string, string> = {}, metricName = name): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];
  return values
    .filter((v) => (v.metricName ?? name) === metricName && Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((total, v) => total + v.value, 0);
}

beforeEach(() => {
  clock = fakeClock();
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

  it('assigns exact offsets to a batch that starts below 2^53 and ends above it', async () => {
    const w = writer();
    const a = w.write('t', 0, records('a1', 'a2', 'a3', 'a4'), 'ordered');
    await tick();
    kafka.last('t', 0).succeed('9007199254740990');
    expect(await a).toEqual({ offsets: ['9007199254740990', '9007199254740991', '9007199254740992', '9007199254740993'] });
  });

  it('resolves an empty write at once without sending', async () => {
    expect(await writer().write('t', 0, [], 'ordered')).toEqual({ offsets: [] });
    expect(kafka.sent).toHaveLength(0);
  });
});

/** Puts `topic`/0..count-1 on `broker` (as the engine's leaderOf would say). */
function lead(broker: number, topic: string, ...partitions: number[]): void {
  for (const partition of partitions) kafka.leaders.set(`${topic}/${partition}`, broker);
}

describe('PartitionWriter per broker', () => {
  it('puts the ready batch of every partition a broker leads, across topics, in one request', async () => {
    lead(1, 't', 0, 1, 2);
    lead(1, 'u', 0);
    lead(2, 't', 3);
    const w = writer();
    const results = [0, 1, 2, 3].map((p) => w.write('t', p, records(`t${p}`), 'ordered'));
    results.push(w.write('u', 0, records('u0'), 'plain'));
    await tick();
    expect(kafka.requests).toEqual([['t/0', 't/1', 't/2', 'u/0'], ['t/3']]);
    kafka.sent.forEach((batch, i) => batch.succeed(String(i)));
    expect(await Promise.all(results)).toEqual([0, 1, 2, 4, 3].map((o) => ({ offsets: [String(o)] })));
    expect(await metricValue('ordered_sidecar_kafka_produce_requests_total')).toBe(2);
  });

  it('keeps one request in flight per broker and sends what gathered meanwhile in the next one', async () => {
    lead(1, 't', 0, 1, 2);
    const w = writer();
    const first = w.write('t', 0, records('a'), 'ordered');
    await tick();
    // t/1 has nothing in flight, but its broker does: it waits for that request, then goes with t/0's next.
    const later = [w.write('t', 1, records('b'), 'ordered'), w.write('t', 0, records('c'), 'ordered'), w.write('t', 2, records('d'), 'ordered')];
    await tick();
    expect(kafka.requests).toEqual([['t/0']]);
    kafka.last('t', 0).succeed('0');
    await tick();
    expect(kafka.requests.map((r) => [...r].sort())).toEqual([['t/0'], ['t/0', 't/1', 't/2']]);
    kafka.sent.slice(1).forEach((batch) => batch.succeed('1'));
    expect(await first).toEqual({ offsets: ['0'] });
    expect(await Promise.all(later)).toEqual([{ offsets: ['1'] }, { offsets: ['1'] }, { offsets: ['1'] }]);
    expect(kafka.maxRequestsPerBroker).toBe(1);
    expect(kafka.maxInFlightPerPartition).toBe(1);
  });

  it('fails a partition alone inside a shared request: the others are acknowledged with their offsets and never resent', async () => {
    lead(1, 't', 0, 1);
    lead(1, 'u', 0);
    const w = writer();
    const failing = w.write('t', 0, records('a'), 'ordered');
    const written = w.write('t', 1, records('b'), 'ordered');
    const otherTopic = w.write('u', 0, records('c'), 'ordered');
    await tick();
    expect(kafka.requests).toEqual([['t/0', 't/1', 'u/0']]);
    // Queued behind the shared request on each partition.
    const behindFailed = w.write('t', 0, records('a2'), 'ordered');
    const behindWritten = w.write('t', 1, records('b2'), 'ordered');
    kafka.last('t', 0).fail(new SidecarError('KAFKA_WRITE_FAILED', 'writing to t/0: NOT_ENOUGH_REPLICAS'));
    kafka.last('t', 1).succeed('10');
    kafka.last('u', 0).succeed('20');

    expect(await failing).toMatchObject({ offsets: [], error: { code: 'KAFKA_WRITE_FAILED', retriable: true } });
    expect(await written).toEqual({ offsets: ['10'] });
    expect(await otherTopic).toEqual({ offsets: ['20'] });
    // Order behind the failure: t/0's next write fails unsent; t/1's goes out in the next request.
    const behind = await behindFailed;
    expect(behind.error?.message).toContain('not attempted');
    await tick();
    expect(kafka.requests).toEqual([['t/0', 't/1', 'u/0'], ['t/1']]);
    expect(kafka.last('t', 1).values).toEqual(['b2']);
    kafka.last('t', 1).succeed('11');
    expect(await behindWritten).toEqual({ offsets: ['11'] });
    // Nothing written beside the failure was sent twice.
    expect(kafka.sent.flatMap((b) => b.values).filter((v) => v === 'b' || v === 'c')).toEqual(['b', 'c']);
    expect(kafka.to('t', 0)).toHaveLength(1);
  });

  it('asks the leader again for each request, so a partition whose leader moved goes to its new broker', async () => {
    lead(1, 't', 0, 1);
    const w = writer();
    const first = [w.write('t', 0, records('a'), 'ordered'), w.write('t', 1, records('b'), 'ordered')];
    await tick();
    kafka.sent.forEach((batch) => batch.fail(new Error('connection closed')));
    await Promise.all(first);
    lead(2, 't', 1);
    const second = [w.write('t', 0, records('a'), 'ordered'), w.write('t', 1, records('b'), 'ordered')];
    await tick();
    expect(kafka.requests.slice(1)).toEqual([['t/0'], ['t/1']]);
    kafka.sent.slice(2).forEach((batch) => batch.succeed('0'));
    expect(await Promise.all(second)).toEqual([{ offsets: ['0'] }, { offsets: ['0'] }]);
  });

  it('fails, unsent, writes that waited past the deadline behind their broker’s slow request', async () => {
    lead(1, 't', 0, 1);
    const w = writer({ maxQueueWaitMs: 1000 });
    const slow = w.write('t', 0, records('a'), 'ordered');
    await tick();
    const waiting = w.write('t', 1, records('b'), 'ordered');
    clock.ms += 1001;
    kafka.last('t', 0).succeed('0');
    expect(await slow).toEqual({ offsets: ['0'] });
    expect((await waiting).error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect(kafka.requests).toEqual([['t/0']]);
    await expect(w.idle()).resolves.toBeUndefined();
  });
});

describe('PartitionWriter linger', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    return () => vi.useRealTimers();
  });
  /** Moves the writer's clock and its timers together. */
  const advance = (ms: number): void => {
    clock.ms += ms;
    vi.advanceTimersByTime(ms);
  };

  it('holds a free broker’s request for lingerMs from its oldest write, so later writes of its partitions join it', async () => {
    lead(1, 't', 0, 1);
    lead(2, 't', 2);
    const w = writer({ lingerMs: 5 });
    const first = w.write('t', 0, records('a'), 'ordered');
    await tick();
    advance(3);
    const joining = [w.write('t', 1, records('b'), 'ordered'), w.write('t', 0, records('c'), 'ordered'), w.write('t', 2, records('d'), 'ordered')];
    await tick();
    expect(kafka.requests).toEqual([]);
    advance(1);
    await tick();
    expect(kafka.requests).toEqual([]);
    advance(1);
    await tick();
    // Broker 1's request is due (its oldest write waited 5 ms) and carries both partitions; broker 2's waits on.
    expect(kafka.requests).toEqual([['t/0', 't/1']]);
    expect(kafka.last('t', 0).values).toEqual(['a', 'c']);
    advance(3);
    await tick();
    expect(kafka.requests).toEqual([['t/0', 't/1'], ['t/2']]);
    kafka.sent.forEach((batch) => batch.succeed('0'));
    expect(await first).toEqual({ offsets: ['0'] });
    expect(await Promise.all(joining)).toEqual([{ offsets: ['0'] }, { offsets: ['1'] }, { offsets: ['0'] }]);
  });

  it('sends at once a partition whose queued messages fill a batch', async () => {
    lead(1, 't', 0, 1);
    const w = writer({ lingerMs: 5, maxBatchMessages: 3 });
    void w.write('t', 1, records('x'), 'ordered');
    void w.write('t', 0, records('a', 'b'), 'ordered');
    await tick();
    expect(kafka.requests).toEqual([]);
    void w.write('t', 0, records('c'), 'ordered');
    await tick();
    expect(kafka.requests).toEqual([['t/1', 't/0']]);
    expect(kafka.last('t', 0).values).toEqual(['a', 'b', 'c']);
  });

  it('sends what gathered behind a request in flight as soon as it settles, when it already waited lingerMs', async () => {
    lead(1, 't', 0);
    const w = writer({ lingerMs: 5 });
    void w.write('t', 0, records('a'), 'ordered');
    advance(5);
    await tick();
    expect(kafka.requests).toHaveLength(1);
    void w.write('t', 0, records('b'), 'ordered');
    advance(6);
    kafka.last('t', 0).succeed('0');
    await tick();
    expect(kafka.requests).toHaveLength(2);
    expect(kafka.last('t', 0).values).toEqual(['b']);
  });

  it('is not idle while a write lingers', async () => {
    const w = writer({ lingerMs: 5 });
    const written = w.write('t', 0, records('a'), 'ordered');
    await tick();
    const idle = track(w.idle());
    await tick();
    expect(idle.settled).toBe(false);
    advance(5);
    await tick();
    kafka.last('t', 0).succeed('7');
    expect(await written).toEqual({ offsets: ['7'] });
    await tick();
    expect(idle.settled).toBe(true);
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

  it('passes on the engine’s verdict for the partition: a rejection stays non-retriable KAFKA_REJECTED', async () => {
    const w = writer();
    const a = w.write('t', 0, records('a'), 'ordered');
    await tick();
    kafka.last('t', 0).fail(new SidecarError('KAFKA_REJECTED', 'writing to t/0: Kafka rejected the records (MESSAGE_TOO_LARGE)'));
    const { error } = await a;
    expect(error?.code).toBe('KAFKA_REJECTED');
    expect(error?.retriable).toBe(false);
  });

  it('fails writes queued behind a rejected batch as retriable: they were never attempted', async () => {
    const w = writer();
    const big = w.write('t', 0, records('too-big'), 'ordered');
    await tick();
    const innocent = w.write('t', 0, records('small'), 'ordered');
    kafka.last('t', 0).fail(new SidecarError('KAFKA_REJECTED', 'writing to t/0: Kafka rejected the records (MESSAGE_TOO_LARGE)'));
    expect((await big).error).toMatchObject({ code: 'KAFKA_REJECTED', retriable: false });
    expect((await innocent).error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect((await innocent).error?.message).toContain('not attempted');
  });

  it('sends the writes of a refused shared batch again one by one, in order: only the write Kafka refuses gets the refusal', async () => {
    const w = writer();
    const first = w.write('t', 0, records('first'), 'ordered');
    await tick();
    // Queued while `first` is in flight: these three share the next batch.
    const a = w.write('t', 0, records('a1', 'a2'), 'ordered');
    const bad = w.write('t', 0, records('bad'), 'ordered');
    const c = w.write('t', 0, records('c'), 'ordered');
    kafka.last('t', 0).succeed('0');
    await tick();
    expect(kafka.last('t', 0).values).toEqual(['a1', 'a2', 'bad', 'c']);
    const rejected = (): SidecarError => new SidecarError('KAFKA_REJECTED', 'writing to t/0: Kafka rejected the records (INVALID_RECORD)');
    kafka.last('t', 0).fail(rejected());
    await tick();
    expect(kafka.last('t', 0).values).toEqual(['a1', 'a2']);
    // Written meanwhile, it queues behind the writes sent again, and goes out in a batch with others once they are done.
    const later = w.write('t', 0, records('later'), 'ordered');
    kafka.last('t', 0).succeed('1');
    await tick();
    expect(kafka.last('t', 0).values).toEqual(['bad']);
    kafka.last('t', 0).fail(rejected());
    expect(await first).toEqual({ offsets: ['0'] });
    expect(await a).toEqual({ offsets: ['1', '2'] });
    expect((await bad).error).toMatchObject({ code: 'KAFKA_REJECTED', retriable: false });
    // Behind a refused batch, as always: never attempted, so retriable.
    expect((await c).error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect((await later).error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect(kafka.maxInFlightPerPartition).toBe(1);
  });

  it('fails a shared batch whose error may pass on a retry as before, without sending it again', async () => {
    const w = writer();
    const first = w.write('t', 0, records('first'), 'ordered');
    await tick();
    const a = w.write('t', 0, records('a'), 'ordered');
    const b = w.write('t', 0, records('b'), 'ordered');
    kafka.last('t', 0).succeed('0');
    await tick();
    kafka.last('t', 0).fail(new SidecarError('KAFKA_WRITE_FAILED', 'no answer; the batch may or may not be in Kafka'));
    expect((await a).error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect((await b).error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
    expect(await first).toEqual({ offsets: ['0'] });
    expect(kafka.to('t', 0)).toHaveLength(2);
  });

  it('fails, unsent and retriable, writes that waited in the queue longer than maxQueueWaitMs', async () => {
    const w = writer({ maxQueueWaitMs: 20 });
    const a = w.write('t', 0, records('a'), 'ordered');
    await tick();
    const b = w.write('t', 0, records('b'), 'ordered');
    const c = w.write('t', 0, records('c'), 'ordered');
    clock.ms += 21;
    kafka.last('t', 0).succeed('0');
    expect(await a).toEqual({ offsets: ['0'] });
    for (const late of [await b, await c]) {
      expect(late.error).toMatchObject({ code: 'KAFKA_WRITE_FAILED', retriable: true });
      expect(late.error?.message).toContain('not attempted');
    }
    expect(kafka.to('t', 0)).toHaveLength(1);
  });

  it('never rejects, even when the engine breaks its promise and throws synchronously', async () => {
    const w = new PartitionWriter(
      {
        leaderOf: () => 1,
        sendBatches: () => {
          throw new Error('producer is closed');
        },
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
    const other = w.write('t', 1, records('d'), 'ordered');
    await tick();
    const queued = w.write('t', 0, records('c'), 'ordered');
    expect(w.queuedBytes).toBe(40);
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
