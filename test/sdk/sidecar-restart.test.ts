import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/sdk/index.ts';
import { useKafkaAdmin, createTopic } from '../support/kafka.ts';
import { spawnSidecar, testOptions, type SidecarProcess } from '../support/sidecar.ts';
import { byGroup, readTopic, recordingLogger, sidecarDeduplicates } from './records.ts';
import { refusedRequests } from '../support/http.ts';
import { freePort } from '../support/ports.ts';

const GROUPS = 24;
const PER_GROUP = 60;
const BATCH = 3;
// A short dedup lease: a killed sidecar's claims lapse after it, and only then may the retries of its
// in-flight messages go through (the client's 30 s retry budget outlasts it).
const SIDECAR_FLAGS = ['--kafka-write-timeout', '5s', '--dedup-lease', '2s'];

const { kafka, admin } = useKafkaAdmin();
let sidecar: SidecarProcess | undefined;

afterAll(async () => {
  if (sidecar?.child.exitCode === null) {
    sidecar.child.kill('SIGTERM');
    await sidecar.exited;
  }
});

describe('a sidecar killed (SIGKILL) and restarted on the same port mid-stream', () => {
  it('loses nothing and reorders nothing per group for a client with retries', async () => {
    const topic = await createTopic(admin, 4);
    const options = testOptions();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    sidecar = await spawnSidecar(options, { port, flags: SIDECAR_FLAGS });
    const dedup = await sidecarDeduplicates(url);
    const client = new Client({ url, requestTimeoutMs: 10_000, retry: { initialBackoffMs: 50, maxBackoffMs: 500 }, logger: recordingLogger() });
    const producer = client.orderedProducer();

    // Messages whose send was pending when the kill was issued, or started before the process was gone:
    // the only ones whose write may be in doubt.
    const inFlight = new Set<string>();
    const inDoubt = new Set<string>();
    let collecting = false;
    let acked = 0;
    let restart: Promise<void> | undefined;
    const killAndRestart = async (): Promise<void> => {
      collecting = true;
      for (const v of inFlight) inDoubt.add(v);
      sidecar!.child.kill('SIGKILL');
      await sidecar!.exited;
      collecting = false;
      // The restart comes once clients have found nothing listening: their sends fail and are retried meanwhile.
      await refusedRequests(`127.0.0.1:${port}`, 1, 10_000);
      sidecar = await spawnSidecar(options, { port, flags: SIDECAR_FLAGS });
    };
    let retried = 0;

    const sent = new Map<string, string[]>();
    await Promise.all(
      Array.from({ length: GROUPS }, async (_, g) => {
        const group = `player-${g}`;
        const values = Array.from({ length: PER_GROUP }, (_, k) => `${group}#${k}`);
        sent.set(group, values);
        for (let k = 0; k < PER_GROUP; k += BATCH) {
          const batch = values.slice(k, k + BATCH);
          for (const v of batch) {
            inFlight.add(v);
            if (collecting) inDoubt.add(v);
          }
          const result = await producer.sendMessageGroupBatch(
            topic,
            group,
            batch.map((value) => ({ value })),
          );
          if (result.attempts > 1) retried++;
          for (const v of batch) inFlight.delete(v);
          acked += batch.length;
          if (acked >= (GROUPS * PER_GROUP) / 3) restart ??= killAndRestart();
        }
      }),
    );
    await restart;
    expect(retried).toBeGreaterThan(0);

    const groups = byGroup(await readTopic(kafka, admin, topic));
    let duplicates = 0;
    for (const [group, values] of sent) {
      const stored = groups.get(group)!.values;
      expect(groups.get(group)!.partitions.size, group).toBe(1);
      // Nothing lost, nothing reordered: the first occurrences are exactly the send order.
      const firsts = [...new Set(stored)];
      expect(firsts, group).toEqual(values);
      // A repeat can only be a message whose write was cut off by the kill, after Kafka had it.
      const repeats = stored.filter((v, i) => stored.indexOf(v) !== i);
      for (const v of repeats) expect(inDoubt.has(v), `${v} written twice but was not in flight at the kill`).toBe(true);
      duplicates += repeats.length;
    }
    console.log(
      `sidecar restart: dedup ${dedup ? 'on' : 'off'}, ${retried} sends retried, ${inDoubt.size} messages in flight at the kill, ${duplicates} written twice`,
    );
  });
});
