import { backoffMs, pause } from '../retry/retry.ts';
import type { ResolvedClientOptions } from './client-options.ts';
import type { FailureInfo } from './errors.ts';
import type { HttpClient, HttpOutcome } from './http.ts';
import type { OrderedMessage } from './message-types.ts';
import type { MessageError, MessageOutcome } from './result-types.ts';
import type { ProduceResponse } from '../protocol/produce.ts';
import { isProduceResponse, toWireMessage } from './wire.ts';

export interface SidecarSendInput {
  http: HttpClient;
  endpoint: string;
  topic: string;
  messages: readonly OrderedMessage[];
  /** Per message, its idempotency id (the caller's or generated). */
  dedupIds: readonly string[];
  /** The sidecar's dedup window when it deduplicates: ids go on the wire only then, and no retry may outlive it. */
  dedupWindowMs: number | undefined;
  options: Pick<ResolvedClientOptions, 'requestTimeoutMs' | 'retry'>;
  signal: AbortSignal | undefined;
}

export interface SendOutcome {
  attempts: number;
  messages: MessageOutcome[];
  /** Why the send did not fully succeed; undefined when every message was written. */
  failure: FailureInfo | undefined;
  /** Some answer said the sidecar wrote without its dedup check. */
  dedupUnavailable: boolean;
}

/** Per-message reading of one sidecar answer: written, or not (with the partition it was routed to). */
type Step = { kind: 'written'; outcome: MessageOutcome } | { kind: 'failed'; partition: number | undefined; error: MessageError };

const messageError = (f: FailureInfo): MessageError => ({ code: f.code, message: f.message, retriable: f.retriable });

function readAnswer(body: ProduceResponse, status: number, input: SidecarSendInput, pending: number[]): Step[] {
  const errorOf = new Map(body.partition_errors.map((e) => [e.partition, e]));
  // A result without a partition (not produced by current sidecars) follows the answer as a whole.
  const wholeRetriable = status === 503 || (body.partition_errors.length > 0 && body.partition_errors.every((e) => e.retriable));
  return pending.map((i, j): Step => {
    const r = body.results[j]!;
    if ('offset' in r) {
      return {
        kind: 'written',
        outcome: {
          status: 'written',
          messageGroup: input.messages[i]!.messageGroup,
          partition: r.partition,
          offset: r.offset,
          duplicate: r.duplicate === true,
          dedupId: input.dedupIds[i]!,
        },
      };
    }
    const pe = r.partition === undefined ? undefined : errorOf.get(r.partition);
    return {
      kind: 'failed',
      partition: r.partition,
      error: { code: pe?.code ?? 'PRODUCE_FAILED', message: pe?.error ?? r.error, retriable: pe?.retriable ?? wholeRetriable },
    };
  });
}

/**
 * Sends ordered messages to the sidecar, retrying only what failed retriably, in the original order and
 * with the same dedup ids, within the retry budget. A message that ever failed retriably (no answer, a
 * retriable error) may be in Kafka whatever comes after, so unless a later attempt confirms it written its
 * outcome is 'unknown'; 'failed' means every answer for it said it was refused. Once a message has
 * failed for good, the later messages of its MessageGroup are not sent: writing them would put them before it.
 */
export async function sendViaSidecar(input: SidecarSendInput): Promise<SendOutcome> {
  const { messages, options, signal } = input;
  const wire = messages.map((m, i) => toWireMessage(m, input.dedupWindowMs === undefined ? undefined : input.dedupIds[i]));
  const outcomes: (MessageOutcome | undefined)[] = new Array(messages.length);
  const lastError = new Map<number, { partition: number | undefined; error: MessageError }>();
  const failures: FailureInfo[] = [];
  const started = Date.now();
  let dedupUnavailable = false;
  const settle = (i: number, partition: number | undefined, error: MessageError): void => {
    const status = lastError.has(i) || error.retriable ? 'unknown' : 'failed';
    outcomes[i] = { status, messageGroup: messages[i]!.messageGroup, partition: partition ?? lastError.get(i)?.partition, error, dedupId: input.dedupIds[i]! };
  };
  let pending = messages.map((_, i) => i);
  let attempts = 0;
  while (pending.length > 0) {
    attempts++;
    const answer = await input.http.requestJson(
      input.endpoint,
      { method: 'POST', body: JSON.stringify({ topic: input.topic, messages: pending.map((i) => wire[i]) }) },
      options.requestTimeoutMs,
      signal,
    );
    let retry: number[] = [];
    if (!answer.ok || !isProduceResponse(answer.body) || answer.body.results.length !== pending.length) {
      const failure = unreadableAnswer(answer, pending.length);
      failures.push(failure);
      // A 2xx the SDK cannot read may have written everything: resent with the same dedup ids when the sidecar
      // deduplicates, else left in doubt ('unknown'), never 'failed'.
      if (failure.retriable && (failure.code !== IN_DOUBT_2XX || input.dedupWindowMs !== undefined)) retry = pending;
      for (const i of pending) {
        if (retry.length > 0) lastError.set(i, { partition: lastError.get(i)?.partition, error: messageError(failure) });
        else settle(i, undefined, messageError(failure));
      }
    } else {
      if (answer.body.dedup_unavailable === true) dedupUnavailable = true;
      const steps = readAnswer(answer.body, answer.status, input, pending);
      steps.forEach((step, j) => {
        const i = pending[j]!;
        if (step.kind === 'written') outcomes[i] = step.outcome;
        else if (!step.error.retriable) settle(i, step.partition, step.error);
        else {
          lastError.set(i, step);
          retry.push(i);
        }
      });
      // One failure per answer speaks for it: a final one if there is any, since that decides the error class.
      const failed = steps.filter((s) => s.kind === 'failed');
      const telling = failed.find((s) => !s.error.retriable) ?? failed[0];
      if (telling)
        failures.push({
          ...telling.error,
          status: answer.status,
          reason: telling.error.message,
          message: `sidecar answered ${answer.status}: ${telling.error.code}: ${telling.error.message}`,
        });
    }
    retry = holdBackAfterFinalFailures(retry, messages, outcomes, settle);

    if (retry.length > 0) {
      const stop = await whyStop(input, attempts, started, answer.ok ? answer.retryAfterMs : answer.failure.retryAfterMs);
      if (stop) {
        if (stop !== 'exhausted') failures.push(stop);
        for (const i of retry) settle(i, undefined, stop === 'exhausted' ? lastError.get(i)!.error : messageError(stop));
        retry = [];
      }
    }
    pending = retry;
  }
  const finalOutcomes = outcomes as MessageOutcome[];
  return { attempts, messages: finalOutcomes, failure: summarise(failures, finalOutcomes, attempts, started), dedupUnavailable };
}

