// Developer helper for the README tour: the sidecar never creates topics, so this does, and it shows what
// landed where. Usage:
//   node scripts/topic.ts create <topic> [partitions=6] [replication=1]
//   node scripts/topic.ts tail <topic>        (prints partition, offset, message-group, key, value; Ctrl-C stops)
import { Kafka, logLevel } from 'kafkajs';

const [command, topic, a, b] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: 'ordered-sidecar-topic-tool',
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  logLevel: logLevel.ERROR,
});

if (!topic || (command !== 'create' && command !== 'tail')) {
  process.stderr.write('usage: node scripts/topic.ts create <topic> [partitions] [replication] | tail <topic>\n');
  process.exit(2);
}

if (command === 'create') {
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: Number(a ?? 6), replicationFactor: Number(b ?? 1) }], waitForLeaders: true });
  process.stdout.write(created ? `created ${topic} with ${a ?? 6} partitions\n` : `${topic} already exists\n`);
  await admin.disconnect();
} else {
  const consumer = kafka.consumer({ groupId: `tail-${process.pid}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  process.once('SIGINT', () => void consumer.disconnect().then(() => process.exit(0)));
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const group = message.headers?.['message-group']?.toString() ?? '-';
      process.stdout.write(
        `partition=${partition} offset=${message.offset} group=${group} key=${message.key?.toString() ?? 'null'} value=${message.value?.toString() ?? 'null'}\n`,
      );
    },
  });
}
