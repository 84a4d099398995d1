// Run by scripts/package-smoke.sh in a fresh project with both tarballs installed and the installed sidecar
// serving at SIDECAR_URL: sends interleaved ordered messages of SMOKE_GROUPS MessageGroups (g0.., SMOKE_PER_GROUP
// each, "g<g>:<n>") to SMOKE_TOPIC (created by create-topics.mjs) through the installed SDK, then reads the topic
// back from Kafka and checks that each group landed in one partition, complete, in order. With SMOKE_CODEC, the
// sidecar's KAFKA_COMPRESSION (snappy or lz4), the batches read back must be compressed with it.
import { Client } from 'ordered-sidecar-client';
import kafkajs from 'kafkajs';

// kafkajs is CommonJS: Node's ESM loader does not see CompressionCodecs among its named exports.
const { Kafka, logLevel, CompressionCodecs, CompressionTypes } = kafkajs;

const GROUPS = Number(process.env.SMOKE_GROUPS);
const PER_GROUP = Number(process.env.SMOKE_PER_GROUP);
const topic = process.env.SMOKE_TOPIC;
const kafka = new Kafka({ clientId: 'package-smoke', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.ERROR });
const fail = (why) => {
  console.error(`ordered-roundtrip: ${why}`);
  process.exit(1);
};
// kafkajs reads gzip only: the codec is @platformatic/kafka's (installed with the sidecar), as in the sidecar's own
// kafkajs, counted so that a sidecar ignoring KAFKA_COMPRESSION fails.
const codec = process.env.SMOKE_CODEC;
let decompressed = 0;
if (codec) {
  const { compressionsAlgorithms } = await import('@platformatic/kafka');
  const type = { snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4 }[codec] ?? fail(`SMOKE_CODEC ${codec} is not snappy or lz4`);
  CompressionCodecs[type] = () => ({
    decompress: async (buffer) => {
      decompressed += 1;
      return compressionsAlgorithms[codec].decompressSync(buffer);
    },
  });
}

const client = new Client({ url: process.env.SIDECAR_URL });
const producer = client.orderedProducer();
if ((await client.mode()) !== 'sidecar') fail('the client did not choose the sidecar');
// Rounds of one message per group, mixed in each send, and one batch per group on top: order is per group.
for (let n = 0; n < PER_GROUP - 5; n++) {
  const messages = Array.from({ length: GROUPS }, (_, g) => ({ messageGroup: `g${g}`, value: `g${g}:${n}` }));
  const result = await producer.sendOrderedMessages(topic, messages);
  if (result.messages.some((m) => m.status !== 'written')) fail(`send ${n}: ${JSON.stringify(result)}`);
}
await Promise.all(
  Array.from({ length: GROUPS }, (_, g) =>
    producer.sendMessageGroupBatch(
      topic,
      `g${g}`,
      Array.from({ length: 5 }, (_, i) => ({ value: `g${g}:${PER_GROUP - 5 + i}` })),
    ),
  ),
);
await client.close();

const consumer = kafka.consumer({ groupId: `package-smoke-${process.pid}-${Date.now()}` });
const seen = new Map();
let count = 0;
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
const done = new Promise((resolve) => {
  consumer.run({
    eachMessage: async ({ partition, message }) => {
      const group = message.headers['message-group']?.toString();
      const [valueGroup, n] = message.value.toString().split(':');
      if (group !== valueGroup) fail(`record ${partition}/${message.offset} has group header ${group}, value ${message.value}`);
      const list = seen.get(group) ?? [];
      list.push({ partition, n: Number(n) });
      seen.set(group, list);
      if (++count === GROUPS * PER_GROUP) resolve();
    },
  });
});
const deadline = setTimeout(() => fail(`read ${count} of ${GROUPS * PER_GROUP} records within 60 s`), 60_000);
await done;
clearTimeout(deadline);
await consumer.disconnect();

for (const [group, records] of seen) {
  const partitions = new Set(records.map((r) => r.partition));
  if (partitions.size !== 1) fail(`${group} is in partitions ${[...partitions]}`);
  const order = records.map((r) => r.n).join(',');
  if (order !== Array.from({ length: PER_GROUP }, (_, i) => i).join(',')) fail(`${group} came back as ${order}`);
}
if (seen.size !== GROUPS) fail(`${seen.size} groups came back, ${GROUPS} were sent`);
if (codec && decompressed === 0) fail(`no batch came back compressed with ${codec}`);
const used = new Set([...seen.values()].map((r) => r[0].partition));
console.log(
  `ordered-roundtrip: ${count} messages of ${GROUPS} groups written through the installed SDK and the sidecar at ${process.env.SIDECAR_URL}, read back in order (${used.size} partitions used${codec ? `, ${decompressed} ${codec} batches` : ''}) on node ${process.version}`,
);
