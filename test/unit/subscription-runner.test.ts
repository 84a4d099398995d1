import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { StoredBlock, UnblockRequest } from '../../src/consume/blocked-store.ts';
import type { ConsumedRecord, ConsumerEngine, ConsumerEngineEvents, FetchedBatch, TopicPartitionOffset } from '../../src/consume/consumer-engine.ts';
import type { Delivery } from '../../src/consume/delivery.ts';
import { SubscriptionRunner, type RunnerDeps } from '../../src/consume/subscription-runner.ts';
import type { Subscription } from '../../src/consume/subscriptions.ts';
import type { LogFields, Logger } from '../../src/logging/logger.ts';
import { eventually } from '../support/eventually.ts';

/** Conditions here settle within a few ticks; a short bound makes a missing fix fail fast. */
const WITHIN_MS = 2000;

const subscription: Subscription = {
  name: 'orders-app',
  topic: 'orders',
  consumerGroup: 'orders-app',
  endpoint: 'http://127.0.0.1:1/deliver',
  startFrom: 'earliest',
  maxInFlightGroups: 4,
  batchMaxMessages: 1,
  ackTimeoutMs: 1000,
  maxAttempts: 3,
  retryBackoffMs: 10,
  retryBackoffMaxMs: 100,
  onExhausted: 'block',
  deadLetterTopic: undefined,
  authTokenFile: undefined,
  signingSecretFile: undefined,
  endpointCaFile: undefined,
};

/** The consumer port, driven by the test: it hands out the runner's events and controls when start and stop end. */
class FakeEngine implements ConsumerEngine {
  events: ConsumerEngineEvents | undefined;
  stops = 0;
  readonly stopEntered = Promise.withResolvers<void>();
  /** What `stop()` waits for (leaving the group); already settled unless a test holds it. */
  stopGate: Promise<void> = Promise.resolve();
  /** Runs inside `start()`, before it resolves (kafkajs reports a refused join before `run()` returns). */
  duringStart: (events: ConsumerEngineEvents) => void = () => undefined;
  startError: Error | undefined;
  /** The group's committed offsets, as commits leave them. */
  readonly committed = new Map<number, bigint>();
  readonly seeks: Array<[number, bigint]> = [];

  async start(events: ConsumerEngineEvents): Promise<void> {
    this.events = events;
    this.duringStart(events);
    if (this.startError) throw this.startError;
  }
  pause(): void {}
  seek(partition: number, offset: bigint): void {
    this.seeks.push([partition, offset]);
  }
  resume(): void {}
  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) this.committed.set(o.partition, o.offset);
  }
  async endOffsets(): Promise<Map<number, bigint>> {
    return new Map();
  }
  async committedOffsets(): Promise<Map<number, bigint>> {
    return new Map(this.committed);
  }
  async topicExists(): Promise<boolean> {
    return true;
  }
  stop(): Promise<void> {
    this.stops++;
    this.stopEntered.resolve();
    return this.stopGate;
  }
}

interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: LogFields | undefined;
}

function recordingLog(lines: LogLine[]): Logger {
  const log: Logger = {
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
    child: () => log,
  };
  return log;
}

function runnerOn(engine: FakeEngine, lines: LogLine[] = [], deps: Partial<RunnerDeps> = {}): SubscriptionRunner {
  return new SubscriptionRunner({
    subscription,
    engine,
    deliver: async () => ({ ok: true }),
    deadLetter: async () => undefined,
    blocked: memoryBlockedStore(new Map()),
    leases: { take: async (_s, _o, _ttl, groups) => groups.map(() => 0), release: async () => undefined },
    instanceId: 'test',
    observer: {
      delivered: () => undefined,
      failed: () => undefined,
      deadLettered: () => undefined,
      deadLetterFailed: () => undefined,
      blocked: () => undefined,
      skipped: () => undefined,
      leaseWait: () => undefined,
    },
    limits: { trackedRecords: 100, commitIntervalMs: 60_000 },
    log: recordingLog(lines),
    ...deps,
  });
}

/** As kafkajs reports a join the broker refused for good. */
const authorizationFailed = () => Object.assign(new Error('Not authorized to access group: orders-app'), { type: 'GROUP_AUTHORIZATION_FAILED' });

const errorLines = (lines: LogLine[]) => lines.filter((l) => l.level === 'error');

