import { crc32c } from '@node-rs/crc32';
import {
  compressionsAlgorithms,
  createAPI,
  produceV3,
  produceV4,
  produceV5,
  produceV6,
  produceV7,
  produceV8,
  produceV9,
  produceV10,
  produceV11,
  Writer,
  type API,
  type CreateRecordsBatchOptions,
  type MessageRecord,
} from '@platformatic/kafka';

/**
 * Kafka Produce request bodies (versions 3–11, record batch v2), each written in one pass into one buffer.
 *
 * @platformatic/kafka builds every record from a chain of small Buffers (a DynamicBuffer per record, a new
 * Buffer per integer) and joins them twice; at saturation that was about a third of the sidecar's CPU and
 * most of its garbage. The bytes are the library's own, field for field (the unit test compares them), so the
 * library still sends the request, parses the answer and keeps the sequences.
 *
 * A key, value or header value may also be a string, written as UTF-8 straight into the request: the engine's
 * serializers hand strings over as they are (platformatic-engine.ts), so no Buffer is made per message for
 * the time its request is in flight.
 */

type ProduceResponse = ReturnType<typeof produceV11.parseResponse>;
/** A key, value or header value: bytes, a string to write as UTF-8, or absent (Kafka's null). */
export type RecordBytes = Buffer | string | null | undefined;
/** A record as this encoder takes it: the library's, whose parts may also be strings. */
export interface EncodableRecord extends Omit<MessageRecord, 'key' | 'value' | 'headers'> {
  key?: RecordBytes;
  value: RecordBytes;
  headers?: Map<Buffer, RecordBytes>;
}
type ProduceArgs = [acks: number | undefined, timeout: number | undefined, topicData: EncodableRecord[], options?: Partial<CreateRecordsBatchOptions>];
type ProduceApi = API<ProduceArgs, boolean | ProduceResponse>;

interface PartitionData {
  index: number;
  messages: EncodableRecord[];
  /** The first record's timestamp, which the others' deltas are taken from, and the latest one. */
  first: number;
  max: number;
  /** The request's measurements, and where this partition's records start in them. */
  scratch: Scratch;
  sizesFrom: number;
  /** The encoded records' size (uncompressed batches). */
  recordsBytes: number;
  /** The record batch, once encoded (compressed batches are encoded before the request is laid out). */
  batch?: Buffer;
}
interface TopicData {
  name: Buffer;
  partitions: PartitionData[];
}

const NO_RESPONSE = 0;
const RECORD_BATCH_MAGIC = 2;
const TRANSACTIONAL = 1 << 4;
/** baseOffset … recordsCount: the fixed part of a v2 record batch. */
const BATCH_HEADER_BYTES = 61;
const SEQUENCE_WRAP = 2 ** 31;
/** Where the CRC-covered part (attributes to the end) starts, and where the CRC itself goes. */
const CRC_FROM = 21;
const CRC_AT = 17;
const FIRST_FLEXIBLE_VERSION = 9;

/** Each record's body size and timestamp in the request being encoded, measured before it is written. */
interface Scratch {
  sizes: Int32Array;
  stamps: Float64Array;
}
const scratchOf = (records: number): Scratch => ({ sizes: new Int32Array(records), stamps: new Float64Array(records) });
/**
 * Encoding is synchronous, so one scratch serves every request up to this many records (192 KiB); a larger
 * request (many partitions' full batches for one broker) gets its own, so none is held on to.
 */
const SHARED_SCRATCH_RECORDS = 16_384;
let shared = scratchOf(1024);
function scratchFor(records: number): Scratch {
  if (records <= shared.sizes.length) return shared;
  if (records > SHARED_SCRATCH_RECORDS) return scratchOf(records);
  shared = scratchOf(Math.min(SHARED_SCRATCH_RECORDS, records * 2));
  return shared;
}

const zigZag32 = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;
/** 64-bit zig-zag in float arithmetic: exact for timestamp deltas (far below 2^52). */
const zigZag64 = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

function unsignedVarIntSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function writeUnsignedVarInt(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[at++] = n;
  return at;
}

