import type { OutgoingRecord, PartitionWriteResult, PartitionWriter, ProduceMode } from '../writer/partition-writer.ts';
import type { MessageResult, PartitionError, PartitionResponse, ProduceResponse } from '../protocol/produce.ts';
import { inSpan, outgoingTraceHeaders, tracingOn, type SpanNotes, type TraceHeaders } from '../tracing/tracing.ts';

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

  const results: MessageResult[] = new Array(records.length);
  const partition_responses: PartitionResponse[] = [];
  const partition_errors: PartitionError[] = [];
  let successful = 0;

  await Promise.all(
    partitions.map(async (partition) => {
      const indices = indicesOf[partition]!;
      // Tracing off, no span options are built and no span wrapper awaited: this runs per partition of every request.
      const outcome = tracingOn()
        ? await inSpan(`send ${topic}`, { kind: 'producer', attributes: sendAttributes(topic, partition, indices.length) }, (span) =>
            writeBatch(writer, topic, partition, records, indices, mode, trace, span),
          )
        : await writeBatch(writer, topic, partition, records, indices, mode, trace, undefined);
      outcome.offsets.forEach((offset, n) => {
        results[indices[n]!] = { partition, offset };
      });
      successful += outcome.offsets.length;
      if (outcome.offsets.length > 0) {
        partition_responses.push({ partition, base_offset: outcome.offsets[0]!, message_count: outcome.offsets.length });
      }
      if (outcome.error) {
        const failed = indices.slice(outcome.offsets.length);
        for (const i of failed) results[i] = { partition, error: outcome.error.message };
        partition_errors.push({
          partition,
          code: outcome.error.code,
          error: outcome.error.message,
          retriable: outcome.error.retriable,
          message_count: failed.length,
        });
      }
    }),
  );

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

const sendAttributes = (topic: string, partition: number, messages: number) => ({
  'messaging.system': 'kafka',
  'messaging.operation.type': 'send',
  'messaging.destination.name': topic,
  'messaging.destination.partition.id': String(partition),
  'messaging.batch.message_count': messages,
});

/** One partition's share, with the trace headers of the active span (or `trace` as given, tracing off). */
async function writeBatch(
  writer: PartitionWriter,
  topic: string,
  partition: number,
  records: readonly OutgoingRecord[],
  indices: readonly number[],
  mode: ProduceMode,
  trace: TraceHeaders,
  span: SpanNotes | undefined,
): Promise<PartitionWriteResult> {
  const traced = withTraceHeaders(
    indices.map((i) => records[i]!),
    outgoingTraceHeaders(trace),
  );
  const written = await writer.write(topic, partition, traced, mode);
  if (written.error) span?.fail(written.error.message);
  return written;
}

/** Module-level: a named closure per request costs a defineProperty in the bundle (esbuild's keepNames). */
const byPartition = (a: { partition: number }, b: { partition: number }): number => a.partition - b.partition;

/**
 * The records with `headers` added, counted in their size; a record that carries a traceparent of its own
 * (set by the caller for that message) keeps it.
 */
function withTraceHeaders(records: OutgoingRecord[], headers: TraceHeaders): OutgoingRecord[] {
  const entries = Object.entries(headers);
  if (entries.length === 0) return records;
  const bytes = entries.reduce((total, [name, value]) => total + name.length + value.length, 0);
  return records.map((record) =>
    record.message.headers.traceparent === undefined
      ? { message: { ...record.message, headers: { ...record.message.headers, ...headers } }, bytes: record.bytes + bytes }
      : record,
  );
}