async function consuming(engine: FakeEngine, lines: LogLine[] = [], deps: Partial<RunnerDeps> = {}): Promise<SubscriptionRunner> {
  const runner = runnerOn(engine, lines, deps);
  runner.start();
  await eventually('the runner running', () => runner.status().state === 'running', WITHIN_MS);
  engine.events!.onAssigned([0, 1]);
  expect(runner.ready).toBe(true);
  return runner;
}

describe('a consumer crash', () => {
  it('that the engine will not restart stops the subscription, not ready with its error, logged once; it can be started again', async () => {
    const lines: LogLine[] = [];
    const engine = new FakeEngine();
    const runner = await consuming(engine, lines);

    engine.events!.onCrash({ error: authorizationFailed(), willRestart: false });
    await eventually('the subscription stopped', () => runner.status().state === 'stopped', WITHIN_MS);

    const status = runner.status();
    expect(status.ready).toBe(false);
    expect(status.error).toMatch(/^consumer crashed and will not restart: Not authorized to access group: orders-app; fix the cause/);
    expect(status.error).toContain('ordered-sidecar subscriptions start orders-app');
    expect(errorLines(lines).map((l) => l.msg)).toEqual([
      'subscription consumer crashed and will not restart; it stays stopped until started again once the cause is fixed',
    ]);
    expect(engine.stops).toBe(1);
    // An admin stop of a failed subscription answers at once, as for any stopped one.
    await runner.stop(1000);
    expect(engine.stops).toBe(1);

    // `subscriptions start` takes a stopped subscription and builds a fresh runner on a fresh consumer.
    const again = await consuming(new FakeEngine());
    expect(again.status()).toMatchObject({ state: 'running', ready: true });
    expect(again.status().error).toBeUndefined();
    await again.stop(1000);
  });

  it('that ends the start (a join refused) is not overwritten when the start returns', async () => {
    const lines: LogLine[] = [];
    const engine = new FakeEngine();
    engine.duringStart = (events) => events.onCrash({ error: authorizationFailed(), willRestart: false });
    const runner = runnerOn(engine, lines);
    runner.start();
    await eventually('the subscription stopped', () => runner.status().state === 'stopped', WITHIN_MS);

    expect(runner.status()).toMatchObject({ ready: false, error: expect.stringContaining('will not restart') });
    expect(lines.some((l) => l.msg === 'subscription consuming')).toBe(false);
    expect(errorLines(lines)).toHaveLength(1);
  });

  it('that the engine restarts keeps the subscription running, not ready until it has rejoined', async () => {
    const lines: LogLine[] = [];
    const engine = new FakeEngine();
    const runner = await consuming(engine, lines);

    engine.events!.onCrash({ error: new Error('Connection error: ECONNRESET'), willRestart: true });
    expect(runner.status()).toMatchObject({ state: 'running', ready: false, error: 'consumer crashed: Connection error: ECONNRESET' });
    expect(errorLines(lines).map((l) => l.msg)).toEqual(['subscription consumer crashed; the consumer restarts it']);
    expect(engine.stops).toBe(0);

    engine.events!.onAssigned([0, 1]);
    expect(runner.status()).toMatchObject({ state: 'running', ready: true });
    expect(runner.status().error).toBeUndefined();
    await runner.stop(1000);
  });

  it('that the engine restarts during the start keeps its error once the start returns', async () => {
    const engine = new FakeEngine();
    engine.duringStart = (events) => events.onCrash({ error: new Error('Connection error: ECONNRESET'), willRestart: true });
    const runner = runnerOn(engine);
    runner.start();
    await eventually('the runner running', () => runner.status().state === 'running', WITHIN_MS);
    expect(runner.status()).toMatchObject({ ready: false, error: 'consumer crashed: Connection error: ECONNRESET' });
    await runner.stop(1000);
  });
});

describe('a start the engine gives up on', () => {
  it('stops the subscription, not ready with its error, logged once', async () => {
    const lines: LogLine[] = [];
    const engine = new FakeEngine();
    engine.startError = new Error('Connection timeout');
    const runner = runnerOn(engine, lines);
    runner.start();
    await eventually('the subscription stopped', () => runner.status().state === 'stopped', WITHIN_MS);

    expect(runner.status()).toMatchObject({ ready: false, error: expect.stringMatching(/^could not start consuming: Connection timeout; fix the cause/) });
    expect(errorLines(lines).map((l) => l.msg)).toEqual([
      'subscription could not start consuming; it stays stopped until started again once the cause is fixed',
    ]);
  });
});

