/**
 * Account transactions: a balance is only right if each account's transactions apply in order. Accounts
 * stream concurrently, one message per call; the transaction id is the dedup id, so a retried send can
 * never apply a transaction twice.
 *
 *   SIDECAR_URL=http://127.0.0.1:8080 KAFKA_BROKERS=127.0.0.1:9092 node examples/account-transactions.ts
 */
import { Client, SidecarClientError, type OrderedProducer } from '../src/sdk/index.ts';
import { createTopic, kafkaFor, printOrder, readBack, resolveExample, runFromCommandLine, type ExampleOptions, type ExampleResult } from './example-support.ts';

const ACCOUNTS = 3;
const TRANSACTIONS = 8;

/**
 * A send that fails retriably (its retry budget used up) may still have been written, and leaves the
 * account "in doubt": its next transaction would be refused. Resending the same transaction (same dedupId)
 * settles it and is written at most once, so that is what a caller does before moving on.
 */
async function sendTransaction(producer: OrderedProducer, topic: string, account: string, entry: string, dedupId: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await producer.sendSingleOrderedMessage(topic, account, account, entry, { dedupId });
      return;
    } catch (err) {
      if (!(err instanceof SidecarClientError) || !err.retriable || attempt >= 3) throw err;
    }
  }
}

export async function main(options: ExampleOptions = {}): Promise<ExampleResult> {
  const { sidecarUrl, kafkaBrokers, topic, print } = resolveExample('account-transactions', options);
  const kafka = kafkaFor(kafkaBrokers);
  await createTopic(kafka, topic, 3);

  const client = new Client({ url: sidecarUrl });
  const producer = client.orderedProducer();
  const sent: Record<string, string[]> = {};
  await Promise.all(
    Array.from({ length: ACCOUNTS }, async (_, a) => {
      const account = `account-${a + 1}`;
      for (let t = 1; t <= TRANSACTIONS; t++) {
        const amount = t % 3 === 0 ? -25 * t : 10 * t;
        const entry = `tx${t}:${amount > 0 ? '+' : ''}${amount}`;
        (sent[account] ??= []).push(entry);
        await sendTransaction(producer, topic, account, entry, `${account}-tx-${t}`);
      }
    }),
  );
  await client.close();

  const observed = await readBack(kafka, topic, ACCOUNTS * TRANSACTIONS);
  const result = { topic, sent, observed };
  printOrder('account transactions', result, print);
  for (const account of Object.keys(observed).sort()) {
    const balance = observed[account]!.reduce((sum, entry) => sum + Number(entry.split(':')[1]), 0);
    print(`  ${account}: balance after replay ${balance}`);
  }
  return result;
}

if (import.meta.main) await runFromCommandLine(main);
