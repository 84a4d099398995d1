import {
  kGetApi,
  kMetadata,
  Producer,
  type API,
  type Callback,
  type CallbackWithPromise,
  type ClusterMetadata,
  type MetadataOptions,
  type ProduceOptions,
  type ProducerInfo,
} from '@platformatic/kafka';
import { produceApiFor } from './platformatic-produce-request.ts';
import { SentBatches } from './platformatic-resend.ts';
import { PartitionGoneError } from './kafka-errors.ts';

export type Payload = Buffer | string | null;
type PayloadOptions = ProduceOptions<Payload, Payload, string, string>;

/** Marks the engine's own InitProducerId calls, so the producer can tell them from the library's recovery. */
export const OWN_INIT: PayloadOptions = { idempotent: true };

/**
 * The library's idempotent producer, minus one recovery: when a Produce answer says the broker lost the
 * producer's state (UNKNOWN_PRODUCER_ID, OUT_OF_ORDER_SEQUENCE_NUMBER), the library takes a new producer id
 * and sends the *whole* request again. In a request shared by several partitions, the ones the broker
 * did write would then be written twice. Refusing that recovery (it is the only InitProducerId call
 * without options) fails the request instead; its partitions get their own outcomes, and the library's
 * reset after a failed send gives the next request a fresh producer id anyway.
 *
 * It writes its Produce requests with this repository's encoder (platformatic-produce-request.ts): the same
 * bytes, at a fraction of the library's CPU and garbage. And it remembers what each partition's batch was last
 * sent as (producer id, epoch, sequence, records), so the engine can resend a batch whose fate the library
 * could not learn under that same identity.
 */
export class SharedRequestProducer extends Producer<Payload, Payload, string, string> {
  readonly sent = new SentBatches();
  /** The partitions sends in flight write to, per topic, with how many sends write to each. */
  readonly #writing = new Map<string, Map<number, number>>();
  /** Set while `metadata()` (a caller's own read: the engine's partition counts) hands its call on, synchronously. */
  #askedDirectly = false;
  /** One encoding, recording API per library API object (the library looks its Produce API up on every send). */
  readonly #recordingApis = new WeakMap<object, object>();

  override [kGetApi]<A extends unknown[], R>(name: string, callback: Callback<API<A, R>>): void {
    if (name !== 'Produce') return super[kGetApi](name, callback);
    super[kGetApi]<A, R>(name, (error, api) => {
      if (!api) return callback(error);
      let recording = this.#recordingApis.get(api) as API<A, R> | undefined;
      if (!recording) {
        // The engine hands records over with string parts, which only this repository's encoder writes.
        const encoding = produceApiFor<A, R>(api.version);
        if (!encoding) return callback(new Error(`@platformatic/kafka chose Produce v${api.version}, which the sidecar's encoder does not write`));
        this.#recordingApis.set(api, (recording = this.sent.recording(encoding)));
      }
      callback(error, recording);
    });
  }

  /**
   * Marks `partitions` as written by a send until the returned function is called. While they are, metadata
   * that lacks one of them is refused (a non-retriable error) instead of handed to the library: it reads
   * `partitions[partition].leader` unchecked when it retries a send with fresh metadata (a TypeError thrown on
   * a socket callback, which ended the process) and takes a partition beyond the count modulo the count (a write
   * to another partition). A topic loses partitions only when it is deleted and created again smaller.
   */
  writing(partitions: readonly { topic: string; partition: number }[]): () => void {
    for (const { topic, partition } of partitions) {
      const counts = this.#writing.get(topic) ?? new Map<number, number>();
      counts.set(partition, (counts.get(partition) ?? 0) + 1);
      this.#writing.set(topic, counts);
    }
    return () => {
      for (const { topic, partition } of partitions) {
        const counts = this.#writing.get(topic);
        const left = (counts?.get(partition) ?? 1) - 1;
        if (left > 0) counts!.set(partition, left);
        else counts?.delete(partition);
        if (counts?.size === 0) this.#writing.delete(topic);
      }
    };
  }

  override metadata(options: MetadataOptions, callback: CallbackWithPromise<ClusterMetadata>): void;
  override metadata(options: MetadataOptions): Promise<ClusterMetadata>;
  override metadata(options: MetadataOptions, callback?: CallbackWithPromise<ClusterMetadata>): void | Promise<ClusterMetadata> {
    this.#askedDirectly = true;
    try {
      return callback === undefined ? super.metadata(options) : super.metadata(options, callback);
    } finally {
      this.#askedDirectly = false;
    }
  }

  override [kMetadata](options: MetadataOptions, callback: CallbackWithPromise<ClusterMetadata>): void {
    // Only the library's own reads (its sends and their retries) are guarded: a caller asking for the partition
    // count must get the count.
    const guarded = !this.#askedDirectly;
    super[kMetadata](options, (error, metadata) => {
      if (error || !metadata || !guarded) return callback(error, metadata);
      for (const [topic, partitions] of this.#writing) {
        const count = metadata.topics.get(topic)?.partitionsCount;
        if (count === undefined) continue;
        for (const partition of partitions.keys()) {
          if (partition >= count) return callback(new PartitionGoneError(topic, partition, count));
        }
      }
      callback(null, metadata);
    });
  }

  override initIdempotentProducer(options: PayloadOptions, callback: CallbackWithPromise<ProducerInfo>): void;
  override initIdempotentProducer(options: PayloadOptions): Promise<ProducerInfo>;
  override initIdempotentProducer(options: PayloadOptions, callback?: CallbackWithPromise<ProducerInfo>): void | Promise<ProducerInfo> {
    if (callback === undefined) return super.initIdempotentProducer(options);
    if (Object.keys(options).length === 0) {
      callback(new Error('the broker lost this producer’s state; not resending a request other partitions may share'));
      return;
    }
    super.initIdempotentProducer(options, callback);
  }
}