describe('stop', () => {
  it('called again while a stop runs (SIGTERM during an admin stop) resolves only once that stop is done', async () => {
    const engine = new FakeEngine();
    const leaving = Promise.withResolvers<void>();
    engine.stopGate = leaving.promise;
    const runner = await consuming(engine);

    const order: string[] = [];
    const first = runner.stop(1000).then(() => order.push('first'));
    const second = runner.stop(1000).then(() => order.push('second'));
    await engine.stopEntered.promise;
    expect(order).toEqual([]);
    expect(runner.status().state).toBe('stopping');

    leaving.resolve();
    await second;
    expect(runner.status().state).toBe('stopped');
    await first;
    expect(order).toEqual(['first', 'second']);
    expect(engine.stops).toBe(1);
  });
});

/** A blocked store in memory, as Redis would keep it across holdings (`skipped`: skipped heads by first offset). */
function memoryBlockedStore(stored: Map<string | null, StoredBlock>, skipped = new Map<string, string[]>()): RunnerDeps['blocked'] {
  return {
    load: async () => ({ blocks: new Map(stored), requests: new Map(), skipped: new Map(skipped) }),
    save: async (_s, _p, group, block) => {
      stored.set(group, block);
      skipped.delete(block.offsets[0]!);
    },
    remove: async (_s, _p, group, head) => {
      stored.delete(group);
      if (head !== undefined) skipped.delete(head);
    },
    request: async () => undefined,
    skip: async (_s, _p, group, offsets) => {
      skipped.set(offsets[0]!, [...offsets]);
      stored.delete(group);
    },
    forgetSkips: async (_s, _p, firstOffsets) => firstOffsets.forEach((first) => skipped.delete(first)),
  };
}

const record = (offset: number, group: string): ConsumedRecord => ({
  offset: BigInt(offset),
  key: Buffer.from(group),
  value: null,
  headers: {},
  timestamp: '1',
});

/** A batch of partition 0 from a fetch at `fetched`; `consumed` records where the handler marked it read. */
function batchOf(fetched: number, records: ConsumedRecord[], next: number, consumed: bigint[] = []): FetchedBatch {
  return {
    topic: 'orders',
    partition: 0,
    records,
    fetchedOffset: BigInt(fetched),
    nextOffset: BigInt(next),
    highWatermark: 1000n,
    heartbeat: async () => undefined,
    consumed: (n) => void consumed.push(n),
  };
}

const sentAs = (d: Delivery) => `${String(d.group)}@${d.records.map((r) => r.offset).join(',')}`;

describe('a batch whose groups wait for a retry', () => {
  it('is let go while they wait (the broker fetches its other partitions), and fetched again from the commit when the retry is due', async () => {
    const engine = new FakeEngine();
    const sent: string[] = [];
    let failures = 0;
    const runner = await consuming(engine, [], {
      // The first retry waits 1-2 s: long enough to let the batch go.
      subscription: { ...subscription, retryBackoffMs: 2000, retryBackoffMaxMs: 2000 },
      deliver: async (d) => {
        sent.push(sentAs(d));
        return d.group === 'G' && failures++ === 0 ? { ok: false, error: 'HTTP 500' } : { ok: true };
      },
    });
    const events = engine.events!;
    const consumed: bigint[] = [];

    // Returns while G waits: held to the end of its wait, kafkajs would fetch no other partition of the broker.
    await events.onBatch(batchOf(0, [record(0, 'G'), record(1, 'H'), record(2, 'G')], 3, consumed));
    expect(sent.sort()).toEqual(['G@0', 'H@1']);
    expect(consumed).toEqual([3n]);
    expect(engine.committed.get(0)).toBe(0n);
    expect(engine.seeks).toEqual([]);

    await eventually('partition 0 fetched again from its commit', () => engine.seeks.length > 0, 2000 + WITHIN_MS);
    expect(engine.seeks).toEqual([[0, 0n]]);
    expect(sent).toHaveLength(2);
    // The fetch again: G's retry and the record behind it go out inside this held batch; H is not sent twice.
    await events.onBatch(batchOf(0, [record(0, 'G'), record(1, 'H'), record(2, 'G')], 3, consumed));
    expect(sent.slice(2)).toEqual(['G@0', 'G@2']);
    expect(engine.committed.get(0)).toBe(3n);
    expect(consumed).toEqual([3n, 3n]);
    await runner.stop(100);
  });
});

