import kafkajs from 'kafkajs';

// kafkajs is CommonJS and Node's ESM loader does not see CompressionCodecs among its named exports.
const { CompressionCodecs, CompressionTypes } = kafkajs;

/**
 * kafkajs ships gzip only and leaves snappy, lz4 and zstd to codec packages (native ones for lz4 and zstd).
 * @platformatic/kafka, already a dependency, has all three without native code (snappy and lz4 in
 * WebAssembly, zstd from Node's zlib), in the byte formats Kafka expects: kafkajs uses them, for writing
 * with KAFKA_COMPRESSION and for reading topics others wrote compressed. Registered once, process-wide
 * (kafkajs keeps its codecs in one table). The algorithms are loaded on first use (platformatic-codecs.ts).
 */
let registered = false;

export function registerKafkajsCodecs(): void {
  if (registered) return;
  registered = true;
  const codecs = [
    [CompressionTypes.Snappy, 'snappy'],
    [CompressionTypes.LZ4, 'lz4'],
    [CompressionTypes.ZSTD, 'zstd'],
  ] as const;
  for (const [type, name] of codecs) {
    const algorithm = async () => (await import('./platformatic-codecs.ts')).compressionsAlgorithms[name];
    const codec = {
      compress: async (encoder: { buffer: Buffer }): Promise<Buffer> => (await algorithm()).compressSync(encoder.buffer),
      decompress: async (buffer: Buffer): Promise<Buffer> => (await algorithm()).decompressSync(buffer),
    };
    CompressionCodecs[type] = () => codec;
  }
}
