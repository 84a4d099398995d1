/** Kafka record header carrying the MessageGroup, so consumers can see which group a record belongs to. */
export const GROUP_HEADER = 'message-group';