describe('a held batch', () => {
  it('a slow heartbeat (the coordinator failing over) is not followed by another once the hold has ended', async () => {
    const engine = new FakeEngine();
    const runner = await consuming(engine, [], { deliver: () => sleep(1100).then(() => ({ ok: true })) });
    let beats = 0;
    // A coordinator failing over: each heartbeat takes 1.5 s; the delivery ends during the first.
    const batch: FetchedBatch = { ...batchOf(0, [record(0, 'G')], 1), heartbeat: () => (beats++, sleep(1500)) };
    await engine.events!.onBatch(batch);
    expect(beats).toBe(1);
    expect(engine.committed.get(0)).toBe(1n);
    await runner.stop(100);
  });
});

describe('a batch whose groups wait for another replica', () => {
  it("is let go while the other replica's lease has a second or more left, and fetched again when the lease is asked again", async () => {
    const engine = new FakeEngine();
    const sent: string[] = [];
    let leftMs = 14_000;
    const runner = await consuming(engine, [], {
      deliver: async (d) => (sent.push(sentAs(d)), { ok: true }),
      leases: { take: async (_s, _o, _ttl, groups) => groups.map(() => leftMs), release: async () => undefined },
    });
    const events = engine.events!;

    await events.onBatch(batchOf(0, [record(0, 'G')], 1));
    expect(sent).toEqual([]);
    expect(engine.committed.get(0)).toBe(0n);
    await eventually('partition 0 fetched again to ask for the lease', () => engine.seeks.length > 0, 1000 + WITHIN_MS);
    expect(engine.seeks).toEqual([[0, 0n]]);
    leftMs = 0;
    await events.onBatch(batchOf(0, [record(0, 'G')], 1));
    expect(sent).toEqual(['G@0']);
    expect(engine.committed.get(0)).toBe(1n);
    await runner.stop(100);
  });
});

describe('delivery leases', () => {
  it('are taken under an owner of this runner only: a runner made again in the process (admin stop, start) is another owner', async () => {
    const owners: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const engine = new FakeEngine();
      const taken: string[] = [];
      // The same instance id, as consumption.ts gives every runner of the process.
      const runner = await consuming(engine, [], {
        instanceId: 'host:1:abc',
        leases: { take: async (_s, owner, _ttl, groups) => (taken.push(owner), groups.map(() => 0)), release: async () => undefined },
      });
      await engine.events!.onBatch(batchOf(0, [record(0, 'G')], 1));
      await runner.stop(100);
      owners.push([...new Set(taken)]);
    }
    expect(owners.map((o) => o.length)).toEqual([1, 1]);
    expect(owners[0]![0]).toMatch(/^host:1:abc\//);
    expect(owners[0]![0]).not.toBe(owners[1]![0]);
  });
});

