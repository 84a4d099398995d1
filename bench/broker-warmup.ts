import { coresOf, cpuWindow, servicePids } from './support/cpu.ts';
import { KAFKA_BROKERS, benchKafka, connectRedis, createTopic } from './support/env.ts';
import { fmtInt, fmtNum, heading, note } from './support/format.ts';
import type { LoadJob } from './support/load-job.ts';
import { LoadGenerator } from './support/load-process.ts';
import { PARTITIONS } from './support/throughput-rows.ts';
import { SHAPE } from './throughput.ts';

const ROUND_MS = 3000;
const CONCURRENCY = 64;
/** Two rounds in a row whose broker CPU per message is within this share of each other: the broker has settled. */
const SETTLED_WITHIN = 0.15;

/**
 * Sends the direct application's workload to the broker in rounds until the broker's CPU per message stops
 * falling, before anything is measured. A broker just started (`scripts/stack.sh up`) compiles its hot paths
 * under the first tens of seconds of load: a run begun a minute after the start measured the broker at 0.48
 * cores beside the first row (the sidecar's: 132,160 msg/s, 7.3 µs of sidecar CPU a message), and the same row
 * run again three minutes later 0.14 cores (230,087 msg/s, 4.7 µs). A warm broker settles in two rounds.
 */
export async function warmBroker(quick: boolean): Promise<void> {
  const maxRounds = quick ? 4 : 10;
  heading(`Broker warm-up: rounds of ${ROUND_MS / 1000} s until its CPU per message settles (at most ${maxRounds})`);
  const admin = benchKafka().admin();
  await admin.connect();
  const redis = connectRedis();
  const generator = new LoadGenerator();
  let topic: string | undefined;
  try {
    const broker = (await servicePids(redis, KAFKA_BROKERS)).find((w) => w.label === 'Kafka broker');
    if (broker?.pid === undefined) {
      note('the broker does not run on this machine (its CPU cannot be read): not warmed');
      return;
    }
    topic = await createTopic(admin, 'warmup', PARTITIONS);
    const job: LoadJob = {
      target: { kind: 'direct', engine: 'platformatic', brokers: KAFKA_BROKERS },
      pattern: { kind: 'closed', concurrency: CONCURRENCY },
      topic,
      shape: SHAPE,
      warmupMs: 0,
      durationMs: ROUND_MS,
    };
    let previous: number | undefined;
    for (let round = 1; round <= maxRounds; round++) {
      const { report, measured } = await generator.run(job, () => {
        const window = cpuWindow([broker]);
        return () => window.stop();
      });
      // A reading that failed is NaN, which never counts as settled.
      const cores = coresOf(measured, broker.label) ?? NaN;
      const perMessage = report.run.messages > 0 ? (cores * report.run.seconds * 1e6) / report.run.messages : Infinity;
      console.log(
        `   round ${round}: ${fmtInt(report.run.messages / report.run.seconds)} msgs/s, broker ${fmtNum(cores, 2)} cores, ${fmtNum(perMessage, 2)} µs a message`,
      );
      if (previous !== undefined && Math.abs(perMessage - previous) <= SETTLED_WITHIN * previous) return;
      previous = perMessage;
    }
    note(`the broker's CPU per message had not settled after ${maxRounds} rounds: the first rows may read it still warming`);
  } finally {
    await generator.close();
    if (topic) await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    await redis.quit();
  }
}
