/**
 * Kafka's own error names (Kafka's protocol) that mean a refusal of the records: the sidecar answers them with
 * KAFKA_REJECTED, and the SDK's Kafka fallback treats them as final.
 */

/** Broker answers meaning the records themselves are unacceptable; repeating them cannot succeed. */
export const REJECTED: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_REQUIRED_ACKS',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
]);

/**
 * An error and every error nested in it, outermost first: @platformatic/kafka puts one per attempt or broker in
 * `errors` (MultipleErrors, AggregateError) and wraps in `cause`. Eight levels at most.
 */
export function nestedErrors(err: unknown): object[] {
  const found: object[] = [];
  collectNested(err, found, 0);
  return found;
}

function collectNested(e: unknown, into: object[], depth: number): void {
  if (typeof e !== 'object' || e === null || depth > 8) return;
  into.push(e);
  const shape = e as { errors?: unknown; cause?: unknown };
  if (Array.isArray(shape.errors)) for (const inner of shape.errors) collectNested(inner, into, depth + 1);
  collectNested(shape.cause, into, depth + 1);
}

/**
 * Kafka's error name behind a client's failure. kafkajs puts it in `type`. @platformatic/kafka puts it in
 * `apiId`, inside the `errors` of a MultipleErrors (one per attempt) or a `cause`: there a refusal of the
 * records counts wherever it appears (it ends the retries), else the last one named.
 */
export function kafkaErrorType(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const kafkajsType = (err as { type?: unknown }).type;
  if (typeof kafkajsType === 'string') return kafkajsType;
  const names: string[] = [];
  for (const e of nestedErrors(err)) {
    const apiId = (e as { apiId?: unknown }).apiId;
    if (typeof apiId === 'string') names.push(apiId);
  }
  return names.find((name) => REJECTED.has(name)) ?? names.at(-1);
}

/** True when the broker refused the batch outright: nothing of it was written, its fate is known. */
export const isDefinitiveRejection = (err: unknown): boolean => {
  const type = kafkaErrorType(err) ?? '';
  return REJECTED.has(type) || type === 'UNKNOWN_TOPIC_OR_PARTITION';
};
