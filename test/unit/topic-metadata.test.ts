import { describe, expect, it, vi } from 'vitest';
import { TopicMetadata } from '../../src/kafka/topic-metadata.ts';

describe('TopicMetadata', () => {
  it('asks again before believing a topic does not exist: a broker may not know a topic just created', async () => {
    const answers = [undefined, undefined, 6];
    let reads = 0;
    const metadata = new TopicMetadata(async () => answers[reads++], 60_000);
    await expect(metadata.partitionCount('fresh')).resolves.toBe(6);
    expect(reads).toBe(3);
  });

  it('answers 404 once Kafka has said "unknown" after every pause, and remembers it', async () => {
    let reads = 0;
    const metadata = new TopicMetadata(async () => {
      reads++;
      return undefined;
    }, 60_000);
    await expect(metadata.partitionCount('typo')).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC' });
    expect(reads).toBe(4);
    await expect(metadata.partitionCount('typo')).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC' });
    expect(reads).toBe(4);
  });

  it('reads a topic again in the background when asked (a write to it failed), at most once a second, keeping its count until a read succeeds', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const answers: (number | Error)[] = [6];
      let reads = 0;
      const metadata = new TopicMetadata(async () => {
        const answer = answers[reads++]!;
        if (answer instanceof Error) throw answer;
        return answer;
      }, 600_000);
      expect(await metadata.partitionCount('t')).toBe(6);
      metadata.recheck('t');
      expect(reads, 'read less than a second ago').toBe(1);

      vi.advanceTimersByTime(1500);
      answers.push(new Error('broker down'));
      metadata.recheck('t');
      metadata.recheck('t');
      await vi.waitFor(() => expect(reads).toBe(2));
      expect(await metadata.partitionCount('t'), 'a failed read keeps the count').toBe(6);
      metadata.recheck('t');
      expect(reads, 'asked less than a second ago').toBe(2);

      vi.advanceTimersByTime(1500);
      answers.push(3);
      metadata.recheck('t');
      await vi.waitFor(async () => expect(await metadata.partitionCount('t')).toBe(3));
      expect(reads).toBe(3);
      metadata.recheck('unknown to it');
      expect(reads, 'a topic it never read is left to the next request').toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
