import type { ProduceResponse } from '../../src/protocol/produce.ts';

/** A produce answer with `count` messages written to partition 0 of `topic`, for fakes of the produce service. */
export const written = (topic: string, count: number): ProduceResponse => ({
  topic,
  partition_responses: [{ partition: 0, base_offset: '0', message_count: count }],
  partition_errors: [],
  total_messages: count,
  successful_messages: count,
  duplicate_messages: 0,
  results: [],
});