/** The code of a 2xx answer that cannot be read: the sidecar said it wrote, so the messages are in doubt. */
const IN_DOUBT_2XX = 'INVALID_RESPONSE';

/**
 * What an answer that is not a readable produce response for `count` messages means. A 2xx one (not JSON, a
 * null entry, entries missing) comes from a sidecar that may have written them all: retriable, so they count
 * as unknown and are resent with the same dedup ids. Any other keeps the failure the HTTP layer saw.
 */
function unreadableAnswer(answer: HttpOutcome, count: number): FailureInfo {
  const status = answer.ok ? answer.status : answer.failure.status;
  const succeeded = status !== undefined && status >= 200 && status < 300;
  if (!answer.ok && !(succeeded && answer.failure.code === IN_DOUBT_2XX)) return answer.failure;
  return {
    code: IN_DOUBT_2XX,
    message: `sidecar answered ${status} with a body that is not a produce response for ${count} messages${succeeded ? '; they may have been written' : ''}`,
    retriable: succeeded,
    ...(status === undefined ? {} : { status }),
  };
}

/**
 * Whether to give up instead of retrying: an abort, attempts or time used up (the backoff counted in), or
 * the dedup window about to pass (a retry after it could write a message twice). The last answer's
 * `Retry-After` is the backoff's floor; one that reaches past the time budget ends the retries at once.
 */
async function whyStop(
  input: SidecarSendInput,
  attempts: number,
  started: number,
  retryAfterMs: number | undefined,
): Promise<FailureInfo | 'exhausted' | undefined> {
  const { options, signal, dedupWindowMs } = input;
  const aborted: FailureInfo = { code: 'ABORTED', message: 'aborted by the caller', retriable: true, cause: signal?.reason };
  if (signal?.aborted) return aborted;
  const wait = backoffMs({ initialMs: options.retry.initialBackoffMs, maxMs: options.retry.maxBackoffMs }, attempts, Math.random, retryAfterMs);
  const elapsedAtRetry = Date.now() - started + wait;
  if (attempts >= options.retry.maxAttempts || elapsedAtRetry > options.retry.maxElapsedMs) return 'exhausted';
  if (dedupWindowMs !== undefined && elapsedAtRetry + options.requestTimeoutMs > dedupWindowMs) {
    return {
      code: 'DEDUP_WINDOW_EXCEEDED',
      message: `a retry now could outlive the sidecar's ${dedupWindowMs} ms dedup window and write a message twice`,
      retriable: true,
    };
  }
  return (await pause(wait, signal)) ? undefined : aborted;
}

/**
 * Retriable messages that come after a final failure of their own group stay unsent (as
 * PRECEDING_MESSAGE_FAILED): the group's order must hold even when part of it cannot be written. They
 * did fail retriably before, so they may be in Kafka: their outcome is 'unknown'.
 */
function holdBackAfterFinalFailures(
  retry: number[],
  messages: readonly OrderedMessage[],
  outcomes: readonly (MessageOutcome | undefined)[],
  settle: (i: number, partition: number | undefined, error: MessageError) => void,
): number[] {
  const firstFinal = new Map<string, number>();
  outcomes.forEach((o, i) => {
    if (o && o.status !== 'written' && !o.error.retriable && !firstFinal.has(o.messageGroup)) firstFinal.set(o.messageGroup, i);
  });
  if (firstFinal.size === 0) return retry;
  return retry.filter((i) => {
    const group = messages[i]!.messageGroup;
    const blocker = firstFinal.get(group);
    if (blocker === undefined || blocker > i) return true;
    settle(i, undefined, {
      code: 'PRECEDING_MESSAGE_FAILED',
      message: `not sent again: messages[${blocker}] of MessageGroup "${group}" could not be written`,
      retriable: false,
    });
    return false;
  });
}

/** The error a failed send throws: an abort first, then a final failure, else the last retriable one. */
function summarise(failures: FailureInfo[], outcomes: MessageOutcome[], attempts: number, started: number): FailureInfo | undefined {
  const unwritten = outcomes.filter((o) => o.status !== 'written').length;
  if (unwritten === 0) return undefined;
  const unknown = outcomes.filter((o) => o.status === 'unknown').length;
  // Every final failure left an outcome, so the first one found decides whether the send may be repeated.
  const decisive = failures.find((f) => f.code === 'ABORTED') ?? failures.find((f) => !f.retriable) ?? failures.at(-1)!;
  const doubt = unknown === 0 ? '' : ` (${unknown} in doubt: resend with the same dedupId)`;
  return {
    ...decisive,
    message: `${unwritten} of ${outcomes.length} messages not confirmed written${doubt} after ${attempts} attempt(s) in ${Date.now() - started} ms: ${decisive.message}`,
  };
}
