/**
 * The floor of section 4b: the least an HTTP hop in front of @platformatic/kafka can cost on this machine. A
 * bare `node:http` server, a child process of the benchmark (floor-process.ts), that takes the sidecar's
 * ordered-produce body, reads and parses it, sends its messages with one idempotent producer configured as the
 * direct application's (senders.ts), each to its group's hashed partition as the direct application's are,
 * and answers 200 with a small JSON. No routing, validation, middleware or metrics: whatever the sidecar costs
 * above this is its own.
 *
 *   node floor-server.ts <brokers,comma,separated> <partitions>
 *
 * It says `{ port }` over IPC once it listens and exits when the benchmark disconnects.
 */
import { createServer, type ServerResponse } from 'node:http';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { GROUP_HEADER } from '../../src/protocol/group-header.ts';
import { groupHash, hashedPartition } from '../../src/routing/hashing.ts';

interface OrderedProduceBody {
  topic: string;
  messages: { message_group: string; value: string }[];
}

const [brokers = '', partitionArg = ''] = process.argv.slice(2);
const partitions = Number(partitionArg);
if (!brokers || !Number.isInteger(partitions) || partitions <= 0) throw new Error('usage: floor-server.ts <brokers> <partitions>');

const producer = new Producer({
  clientId: 'ordered-sidecar-bench-floor',
  bootstrapBrokers: brokers.split(','),
  serializers: stringSerializers,
  idempotent: true,
  acks: -1,
  autocreateTopics: false,
});

const answer = (res: ServerResponse, status: number, body: object): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
};

async function produce(raw: Buffer): Promise<number> {
  const { topic, messages } = JSON.parse(raw.toString('utf8')) as OrderedProduceBody;
  await producer.send({
    messages: messages.map((m) => ({
      topic,
      partition: hashedPartition(groupHash(m.message_group), partitions),
      value: m.value,
      headers: { [GROUP_HEADER]: m.message_group },
    })),
  });
  return messages.length;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    produce(Buffer.concat(chunks)).then(
      (written) => answer(res, 200, { successful_messages: written }),
      (err: unknown) => answer(res, 500, { successful_messages: 0, error: err instanceof Error ? err.message : String(err) }),
    );
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send!({ port: typeof address === 'object' && address ? address.port : 0 });
});

process.once('disconnect', () => {
  server.close();
  server.closeAllConnections();
  void producer.close().finally(() => process.exit(0));
});