describe('a block under on_exhausted: block', () => {
  it('is not passed by a batch fetched before a rejoin and answered after it (the partition is fetched again from the commit)', async () => {
    const engine = new FakeEngine();
    const stored = new Map<string | null, StoredBlock>();
    const sent: string[] = [];
    const runner = await consuming(engine, [], {
      subscription: { ...subscription, maxAttempts: 1 },
      blocked: memoryBlockedStore(stored),
      deliver: async (d) => {
        sent.push(sentAs(d));
        return d.group === 'G' ? { ok: false, error: 'HTTP 500' } : { ok: true };
      },
    });
    const events = engine.events!;

    await events.onBatch(batchOf(100, [record(100, 'G'), record(101, 'H'), record(102, 'G')], 103));
    await events.onBatch(batchOf(103, [record(103, 'H'), record(499, 'H')], 500));
    expect(runner.blockedGroups().map((b) => `${String(b.group)}@${b.offsets.join(',')}`)).toEqual(['G@100']);
    expect(engine.committed.get(0)).toBe(100n);

    // kafkajs rejoins from inside another broker's fetch; this partition's fetch (sent at 500 before the rejoin) answers after it.
    events.onAssigned([0, 1]);
    const consumed: bigint[] = [];
    sent.length = 0;
    await events.onBatch(batchOf(500, [record(500, 'H'), record(599, 'H')], 600, consumed));
    expect(sent).toEqual([]);
    expect(consumed).toEqual([]);
    expect(engine.seeks).toEqual([[0, 100n]]);
    expect(engine.committed.get(0)).toBe(100n);
    expect([...stored.keys()]).toEqual(['G']);

    // The fetch again from the committed offset: G is blocked again at its head without being sent.
    await events.onBatch(batchOf(100, [record(100, 'G'), record(101, 'H'), record(102, 'G')], 103, consumed));
    expect(sent).toEqual(['H@101']);
    expect(runner.blockedGroups().map((b) => `${String(b.group)}@${b.offsets.join(',')}`)).toEqual(['G@100']);
    expect(engine.committed.get(0)).toBe(100n);
    expect(consumed).toEqual([103n]);
    await runner.stop(100);
  });

  it('takes a first batch whose commit is logical (-2 or -1, as kafkajs commits after an offset out of range) where it was fetched', async () => {
    for (const logical of [-2n, -1n]) {
      const engine = new FakeEngine();
      engine.committed.set(0, logical);
      const sent: string[] = [];
      const runner = await consuming(engine, [], {
        deliver: async (d) => {
          sent.push(sentAs(d));
          return { ok: true };
        },
      });
      await engine.events!.onBatch(batchOf(1000, [record(1000, 'A'), record(1001, 'B')], 1002));
      expect(engine.seeks).toEqual([]);
      expect(sent.sort()).toEqual(['A@1000', 'B@1001']);
      await runner.stop(100);
    }
  });

  it("restored after a rebalance stays blocked while the group's earlier records are delivered again", async () => {
    for (const batchMaxMessages of [1, 10]) {
      const engine = new FakeEngine();
      engine.committed.set(0, 1n);
      const stored = new Map<string | null, StoredBlock>([
        ['K', { offsets: ['1'], attempt: 3, error: 'HTTP 500' }],
        ['G', { offsets: ['5'], attempt: 3, error: 'HTTP 500' }],
      ]);
      const sent: string[] = [];
      const runner = await consuming(engine, [], {
        subscription: { ...subscription, batchMaxMessages },
        blocked: memoryBlockedStore(stored),
        deliver: async (d) => {
          sent.push(sentAs(d));
          return { ok: true };
        },
      });

      // The new owner fetches from the commit (K's head, 1); G's record 3, delivered before, comes first.
      await engine.events!.onBatch(batchOf(1, [record(1, 'K'), record(3, 'G'), record(5, 'G'), record(6, 'G')], 7));
      expect(sent).toEqual(['G@3']);
      const blocked = runner.blockedGroups().map((b) => `${String(b.group)}@${b.offsets.join(',')}/${b.attempt}`);
      expect(blocked.sort()).toEqual(batchMaxMessages === 1 ? ['G@5/3', 'K@1/3'] : ['G@5,6/3', 'K@1/3']);
      expect([...stored.keys()].sort()).toEqual(['G', 'K']);
      await runner.stop(100);
    }
  });
});

