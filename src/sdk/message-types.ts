/** A key or value: text is sent as UTF-8, bytes as they are; null is Kafka's null (a tombstone value). */
export type MessageData = string | Uint8Array | null;

/** One message of a MessageGroup batch: the group is given once for the whole batch. */
export interface GroupMessage {
  value: MessageData;
  /** Kafka record key. @defaultValue null */
  key?: MessageData;
  /** Kafka record headers; `message-group` is reserved (the sidecar sets it). */
  headers?: Record<string, string>;
  /**
   * Idempotency id (1..128 UTF-8 bytes, unique within the send): within the sidecar's dedup window a message
   * with an id already written is not written again. @defaultValue a random UUID
   */
  dedupId?: string;
}

/** A message of any MessageGroup; messages of one group are written in the order given. */
export interface OrderedMessage extends GroupMessage {
  messageGroup: string;
}

export interface SendOptions {
  /**
   * Aborts the send, waiting and retries included. Messages already written stay written; those already
   * sent but not confirmed are 'unknown' and put their group in doubt (see `AbortError.result`).
   */
  signal?: AbortSignal;
}
