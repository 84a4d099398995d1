import { SidecarError, errorMessage } from '../errors/sidecar-error.ts';
import type { BatchOutcome, BatchSendPort, EngineMessage, PartitionBatch } from './send-port.ts';

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

/** A slice of one write, small enough for one partition batch; all chunks of a write settle one result. */
interface Chunk {
  records: OutgoingRecord[];
  bytes: number;
  write: WriteState;
  enqueuedAt: number;
  /** Sent again after a refusal of a batch it shared: it goes in a batch of its own write only. */
  alone?: true;
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
  /** Its series of the per-batch instruments, bound once rather than looked up per batch. */
  instruments: QueueInstruments;
  pending: Chunk[];
  /** Its batch is in a request now: nothing else of this partition is sent until that one settles. */
  inFlight: boolean;
}

interface QueueInstruments {
  writeDuration: { observe(seconds: number): void };
  produced: Record<ProduceMode, { inc(value: number): void }>;
}

/** One partition's batch inside a request: what the port is given, and what settles when it answers. */
interface Taken extends PartitionBatch {
  queue: PartitionQueue;
  chunks: Chunk[];
}

/** Where requests queue: a broker (its id), or a partition whose leader the engine does not know (its queue). */
type Lane = number | PartitionQueue;

export interface BatchLimits {
  maxBatchMessages: number;
  maxBatchBytes: number;
  /**
   * Longest a chunk may wait in its queue before being sent. Past it the chunk, and everything behind it,
   * fails as never attempted (retriable), so a write lands within this plus one send's deadline of being
   * accepted, which the admin tools' idle rule relies on. @defaultValue Infinity
   */
  maxQueueWaitMs?: number;
  /**
   * How long a free broker's request waits, from the oldest chunk it would carry, for more partitions and writes
   * to join it (Kafka's linger.ms): fewer, fuller requests for the sidecar and the broker, at up to this much
   * latency. A partition with a full batch waiting goes at once. @defaultValue 0
   */
  lingerMs?: number;
}

/** The instruments the writer records (SidecarMetrics fits them); `bind` gives the series of a label set. */
export interface WriterMetrics {
  kafkaWriteDuration: { bind(labels: { topic: string }): { observe(seconds: number): void } };
  kafkaBatchMessages: { observe(messages: number): void };
  kafkaProduceRequests: { inc(value?: number): void };
  messagesProduced: { bind(labels: { topic: string; mode: ProduceMode }): { inc(value: number): void } };
  messagesFailed: { inc(labels: { topic: string; reason: string }, value?: number): void };
}

/**
 * A request stops taking partitions past this many bytes (it always takes one), well under the broker's
 * socket.request.max.bytes (100 MiB by default) and its request-size checks.
 */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/** Reads `performance.now()` unless a test gives its own clock. */
export type Clock = () => number;

/**
 * Per-partition write queues, sent per broker. At most one batch per partition is in flight; concurrent
 * writes for a partition are coalesced into its next batch in arrival order. Each broker (as the engine's
 * `leaderOf` tells) has at most one request in flight: when it is free, one request takes the next batch of
 * every ready partition it leads, the way Kafka's own clients drain their accumulators. Outcomes are per
 * partition: when a batch fails, every chunk queued behind it *on that partition* fails too, so nothing can
 * overtake a batch whose fate is unknown and the caller retries them all in their original order; the
 * partitions beside it in the same request are acknowledged or failed on their own. A batch Kafka refuses
 * outright (nothing written) that holds several writes is first sent again write by write, so one request's
 * unacceptable record does not fail the requests coalesced with it.
 */
