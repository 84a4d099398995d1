import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

/** What every example takes; each field falls back to the environment, then to the local defaults. */
export interface ExampleOptions {
  /** Sidecar URL. @defaultValue process.env.SIDECAR_URL ?? 'http://127.0.0.1:8080' */
  sidecarUrl?: string;
  /** Kafka bootstrap servers (for creating the topic and reading it back). @defaultValue process.env.KAFKA_BROKERS ?? ['127.0.0.1:9092'] */
  kafkaBrokers?: string[];
  /** Topic to create and use. @defaultValue a fresh `<scenario>-<random>` */
  topic?: string;
  /** Where the per-group order is printed. @defaultValue console.log */
  print?: (line: string) => void;
}

/** What an example sent and what it read back, per MessageGroup, in order. */
export interface ExampleResult {
  topic: string;
  sent: Record<string, string[]>;
  observed: Record<string, string[]>;
}

export function resolveExample(scenario: string, options: ExampleOptions): Required<ExampleOptions> {
  return {
    sidecarUrl: options.sidecarUrl ?? process.env.SIDECAR_URL ?? 'http://127.0.0.1:8080',
    kafkaBrokers: options.kafkaBrokers ?? (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    topic: options.topic ?? `${scenario}-${randomUUID().slice(0, 8)}`,
    print: options.print ?? ((line) => console.log(line)),
  };
}

export const kafkaFor = (brokers: string[]): Kafka => new Kafka({ clientId: 'ordered-sidecar-example', brokers, logLevel: logLevel.NOTHING });

/** The sidecar never creates topics: the application (here, the example) does. */
export async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads the topic from the beginning until `expected` records arrived; returns each MessageGroup's values
 * (from the `message-group` header) in the order a consumer saw them.
 */
export async function readBack(
  kafka: Kafka,
  topic: string,
  expected: number,
  decode: (value: Buffer | null) => string = (v) => v?.toString() ?? 'null',
): Promise<Record<string, string[]>> {
  const observed: Record<string, string[]> = {};
  let count = 0;
  const consumer = kafka.consumer({ groupId: `${topic}-reader-${randomUUID().slice(0, 8)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${count} of ${expected} records of ${topic} in 60 s`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const group = message.headers?.['message-group']?.toString() ?? '(none)';
          (observed[group] ??= []).push(decode(message.value));
          if (++count >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return observed;
}

export function printOrder(title: string, result: ExampleResult, print: (line: string) => void): void {
  print(`${title} (topic ${result.topic}): per-group order a consumer observed`);
  for (const group of Object.keys(result.sent).sort()) {
    const inOrder = JSON.stringify(result.observed[group]) === JSON.stringify(result.sent[group]);
    print(`  ${group}: ${(result.observed[group] ?? []).join(' -> ')}  [${inOrder ? 'in order' : 'OUT OF ORDER'}]`);
  }
}

/** `node examples/<name>.ts`: runs the example with the environment's settings and exits non-zero on failure. */
export async function runFromCommandLine(main: (options: ExampleOptions) => Promise<ExampleResult>): Promise<void> {
  try {
    const result = await main({});
    const ok = Object.keys(result.sent).every((g) => JSON.stringify(result.observed[g]) === JSON.stringify(result.sent[g]));
    process.exitCode = ok ? 0 : 1;
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  }
}
