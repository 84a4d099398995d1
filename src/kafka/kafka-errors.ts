import { SidecarError, errorMessage } from '../errors/sidecar-error.ts';
import { REJECTED, kafkaErrorType, nestedErrors } from '../protocol/kafka-refusals.ts';
import type { BatchOutcome, PartitionBatch } from '../writer/send-port.ts';

/** Maps a Kafka client's failure to the sidecar's error vocabulary, keeping the original as the cause. */
export function fromKafkaError(err: unknown, what: string): SidecarError {
  const type = kafkaErrorType(err);
  const detail = withInnerErrors(err);
  if (type && REJECTED.has(type)) {
    return new SidecarError('KAFKA_REJECTED', `${what}: Kafka rejected the records (${type}: ${detail})`, { cause: err });
  }
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION') {
    return new SidecarError('UNKNOWN_TOPIC', `${what}: unknown topic or partition`, { cause: err });
  }
  return new SidecarError('KAFKA_WRITE_FAILED', `${what}: ${detail}`, { cause: err });
}

/**
 * @platformatic/kafka reports a failed send as "Producing messages failed." with the attempts' errors nested
 * inside (`errors`): the distinct innermost ones are named, the last attempt's first, so the answer says what
 * went wrong. Only `errors` is followed here, not `cause` (nestedErrors): an attempt's own message says more
 * than the socket error under it.
 */
function withInnerErrors(err: unknown): string {
  const leaves: string[] = [];
  innermost(err, leaves, 0);
  const distinct = [...new Set(leaves.reverse())].slice(0, 3);
  const outer = errorMessage(err);
  return distinct.length === 1 && distinct[0] === outer ? outer : `${outer} (${distinct.join('; ')})`;
}

function innermost(err: unknown, into: string[], depth: number): void {
  const inner = typeof err === 'object' && err !== null ? (err as { errors?: unknown }).errors : undefined;
  if (!Array.isArray(inner) || inner.length === 0 || depth > 4) {
    into.push(errorMessage(err));
    return;
  }
  for (const e of inner) innermost(e, into, depth + 1);
}

/**
 * A partition a send writes to is gone from the topic's metadata (the topic deleted and created again smaller).
 * `canRetry: false` stops @platformatic/kafka's retries, which would meet the same metadata. It is a retriable
 * write failure for the sidecar: the check it takes the place of may also refuse sends beside it (the
 * producer's guard sees every send in flight), and a retry of the one really gone meets the produce path's own
 * checks (409 for a mapped group, 400 or 404 for a partition the topic lacks).
 */
export class PartitionGoneError extends Error {
  readonly canRetry = false;

  constructor(topic: string, partition: number, count: number) {
    super(`topic "${topic}" now has ${count} partition(s), so no partition ${partition} (deleted and created again smaller?)`);
  }
}

/** Where the library reported a partition's records written (a send's result, or an error's `produced`). */
export interface ProducedOffset {
  topic: string;
  partition: number;
  offset: bigint;
}

const PARTITION_ANSWER = /^\/responses\/(\d+)\/partition_responses\/(\d+)$/;

/**
 * What a send's offsets and errors say of its partitions, by `key`. Module-level functions over this rather
 * than closures: this runs per Kafka request, and the bundle (esbuild's keepNames) wraps each named closure
 * in a defineProperty call.
 */
interface Findings {
  written: Map<string, bigint>;
  ownErrors: Map<string, unknown>;
  /** Some Produce answer came back (a partition without one of its own is then not refused by another's error). */
  answered: boolean;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function addOffsets(found: Findings, list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const o of list as ProducedOffset[]) if (typeof o.offset === 'bigint') found.written.set(key(o.topic, o.partition), o.offset);
}

/** One error of a failed send's tree (nestedErrors): its offsets, and its Produce answer with the errors in it. */
function visit(found: Findings, e: object): void {
  const shape = e as { produced?: { offsets?: unknown }; response?: { responses?: unknown }; errors?: unknown };
  addOffsets(found, shape.produced?.offsets);
  const responses = shape.response?.responses;
  if (Array.isArray(responses) && Array.isArray(shape.errors)) {
    found.answered = true;
    const topics = responses as { name: string; partitionResponses: { index: number; errorCode: number; baseOffset: bigint }[] }[];
    for (const { name, partitionResponses } of topics) {
      for (const answer of partitionResponses) if (answer.errorCode === 0) found.written.set(key(name, answer.index), answer.baseOffset);
    }
    for (const inner of shape.errors as { path?: unknown }[]) {
      const at = typeof inner.path === 'string' ? PARTITION_ANSWER.exec(inner.path) : null;
      const topic = at ? topics[Number(at[1])] : undefined;
      const answer = at ? topic?.partitionResponses[Number(at[2])] : undefined;
      if (topic && answer) found.ownErrors.set(key(topic.name, answer.index), inner);
    }
  }
}

/**
 * One outcome per batch of a shared Produce request, from what @platformatic/kafka reports: the offsets of a
 * successful send, or, in a failed one, every Produce answer its attempts kept (a ResponseError carries the
 * whole answer, each partition with its own error code) and the offsets of the other brokers' requests
 * (`produced`). A partition any answer called written was written: every attempt of one request carries the
 * same producer id and sequence numbers, so the broker answers a repeat with the first write's offset. A
 * partition with an error of its own gets that error; one without any answer is unknown (retriable), and
 * never takes another partition's refusal for its own.
 */
export function partitionOutcomes(batches: readonly PartitionBatch[], offsets: readonly ProducedOffset[], err: unknown): BatchOutcome[] {
  const found: Findings = { written: new Map(), ownErrors: new Map(), answered: false };
  addOffsets(found, offsets);
  if (err !== undefined) for (const e of nestedErrors(err)) visit(found, e);
  const { written, ownErrors, answered } = found;

  return batches.map(({ topic, partition }): BatchOutcome => {
    const offset = written.get(key(topic, partition));
    if (offset !== undefined) return { baseOffset: offset };
    const what = `writing to ${topic}/${partition}`;
    if (err === undefined) return { error: new SidecarError('KAFKA_WRITE_FAILED', `${what}: Kafka returned no offset for it; it may or may not be in Kafka`) };
    const own = ownErrors.get(key(topic, partition));
    if (own !== undefined) return { error: fromKafkaError(own, what) };
    if (answered) return { error: new SidecarError('KAFKA_WRITE_FAILED', `${what}: ${errorMessage(err)}`, { cause: err }) };
    return { error: fromKafkaError(err, what) };
  });
}

/**
 * The outcome of a batch in doubt that no resend settled: whatever an attempt's answer said (a refusal such as
 * UNKNOWN_TOPIC_OR_PARTITION from a broker that did not know the partition yet), a later attempt that got no
 * answer may have been written, so it is never reported refused.
 */
export function stillInDoubt(outcome: BatchOutcome, batch: PartitionBatch): BatchOutcome {
  if ('baseOffset' in outcome || outcome.error.retriable) return outcome;
  const what = `writing to ${batch.topic}/${batch.partition}`;
  return {
    error: new SidecarError(
      'KAFKA_WRITE_FAILED',
      `${what}: an attempt got no answer after one was refused (${outcome.error.message}); it may or may not be in Kafka`,
      {
        cause: outcome.error,
      },
    ),
  };
}
