/**
 * The load generator: a child process of the benchmark (see load-process.ts), so that its CPU is its own in
 * /proc and it never shares an event loop with what it measures. For each LoadJob it receives over IPC, it
 * builds the request bodies or Kafka batches and connects, then runs without a pause through the warm-up and
 * the measured window, saying `measuring` and `measured` as the window opens and closes, and sends its report
 * once the last answers are in. It exits when the orchestrator disconnects.
 */
import type { LoadJob, LoadMessage } from './load-job.ts';
import { PhasedRun, closedLoop, pacedLoop } from './load.ts';
import { directSender, httpSender, type Sender } from './senders.ts';
import { buildRequests, orderedProduceBodies, partitionBatches, type WorkloadMessage } from './workload.ts';

/**
 * The paced pattern's bound on unanswered requests (and its sockets): far more than it has in flight at 1,000
 * requests/s of a few ms each, and few enough that a target that cannot keep up drains quickly.
 */
const PACED_MAX_IN_FLIGHT = 256;

// kafkajs arms a timer with a negative delay once a request deadline has passed (harmless; the CLI hides it too).
process.removeAllListeners('warning').on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') console.error(`${warning.name}: ${warning.message}`);
});

const tell = (message: LoadMessage): Promise<void> =>
  new Promise((resolve, reject) => process.send!(message, undefined, {}, (err) => (err ? reject(err) : resolve())));

/** The requests of each shape, built once: the rows share shapes and building them takes a while on a busy machine. */
const built = new Map<string, WorkloadMessage[][]>();
const requestsOf = (job: LoadJob): WorkloadMessage[][] => {
  const key = JSON.stringify(job.shape);
  if (!built.has(key)) built.set(key, buildRequests(job.shape));
  return built.get(key)!;
};

async function openSender(job: LoadJob): Promise<Sender> {
  const { target, pattern, topic, shape } = job;
  const requests = requestsOf(job);
  if (target.kind === 'sidecar') {
    if (pattern.kind === 'ceiling') throw new Error('the ceiling pattern sends straight to Kafka, not through a sidecar');
    return httpSender(
      target.url,
      orderedProduceBodies(topic, requests),
      shape.messagesPerRequest,
      pattern.kind === 'closed' ? pattern.concurrency : PACED_MAX_IN_FLIGHT,
    );
  }
  const batches = pattern.kind === 'ceiling' ? partitionBatches(requests, shape.partitions, pattern.batchMessages) : requests;
  return directSender(target.engine, target.brokers, topic, batches);
}

function drive(job: LoadJob, sender: Sender, run: PhasedRun): Promise<void> {
  const { pattern, shape } = job;
  switch (pattern.kind) {
    case 'closed':
      return closedLoop(run, pattern.concurrency, (i) => sender.send(i % shape.distinctBodies));
    case 'ceiling': // loop w always sends partition w's batch: one batch in flight per partition, as the sidecar's writer
      return closedLoop(run, shape.partitions, (_i, w) => sender.send(w));
    case 'paced':
      return pacedLoop(run, pattern.perSecond, PACED_MAX_IN_FLIGHT, (i) => sender.send(i % shape.distinctBodies));
  }
}

async function run(job: LoadJob): Promise<void> {
  const sender = await openSender(job);
  try {
    const marks = { measuring: () => void tell({ type: 'measuring' }), measured: () => void tell({ type: 'measured' }) };
    const phased = new PhasedRun(job.warmupMs, job.durationMs, marks);
    await drive(job, sender, phased);
    await tell({ type: 'done', report: phased.results() });
  } finally {
    await sender.close();
  }
}

process.on('message', (job: LoadJob) => {
  run(job).catch((err: unknown) => tell({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
});
