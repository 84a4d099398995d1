/**
 * Experiment behind docs/consumption.md ("Could the consumer run on @platformatic/kafka?"): can
 * @platformatic/kafka's consumer hold a revocation until in-flight work settles?
 *
 * Consumer A reads a 4-partition topic. Its `protocolsMetadata` callback (the only application code that
 * @platformatic/kafka awaits before it sends JoinGroup on a rejoin) stands for "drain in-flight deliveries":
 * on every rejoin it commits, then waits `HOLD_MS`. Consumer B then joins the same group, and 1 s later 8 more
 * records are produced. The timeline says when A's hook ran, whether A's stream kept delivering during it,
 * whether its commit inside the hook was accepted, and when B got partitions: after the hook (the revocation
 * was held) or before it ended (A was dropped from the group while still "draining").
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 HOLD_MS=8000 SESSION_MS=30000 node bench/revocation-hook.ts
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Consumer, Producer, type GroupAssignment, type Message, type MessagesStream } from '@platformatic/kafka';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const HOLD_MS = Number(process.env.HOLD_MS ?? 8000);
const SESSION_MS = Number(process.env.SESSION_MS ?? 30_000);
/** PAUSE=1: the hook pauses A's stream (no fetching for partitions about to go) and the join resumes it. */
const PAUSE = process.env.PAUSE === '1';
const topic = `revocation-${randomUUID().slice(0, 8)}`;
const groupId = `revocation-${randomUUID().slice(0, 8)}`;
let t0 = performance.now();
const at = () => `${String(Math.round(performance.now() - t0)).padStart(6)} ms`;
const say = (line: string) => process.stdout.write(`${at()}  ${line}\n`);
const show = (a: GroupAssignment[] | null | undefined) => JSON.stringify((a ?? []).map((x) => x.partitions).flat());

const admin = new Admin({ clientId: 'revocation-admin', bootstrapBrokers: brokers });
await admin.createTopics({ topics: [topic], partitions: 4, replicas: 1 });
// Idempotent: a send retried while the new topic's leaders settle must not write a batch twice (it did, without).
const producer = new Producer({ clientId: 'revocation-producer', bootstrapBrokers: brokers, idempotent: true, acks: -1 });
const produce = async (n: number, from: number) => {
  await producer.send({
    messages: Array.from({ length: n }, (_, i) => ({ topic, partition: (from + i) % 4, value: Buffer.from(String(from + i)) })),
  });
};
await produce(40, 0);

let hookRunning = false;
let streamA: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
let duringHook = 0;
let lastSeen = new Map<number, bigint>();

function consumer(name: string, hold: boolean): Consumer {
  const c: Consumer = new Consumer({
    clientId: `revocation-${name}`,
    bootstrapBrokers: brokers,
    groupId,
    autocommit: false,
    sessionTimeout: SESSION_MS,
    rebalanceTimeout: 120_000,
    heartbeatInterval: 1000,
    protocolsMetadata: async () => {
      // The first join (and its MEMBER_ID_REQUIRED retry) owns nothing yet: nothing to hold.
      if (!hold || (c.assignments ?? []).length === 0) return Buffer.alloc(0);
      hookRunning = true;
      if (PAUSE) streamA?.pause();
      say(`${name}: rejoin hook starts (assignment still ${show(c.assignments)}), holding ${HOLD_MS} ms`);
      const offsets = [...lastSeen].map(([partition, offset]) => ({ topic, partition, offset: offset + 1n, leaderEpoch: 0 }));
      await c.commit({ offsets }).then(
        () => say(`${name}: commit inside the hook accepted (${offsets.length} partitions)`),
        (err: unknown) => say(`${name}: commit inside the hook failed: ${(err as Error).message}`),
      );
      await sleep(HOLD_MS);
      hookRunning = false;
      say(`${name}: rejoin hook ends (${duringHook} records delivered to the stream while it ran)`);
      return Buffer.alloc(0);
    },
  });
  c.on('consumer:group:join', (p) => {
    say(`${name}: joined generation ${p.generationId}, partitions ${show(p.assignments)}`);
    if (PAUSE && hold) streamA?.resume();
  });
  c.on('consumer:heartbeat:error', (p) => say(`${name}: heartbeat error ${p.error.message}`));
  c.on('consumer:group:rebalance', () => say(`${name}: rebalance event`));
  return c;
}

const a = consumer('A', true);
let seen = 0;
const afterB: string[] = [];
streamA = await a.consume({
  topics: [topic],
  mode: 'committed',
  fallbackMode: 'earliest',
  autocommit: false,
});
streamA.on('data', (m: Message) => {
  seen += 1;
  lastSeen.set(m.partition, m.offset);
  if (hookRunning) duringHook += 1;
  if (seen > 40) afterB.push(`${m.partition}@${m.offset}${hookRunning ? ' (in hook)' : ''}`);
});
while (seen < 40) await sleep(100);
t0 = performance.now();
say(`A has read 40 records; its partitions ${show(a.assignments)}; session ${SESSION_MS} ms; pause ${PAUSE}; B joins now`);
const b = consumer('B', false);
const bJoined = new Promise<void>((resolve) => b.once('consumer:group:join', () => resolve()));
// Not awaited: consume() resolves only once B's join completed, and the records must come during A's hook.
const streamB = b.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
let seenB = 0;
void streamB.then((s) => s.on('data', () => (seenB += 1)));
await sleep(1000);
await produce(8, 40);
say('8 more records produced');
await bJoined;
await sleep(Math.max(2000, HOLD_MS + 2000 - (performance.now() - t0)));
say(`end: A read ${seen - 40} records after B came, ${duringHook} of them inside the hook; B read ${seenB}`);
say(`A partitions ${show(a.assignments)}, B partitions ${show(b.assignments)}; A read after B came: ${afterB.join(', ')}`);
lastSeen = new Map();
await Promise.allSettled([streamA.close(), streamB.then((s) => s.close())]);
await Promise.allSettled([a.close(true), b.close(true), producer.close()]);
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.close();