describe('a skip the commit has not passed yet', () => {
  it('holds across a rebalance: the next holding never sends the skipped head; once the commit passes it, its record goes', async () => {
    const engine = new FakeEngine();
    const stored = new Map<string | null, StoredBlock>();
    const skipped = new Map<string, string[]>();
    const sent: string[] = [];
    let failing = new Set([1n, 5n]);
    const runner = await consuming(engine, [], {
      subscription: { ...subscription, maxAttempts: 1 },
      blocked: memoryBlockedStore(stored, skipped),
      deliver: async (d) => {
        sent.push(sentAs(d));
        return d.records.some((r) => failing.has(r.offset)) ? { ok: false, error: 'HTTP 500' } : { ok: true };
      },
    });
    const batch = () => batchOf(1, [record(1, 'K'), record(3, 'G'), record(5, 'G'), record(6, 'G')], 7);
    await engine.events!.onBatch(batch());
    const heads = () => runner.blockedGroups().map((b) => `${String(b.group)}@${b.offsets.join(',')}`);
    expect(heads().sort()).toEqual(['G@5', 'K@1']);

    // G's head is skipped while K's blocked head pins the commit at 1.
    failing = new Set([1n]);
    expect((await runner.unblock('skip', 0, 'G', '5'))?.offsets).toEqual(['5']);
    expect(engine.committed.get(0)).toBe(1n);
    expect([...skipped]).toEqual([['5', ['5']]]);
    expect([...stored.keys()]).toEqual(['K']);
    await engine.events!.onBatch(batch());
    await eventually('G@6 delivered', () => sent.includes('G@6'), WITHIN_MS);

    // A rebalance: the partition is fetched again from the commit (1). 3 and 6 were delivered, not committed:
    // delivered again; the skipped 5 is not.
    engine.events!.onAssigned([0]);
    sent.length = 0;
    await engine.events!.onBatch(batch());
    await eventually('G@6 delivered again', () => sent.includes('G@6'), WITHIN_MS);
    expect(sent).toEqual(['G@3', 'G@6']);
    expect(heads()).toEqual(['K@1']);

    // K is skipped too: the commit passes both heads; the next holding, starting there, removes both records.
    expect((await runner.unblock('skip', 0, 'K', '1'))?.offsets).toEqual(['1']);
    expect(engine.committed.get(0)).toBe(7n);
    expect([...skipped.keys()].sort()).toEqual(['1', '5']);
    engine.events!.onAssigned([0]);
    await engine.events!.onBatch(batchOf(7, [record(7, 'G')], 8));
    expect(skipped.size).toBe(0);
    await runner.stop(100);
  });

  it('is forgotten by the first holding that starts past it, or by an offset reset from past it (the replay then delivers it)', async () => {
    const engine = new FakeEngine();
    const stored = new Map<string | null, StoredBlock>();
    const skipped = new Map<string, string[]>();
    const sent: string[] = [];
    let failing = new Set([1n, 5n]);
    const deps: Partial<RunnerDeps> = {
      subscription: { ...subscription, maxAttempts: 1 },
      blocked: memoryBlockedStore(stored, skipped),
      deliver: async (d) => {
        sent.push(sentAs(d));
        return d.records.some((r) => failing.has(r.offset)) ? { ok: false, error: 'HTTP 500' } : { ok: true };
      },
    };
    const batch = (from: number) => batchOf(from, [record(1, 'K'), record(3, 'G'), record(5, 'G'), record(6, 'G')].slice(from === 1 ? 0 : 4), 7);
    const runner = await consuming(engine, [], deps);
    await engine.events!.onBatch(batch(1));
    failing = new Set([1n]);
    await runner.unblock('skip', 0, 'G', '5');
    // A commit this replica makes past the head does not remove the record (it may not stand in Kafka)...
    failing = new Set();
    await runner.unblock('retry', 0, 'K', '1');
    await engine.events!.onBatch(batch(1));
    await eventually('committed 7', () => engine.committed.get(0) === 7n, WITHIN_MS);
    expect([...skipped.keys()]).toEqual(['5']);
    // ... the next holding, which reads the commit from Kafka, does.
    engine.events!.onAssigned([0]);
    await engine.events!.onBatch(batch(7));
    expect(skipped.size).toBe(0);
    await runner.stop(100);

    // `subscriptions reset --to earliest` (the consume service calls forgetSkipped with each partition's
    // previous commit): a skip the old commit had passed is replayed; one it had not passed stays skipped.
    const second = new FakeEngine();
    failing = new Set([1n, 5n]);
    const before = await consuming(second, [], deps);
    await second.events!.onBatch(batch(1));
    await before.unblock('skip', 0, 'G', '5');
    await before.stop(100);
    await before.forgetSkipped(new Map([[0, 1n]]));
    expect([...skipped.keys()]).toEqual(['5']);
    await before.forgetSkipped(new Map([[0, undefined]]));
    expect([...skipped.keys()]).toEqual(['5']);
    await before.forgetSkipped(new Map([[0, 7n]]));
    expect(skipped.size).toBe(0);
    failing = new Set();
    sent.length = 0;
    const replay = await consuming(second, [], deps);
    await second.events!.onBatch(batch(1));
    await eventually('G@6 replayed', () => sent.includes('G@6'), WITHIN_MS);
    expect(sent.sort()).toEqual(['G@3', 'G@5', 'G@6']);
    // K's block is not the reset's to drop: it blocks again at the same head, with its attempts.
    expect(replay.blockedGroups().map((b) => `${String(b.group)}@${b.offsets.join(',')}`)).toEqual(['K@1']);
    await replay.stop(100);
  });

  it('whose answer was lost (stored, then reported failed) does not drop the head when the operator retries it instead', async () => {
    const engine = new FakeEngine();
    const stored = new Map<string | null, StoredBlock>();
    const skipped = new Map<string, string[]>();
    const store = memoryBlockedStore(stored, skipped);
    const sent: string[] = [];
    const runner = await consuming(engine, [], {
      subscription: { ...subscription, maxAttempts: 1 },
      blocked: {
        ...store,
        skip: async (...args) => {
          await store.skip(...args);
          throw new Error('Redis did not answer within 2000 ms');
        },
      },
      deliver: async (d) => {
        sent.push(sentAs(d));
        return d.records.some((r) => r.offset === 5n) ? { ok: false, error: 'HTTP 500' } : { ok: true };
      },
    });
    await engine.events!.onBatch(batchOf(5, [record(5, 'G'), record(6, 'G')], 7));
    await expect(runner.unblock('skip', 0, 'G', '5')).rejects.toThrow('Redis did not answer');
    expect(runner.blockedGroups().map((b) => b.offsets)).toEqual([['5']]);
    expect((await runner.unblock('retry', 0, 'G', '5'))?.offsets).toEqual(['5']);
    expect(skipped.size).toBe(0);
    await engine.events!.onBatch(batchOf(5, [record(5, 'G'), record(6, 'G')], 7));
    await eventually('blocked again', () => runner.blockedGroups().length === 1 && stored.has('G'), WITHIN_MS);

    // The next holding blocks the head again; it is neither dropped nor sent.
    engine.events!.onAssigned([0]);
    sent.length = 0;
    await engine.events!.onBatch(batchOf(5, [record(5, 'G'), record(6, 'G')], 7));
    expect(runner.blockedGroups().map((b) => b.offsets)).toEqual([['5']]);
    expect(sent).toEqual([]);
    expect(engine.committed.get(0)).toBe(5n);
    await runner.stop(100);
  });

  it('is refused with nothing skipped when it cannot be stored', async () => {
    const engine = new FakeEngine();
    const stored = new Map<string | null, StoredBlock>();
    const store = memoryBlockedStore(stored);
    const runner = await consuming(engine, [], {
      subscription: { ...subscription, maxAttempts: 1 },
      blocked: { ...store, skip: async () => Promise.reject(new Error('Redis unreachable')) },
      deliver: async () => ({ ok: false, error: 'HTTP 500' }),
    });
    await engine.events!.onBatch(batchOf(5, [record(5, 'G'), record(6, 'G')], 7));
    await expect(runner.unblock('skip', 0, 'G', '5')).rejects.toThrow('Redis unreachable');
    expect(runner.blockedGroups().map((b) => b.offsets)).toEqual([['5']]);
    expect(engine.committed.get(0)).toBe(5n);
    expect([...stored.keys()]).toEqual(['G']);
    await runner.stop(100);
  });
});