/** Kafka's null: the library hands it over as undefined, the engine as null. An empty string is not null. */
const isNull = (b: RecordBytes): b is null | undefined => b === null || b === undefined;
const byteLength = (b: Buffer | string): number => (typeof b === 'string' ? Buffer.byteLength(b) : b.length);
function bytesSize(b: RecordBytes): number {
  if (isNull(b)) return 1;
  const length = byteLength(b);
  return unsignedVarIntSize(zigZag32(length)) + length;
}

function writeBytes(buf: Buffer, at: number, b: RecordBytes): number {
  if (isNull(b)) {
    buf[at] = 1; // zig-zag -1: null
    return at + 1;
  }
  if (typeof b === 'string') {
    const length = byteLength(b);
    at = writeUnsignedVarInt(buf, at, zigZag32(length));
    return at + buf.write(b, at, length);
  }
  at = writeUnsignedVarInt(buf, at, zigZag32(b.length));
  buf.set(b, at); // cheaper than Buffer#copy for the small parts records are made of
  return at + b.length;
}

function writeInt64(buf: Buffer, at: number, n: number): number {
  const high = Math.floor(n / 0x1_0000_0000);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(n - high * 0x1_0000_0000, at + 4);
  return at + 8;
}

/** Bytes of one record after its length prefix. */
function recordBodySize(m: EncodableRecord, offsetDelta: number, timestampDelta: number): number {
  let size = 1 + unsignedVarIntSize(zigZag64(timestampDelta)) + unsignedVarIntSize(zigZag32(offsetDelta));
  size += bytesSize(m.key) + bytesSize(m.value);
  const headers = m.headers;
  size += unsignedVarIntSize(zigZag32(headers?.size ?? 0));
  if (headers) for (const [key, value] of headers) size += bytesSize(key) + bytesSize(value);
  return size;
}

/**
 * Sets `p`'s timestamps and `recordsBytes`, keeping each record's body size and timestamp in the scratch arrays.
 * A record without a timestamp gets the request's, kept on the record as the library does, so a retry of the
 * same request sends the same bytes.
 */
function measureRecords(p: PartitionData, now: number, nowStamp: bigint): void {
  const { messages, sizesFrom, scratch } = p;
  let total = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    let stamp = now;
    if (m.timestamp === undefined) m.timestamp = nowStamp;
    else stamp = Number(m.timestamp);
    if (i === 0) p.first = p.max = stamp;
    else if (stamp > p.max) p.max = stamp;
    const body = recordBodySize(m, i, stamp - p.first);
    scratch.sizes[sizesFrom + i] = body;
    scratch.stamps[sizesFrom + i] = stamp;
    total += unsignedVarIntSize(zigZag32(body)) + body;
  }
  p.recordsBytes = total;
}

function writeRecords(buf: Buffer, at: number, p: PartitionData): number {
  const { messages, first, sizesFrom, scratch } = p;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    at = writeUnsignedVarInt(buf, at, zigZag32(scratch.sizes[sizesFrom + i]!));
    buf[at++] = 0; // attributes: unused in v2 records
    at = writeUnsignedVarInt(buf, at, zigZag64(scratch.stamps[sizesFrom + i]! - first));
    at = writeUnsignedVarInt(buf, at, zigZag32(i));
    at = writeBytes(buf, at, m.key);
    at = writeBytes(buf, at, m.value);
    at = writeUnsignedVarInt(buf, at, zigZag32(m.headers?.size ?? 0));
    if (m.headers) {
      for (const [key, value] of m.headers) {
        at = writeBytes(buf, at, key);
        at = writeBytes(buf, at, value);
      }
    }
  }
  return at;
}

/**
 * One record batch, uncompressed or with `compressed` as its records, written at `at` in `buf`; returns the
 * end. The CRC covers attributes to the end, as the broker checks it.
 */
