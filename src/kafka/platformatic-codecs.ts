/**
 * @platformatic/kafka's compression algorithms, which kafkajs-codecs.ts imports only when kafkajs first compresses
 * or decompresses snappy, lz4 or zstd: a sidecar on kafkajs that writes and reads none of them loads nothing of
 * @platformatic/kafka.
 */
export { compressionsAlgorithms } from '@platformatic/kafka';
