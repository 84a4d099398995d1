import type { MessageOutcome, OrderedProduceResult, PartitionFailure, PartitionResult } from './result-types.ts';

const lower = (a: string, b: string): boolean => BigInt(a) < BigInt(b);

/** Totals and per-partition views, all derived from the per-message outcomes so they can never disagree. */
export function buildResult(
  topic: string,
  via: 'sidecar' | 'kafka',
  attempts: number,
  messages: MessageOutcome[],
  dedupUnavailable: boolean,
): OrderedProduceResult {
  const partitions = new Map<number, PartitionResult>();
  const failures = new Map<string, PartitionFailure>();
  let successful = 0;
  let duplicates = 0;
  let unknown = 0;
  for (const m of messages) {
    if (m.status === 'written') {
      successful++;
      if (m.duplicate) duplicates++;
      const p = partitions.get(m.partition);
      if (!p) partitions.set(m.partition, { partition: m.partition, firstOffset: m.offset, lastOffset: m.offset, messageCount: 1 });
      else {
        p.messageCount++;
        if (lower(m.offset, p.firstOffset)) p.firstOffset = m.offset;
        if (lower(p.lastOffset, m.offset)) p.lastOffset = m.offset;
      }
      continue;
    }
    if (m.status === 'unknown') unknown++;
    if (m.partition !== undefined) {
      const key = `${m.partition}\u0000${m.error.code}`;
      const f = failures.get(key);
      if (f) f.messageCount++;
      else failures.set(key, { partition: m.partition, code: m.error.code, error: m.error.message, retriable: m.error.retriable, messageCount: 1 });
    }
  }
  const byPartition = (a: { partition: number }, b: { partition: number }): number => a.partition - b.partition;
  return {
    topic,
    via,
    attempts,
    totalMessages: messages.length,
    successfulMessages: successful,
    duplicateMessages: duplicates,
    failedMessages: messages.length - successful - unknown,
    unknownMessages: unknown,
    dedupUnavailable,
    partitions: [...partitions.values()].sort(byPartition),
    partitionErrors: [...failures.values()].sort(byPartition),
    messages,
  };
}
