import { expect } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { Client } from '../../src/sdk/client.ts';
import { waitFor } from './delivery-endpoint.ts';
import { consumeAll, createTopic } from './kafka.ts';
import { expectGroupsIntact, OrderedStream } from './ordered-stream.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from './sidecar.ts';

/** What a fault gets to work with while the stream runs. */
export interface FaultRun {
  topic: string;
  /** The Redis prefix both sidecars share, as replicas of one deployment do. */
  redisPrefix: string;
  stream: OrderedStream;
  sidecars: SidecarProcess[];
  /** Starts the late groups: first routed during the fault. Called once, by the fault, when they should start. */
  startLateGroups(): void;
  /** Ordered-produce answers both sidecars gave so far, every status summed. */
  answered(): Promise<number>;
}

export interface FaultScenario {
  kafka: Kafka;
  admin: Admin;
  /** Names the scenario in the one line it logs. */
  name: string;
  /** Groups started before the fault (`g-<n>`). @defaultValue 16 */
  earlyGroups?: number;
  /** Groups started by the fault through `startLateGroups` (`late-<n>`). @defaultValue 8 */
  lateGroups?: number;
  /** @defaultValue 6 */
  partitions?: number;
  /** Extra CLI flags of both sidecar processes. */
  sidecarFlags?: string[];
  /** Runs once, after the sidecars are up and before the topic's first message: a fault's preparation. */
  beforeStream?: () => Promise<void>;
  /**
   * Runs once every early group has been written 3 times: brings the fault on, calls `startLateGroups`, and returns
   * once the fault is over (the store serves every key again). The stream then goes on for 3 s more.
   */
  fault(run: FaultRun): Promise<void>;
}

export interface FaultOutcome {
  topic: string;
  redisPrefix: string;
  /** Messages acknowledged per group. */
  sent: Map<string, number>;
  /** Ordered-produce answers of both sidecars by HTTP status, over the whole run. */
  answers: Map<string, number>;
  /** Both sidecars' /metrics at the end of the run (read them with `metricSum`). */
  metrics: string[];
}

/**
 * The Redis fault tests' common run: two real sidecar processes (one Redis prefix) take a steady ordered stream
 * with dedup ids (OrderedStream) from early groups, the fault is brought on, late groups start during it, and
 * afterwards the topic is read back from Kafka. Checks, whatever the fault: every group, early and late, went on
 * after the fault; the topic holds exactly those groups, each in one partition, nothing lost and first occurrences
 * in send order; no sidecar answered a 5xx other than the retriable 503 (a 500 is a defect, never a fault's effect).
 */
export async function runFaultScenario(scenario: FaultScenario): Promise<FaultOutcome> {
  const { kafka, admin, earlyGroups = 16, lateGroups = 8, partitions = 6 } = scenario;
  const topic = await createTopic(admin, partitions);
  // One options object: both sidecars share its Redis prefix.
  const options = testOptions();
  const sidecars = await Promise.all([0, 1].map(() => spawnSidecar(options, { flags: scenario.sidecarFlags ?? [] })));
  try {
    const stream = new OrderedStream(
      sidecars.map((s) => new Client({ url: s.url, retry: { maxElapsedMs: 60_000 } })),
      topic,
    );
    await scenario.beforeStream?.();
    stream.start('g', earlyGroups);
    // Every early group routed and written a few times before the fault.
    await waitFor(
      () => `early groups with 3 sends: ${JSON.stringify([...stream.sent])}`,
      () => [...stream.sent.values()].filter((n) => n >= 3).length === earlyGroups,
    );
    let lateStarted = false;
    const metrics = () => Promise.all(sidecars.map(async (s) => (await fetch(`${s.url}/metrics`)).text()));
    const answered = async () => produceAnswers(await metrics());
    await scenario.fault({
      topic,
      redisPrefix: options.redisPrefix,
      stream,
      sidecars,
      startLateGroups: () => {
        expect(lateStarted, 'late groups started once').toBe(false);
        lateStarted = true;
        stream.start('late', lateGroups);
      },
      answered: async () => [...(await answered()).values()].reduce((a, b) => a + b, 0),
    });
    expect(lateStarted, 'the fault started the late groups').toBe(true);
    await stream.stopAfter(3000);
    const final = await metrics();
    const answers = produceAnswers(final);

    const groups = [...Array.from({ length: earlyGroups }, (_, i) => `g-${i}`), ...Array.from({ length: lateGroups }, (_, i) => `late-${i}`)];
    expect([...stream.sent.keys()].sort(), 'every group had messages acknowledged').toEqual(groups.sort());
    const acknowledged = [...stream.sent.values()].reduce((a, b) => a + b, 0);
    console.log(`${scenario.name}: ${acknowledged} messages acknowledged; ordered-produce answers by status: ${JSON.stringify(Object.fromEntries(answers))}`);
    const failures = [...answers].filter(([status]) => status.startsWith('5') && status !== '503');
    expect(failures, 'no 5xx but the retriable 503').toEqual([]);

    expectGroupsIntact(await consumeAll(kafka, admin, topic), stream.sent);
    return { topic, redisPrefix: options.redisPrefix, sent: stream.sent, answers, metrics: final };
  } finally {
    await Promise.all(sidecars.map((s) => s.stop()));
  }
}

/** Sum of the samples of metric `name` whose labels include `labelText`, over several sidecars' /metrics. */
export function metricSum(texts: string[], name: string, labelText = ''): number {
  let total = 0;
  for (const text of texts) {
    for (const [, labels, value] of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
      if ((labels ?? '').includes(labelText)) total += Number(value);
    }
  }
  return total;
}

/** Ordered-produce answers by HTTP status, summed over several sidecars' request-duration histogram counts. */
function produceAnswers(texts: string[]): Map<string, number> {
  const answers = new Map<string, number>();
  for (const status of new Set(texts.flatMap((t) => [...t.matchAll(/route="\/v1\/ordered-produce",status="(\d+)"/g)].map((m) => m[1]!)))) {
    answers.set(status, metricSum(texts, 'ordered_sidecar_http_request_duration_seconds_count', `route="/v1/ordered-produce",status="${status}"`));
  }
  return answers;
}
