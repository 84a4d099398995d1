import { Counter, Histogram, Registry, type OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter } from '../../src/metrics/bound-counter.ts';
import { BoundHistogram } from '../../src/metrics/bound-histogram.ts';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A small seeded generator (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type HttpLabels = { method: string; route: string; status: string };

/** The same observations recorded by prom-client's own metrics and by the bound ones. */
interface Recorders {
  http(labels: HttpLabels, seconds: number): void;
  write(topic: string, seconds: number): void;
  batch(messages: number): void;
  produced(topic: string, mode: string, n: number): void;
}

type AnyRegistry = Registry | Registry<OpenMetricsContentType>;

/** The metrics both sides declare, the same names, help, labels and buckets. */
const HTTP = { name: 'http_seconds', help: 'HTTP "request" duration.', labelNames: ['method', 'route', 'status'] as const, buckets: BUCKETS };
const WRITE = { name: 'write_seconds', help: 'Write duration.', labelNames: ['topic'] as const, buckets: BUCKETS };
const BATCH = { name: 'batch_messages', help: 'Batch size.', buckets: [1, 2, 5, 10] };
const IDLE = { name: 'idle_seconds', help: 'Never observed.', buckets: [1] };
const IDLE_LABELLED = { name: 'idle_labelled_seconds', help: 'Never observed.', labelNames: ['topic'] as const, buckets: [1] };
const PRODUCED = { name: 'produced_total', help: 'Messages.', labelNames: ['topic', 'mode'] as const };

function plain(registry: AnyRegistry): Recorders {
  const registers = [registry];
  const http = new Histogram({ ...HTTP, labelNames: [...HTTP.labelNames], registers });
  const write = new Histogram({ ...WRITE, labelNames: [...WRITE.labelNames], registers });
  const batch = new Histogram({ ...BATCH, registers });
  new Histogram({ ...IDLE, registers });
  new Histogram({ ...IDLE_LABELLED, labelNames: [...IDLE_LABELLED.labelNames], registers });
  const produced = new Counter({ ...PRODUCED, labelNames: [...PRODUCED.labelNames], registers });
  return {
    http: (labels, seconds) => http.observe(labels, seconds),
    write: (topic, seconds) => write.observe({ topic }, seconds),
    batch: (messages) => batch.observe(messages),
    produced: (topic, mode, n) => produced.inc({ topic, mode }, n),
  };
}

function bound(registry: AnyRegistry): Recorders {
  const registers = [registry];
  const http = new BoundHistogram({ ...HTTP, registers });
  const write = new BoundHistogram({ ...WRITE, registers });
  const batch = BoundHistogram.unlabeled({ ...BATCH, registers });
  BoundHistogram.unlabeled({ ...IDLE, registers });
  const idle = new BoundHistogram({ ...IDLE_LABELLED, registers });
  // Bound but never observed: no series, as prom-client shows none for a label set it never saw.
  idle.bind({ topic: 'bound-only' });
  const produced = new BoundCounter({ ...PRODUCED, registers });
  produced.bind({ topic: 'bound-only', mode: 'ordered' });
  return {
    http: (labels, seconds) => http.bind(labels).observe(seconds),
    write: (topic, seconds) => write.bind({ topic }).observe(seconds),
    batch: (messages) => batch.observe(messages),
    produced: (topic, mode, n) => produced.bind({ topic, mode }).inc(n),
  };
}

/** Request-like traffic: label sets interleaved, label values that need escaping, durations past the last bucket. */
function drive(recorders: Recorders, seed: number): void {
  const next = random(seed);
  const pick = <V>(values: readonly V[]): V => values[Math.floor(next() * values.length)]!;
  const topics = ['orders', 'payments', 'a "quoted" \\ topic\nwith a newline'];
  for (let i = 0; i < 5_000; i++) {
    const status = pick(['200', '200', '200', '400', '503']);
    // Label order as the caller gives it is kept in the text (prom-client keeps the first object it was given).
    const labels = i % 2 === 0 ? { method: 'POST', route: pick(['/v1/ordered-produce', '/v1/produce']), status } : { status, route: '/metrics', method: 'GET' };
    recorders.http(labels, next() ** 4 * 12);
    const topic = pick(topics);
    recorders.write(topic, next() * 0.02);
    const messages = 1 + Math.floor(next() * 14);
    recorders.batch(messages);
    recorders.produced(topic, pick(['ordered', 'plain']), i % 97 === 0 ? 0 : messages);
  }
  recorders.write('exactly-a-bound', 0.005);
}

describe('bound instruments', () => {
  it('export the same text and JSON as prom-client for the same observations', async () => {
    const openMetrics = (): AnyRegistry => {
      const registry = new Registry<OpenMetricsContentType>();
      registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
      return registry;
    };
    for (const make of [() => new Registry(), openMetrics]) {
      const expected = make();
      const actual = make();
      drive(plain(expected), 7);
      drive(bound(actual), 7);
      const text = await actual.metrics();
      expect(text).toBe(await expected.metrics());
      expect(text).toContain('http_seconds_bucket{le="+Inf",status="400",route="/metrics",method="GET"}');
      expect(await actual.getMetricsAsJSON()).toStrictEqual(await expected.getMetricsAsJSON());
    }
  });

  it('refuse a label the metric does not have, as prom-client does', () => {
    const counter = new BoundCounter({ name: 'c_total', help: 'c', labelNames: ['topic'], registers: [new Registry()] });
    expect(() => counter.bind({ topic: 't', mode: 'x' } as { topic: string })).toThrow(/not included in initial labelset/);
    expect(() => counter.bind({ topic: 't' }).inc(-1)).toThrow(/not possible to decrease/);
    const histogram = BoundHistogram.unlabeled({ name: 'h', help: 'h', buckets: [1], registers: [new Registry()] });
    expect(() => histogram.observe(Number.NaN)).toThrow(TypeError);
  });
});