function writeBatchHeader(
  buf: Buffer,
  at: number,
  p: PartitionData,
  topic: string,
  recordsBytes: number,
  compressionBits: number,
  options: Partial<CreateRecordsBatchOptions>,
): number {
  const { messages, first, max } = p;
  const start = at;
  buf.fill(0, at, at + 8); // baseOffset: the broker assigns it
  buf.writeInt32BE(BATCH_HEADER_BYTES - 12 + recordsBytes, at + 8);
  buf.writeInt32BE(options.partitionLeaderEpoch ?? 0, at + 12);
  buf[at + 16] = RECORD_BATCH_MAGIC;
  buf.writeInt16BE(compressionBits | (options.transactionalId ? TRANSACTIONAL : 0), at + 21);
  buf.writeInt32BE(messages.length - 1, at + 23);
  writeInt64(buf, at + 27, first);
  writeInt64(buf, at + 35, max);
  buf.writeBigInt64BE(options.producerId ?? -1n, at + 43);
  buf.writeInt16BE(options.producerEpoch ?? 0, at + 51);
  // Kafka's sequence numbers wrap to 0 after 2^31 - 1, as its own producer's do; the library's count does not.
  buf.writeInt32BE((options.sequences?.getWithDefault(`${topic}:${p.index}`, 0) ?? 0) % SEQUENCE_WRAP, at + 53);
  buf.writeInt32BE(messages.length, at + 57);
  return start + BATCH_HEADER_BYTES;
}

/** @node-rs/crc32 directly: the library's wrapper of it copies the batch first. */
const sealBatch = (buf: Buffer, start: number, end: number): void => {
  buf.writeUInt32BE(crc32c(buf.subarray(start + CRC_FROM, end)), start + CRC_AT);
};

/** Groups by topic, then partition (each keeps its records in the order given), and measures the records. */
function groupTopics(topicData: readonly EncodableRecord[], now: number): TopicData[] {
  const topics = new Map<string, Map<number, PartitionData>>();
  const scratch = scratchFor(topicData.length);
  let p: PartitionData | undefined;
  for (const m of topicData) {
    const index = m.partition ?? 0;
    // The engine hands each partition's records over together: most records join the previous one's partition.
    if (p === undefined || p.index !== index || p.messages[0]!.topic !== m.topic) {
      let partitions = topics.get(m.topic);
      if (!partitions) topics.set(m.topic, (partitions = new Map()));
      p = partitions.get(index);
      if (!p) partitions.set(index, (p = { index, messages: [], first: 0, max: 0, scratch, sizesFrom: 0, recordsBytes: 0 }));
    }
    p.messages.push(m);
  }
  const nowStamp = BigInt(now);
  let sizesFrom = 0;
  // Partitions in ascending order, as the library lays them out.
  return [...topics].map(([name, byIndex]) => {
    const partitions = [...byIndex.values()].sort((a, b) => a.index - b.index);
    for (const p of partitions) {
      p.sizesFrom = sizesFrom;
      sizesFrom += p.messages.length;
      measureRecords(p, now, nowStamp);
    }
    return { name: Buffer.from(name), partitions };
  });
}

/** A compressed batch: the records are encoded, compressed (gzip off the event loop, as the library does), then framed. */
async function compressedBatches(topics: readonly TopicData[], options: Partial<CreateRecordsBatchOptions>): Promise<void> {
  const algorithm = compressionsAlgorithms[options.compression as keyof typeof compressionsAlgorithms];
  const work: Promise<void>[] = [];
  for (const topic of topics) {
    const name = topic.name.toString();
    for (const p of topic.partitions) {
      const records = Buffer.allocUnsafe(p.recordsBytes);
      writeRecords(records, 0, p);
      const frame = (compressed: Buffer): void => {
        const batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
        const end = writeBatchHeader(batch, 0, p, name, compressed.length, algorithm.bitmask, options) + compressed.copy(batch, BATCH_HEADER_BYTES);
        sealBatch(batch, 0, end);
        p.batch = batch;
      };
      if ('compress' in algorithm && typeof algorithm.compress === 'function') work.push(algorithm.compress(records).then(frame));
      else frame(algorithm.compressSync(records));
    }
  }
  await Promise.all(work);
}

