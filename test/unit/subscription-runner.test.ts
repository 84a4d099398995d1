import { describe, expect, it } from 'vitest';
import type { ConsumerEngine, ConsumerEngineEvents } from '../../src/consume/consumer-engine.ts';
import { SubscriptionRunner } from '../../src/consume/subscription-runner.ts';
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

  async start(events: ConsumerEngineEvents): Promise<void> {
    this.events = events;
    this.duringStart(events);
    if (this.startError) throw this.startError;
  }
  pause(): void {}
  seek(): void {}
  resume(): void {}
  async commit(): Promise<void> {}
  async endOffsets(): Promise<Map<number, bigint>> {
    return new Map();
  }
  async committedOffsets(): Promise<Map<number, bigint>> {
    return new Map();
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

function runnerOn(engine: FakeEngine, lines: LogLine[] = []): SubscriptionRunner {
  return new SubscriptionRunner({
    subscription,
    engine,
    deliver: async () => ({ ok: true }),
    deadLetter: async () => undefined,
    blocked: {
      load: async () => ({ blocks: new Map(), requests: new Map() }),
      save: async () => undefined,
      remove: async () => undefined,
      request: async () => undefined,
    },
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
  });
}

/** As kafkajs reports a join the broker refused for good. */
const authorizationFailed = () => Object.assign(new Error('Not authorized to access group: orders-app'), { type: 'GROUP_AUTHORIZATION_FAILED' });

const errorLines = (lines: LogLine[]) => lines.filter((l) => l.level === 'error');

async function consuming(engine: FakeEngine, lines: LogLine[] = []): Promise<SubscriptionRunner> {
  const runner = runnerOn(engine, lines);
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
