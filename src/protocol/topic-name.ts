const LEGAL = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Why `topic` cannot be produced to through the sidecar, or undefined when it can: Kafka's own naming rule,
 * plus Kafka's internal topics (`__consumer_offsets`, `__transaction_state`, ...), which are not for clients.
 */
export function topicNameProblem(topic: string): string | undefined {
  if (!LEGAL.test(topic)) return 'is not a valid Kafka topic name (1-249 of letters, digits, ".", "_", "-")';
  if (topic === '.' || topic === '..') return 'is not a valid Kafka topic name ("." and ".." are reserved)';
  if (topic.startsWith('__')) return 'names a Kafka internal topic (names starting with "__" are reserved)';
  return undefined;
}
