import { describe, expect, it } from 'vitest';
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
});
