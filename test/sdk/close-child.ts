/**
 * Run by close.test.ts in a process of its own: sends one message, closes the client and reports what is
 * still keeping the process alive. `node test/sdk/close-child.ts <sidecar-url> <topic> [<kafka-brokers>]`:
 * with brokers, the sidecar URL is expected to be unreachable and the client falls back to Kafka.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { Client } from '../../src/sdk/index.ts';

// Every client socket the process opens (HTTP and Kafka), to tell after close() which are still open.
const opened: Socket[] = [];
subscribe('net.client.socket', (message) => void opened.push((message as { socket: Socket }).socket));

/** How long sockets may take to finish closing after close() before they count as left open. */
const SOCKET_CLOSE_DEADLINE_MS = 5_000;

const [url, topic, brokers] = process.argv.slice(2) as [string, string, string | undefined];
const client = new Client({
  url,
  probeMaxElapsedMs: brokers ? 200 : 15_000,
  logger: { warn: () => undefined },
  ...(brokers ? { fallback: { kafka: { brokers: brokers.split(',') } } } : {}),
});
const result = await client.orderedProducer().sendSingleOrderedMessage(topic, 'close-1', null, 'x');
await client.close();
// Let close()'s own callbacks run before looking.
await new Promise((resolve) => setImmediate(resolve));
const alive = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
// Idle keep-alive sockets are unref'd, so not "alive", yet open: close() must end them too. kafkajs ends
// its sockets gracefully (FIN first), so they are polled until closed; any still open at the deadline are
// reported, and fail the test.
const open = (): number => opened.filter((s) => !s.destroyed).length;
const deadline = Date.now() + SOCKET_CLOSE_DEADLINE_MS;
while (open() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
const sockets = open();
process.stdout.write(JSON.stringify({ via: result.via, written: result.successfulMessages, alive, sockets }));
