import { randomUUID } from 'node:crypto';
import { untilAborted } from './abort.ts';
import type { Client } from './client.ts';
import { internalsOf, type ClientInternals } from './client-internals.ts';
import { AbortError, SidecarClientError, toClientError } from './errors.ts';
import type { GroupMessage, MessageData, OrderedMessage, SendOptions } from './message-types.ts';
import { buildResult } from './result.ts';
import type { OrderedProduceResult } from './result-types.ts';
import { sendViaSidecar } from './sidecar-send.ts';
import { validateMessages } from './wire.ts';

/** A message as it is now; anything that is not an object is left for validateMessages to refuse. */
function copyMessage(message: OrderedMessage): OrderedMessage {
  if (typeof message !== 'object' || message === null) return message;
  const { messageGroup, key, value, headers, dedupId } = message;
  const isRecord = typeof headers === 'object' && headers !== null && !Array.isArray(headers);
  return {
    messageGroup,
    value,
    ...(key !== undefined && { key }),
    ...(headers !== undefined && { headers: isRecord ? { ...headers } : headers }),
    ...(dedupId !== undefined && { dedupId }),
  };
}

/** Options of `sendSingleOrderedMessage`: the message's optional parts and the send's. */
export interface SingleMessageOptions extends SendOptions {
  headers?: Record<string, string>;
  dedupId?: string;
}

/**
 * Sends messages whose order matters per MessageGroup. Every method resolves once each message is written
 * (an `OrderedProduceResult` with partitions and offsets) and rejects with a `SidecarClientError` otherwise,
 * whose `result` says which messages were written, which were not, and which may have been. Sends sharing a
 * MessageGroup are written in call order; a group with messages in doubt takes no new ones (GroupInDoubtError)
 * until those are resent or `resetGroup` is called.
 */
export class OrderedProducer {
  readonly client: Client;
  readonly #internals: ClientInternals;

  constructor(client: Client) {
    this.client = client;
    this.#internals = internalsOf(client);
  }

  /**
   * Messages of any MessageGroups; each group's messages are written in the order given. The messages (and
   * their headers) are copied at the call, so changing them afterwards does not change what is sent; the
   * bytes of a Uint8Array key or value are not: leave them as they are until the send settles.
   */
  sendOrderedMessages(topic: string, messages: readonly OrderedMessage[], options: SendOptions = {}): Promise<OrderedProduceResult> {
    // `run` calls this at once, so the copy is taken at the call. Copied before validation: what was checked is
    // what is sent, though it is read only when the send's turn comes.
    return this.#internals.run(() => {
      let copies: OrderedMessage[];
      try {
        // A non-array (from untyped JavaScript) becomes an empty one, which validation refuses as it refuses a non-array.
        copies = Array.isArray(messages) ? messages.map((m: OrderedMessage) => copyMessage(m)) : [];
        validateMessages(topic, copies);
      } catch (err) {
        return Promise.reject(err);
      }
      // The place in each group's queue is taken now, synchronously: "earlier" means called earlier.
      const turn = this.#internals.sequencer.acquire(
        copies.map((m) => m.messageGroup),
        options.signal,
      );
      return this.#send(topic, copies, turn, options.signal);
    });
  }

  /** One message. */
  sendSingleOrderedMessage(
    topic: string,
    messageGroup: string,
    key: MessageData,
    value: MessageData,
    options: SingleMessageOptions = {},
  ): Promise<OrderedProduceResult> {
    const { headers, dedupId, ...sendOptions } = options;
    return this.sendOrderedMessages(topic, [{ messageGroup, key, value, ...(headers && { headers }), ...(dedupId !== undefined && { dedupId }) }], sendOptions);
  }

  /** Several messages of one MessageGroup, written in the order given. */
  sendMessageGroupBatch(topic: string, messageGroup: string, messages: readonly GroupMessage[], options: SendOptions = {}): Promise<OrderedProduceResult> {
    // A non-array (from untyped JavaScript) becomes an empty batch, which validation rejects with the very
    // error ("messages must be a non-empty array") it gives a non-array.
    const grouped: OrderedMessage[] = Array.isArray(messages) ? messages.map((m: GroupMessage) => ({ ...m, messageGroup })) : [];
    return this.sendOrderedMessages(topic, grouped, options);
  }

  /** The dedup ids of a MessageGroup's in-doubt messages, in send order; empty when the group is not in doubt. */
  inDoubt(topic: string, messageGroup: string): string[] {
    return this.#internals.doubts.get(topic, messageGroup);
  }

  /**
   * Lets a MessageGroup in doubt take new messages without resending its in-doubt ones. The caller accepts
   * the risk: a late write of one of those may land after messages sent from now on (a reorder), or they
   * may be missing for good. Affects every producer of this client. Returns the dedup ids given up on.
   */
  resetGroup(topic: string, messageGroup: string): string[] {
    return this.#internals.doubts.reset(topic, messageGroup);
  }

  async #send(
    topic: string,
    messages: OrderedMessage[],
    turn: Promise<{ release: () => void }>,
    signal: AbortSignal | undefined,
  ): Promise<OrderedProduceResult> {
    const internals = this.#internals;
    let release: (() => void) | undefined;
    // Nothing sent yet while waiting (here or below): an abort leaves no message in doubt. It is this send's
    // AbortError whatever the reason given: a reason that is another send's error must not pass for this one's.
    const aborted = (): AbortError => new AbortError(signal?.reason);
    try {
      // The turn fails only when the signal fires.
      ({ release } = await turn.catch((): never => {
        throw aborted();
      }));
      if (signal?.aborted) throw aborted();
      // Every earlier send of these groups has settled (the turn), so their doubt is known.
      internals.doubts.check(topic, messages);
      const route = await untilAborted(internals.route(), signal, aborted);
      if (signal?.aborted) throw aborted();
      // Every message carries an id, so a retry of a send whose answer was lost writes nothing twice, and a
      // message in doubt can be named and resent.
      const dedupIds = messages.map((m) => m.dedupId ?? randomUUID());
      const outcome =
        route.via === 'kafka'
          ? await route.fallback.send(topic, messages, dedupIds, signal)
          : await sendViaSidecar({
              http: internals.http,
              endpoint: route.endpoint,
              topic,
              messages,
              dedupIds,
              dedupWindowMs: route.capabilities.dedupWindowMs,
              options: internals.options,
              signal,
            });
      internals.doubts.record(topic, outcome.messages);
      if (outcome.dedupUnavailable) internals.dedupUnavailable(topic);
      const result = buildResult(topic, route.via, outcome.attempts, outcome.messages, outcome.dedupUnavailable);
      if (outcome.failure) throw toClientError(outcome.failure, result);
      return result;
    } catch (err) {
      if (err instanceof SidecarClientError) throw err;
      if (signal?.aborted) throw aborted();
      throw err;
    } finally {
      release?.();
    }
  }
}
