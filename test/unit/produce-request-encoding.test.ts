import {
  NumericMap,
  produceV8,
  produceV11,
  Reader,
  readRecordsBatch,
  type CreateRecordsBatchOptions,
  type MessageRecord,
  type Writer,
} from '@platformatic/kafka';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeProduceRequest, LIBRARY_PRODUCE_VERSIONS, produceApiFor, type EncodableRecord } from '../../src/kafka/platformatic-produce-request.ts';

/** The library's own encoders: ours must write the same bytes for every version it replaces. */
const LIBRARY = LIBRARY_PRODUCE_VERSIONS;
const NOW = 1_780_000_000_123;

/** What the library hands over for Kafka's null, though its record type says Buffer. */
const NULL = undefined as unknown as Buffer;

const headers = (entries: [string, string | null][]): Map<Buffer, Buffer> =>
  new Map(entries.map(([k, v]) => [Buffer.from(k), v === null ? NULL : Buffer.from(v)]));

/** A request shaped like the sidecar's and then some: several topics, partitions out of order, odd records. */
function messages(): MessageRecord[] {
  const long = Buffer.alloc(20_000, 'x');
  return [
    { topic: 'orders', partition: 7, key: Buffer.from('k1'), value: Buffer.from('v1'), headers: headers([['message-group', 'g-1']]) },
    { topic: 'orders', partition: 2, value: Buffer.from('ünïcødé'), headers: headers([]) },
    {
      topic: 'audit',
      partition: 0,
      key: Buffer.alloc(0),
      value: Buffer.alloc(0),
      headers: headers([
        ['a', null],
        ['traceparent', '00-abc-def-01'],
      ]),
    },
    { topic: 'orders', partition: 7, value: long, headers: headers([['message-group', 'g-1']]) },
    { topic: 'orders', partition: 7, value: NULL, headers: headers([['message-group', 'g-2']]) },
    { topic: 'audit', partition: 0, value: Buffer.alloc(200, 'y'), headers: new Map() },
    { topic: 'orders', partition: 11, value: Buffer.from('last'), headers: headers([['message-group', 'g-3']]) },
  ];
}

function withTimestamps(ms: MessageRecord[]): MessageRecord[] {
  const stamps = [NOW, NOW - 5, NOW + 70_000, NOW + 3, NOW - 10_000_000, NOW, NOW + 1];
  return ms.map((m, i) => ({ ...m, timestamp: BigInt(stamps[i]!) }));
}

const options = (compression: CreateRecordsBatchOptions['compression']): Partial<CreateRecordsBatchOptions> => {
  const sequences = new NumericMap();
  sequences.set('orders:7', 41);
  sequences.set('audit:0', 2_000_000_000);
  return { compression, producerId: 123_456_789_012n, producerEpoch: 3, sequences };
};

const bytes = async (w: Writer | Promise<Writer>): Promise<Buffer> => (await w).buffer;

/** A flexible (v9+) Produce request's topics, each partition's batch read back by the library's reader. */
function readRequest(body: Buffer) {
  const reader = Reader.from(body);
  reader.readNullableString(); // transactional id
  reader.readInt16();
  reader.readInt32();
  return reader.readArray((r) => ({
    name: r.readString(),
    partitions: r.readArray((p) => {
      const index = p.readInt32();
      const size = p.readUnsignedVarInt() - 1;
      const batch = readRecordsBatch(Reader.from(p.buffer.subarray(p.position, p.position + size)));
      p.skip(size);
      return { index, batch };
    }),
  }));
}

