import { SidecarError } from '../errors/sidecar-error.ts';
import { fromKafkaError } from './kafka-errors.ts';
import type { EngineMessage } from './kafka-engine.ts';

/** A record ready for Kafka, with its size counted once by the caller. */
export interface OutgoingRecord {
  message: EngineMessage;
  bytes: number;
}

/** Outcome of one write: offsets of the records written (always a prefix, order is kept), and why the rest failed. */
export interface PartitionWriteResult {
  offsets: string[];
  error?: SidecarError;
}

export type ProduceMode = 'ordered' | 'plain';

/** A slice of one write, small enough for one Kafka request; all chunks of a write settle one result. */
interface Chunk {
  records: OutgoingRecord[];
  bytes: number;
  write: WriteState;
  enqueuedAt: number;
}

interface WriteState {
  offsets: string[];
  remainingChunks: number;
  failed: boolean;
  mode: ProduceMode;
  settle: (result: PartitionWriteResult) => void;
}

interface PartitionQueue {
  topic: string;
  partition: number;
  pending: Chunk[];
  draining: boolean;
}

export interface BatchLimits {
  maxBatchMessages: number;
  maxBatchBytes: number;
  /**
   * Longest a chunk may wait in its queue before being sent. Past it the chunk, and everything behind it,
   * fails as never attempted (retriable), so a write lands within this plus one send's deadline of being
   * accepted, which the admin tools' idle rule relies on. @defaultValue Infinity
   */
  maxQueueWaitMs?: number;
}

/** The four instruments the writer records (prom-client's Histogram and Counter fit them). */
export interface WriterMetrics {
  kafkaWriteDuration: { startTimer(labels: { topic: string }): () => number };
  kafkaBatchMessages: { observe(messages: number): void };
  messagesProduced: { inc(labels: { topic: string; mode: ProduceMode }, value?: number): void };
  messagesFailed: { inc(labels: { topic: string; reason: string }, value?: number): void };
}

/** Sends one batch to one partition and resolves with the offset of its first record (KafkaEngine.send). */
export type BatchSender = (topic: string, partition: number, messages: EngineMessage[]) => Promise<bigint>;

/**
 * Per-partition write queues. At most one batch per partition is in flight; concurrent writes for a
 * partition are coalesced into the next batch in arrival order; partitions proceed in parallel.
 * When a batch fails, every chunk queued behind it on that partition fails too, so nothing can overtake
 * a batch whose fate is unknown and the caller retries them all in their original order.
 */
