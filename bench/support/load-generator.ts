/**
 * The load generator: a child process of the benchmark (see load-process.ts), so that its CPU is its own in
 * /proc and it never shares an event loop with what it measures. It receives one LoadJob over IPC, builds
 * the request bodies or Kafka batches and connects, warms up, says `measuring`, runs the measured window,
 * sends its report and exits.
 */
import type { LoadJob, LoadMessage, LoadResult } from './load-job.ts';
import { closedLoop, pacedLoop } from './load.ts';
import { directSender, httpSender, type Sender } from './senders.ts';
import { buildWorkload, partitionBatches } from './workload.ts';

/** Sockets for the paced pattern: far more than it ever has in flight at 1,000 requests/s of a few ms each. */
const PACED_MAX_SOCKETS = 256;

// kafkajs arms a timer with a negative delay once a request deadline has passed (harmless; the CLI hides it too).
process.removeAllListeners('warning').on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning') console.error(`${warning.name}: ${warning.message}`);
});

const tell = (message: LoadMessage): Promise<void> => new Promise((resolve, reject) => process.send!(message, undefined, {}, (err) => (err ? reject(err) : resolve())));

async function openSender(job: LoadJob): Promise<Sender> {
  const workload = buildWorkload(job.shape);
  const { target, pattern } = job;
  if (target.kind === 'sidecar') {
    if (pattern.kind === 'ceiling') throw new Error('the ceiling pattern sends straight to Kafka, not through a sidecar');
    return httpSender(target.url, workload.bodies, job.shape.messagesPerRequest, pattern.kind === 'closed' ? pattern.concurrency : PACED_MAX_SOCKETS);
  }
  const batches = pattern.kind === 'ceiling' ? partitionBatches(workload, job.shape.partitions, pattern.batchMessages) : workload.requests;
  return directSender(target.engine, target.brokers, job.shape.topic, batches);
}

function drive(job: LoadJob, sender: Sender, durationMs: number): Promise<LoadResult> {
  const { pattern, shape } = job;
  switch (pattern.kind) {
    case 'closed':
      return closedLoop(pattern.concurrency, durationMs, (i) => sender.send(i % shape.distinctBodies));
    case 'ceiling': // loop w always sends partition w's batch: one batch in flight per partition, as the sidecar's writer
      return closedLoop(shape.partitions, durationMs, (_i, w) => sender.send(w));
    case 'paced':
      return pacedLoop(pattern.perSecond, durationMs, (i) => sender.send(i % shape.distinctBodies));
  }
}

async function run(job: LoadJob): Promise<void> {
  const sender = await openSender(job);
  try {
    const warm = await drive(job, sender, job.warmupMs);
    await tell({ type: 'measuring' });
    const measured = await drive(job, sender, job.durationMs);
    await tell({ type: 'done', report: { warm, run: measured } });
  } finally {
    await sender.close();
  }
}

process.once('message', (job: LoadJob) => {
  run(job).then(
    () => process.disconnect(),
    async (err: unknown) => {
      await tell({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }).catch(() => undefined);
      process.exit(1);
    },
  );
});