/** The request body; uncompressed batches are written in place, compressed ones copied in. */
function layOut(flexible: boolean, acks: number, timeout: number, topics: readonly TopicData[], options: Partial<CreateRecordsBatchOptions>): Writer {
  const txn = options.transactionalId ? Buffer.from(options.transactionalId) : undefined;
  const lengthSize = (n: number, fixed: number): number => (flexible ? unsignedVarIntSize(n + 1) : fixed);
  let size = (txn ? lengthSize(txn.length, 2) + txn.length : flexible ? 1 : 2) + 6 + lengthSize(topics.length, 4);
  const batchSize = (p: PartitionData): number => p.batch?.length ?? BATCH_HEADER_BYTES + p.recordsBytes;
  for (const topic of topics) {
    size += lengthSize(topic.name.length, 2) + topic.name.length + lengthSize(topic.partitions.length, 4) + (flexible ? 1 : 0);
    for (const p of topic.partitions) size += 4 + lengthSize(batchSize(p), 4) + batchSize(p) + (flexible ? 1 : 0);
  }
  size += flexible ? 1 : 0;

  const buf = Buffer.allocUnsafe(size);
  const writeLength = (at: number, n: number, fixed: 2 | 4): number => {
    if (flexible) return writeUnsignedVarInt(buf, at, n + 1);
    if (fixed === 2) buf.writeInt16BE(n, at);
    else buf.writeInt32BE(n, at);
    return at + fixed;
  };
  let at: number;
  if (txn) {
    at = writeLength(0, txn.length, 2);
    at += txn.copy(buf, at);
  } else at = flexible ? writeUnsignedVarInt(buf, 0, 0) : buf.writeInt16BE(-1, 0); // null
  at = buf.writeInt16BE(acks, at);
  at = buf.writeInt32BE(timeout, at);
  at = writeLength(at, topics.length, 4);
  for (const topic of topics) {
    at = writeLength(at, topic.name.length, 2);
    at += topic.name.copy(buf, at);
    at = writeLength(at, topic.partitions.length, 4);
    const name = topic.name.toString();
    for (const p of topic.partitions) {
      at = buf.writeInt32BE(p.index, at);
      at = writeLength(at, batchSize(p), 4);
      if (p.batch) at += p.batch.copy(buf, at);
      else {
        const start = at;
        at = writeRecords(buf, writeBatchHeader(buf, at, p, name, p.recordsBytes, 0, options), p);
        sealBatch(buf, start, at);
      }
      if (flexible) buf[at++] = 0; // tagged fields of the partition
    }
    if (flexible) buf[at++] = 0; // tagged fields of the topic
  }
  if (flexible) buf[at++] = 0; // tagged fields of the request
  const writer = Writer.create().append(buf);
  if (acks === NO_RESPONSE) writer.context.noResponse = true;
  return writer;
}

/** The body of a Produce request of `version`, the library's `createRequest` arguments in the library's bytes. */
export function encodeProduceRequest(version: number, ...[acks = 1, timeout = 0, topicData, options = {}]: ProduceArgs): Writer | Promise<Writer> {
  const flexible = version >= FIRST_FLEXIBLE_VERSION;
  const topics = groupTopics(topicData, Date.now());
  if ((options.compression ?? 'none') === 'none') return layOut(flexible, acks, timeout, topics, options);
  return compressedBatches(topics, options).then(() => layOut(flexible, acks, timeout, topics, options));
}

/** The library's Produce versions this encoder replaces (the unit test compares its bytes with each one's). */
export const LIBRARY_PRODUCE_VERSIONS = [produceV3, produceV4, produceV5, produceV6, produceV7, produceV8, produceV9, produceV10, produceV11];
const produceApis = new Map<number, ProduceApi>(
  LIBRARY_PRODUCE_VERSIONS.map(({ api, parseResponse }) => {
    const flexible = api.version >= FIRST_FLEXIBLE_VERSION;
    const encode = (...args: ProduceArgs): Writer | Promise<Writer> => encodeProduceRequest(api.version, ...args);
    return [api.version, createAPI<ProduceArgs, boolean | ProduceResponse>(api.key, api.version, encode, parseResponse, flexible, flexible)];
  }),
);

/**
 * This module's Produce API for the version the broker and library agreed on, or none for an unknown version.
 * Typed as the library's API lookup asks (it serves every API through one generic call).
 */
export const produceApiFor = <A extends unknown[], R>(version: number): API<A, R> | undefined => produceApis.get(version) as API<A, R> | undefined;
