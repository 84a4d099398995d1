import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { DedupStore } from '../src/dedup/dedup-store.ts';
import { DedupWindow } from '../src/dedup/dedup-window.ts';
import { createLogger } from '../src/logging/logger.ts';
import { SidecarMetrics } from '../src/metrics/sidecar-metrics.ts';
import { ProduceService } from '../src/produce/produce-service.ts';
import { OrderedMessageRouter } from '../src/routing/router.ts';
import { PartitionWriter } from '../src/writer/partition-writer.ts';
import type { BatchSendPort } from '../src/writer/send-port.ts';
// The unit tests' in-memory routing store: once the routes are cached, the store is not asked again.
import { FakeRouteStore } from '../test/support/fake-route-store.ts';
import { buildRequests } from './support/workload.ts';

/**
 * What the sidecar's own produce path allocates and spends per ordered-produce request, without HTTP, Redis
 * or Kafka: ProduceService with the real router (routes cached), the real writer over a send port that
 * answers on the next turn, prom-client metrics, and the response's JSON.stringify. The request bodies are
 * parsed once beforehand (body-parsing is not measured). Workload of the everyday rows: 10 messages of 100
 * bytes over 1,000 groups and 12 partitions, one broker, two requests in flight.
 *
 *   node --expose-gc --max-semi-space-size=64 --min-semi-space-size=64 bench/alloc-micro.ts bytes
 *     bytes allocated per request: the young generation is emptied, 500 requests run, and the heap's growth
 *     is read (rounds a scavenge fell into are dropped), median of 15 rounds
 *   node --expose-gc bench/alloc-micro.ts cpu
 *     CPU per request, collections included: median of 5 runs of 20,000 requests
 *   node --expose-gc bench/alloc-micro.ts sites
 *     where the bytes are allocated (inspector's sampling heap profiler, collected objects kept); add
 *     --no-turbo-inlining to see inlined functions as their own frames
 *
 * Each prints one JSON line (sites: a table), so old and new code can be run alternately from two trees.
 */

const PARTITIONS = 12;
const CONCURRENCY = 2;
const WARM_REQUESTS = 20_000;

const unusedDedup: DedupStore = {
  claim: () => Promise.reject(new Error('no dedup_id in this workload')),
  renew: async () => 0,
  settle: async () => undefined,
};

const log = createLogger('error', {}, () => undefined);
const metrics = new SidecarMetrics();
const router = new OrderedMessageRouter(
  new FakeRouteStore(),
  async () => PARTITIONS,
  { routerBuckets: 16, routeCacheSize: 100_000, groupTtlMs: 3_600_000, touchFlushIntervalMs: 1000 },
  metrics,
  log,
);
let nextOffset = 0n;
const port: BatchSendPort = {
  leaderOf: () => 1,
  sendBatches: (batches) =>
    new Promise((resolve) =>
      setImmediate(() =>
        resolve(
          batches.map(({ messages }) => {
            const baseOffset = nextOffset;
            nextOffset += BigInt(messages.length);
            return { baseOffset };
          }),
        ),
      ),
    ),
};
const writer = new PartitionWriter(port, { maxBatchMessages: 1000, maxBatchBytes: 1024 * 1024 }, metrics);
const produce = new ProduceService({
  maxQueuedBytes: 256 * 1024 * 1024,
  router,
  partitionCount: async () => PARTITIONS,
  recheckTopic: () => undefined,
  routeLogTopic: undefined,
  writer,
  keyPartitioner: () => 0,
  metrics,
  limits: { maxGroupBytes: 256, maxDedupIdBytes: 256, maxMessageBytes: 1024 * 1024, maxMessagesPerRequest: 10_000 },
  dedup: new DedupWindow(unusedDedup, { leaseMs: 15_000, pollMs: 10, maxWaitMs: 1000 }, log),
  log,
});

const bodies: unknown[] = buildRequests({ groups: 1000, partitions: PARTITIONS, messagesPerRequest: 10, valueBytes: 100, distinctBodies: 256 }).map(
  (messages) => ({ topic: 'bench', messages: messages.map((m) => ({ message_group: m.group, value: m.value })) }),
);

let sent = 0;
let responseChars = 0;
async function run(requests: number): Promise<void> {
  let started = 0;
  const loop = async (): Promise<void> => {
    while (started < requests) {
      started++;
      const response = await produce.ordered(bodies[sent++ % bodies.length]);
      responseChars += JSON.stringify(response).length;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function bytesPerRequest(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  let collections = 0;
  new PerformanceObserver((list) => (collections += list.getEntries().length)).observe({ entryTypes: ['gc'] });
  // GC entries arrive after the collection: a short pause lets gc()'s own entry be counted before a round.
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
  const BATCH = 500;
  const perRequest: number[] = [];
  for (let round = 0; round < 15; round++) {
    gc();
    await pause();
    const seen = collections;
    const before = getHeapStatistics().used_heap_size;
    await run(BATCH);
    const after = getHeapStatistics().used_heap_size;
    await pause();
    if (collections === seen) perRequest.push((after - before) / BATCH);
  }
  console.log(JSON.stringify({ rounds: perRequest.length, bytes_per_request: Math.round(median(perRequest)) }));
}

async function cpuPerRequest(): Promise<void> {
  const REQUESTS = 20_000;
  const perRequest: number[] = [];
  for (let round = 0; round < 5; round++) {
    const started = process.cpuUsage();
    await run(REQUESTS);
    const { user, system } = process.cpuUsage(started);
    perRequest.push((user + system) / REQUESTS);
  }
  console.log(JSON.stringify({ cpu_us_per_request: Number(median(perRequest).toFixed(1)) }));
}

interface SampledNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampledNode[];
}

async function allocationSites(): Promise<void> {
  const REQUESTS = 20_000;
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  await run(REQUESTS);
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  const where = ({ functionName, url, lineNumber }: SampledNode['callFrame']): string =>
    `${functionName || '(anonymous)'} ${url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}`;
  const byFrame = new Map<string, number>();
  const bySidecarFrame = new Map<string, number>();
  let total = 0;
  const walk = (node: SampledNode, nearestOwn: string): void => {
    const own = node.callFrame.url.includes('/src/') ? where(node.callFrame) : nearestOwn;
    if (node.selfSize > 0) {
      total += node.selfSize;
      byFrame.set(where(node.callFrame), (byFrame.get(where(node.callFrame)) ?? 0) + node.selfSize);
      bySidecarFrame.set(own, (bySidecarFrame.get(own) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, own);
  };
  walk(profile.head as SampledNode, '(no frame of src/ on the stack)');
  const show = (title: string, sites: Map<string, number>): void => {
    console.log(`\n${title}`);
    for (const [site, bytes] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
      console.log(`${String(Math.round(bytes / REQUESTS)).padStart(7)} B/request  ${site}`);
    }
  };
  console.log(`sampled: ${Math.round(total / REQUESTS)} B/request`);
  show('by the allocating frame', byFrame);
  show('by the nearest frame in src/', bySidecarFrame);
}

await run(WARM_REQUESTS); // routes cached, functions optimised
const modes = { bytes: bytesPerRequest, cpu: cpuPerRequest, sites: allocationSites };
const mode = process.argv[2] ?? 'bytes';
if (!(mode in modes)) throw new Error(`unknown mode "${mode}" (bytes, cpu, sites)`);
await modes[mode as keyof typeof modes]();
if (responseChars === 0) throw new Error('no response was serialised');
