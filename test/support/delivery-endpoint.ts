import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeliveryBody } from '../../src/protocol/delivery.ts';

export interface Received {
  body: DeliveryBody;
  status: number;
  headers: IncomingHttpHeaders;
}

/** What the endpoint answers to one delivery, after its latency. */
export type Answer = (body: DeliveryBody) => number;

/**
 * A real HTTP endpoint for deliveries that records what it got and checks the ordering promises itself:
 * two deliveries of one MessageGroup at once are an overlap; several of one partition at once show
 * parallelism inside a partition.
 */
export async function deliveryEndpoint(options: { latencyMs?: [number, number]; answer?: Answer; delayMs?: (body: DeliveryBody) => number | undefined } = {}) {
  const [minMs, maxMs] = options.latencyMs ?? [0, 0];
  /** Deliveries as they arrived, before any answer. */
  const arrived: DeliveryBody[] = [];
  let answer: Answer = options.answer ?? (() => 200);
  const received: Received[] = [];
  const overlaps: string[] = [];
  const inFlightByGroup = new Map<string, number>();
  const inFlightByPartition = new Map<number, number>();
  let maxPerPartition = 0;
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', async () => {
      const body = JSON.parse(text) as DeliveryBody;
      arrived.push(body);
      const groupKey = `${body.topic}/${body.message_group}`;
      const now = (inFlightByGroup.get(groupKey) ?? 0) + 1;
      inFlightByGroup.set(groupKey, now);
      if (now > 1) overlaps.push(`${groupKey} offsets ${body.messages.map((m) => m.offset).join(',')}`);
      const p = (inFlightByPartition.get(body.partition) ?? 0) + 1;
      inFlightByPartition.set(body.partition, p);
      maxPerPartition = Math.max(maxPerPartition, p);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        inFlightByGroup.set(groupKey, inFlightByGroup.get(groupKey)! - 1);
        inFlightByPartition.set(body.partition, inFlightByPartition.get(body.partition)! - 1);
      };
      // A sidecar killed mid-delivery closes the connection: its delivery is over.
      res.on('close', finish);
      await sleep(options.delayMs?.(body) ?? minMs + Math.random() * (maxMs - minMs));
      const status = answer(body);
      received.push({ body, status, headers: req.headers });
      finish();
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/deliver`,
    received,
    arrived,
    overlaps,
    get maxPerPartition() {
      return maxPerPartition;
    },
    setAnswer(next: Answer) {
      answer = next;
    },
    /** Acknowledged values per MessageGroup, in the order they were acknowledged. */
    acked(): Map<string | null, string[]> {
      const out = new Map<string | null, string[]>();
      for (const r of received) {
        if (r.status < 200 || r.status > 299) continue;
        const list = out.get(r.body.message_group) ?? [];
        list.push(...r.body.messages.map((m) => m.value ?? ''));
        out.set(r.body.message_group, list);
      }
      return out;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The consumption tests' name for `eventually` (test/support/eventually.ts). */
export { eventually as waitFor } from './eventually.ts';

type Endpoint = Awaited<ReturnType<typeof deliveryEndpoint>>;

/**
 * What an ordered subscription promises, checked from what the endpoint saw: no two deliveries of one group
 * overlapped; per group, the first acknowledgement of each message came in order (repeats may follow, never
 * run ahead); and exactly `expected` (group -> values) were acknowledged, so nothing is missing and nothing
 * given up (skipped, dead-lettered) was delivered after all.
 */
export function expectDeliveredInOrder(endpoint: Endpoint, expected: ReadonlyMap<string, readonly string[]>): void {
  if (endpoint.overlaps.length > 0) throw new Error(`deliveries of one group overlapped: ${endpoint.overlaps.join('; ')}`);
  const acked = endpoint.acked();
  // Every group's mismatch, with where its acknowledged records were: one group's missing value and another's
  // extra one (a skipped head delivered, or a second copy of it at a later offset) are read together.
  const wrong = [...expected].flatMap(([group, values]) => {
    const seen = acked.get(group) ?? [];
    const firsts = [...new Set(seen)];
    if (JSON.stringify(firsts) === JSON.stringify(values)) return [];
    const where = endpoint.received
      .filter((r) => r.body.message_group === group && r.status >= 200 && r.status <= 299)
      .flatMap((r) => r.body.messages.map((m) => `${m.value}@${r.body.partition}/${m.offset}`));
    return [`${group}: first acknowledgements ${firsts.join(',')}; expected ${values.join(',')} (all acknowledged: ${where.join(',')})`];
  });
  if (wrong.length > 0) throw new Error(wrong.join('\n'));
}
