import { backoffMs, pause } from './backoff.ts';
import type { ResolvedClientOptions } from './client-options.ts';
import type { FailureInfo } from './errors.ts';
import { requestJson } from './http.ts';
import type { OrderedMessage } from './message-types.ts';
import type { MessageError, MessageOutcome } from './result-types.ts';
import { isProduceResponse, toWireMessage, type WireProduceResponse } from './wire.ts';

export interface SidecarSendInput {
  endpoint: string;
  topic: string;
  messages: readonly OrderedMessage[];
  /** Per message, the `dedup_id` to send (undefined when the sidecar does not deduplicate). */
  dedupIds: readonly (string | undefined)[];
  /** The sidecar's dedup window: retrying past it could write a message twice. */
  dedupWindowMs: number | undefined;
  options: Pick<ResolvedClientOptions, 'requestTimeoutMs' | 'retry'>;
  signal: AbortSignal | undefined;
}

export interface SendOutcome {
  attempts: number;
  messages: MessageOutcome[];
  /** Why the send did not fully succeed; undefined when every message was written. */
  failure: FailureInfo | undefined;
}

/** Per-message outcome of one sidecar answer: written, a final failure, or worth retrying. */
type Step = { kind: 'written'; outcome: MessageOutcome } | { kind: 'failed'; partition: number | undefined; error: MessageError };

function readAnswer(body: WireProduceResponse, status: number, input: SidecarSendInput, pending: number[]): Step[] {
  const errorOf = new Map(body.partition_errors.map((e) => [e.partition, e]));
  // A result without a partition (not produced by current sidecars) follows the answer as a whole.
  const wholeRetriable = status === 503 || (body.partition_errors.length > 0 && body.partition_errors.every((e) => e.retriable));
  return pending.map((i, j): Step => {
    const r = body.results[j]!;
    if ('offset' in r) {
      return {
        kind: 'written',
        outcome: { status: 'written', messageGroup: input.messages[i]!.messageGroup, partition: r.partition, offset: r.offset, duplicate: r.duplicate === true, dedupId: input.dedupIds[i] },
      };
    }
    const pe = r.partition === undefined ? undefined : errorOf.get(r.partition);
    return { kind: 'failed', partition: r.partition, error: { code: pe?.code ?? 'PRODUCE_FAILED', message: pe?.error ?? r.error, retriable: pe?.retriable ?? wholeRetriable } };
  });
}

/**
 * Sends ordered messages to the sidecar, retrying only what failed retriably, in the original order and
 * with the same dedup ids. Once a message has failed for good, the later messages of its MessageGroup are
 * not sent: writing them would put them before it.
 */