export class PartitionWriter {
  readonly #port: BatchSendPort;
  readonly #limits: BatchLimits;
  readonly #metrics: WriterMetrics;
  readonly #now: Clock;
  /** Each topic's queues, indexed by partition. */
  readonly #queues = new Map<string, PartitionQueue[]>();
  /** Queues with pending chunks and no batch in flight, oldest first. */
  readonly #ready = new Set<PartitionQueue>();
  /** Brokers (or lone partitions) with a request in flight. */
  readonly #busyLanes = new Set<Lane>();
  #pumpScheduled = false;
  /** The timer that sends the lingering requests, and the time it fires. */
  #linger: { timer: NodeJS.Timeout; at: number } | undefined;
  #queuedBytes = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(port: BatchSendPort, limits: BatchLimits, metrics: WriterMetrics, now: Clock = () => performance.now()) {
    this.#port = port;
    this.#limits = limits;
    this.#metrics = metrics;
    this.#now = now;
  }

  /**
   * Appends `records` to the partition's queue; resolves when all are acknowledged or the rest failed. Never
   * rejects. The array is the writer's from now on: the caller must not change it.
   */
  write(topic: string, partition: number, records: OutgoingRecord[], mode: ProduceMode): Promise<PartitionWriteResult> {
    if (records.length === 0) return Promise.resolve({ offsets: [] });
    const queue = this.#queue(topic, partition);
    return new Promise((settle) => {
      this.#enqueue(queue, records, { offsets: [], remainingChunks: 0, failed: false, mode, settle });
      if (!queue.inFlight) this.#ready.add(queue);
      this.#schedulePump();
    });
  }

  /** Bytes of records accepted and not yet acknowledged or failed: what the sidecar holds for Kafka. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Resolves once no partition has queued or in-flight work (used by graceful shutdown). */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#busyLanes.size === 0 && this.#ready.size === 0 && !this.#pumpScheduled && !this.#linger;
  }

  #queue(topic: string, partition: number): PartitionQueue {
    let queues = this.#queues.get(topic);
    if (!queues) this.#queues.set(topic, (queues = []));
    let queue = queues[partition];
    if (!queue) {
      const { kafkaWriteDuration, messagesProduced } = this.#metrics;
      const instruments = {
        writeDuration: kafkaWriteDuration.bind({ topic }),
        produced: { ordered: messagesProduced.bind({ topic, mode: 'ordered' }), plain: messagesProduced.bind({ topic, mode: 'plain' }) },
      };
      queues[partition] = queue = { topic, partition, instruments, pending: [], inFlight: false };
    }
    return queue;
  }

  /**
   * Queues `records` as chunks within the batch limits. A write that fits one batch (the usual one) is a
   * single chunk of the caller's array, not a copy.
   */
  #enqueue(queue: PartitionQueue, records: OutgoingRecord[], write: WriteState): void {
    const { maxBatchMessages, maxBatchBytes } = this.#limits;
    const enqueuedAt = this.#now();
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const recordBytes = records[i]!.bytes;
      if (i > from && (i - from >= maxBatchMessages || bytes + recordBytes > maxBatchBytes)) {
        this.#queueChunk(queue, { records: records.slice(from, i), bytes, write, enqueuedAt });
        from = i;
        bytes = 0;
      }
      bytes += recordBytes;
    }
    this.#queueChunk(queue, { records: from === 0 ? records : records.slice(from), bytes, write, enqueuedAt });
  }

  #queueChunk(queue: PartitionQueue, chunk: Chunk): void {
    chunk.write.remainingChunks++;
    this.#queuedBytes += chunk.bytes;
    queue.pending.push(chunk);
  }

  /**
   * Runs once the current turn's writes are all queued (a request's partitions are written in one turn),
   * so they share a request instead of the first going out alone.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /**
   * Sends one request to every free broker that leads a ready partition, but those lingering past `now` (a
   * linger timer passes the time it was set for: Node may run it a fraction of a millisecond early).
   */
  #pump(now = this.#now()): void {
    const byLane = new Map<Lane, PartitionQueue[]>();
    for (const queue of this.#ready) {
      if (this.#expireHead(queue)) {
        this.#ready.delete(queue);
        continue;
      }
      const lane = this.#port.leaderOf(queue.topic, queue.partition) ?? queue;
      if (this.#busyLanes.has(lane)) continue;
      const queues = byLane.get(lane);
      if (queues) queues.push(queue);
      else byLane.set(lane, [queue]);
    }
    let lingerUntil = Number.POSITIVE_INFINITY;
    for (const [lane, queues] of byLane) {
      const until = this.#lingersUntil(queues, now);
      if (until === undefined) this.#sendRequest(lane, queues);
      else lingerUntil = Math.min(lingerUntil, until);
    }
    if (lingerUntil < Number.POSITIVE_INFINITY) this.#pumpAt(lingerUntil);
    if (this.#isIdle()) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** When a request of `queues` is due, or undefined when it goes now (no linger, waited enough, or a full batch). */
  #lingersUntil(queues: readonly PartitionQueue[], now: number): number | undefined {
    const lingerMs = this.#limits.lingerMs ?? 0;
    if (lingerMs <= 0) return undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const { pending } of queues) {
      let messages = 0;
      let bytes = 0;
      for (const chunk of pending) {
        messages += chunk.records.length;
        bytes += chunk.bytes;
      }
      if (messages >= this.#limits.maxBatchMessages || bytes >= this.#limits.maxBatchBytes) return undefined;
      oldest = Math.min(oldest, pending[0]!.enqueuedAt);
    }
    const due = oldest + lingerMs;
    return due <= now ? undefined : due;
  }

  /** Pumps again at `at` (the writer's clock), unless a pump is already due by then. */
  #pumpAt(at: number): void {
    if (this.#linger && this.#linger.at <= at) return;
    if (this.#linger) clearTimeout(this.#linger.timer);
    const timer = setTimeout(
      () => {
        this.#linger = undefined;
        this.#pump(Math.max(at, this.#now()));
      },
      Math.max(0, at - this.#now()),
    );
    this.#linger = { timer, at };
  }

  /** Fails the queue's chunks when its oldest has waited past maxQueueWaitMs; true when nothing is left. */
  #expireHead(queue: PartitionQueue): boolean {
    const head = queue.pending[0];
    if (!head) return true;
    const waitedMs = this.#now() - head.enqueuedAt;
    if (waitedMs <= (this.#limits.maxQueueWaitMs ?? Number.POSITIVE_INFINITY)) return false;
    this.#fail(queue, queue.pending.splice(0), notAttempted(queue, `waited ${Math.round(waitedMs)} ms behind slower batches`));
    return true;
  }

  #sendRequest(lane: Lane, queues: PartitionQueue[]): void {
    const taken: Taken[] = [];
    let requestBytes = 0;
    for (const queue of queues) {
      if (taken.length > 0 && requestBytes >= MAX_REQUEST_BYTES) break;
      const chunks = this.#takeBatch(queue);
      queue.inFlight = true;
      this.#ready.delete(queue);
      const messages: EngineMessage[] = [];
      for (const chunk of chunks) {
        requestBytes += chunk.bytes;
        for (const record of chunk.records) messages.push(record.message);
      }
      taken.push({ topic: queue.topic, partition: queue.partition, messages, queue, chunks });
    }
    // One clock read per request, not a timer per partition: its batches start and settle together.
    const sentAt = this.#now();
    this.#busyLanes.add(lane);
    this.#metrics.kafkaProduceRequests.inc();
    void this.#sendSafely(taken).then((outcomes) => {
      const seconds = (this.#now() - sentAt) / 1000;
      taken.forEach((t, i) => this.#settle(t, outcomes[i]!, seconds));
      this.#busyLanes.delete(lane);
      this.#pump();
    });
  }

  /** The port promises never to reject; a defect that breaks that promise fails the batches as unknown. */
  async #sendSafely(batches: readonly PartitionBatch[]): Promise<BatchOutcome[]> {
    try {
      const outcomes = await this.#port.sendBatches(batches);
      if (outcomes.length === batches.length) return outcomes;
      throw new Error(`the Kafka engine answered ${outcomes.length} outcomes for ${batches.length} batches`);
    } catch (err) {
      const error = new SidecarError('KAFKA_WRITE_FAILED', `writing to Kafka failed: ${errorMessage(err)}; the batch may or may not be in Kafka`, {
        cause: err,
      });
      return batches.map(() => ({ error }));
    }
  }

  #settle({ queue, chunks, messages }: Taken, outcome: BatchOutcome, seconds: number): void {
    queue.instruments.writeDuration.observe(seconds);
    queue.inFlight = false;
    if ('baseOffset' in outcome) {
      this.#metrics.kafkaBatchMessages.observe(messages.length);
      this.#acknowledge(queue, chunks, outcome.baseOffset, messages.length);
    } else if (!outcome.error.retriable && !ofOneWrite(chunks)) {
      // Refused outright, so nothing of it was written, maybe for one request's records (a record too large, one
      // without a key on a compacted topic): each write is sent again in a batch of its own, in the same order,
      // so only the write Kafka refuses gets the refusal.
      for (const chunk of chunks) chunk.alone = true;
      queue.pending.unshift(...chunks);
    } else {
      this.#fail(queue, chunks, outcome.error);
      this.#failQueuedBehind(queue, outcome.error);
    }
    if (queue.pending.length > 0) this.#ready.add(queue);
  }

  /** Takes queued chunks, oldest first, up to the batch limits (always at least one); a chunk sent alone takes only its write's. */
  #takeBatch(queue: PartitionQueue): Chunk[] {
    const batch: Chunk[] = [];
    let messages = 0;
    let bytes = 0;
    while (queue.pending.length > 0) {
      const next = queue.pending[0]!;
      const fits = messages + next.records.length <= this.#limits.maxBatchMessages && bytes + next.bytes <= this.#limits.maxBatchBytes;
      const first = batch[0];
      if (first && (!fits || ((first.alone || next.alone) && next.write !== first.write))) break;
      batch.push(queue.pending.shift()!);
      messages += next.records.length;
      bytes += next.bytes;
    }
    return batch;
  }

  #acknowledge(queue: PartitionQueue, batch: Chunk[], baseOffset: bigint, messages: number): void {
    // Number arithmetic while every offset of the batch is exact as a number (in practice always): no BigInt per record.
    const base = Number(baseOffset);
    const exact = Number.isSafeInteger(base + messages);
    let n = 0;
    // Counted once per mode per batch rather than per chunk (most batches are of one mode).
    let ordered = 0;
    for (const chunk of batch) {
      this.#queuedBytes -= chunk.bytes;
      const { write } = chunk;
      for (let i = 0; i < chunk.records.length; i++, n++) write.offsets.push(exact ? String(base + n) : String(baseOffset + BigInt(n)));
      if (write.mode === 'ordered') ordered += chunk.records.length;
      if (--write.remainingChunks === 0) write.settle({ offsets: write.offsets });
    }
    const { produced } = queue.instruments;
    if (ordered > 0) produced.ordered.inc(ordered);
    if (n > ordered) produced.plain.inc(n - ordered);
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

const ofOneWrite = (chunks: readonly Chunk[]): boolean => chunks.every((chunk) => chunk.write === chunks[0]!.write);

const notAttempted = (queue: PartitionQueue, why: string, cause?: SidecarError): SidecarError =>
  new SidecarError('KAFKA_WRITE_FAILED', `not attempted on ${queue.topic}/${queue.partition}: ${why}; resend in order`, { cause });
