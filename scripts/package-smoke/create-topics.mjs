// Run by scripts/package-smoke.sh: creates the topics named as arguments, `name:partitions`, before the sidecars
// start, so a subscription finds its topic and dead-letter topic at once (a missing one is looked for every 5 s).
import { Kafka, logLevel } from 'kafkajs';

const kafka = new Kafka({ clientId: 'package-smoke', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.ERROR });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: process.argv.slice(2).map((arg) => {
    const [topic, partitions] = arg.split(':');
    return { topic, numPartitions: Number(partitions), replicationFactor: 1 };
  }),
  waitForLeaders: true,
});
await admin.disconnect();