export async function sendViaSidecar(input: SidecarSendInput): Promise<SendOutcome> {
  const { messages, options, signal } = input;
  const wire = messages.map((m, i) => toWireMessage(m, i, input.dedupIds[i]));
  const outcomes: (MessageOutcome | undefined)[] = new Array(messages.length);
  const lastError = new Map<number, { partition: number | undefined; error: MessageError }>();
  const failures: FailureInfo[] = [];
  const started = Date.now();
  const fail = (i: number, partition: number | undefined, error: MessageError): void => {
    outcomes[i] = { status: 'failed', messageGroup: messages[i]!.messageGroup, partition, error, dedupId: input.dedupIds[i] };
  };
  let pending = messages.map((_, i) => i);
  let attempts = 0;
  while (pending.length > 0) {
    attempts++;
    const answer = await requestJson(input.endpoint, { method: 'POST', body: JSON.stringify({ topic: input.topic, messages: pending.map((i) => wire[i]) }) }, options.requestTimeoutMs, signal);
    let retry: number[] = [];
    if (!answer.ok || !isProduceResponse(answer.body) || answer.body.results.length !== pending.length) {
      const failure: FailureInfo = answer.ok
        ? { code: 'INVALID_RESPONSE', message: `sidecar answered ${answer.status} with a body that is not a produce response for ${pending.length} messages`, retriable: false, status: answer.status }
        : answer.failure;
      failures.push(failure);
      for (const i of pending) {
        const error = { code: failure.code, message: failure.message, retriable: failure.retriable };
        if (failure.retriable) lastError.set(i, { partition: lastError.get(i)?.partition, error });
        else fail(i, lastError.get(i)?.partition, error);
      }
      if (failure.retriable) retry = pending;
    } else {
      const steps = readAnswer(answer.body, answer.status, input, pending);
      steps.forEach((step, j) => {
        const i = pending[j]!;
        if (step.kind === 'written') outcomes[i] = step.outcome;
        else if (step.error.retriable) {
          lastError.set(i, step);
          retry.push(i);
        } else fail(i, step.partition, step.error);
      });
      // One failure per answer speaks for it: a final one if there is any, since that decides the error class.
      const failed = steps.filter((s) => s.kind === 'failed');
      const telling = failed.find((s) => !s.error.retriable) ?? failed[0];
      if (telling) failures.push({ ...telling.error, status: answer.status, message: `sidecar answered ${answer.status}: ${telling.error.code}: ${telling.error.message}` });
    }
    retry = holdBackAfterFinalFailures(retry, messages, outcomes, fail);

    if (retry.length > 0) {
      const stop = await whyStop(input, attempts, started);
      if (stop === 'exhausted') for (const i of retry) fail(i, lastError.get(i)?.partition, lastError.get(i)!.error);
      else if (stop) {
        failures.push(stop);
        for (const i of retry) fail(i, lastError.get(i)?.partition, { code: stop.code, message: stop.message, retriable: stop.retriable });
      }
      if (stop) retry = [];
    }
    pending = retry;
  }
  const finalOutcomes = outcomes as MessageOutcome[];
  return { attempts, messages: finalOutcomes, failure: summarise(failures, finalOutcomes, attempts) };
}

/** Whether to give up instead of retrying: attempts used up, the dedup window about to pass, or an abort during the backoff. */
async function whyStop(input: SidecarSendInput, attempts: number, started: number): Promise<FailureInfo | 'exhausted' | undefined> {
  const { options, signal, dedupWindowMs } = input;
  if (attempts >= options.retry.maxAttempts) return 'exhausted';
  if (dedupWindowMs !== undefined && Date.now() - started + options.requestTimeoutMs > dedupWindowMs) {
    return { code: 'DEDUP_WINDOW_EXCEEDED', message: `a retry now could outlive the sidecar's ${dedupWindowMs} ms dedup window and write a message twice`, retriable: true };
  }
  if (!(await pause(backoffMs(options.retry, attempts), signal))) return { code: 'ABORTED', message: 'aborted by the caller', retriable: false, cause: signal?.reason };
  return undefined;
}

/**
 * Retriable messages that come after a final failure of their own group stay unsent (as
 * PRECEDING_MESSAGE_FAILED): the group's order must hold even when part of it cannot be written.
 */
function holdBackAfterFinalFailures(
  retry: number[],
  messages: readonly OrderedMessage[],
  outcomes: readonly (MessageOutcome | undefined)[],
  fail: (i: number, partition: number | undefined, error: MessageError) => void,
): number[] {
  const firstFinal = new Map<string, number>();
  outcomes.forEach((o, i) => {
    if (o?.status === 'failed' && !firstFinal.has(o.messageGroup)) firstFinal.set(o.messageGroup, i);
  });
  if (firstFinal.size === 0) return retry;
  return retry.filter((i) => {
    const group = messages[i]!.messageGroup;
    const blocker = firstFinal.get(group);
    if (blocker === undefined || blocker > i) return true;
    fail(i, undefined, { code: 'PRECEDING_MESSAGE_FAILED', message: `not sent: messages[${blocker}] of MessageGroup "${group}" could not be written`, retriable: false });
    return false;
  });
}

/** The error a failed send throws: an abort first, then a final failure, else the last retriable one. */
function summarise(failures: FailureInfo[], outcomes: MessageOutcome[], attempts: number): FailureInfo | undefined {
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  if (failed === 0) return undefined;
  // Every final failure left a failed outcome, so the first one found decides whether the send may be repeated.
  const decisive = failures.find((f) => f.code === 'ABORTED') ?? failures.find((f) => !f.retriable) ?? failures.at(-1)!;
  return { ...decisive, message: `${failed} of ${outcomes.length} messages not written after ${attempts} attempt(s): ${decisive.message}` };
}