export class PartitionWriter {
  readonly #send: BatchSender;
  readonly #limits: BatchLimits;
  readonly #metrics: WriterMetrics;
  readonly #queues = new Map<string, PartitionQueue>();
  #active = 0;
  #queuedBytes = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(send: BatchSender, limits: BatchLimits, metrics: WriterMetrics) {
    this.#send = send;
    this.#limits = limits;
    this.#metrics = metrics;
  }

  /** Appends `records` to the partition's queue; resolves when all are acknowledged or the rest failed. Never rejects. */
  write(topic: string, partition: number, records: OutgoingRecord[], mode: ProduceMode): Promise<PartitionWriteResult> {
    if (records.length === 0) return Promise.resolve({ offsets: [] });
    const queue = this.#queue(topic, partition);
    return new Promise((settle) => {
      const chunks = this.#split(records);
      const write: WriteState = { offsets: [], remainingChunks: 0, failed: false, mode, settle };
      for (const chunkRecords of chunks) {
        const bytes = sum(chunkRecords);
        this.#queuedBytes += bytes;
        queue.pending.push({ records: chunkRecords, bytes, write, enqueuedAt: performance.now() });
      }
      write.remainingChunks = chunks.length;
      if (!queue.draining) void this.#drain(queue);
    });
  }

  /** Bytes of records accepted and not yet acknowledged or failed: what the sidecar holds for Kafka. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Resolves once no partition has queued or in-flight work (used by graceful shutdown). */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #queue(topic: string, partition: number): PartitionQueue {
    const id = `${topic}\u0000${partition}`;
    let queue = this.#queues.get(id);
    if (!queue) {
      queue = { topic, partition, pending: [], draining: false };
      this.#queues.set(id, queue);
    }
    return queue;
  }

  #split(records: OutgoingRecord[]): OutgoingRecord[][] {
    const chunks: OutgoingRecord[][] = [];
    let current: OutgoingRecord[] = [];
    let bytes = 0;
    for (const record of records) {
      if (current.length > 0 && (current.length >= this.#limits.maxBatchMessages || bytes + record.bytes > this.#limits.maxBatchBytes)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(record);
      bytes += record.bytes;
    }
    chunks.push(current);
    return chunks;
  }

  /** Takes queued chunks, oldest first, up to the batch limits (always at least one). */
  #takeBatch(queue: PartitionQueue): Chunk[] {
    const batch: Chunk[] = [];
    let messages = 0;
    let bytes = 0;
    while (queue.pending.length > 0) {
      const next = queue.pending[0]!;
      const fits = messages + next.records.length <= this.#limits.maxBatchMessages && bytes + next.bytes <= this.#limits.maxBatchBytes;
      if (batch.length > 0 && !fits) break;
      batch.push(queue.pending.shift()!);
      messages += next.records.length;
      bytes += next.bytes;
    }
    return batch;
  }

  async #drain(queue: PartitionQueue): Promise<void> {
    queue.draining = true;
    this.#active++;
    try {
      while (queue.pending.length > 0) {
        const waitedMs = performance.now() - queue.pending[0]!.enqueuedAt;
        if (waitedMs > (this.#limits.maxQueueWaitMs ?? Number.POSITIVE_INFINITY)) {
          this.#fail(queue, queue.pending.splice(0), notAttempted(queue, `waited ${Math.round(waitedMs)} ms behind slower batches`));
          continue;
        }
        const batch = this.#takeBatch(queue);
        const messages = batch.flatMap((chunk) => chunk.records.map((r) => r.message));
        const stopTimer = this.#metrics.kafkaWriteDuration.startTimer({ topic: queue.topic });
        try {
          const baseOffset = await this.#send(queue.topic, queue.partition, messages);
          stopTimer();
          this.#metrics.kafkaBatchMessages.observe(messages.length);
          this.#acknowledge(queue, batch, baseOffset);
        } catch (err) {
          stopTimer();
          const error = fromKafkaError(err, `writing to ${queue.topic}/${queue.partition}`);
          this.#fail(queue, batch, error);
          this.#failQueuedBehind(queue, error);
        }
      }
    } finally {
      queue.draining = false;
      if (--this.#active === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  #acknowledge(queue: PartitionQueue, batch: Chunk[], baseOffset: bigint): void {
    let offset = baseOffset;
    for (const chunk of batch) {
      this.#queuedBytes -= chunk.bytes;
      const { write } = chunk;
      for (let i = 0; i < chunk.records.length; i++) write.offsets.push(String(offset++));
      this.#metrics.messagesProduced.inc({ topic: queue.topic, mode: write.mode }, chunk.records.length);
      if (--write.remainingChunks === 0) write.settle({ offsets: write.offsets });
    }
  }

  /**
   * Everything queued behind a failed batch fails with it (order over progress). Those writes were never
   * attempted, so whatever the batch's own error, theirs is retriable: a client must resend them, not drop them.
   */
  #failQueuedBehind(queue: PartitionQueue, cause: SidecarError): void {
    if (queue.pending.length === 0) return;
    this.#fail(queue, queue.pending.splice(0), notAttempted(queue, `an earlier batch failed (${cause.message})`, cause));
  }

  #fail(queue: PartitionQueue, chunks: Chunk[], error: SidecarError): void {
    for (const chunk of chunks) {
      this.#queuedBytes -= chunk.bytes;
      this.#metrics.messagesFailed.inc({ topic: queue.topic, reason: error.code }, chunk.records.length);
      const { write } = chunk;
      if (write.failed) continue;
      write.failed = true;
      write.settle({ offsets: write.offsets, error });
    }
  }
}

const notAttempted = (queue: PartitionQueue, why: string, cause?: SidecarError): SidecarError =>
  new SidecarError('KAFKA_WRITE_FAILED', `not attempted on ${queue.topic}/${queue.partition}: ${why}; resend in order`, { cause });

const sum = (records: OutgoingRecord[]): number => records.reduce((total, r) => total + r.bytes, 0);
