import type { OutgoingRecord, PartitionWriteResult, PartitionWriter, ProduceMode } from '../writer/partition-writer.ts';
import type { MessageResult, PartitionError, PartitionResponse, ProduceResponse } from '../protocol/produce.ts';
import { inSpan, outgoingTraceHeaders, type SpanNotes, type TraceHeaders } from '../tracing/tracing.ts';

/**
 * Writes each partition's share of a request in parallel (request order kept within each partition) and
 * merges the outcomes into one response. `partitionOf[i]` is the partition of `records[i]`. Each partition's
 * write is a span whose trace context goes into its records' headers (or `trace` as given, tracing off).
 */
export async function writePartitions(
  writer: PartitionWriter,
  topic: string,
  records: readonly OutgoingRecord[],
  partitionOf: readonly number[],
  mode: ProduceMode,
  trace: TraceHeaders,
): Promise<ProduceResponse> {
  // The record indices of each partition, indexed by partition number (a plain array: this runs per
  // message); `partitions` in the order they first appear.
  const indicesOf: number[][] = [];
  const partitions: number[] = [];
  for (let index = 0; index < partitionOf.length; index++) {
    const partition = partitionOf[index]!;
    const indices = indicesOf[partition];
    if (indices) indices.push(index);
    else {
      indicesOf[partition] = [index];
      partitions.push(partition);
    }
  }

  // Every partition's write is queued in this turn, so the writer can put them in one Kafka request.
  const outcomes = await Promise.all(partitions.map((partition) => writePartition(writer, topic, partition, records, indicesOf[partition]!, mode, trace)));

  const results: MessageResult[] = new Array(records.length);
  const partition_responses: PartitionResponse[] = [];
  const partition_errors: PartitionError[] = [];
  let successful = 0;
  for (let p = 0; p < partitions.length; p++) {
    const partition = partitions[p]!;
    const indices = indicesOf[partition]!;
    const { offsets, error } = outcomes[p]!;
    for (let n = 0; n < offsets.length; n++) results[indices[n]!] = { partition, offset: offsets[n]! };
    successful += offsets.length;
    if (offsets.length > 0) partition_responses.push({ partition, base_offset: offsets[0]!, message_count: offsets.length });
    if (error) {
      for (let n = offsets.length; n < indices.length; n++) results[indices[n]!] = { partition, error: error.message };
      partition_errors.push({ partition, code: error.code, error: error.message, retriable: error.retriable, message_count: indices.length - offsets.length });
    }
  }

  return {
    topic,
    partition_responses: partition_responses.sort(byPartition),
    partition_errors: partition_errors.sort(byPartition),
    total_messages: records.length,
    successful_messages: successful,
    duplicate_messages: 0,
    results,
  };
}

/** One partition's share, in a span whose trace headers go into its records (or `trace` as given, tracing off). */
function writePartition(
  writer: PartitionWriter,
  topic: string,
  partition: number,
  records: readonly OutgoingRecord[],
  indices: readonly number[],
  mode: ProduceMode,
  trace: TraceHeaders,
): Promise<PartitionWriteResult> {
  return inSpan(
    `send ${topic}`,
    () => ({ kind: 'producer', attributes: sendAttributes(topic, partition, indices.length) }),
    () =>
      writer.write(
        topic,
        partition,
        withTraceHeaders(
          indices.map((i) => records[i]!),
          outgoingTraceHeaders(trace),
        ),
        mode,
      ),
    noteFailure,
  );
}

const noteFailure = (written: PartitionWriteResult, span: SpanNotes): void => {
  if (written.error) span.fail(written.error.message);
};

const sendAttributes = (topic: string, partition: number, messages: number) => ({
  'messaging.system': 'kafka',
  'messaging.operation.type': 'send',
  'messaging.destination.name': topic,
  'messaging.destination.partition.id': String(partition),
  'messaging.batch.message_count': messages,
});

/** Module-level: a named closure per request costs a defineProperty in the bundle (esbuild's keepNames). */
const byPartition = (a: { partition: number }, b: { partition: number }): number => a.partition - b.partition;

/**
 * The records with `headers` added, counted in their size; a record that carries a traceparent of its own
 * (set by the caller for that message) keeps it.
 */
function withTraceHeaders(records: OutgoingRecord[], headers: TraceHeaders): OutgoingRecord[] {
  // No traceparent, no trace (a tracestate travels only beside one): the usual case, checked without a copy.
  if (headers.traceparent === undefined) return records;
  const bytes = Object.entries(headers).reduce((total, [name, value]) => total + name.length + value.length, 0);
  return records.map((record) =>
    record.message.headers.traceparent === undefined
      ? { message: { ...record.message, headers: { ...record.message.headers, ...headers } }, bytes: record.bytes + bytes }
      : record,
  );
}