describe('an admin retry or skip naming the head it was shown', () => {
  /** A blocked store in memory that also keeps the requests left for the owner. */
  function storeWithRequests(stored: Map<string | null, StoredBlock>, requests: Map<string | null, UnblockRequest>): RunnerDeps['blocked'] {
    const memory = memoryBlockedStore(stored);
    return {
      ...memory,
      load: async (s, p) => ({ ...(await memory.load(s, p)), requests: new Map(requests) }),
      remove: async (s, p, group, head) => {
        await memory.remove(s, p, group, head);
        requests.delete(group);
      },
      skip: async (s, p, group, offsets) => {
        await memory.skip(s, p, group, offsets);
        requests.delete(group);
      },
      request: async (_s, _p, group, request) => void requests.set(group, request),
    };
  }

  it('on the owner: a head that moved since is a 409, nothing skipped or committed; the current head is skipped', async () => {
    const engine = new FakeEngine();
    const stored = new Map<string | null, StoredBlock>();
    const sent: string[] = [];
    let failing = new Set([5n, 6n]);
    const runner = await consuming(engine, [], {
      subscription: { ...subscription, maxAttempts: 1 },
      blocked: memoryBlockedStore(stored),
      deliver: async (d) => {
        sent.push(sentAs(d));
        return d.records.some((r) => failing.has(r.offset)) ? { ok: false, error: 'HTTP 500' } : { ok: true };
      },
    });
    await engine.events!.onBatch(batchOf(5, [record(5, 'G'), record(6, 'G'), record(7, 'G')], 8));
    const heads = () => runner.blockedGroups().map((b) => `${String(b.group)}@${b.offsets.join(',')}`);
    expect(heads()).toEqual(['G@5']);

    // Someone retries: 5 is delivered, 6 blocks. The operator's skip still names 5.
    failing = new Set([6n]);
    expect((await runner.unblock('retry', 0, 'G', '5'))?.offsets).toEqual(['5']);
    // The partition is fetched again from its commit (5) for what the call made ready.
    await engine.events!.onBatch(batchOf(5, [record(5, 'G'), record(6, 'G'), record(7, 'G')], 8));
    await eventually('6 blocked', () => heads()[0] === 'G@6', WITHIN_MS);
    await expect(runner.unblock('skip', 0, 'G', '5')).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('is offsets 6, not') });
    expect(heads()).toEqual(['G@6']);
    expect(engine.committed.get(0)).toBe(6n);
    expect(stored.get('G')?.offsets).toEqual(['6']);

    expect((await runner.unblock('skip', 0, 'G', '6'))?.offsets).toEqual(['6']);
    await engine.events!.onBatch(batchOf(7, [record(7, 'G')], 8));
    await eventually('7 delivered', () => sent.includes('G@7'), WITHIN_MS);
    expect(sent).toEqual(['G@5', 'G@5', 'G@6', 'G@7']);
    await runner.stop(100);
  });

  it('forwarded: refused when the stored head is another, else left naming that head; the owner applies it to that head only', async () => {
    const stored = new Map<string | null, StoredBlock>([['G', { offsets: ['6'], attempt: 3, error: 'HTTP 500' }]]);
    const requests = new Map<string | null, UnblockRequest>();
    // Another replica: the group is not blocked here, only in the store.
    const other = runnerOn(new FakeEngine(), [], { blocked: storeWithRequests(stored, requests) });
    await expect(other.requestUnblock('skip', 0, 'G', '5')).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('is offsets 6, not') });
    expect(requests.size).toBe(0);
    expect((await other.requestUnblock('skip', 0, 'G', '6'))?.offsets).toEqual(['6']);
    expect(requests.get('G')).toEqual({ action: 'skip', offset: '6' });
    // Without an offset: the stored head, as before.
    requests.clear();
    expect((await other.requestUnblock('retry', 0, 'G'))?.offsets).toEqual(['6']);
    expect(requests.get('G')).toEqual({ action: 'retry', offset: '6' });

    // The owner, whose head is 6 while a request for 5 was left: it is not applied; one for 6 is.
    requests.set('G', { action: 'skip', offset: '5' });
    const engine = new FakeEngine();
    engine.committed.set(0, 6n);
    const sent: string[] = [];
    const owner = await consuming(engine, [], {
      blocked: storeWithRequests(stored, requests),
      limits: { trackedRecords: 100, commitIntervalMs: 20 },
      deliver: async (d) => {
        sent.push(sentAs(d));
        return { ok: true };
      },
    });
    await engine.events!.onBatch(batchOf(6, [record(6, 'G'), record(7, 'G')], 8));
    expect(owner.blockedGroups().map((b) => b.offsets[0])).toEqual(['6']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(owner.blockedGroups().map((b) => b.offsets[0])).toEqual(['6']);
    expect(sent).toEqual([]);
    requests.set('G', { action: 'skip', offset: '6' });
    await eventually('the request for 6 applied', () => owner.blockedGroups().length === 0, WITHIN_MS);
    expect(engine.committed.get(0)).toBe(7n);
    await engine.events!.onBatch(batchOf(7, [record(7, 'G')], 8));
    await eventually('7 delivered', () => sent.includes('G@7'), WITHIN_MS);
    expect(sent).toEqual(['G@7']);
    await owner.stop(100);
  });
});
