import type { OrderedProduceResult } from './result-types.ts';

/**
 * Codes the client itself produces; all others come from the sidecar (`UNKNOWN_TOPIC`, `INVALID_REQUEST`,
 * `KAFKA_WRITE_FAILED`, ...) or, on the Kafka fallback, from kafkajs (`KAFKA_ERROR`).
 */
export type ClientErrorCode =
  | 'TIMEOUT'
  | 'NETWORK'
  | 'ABORTED'
  | 'UNSUPPORTED'
  | 'INVALID_RESPONSE'
  | 'INVALID_REQUEST'
  | 'PRECEDING_MESSAGE_FAILED'
  | 'DEDUP_WINDOW_EXCEEDED'
  | 'HTTP_ERROR'
  | 'GROUP_IN_DOUBT'
  | 'CLOSED';

/** One failure, before it becomes an exception: what the retry loop keeps of each attempt. */
export interface FailureInfo {
  code: ClientErrorCode | (string & {});
  message: string;
  retriable: boolean;
  status?: number | undefined;
  /** The sidecar's `error.message`, verbatim. */
  reason?: string | undefined;
  field?: string | undefined;
  /** The answer's `Retry-After`, in ms: no retry starts sooner. */
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/**
 * Base of every error the SDK throws. `result` is there whenever the send got as far as per-message
 * outcomes: it says which messages were written (with offsets) and which were not, so nothing is guessed.
 */
export class SidecarClientError extends Error {
  readonly code: FailureInfo['code'];
  /** True when sending the failed messages again (same dedup ids) may succeed. */
  readonly retriable: boolean;
  /** HTTP status of the sidecar's answer; undefined for network errors, timeouts and the Kafka fallback. */
  readonly status: number | undefined;
  /** The sidecar's own explanation, when it gave one. */
  readonly reason: string | undefined;
  /** The request field the sidecar complained about (`messages[3].message_group`). */
  readonly field: string | undefined;
  /** Per-message outcomes of the whole send, retries included, when known. */
  readonly result: OrderedProduceResult | undefined;

  constructor(info: FailureInfo, result?: OrderedProduceResult) {
    super(info.message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = 'SidecarClientError';
    this.code = info.code;
    this.retriable = info.retriable;
    this.status = info.status;
    this.reason = info.reason;
    this.field = info.field;
    this.result = result;
  }
}

/** Retries ran out on a failure that may pass: timeout, connection error, 503, a partition Kafka could not write. */
export class RetriableError extends SidecarClientError {
  constructor(info: Omit<FailureInfo, 'retriable'>, result?: OrderedProduceResult) {
    super({ ...info, retriable: true }, result);
    this.name = 'RetriableError';
  }
}

/** Repeating the same messages cannot succeed: a 4xx (bad request, unknown topic, too large) or Kafka's refusal. */
export class NonRetriableError extends SidecarClientError {
  constructor(info: Omit<FailureInfo, 'retriable'>, result?: OrderedProduceResult) {
    super({ ...info, retriable: false }, result);
    this.name = 'NonRetriableError';
  }
}

/**
 * The caller's AbortSignal fired; `cause` is the signal's reason. Named like the platform's AbortError.
 * Retriable: a message sent before the abort may or may not be in Kafka, and resending it with the same
 * dedupId is how to find out (its outcome in `result` is then 'unknown').
 */
export class AbortError extends SidecarClientError {
  constructor(reason: unknown, result?: OrderedProduceResult) {
    super({ code: 'ABORTED', message: 'the send was aborted by the caller', retriable: true, cause: reason }, result);
    this.name = 'AbortError';
  }
}

/** A MessageGroup whose last messages may or may not be in Kafka, and the dedup ids of those messages, in send order. */
export interface InDoubtGroup {
  topic: string;
  messageGroup: string;
  dedupIds: readonly string[];
}

/**
 * A send touched a MessageGroup that is in doubt: an earlier send of it ended with messages whose fate is
 * unknown (timeout, connection lost, abort, retries used up). Writing new messages now could put them
 * before a late write of those. Nothing of this send was sent. Resend the in-doubt messages first (same
 * dedupIds, same order; they may lead a send of new ones), or accept the risk with `producer.resetGroup`.
 */
export class GroupInDoubtError extends NonRetriableError {
  readonly groups: readonly InDoubtGroup[];

  constructor(groups: readonly InDoubtGroup[]) {
    const shown = groups.map(
      (g) =>
        `"${g.messageGroup}" (topic ${g.topic}; dedupIds ${g.dedupIds.slice(0, 5).join(', ')}${g.dedupIds.length > 5 ? `, ... ${g.dedupIds.length} in all` : ''})`,
    );
    super({
      code: 'GROUP_IN_DOUBT',
      message: `MessageGroup ${shown.join(', ')} in doubt: resend those messages with the same dedupIds first, or call producer.resetGroup(topic, messageGroup) to accept a possible reorder`,
    });
    this.name = 'GroupInDoubtError';
    this.groups = groups;
  }

  /** Every in-doubt dedup id the send ran into. */
  get dedupIds(): string[] {
    return this.groups.flatMap((g) => g.dedupIds);
  }
}

/** The client was closed before this send was made. */
export class ClientClosedError extends NonRetriableError {
  constructor() {
    super({ code: 'CLOSED', message: 'the ordered-sidecar client is closed' });
    this.name = 'ClientClosedError';
  }
}

export function toClientError(info: FailureInfo, result?: OrderedProduceResult): SidecarClientError {
  if (info.code === 'ABORTED') return new AbortError(info.cause, result);
  return info.retriable ? new RetriableError(info, result) : new NonRetriableError(info, result);
}
