import { expect } from 'vitest';
import type { Client } from '../../src/sdk/client.ts';
import { GROUP_HEADER } from '../../src/protocol/group-header.ts';
import type { ConsumedRecord } from './kafka.ts';

/**
 * Ordered sends to `topic` through several sidecars for Redis fault tests: each group sends `<group>#<seq>`
 * one message at a time (each waits for the previous one's outcome), with the dedup id `<group>#<seq>`,
 * alternating sidecars so that every sidecar routes every group.
 */
export class OrderedStream {
  /** Messages acknowledged per group: seq 0..n-1 were sent. */
  readonly sent = new Map<string, number>();
  readonly #running: Promise<void>[] = [];
  #stopAt = Infinity;
  #round = 0;

  readonly #clients: Client[];
  readonly #topic: string;

  constructor(clients: Client[], topic: string) {
    this.#clients = clients;
    this.#topic = topic;
  }

  /** Starts groups `<prefix>-0` .. `<prefix>-<count-1>`. */
  start(prefix: string, count: number): void {
    for (let g = 0; g < count; g++) this.#running.push(this.#sendGroup(`${prefix}-${g}`));
  }

  /**
   * Keeps sending for `ms` more, then waits for every group's last send and closes the clients. Checks that
   * the stream did go on: every group has messages acknowledged after this call (after a failover, say).
   */
  async stopAfter(ms: number): Promise<void> {
    const before = new Map(this.sent);
    this.#stopAt = Date.now() + ms;
    await Promise.all(this.#running);
    await Promise.all(this.#clients.map((c) => c.close()));
    for (const [group, count] of this.sent) expect(count, `${group} sent more after the stop was called`).toBeGreaterThan(before.get(group) ?? 0);
  }

  async #sendGroup(group: string): Promise<void> {
    for (let seq = 0; Date.now() < this.#stopAt; seq++) {
      const client = this.#clients[(seq + this.#round++) % this.#clients.length]!;
      await client.orderedProducer().sendSingleOrderedMessage(this.#topic, group, null, `${group}#${seq}`, { dedupId: `${group}#${seq}` });
      this.sent.set(group, seq + 1);
    }
  }
}

/**
 * The topic read back holds exactly the groups `sent` names, each in one partition, with every message sent
 * and first occurrences in send order (a retry whose dedup record was lost may repeat a message).
 */
export function expectGroupsIntact(records: ConsumedRecord[], sent: Map<string, number>): void {
  const byGroup = new Map<string, { partition: number; offset: bigint; seq: number }[]>();
  for (const r of records) {
    const group = r.headers[GROUP_HEADER]!;
    byGroup.set(group, [...(byGroup.get(group) ?? []), { partition: r.partition, offset: BigInt(r.offset), seq: Number(r.value!.split('#')[1]) }]);
  }
  expect([...byGroup.keys()].sort()).toEqual([...sent.keys()].sort());
  for (const [group, count] of sent) {
    const stored = byGroup.get(group)!;
    expect(new Set(stored.map((r) => r.partition)).size, `${group} is in one partition`).toBe(1);
    const firsts = [...new Set(stored.sort((a, b) => (a.offset < b.offset ? -1 : 1)).map((r) => r.seq))];
    expect(firsts, `${group}: every message, first occurrences in send order`).toEqual(Array.from({ length: count }, (_, i) => i));
  }
}