describe('Produce request encoding', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
  });
  afterEach(() => vi.useRealTimers());

  for (const library of LIBRARY) {
    const version = library.api.version;
    for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const) {
      it(`writes the library's bytes: v${version}, ${compression}`, async () => {
        for (const build of [messages, () => withTimestamps(messages())]) {
          const expected = await bytes(library.createRequest(-1, 30_000, build(), options(compression)));
          const actual = await bytes(encodeProduceRequest(version, -1, 30_000, build(), options(compression)));
          expect(actual.equals(expected)).toBe(true);
        }
      });
    }
  }

  it('writes a transactional request and one without sequences or a producer id as the library does', async () => {
    const cases: Partial<CreateRecordsBatchOptions>[] = [{ ...options('none'), transactionalId: 'tx-é' }, {}];
    for (const opts of cases) {
      for (const library of [produceV8, produceV11]) {
        const expected = await bytes(library.createRequest(1, 100, messages(), opts));
        const actual = await bytes(encodeProduceRequest(library.api.version, 1, 100, messages(), opts));
        expect(actual.equals(expected)).toBe(true);
      }
    }
  });

  it('marks an acks=0 request as expecting no answer, as the library does', () => {
    const writer = encodeProduceRequest(11, 0, 100, messages(), {});
    expect(writer instanceof Promise).toBe(false);
    if (!(writer instanceof Promise)) expect(writer.context.noResponse).toBe(true);
  });

  it('gives a retry of the same records the same bytes, as the library keeps their timestamps', async () => {
    const records = messages();
    const first = await bytes(encodeProduceRequest(11, -1, 100, records, options('none')));
    vi.setSystemTime(NOW + 5000);
    expect((await bytes(encodeProduceRequest(11, -1, 100, records, options('none')))).equals(first)).toBe(true);
  });

  it('writes batches the library reads back, CRC and all', async () => {
    const topics = readRequest(await bytes(encodeProduceRequest(11, -1, 100, withTimestamps(messages()), options('lz4'))));
    const orders = topics.find((t) => t.name === 'orders')!;
    expect(orders.partitions.map((p) => p.index)).toEqual([2, 7, 11]);
    const seven = orders.partitions.find((p) => p.index === 7)!.batch;
    expect(seven.firstSequence).toBe(41);
    expect(seven.producerId).toBe(123_456_789_012n);
    expect(seven.records.map((r) => r.value?.length ?? null)).toEqual([2, 20_000, null]);
    expect(seven.records[0]!.headers.map(([k, v]) => [k?.toString(), v?.toString()])).toEqual([['message-group', 'g-1']]);
  });

  it('wraps a partition’s sequence number to 0 after 2^31 - 1, as Kafka does (the library’s count does not)', async () => {
    const sequences = new NumericMap();
    sequences.set('orders:7', 2 ** 31 + 41);
    sequences.set('orders:2', 2 ** 31 - 1);
    const topics = readRequest(await bytes(encodeProduceRequest(11, -1, 100, withTimestamps(messages()), { ...options('none'), sequences })));
    const orders = topics.find((t) => t.name === 'orders')!;
    expect(orders.partitions.find((p) => p.index === 7)!.batch.firstSequence).toBe(41);
    expect(orders.partitions.find((p) => p.index === 2)!.batch.firstSequence).toBe(2 ** 31 - 1);
  });

  it('writes strings as the UTF-8 bytes of the same record given as Buffers', async () => {
    /** The engine's records: key, value and header values as the caller gave them, null for Kafka's null. */
    const asStrings = (): EncodableRecord[] =>
      messages().map((m) => ({
        ...m,
        key: m.key?.toString(),
        value: m.value === NULL ? null : m.value.toString(),
        headers: new Map([...(m.headers ?? [])].map(([k, v]) => [k, v === NULL ? null : v.toString()])),
      }));
    // A lone surrogate (values are not checked for one) is written as U+FFFD, as Buffer.from writes it.
    const odd = (): EncodableRecord[] => [{ topic: 'orders', partition: 1, key: '', value: 'a\uD800b', headers: new Map([[Buffer.from('h'), '€']]) }];
    const oddBuffers = (): MessageRecord[] => [
      { topic: 'orders', partition: 1, key: Buffer.alloc(0), value: Buffer.from('a\uD800b'), headers: headers([['h', '€']]) },
    ];
    for (const compression of ['none', 'zstd'] as const) {
      for (const [strings, buffers] of [
        [asStrings, messages],
        [odd, oddBuffers],
      ] as const) {
        const expected = await bytes(produceV11.createRequest(-1, 100, buffers(), options(compression)));
        expect((await bytes(encodeProduceRequest(11, -1, 100, strings(), options(compression)))).equals(expected)).toBe(true);
      }
    }
  });

  it('encodes a request larger than the shared scratch as the library does, and a small one after it', async () => {
    const many = (): MessageRecord[] =>
      Array.from({ length: 20_000 }, (_, i) => ({
        topic: 'bulk',
        partition: i % 7,
        value: Buffer.from(`v${i}`),
        headers: headers([['message-group', `g${i % 50}`]]),
      }));
    for (const build of [many, messages]) {
      const expected = await bytes(produceV11.createRequest(-1, 100, build(), options('none')));
      expect((await bytes(encodeProduceRequest(11, -1, 100, build(), options('none')))).equals(expected)).toBe(true);
    }
  });

  it('offers an API for each version the library speaks and none for others', () => {
    for (const library of LIBRARY) {
      expect(produceApiFor(library.api.version)?.version).toBe(library.api.version);
      expect(produceApiFor(library.api.version)?.key).toBe(0);
    }
    expect(produceApiFor(12)).toBeUndefined();
  });
});
